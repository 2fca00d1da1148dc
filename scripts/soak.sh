#!/usr/bin/env bash
# Soak test of libhls (issue #18): 16 threads serving 50 files (copies of the test media) from
# one context with a cache smaller than the working set, mixed playlist / segment / transcoded
# segment / subtitle requests, a file replaced and another touched every few seconds. Prints a
# row per 5-minute window (requests, p50/p99 latency, errors by status, peak RSS, peak open
# descriptors); exits non-zero on an unexpected error, a wrong byte, or RSS / descriptor growth
# after the warm-up window beyond the tolerance stated in examples/soak.rs.
#
#   scripts/soak.sh                                # 60 minutes (SOAK_MINUTES=60)
#   SOAK_MINUTES=3 SOAK_WINDOW_SECS=30 scripts/soak.sh
#
# Not part of scripts/test.sh (long). Needs the standard media (scripts/gen-media.sh).
# Other settings: SOAK_THREADS, SOAK_FILES, SOAK_CACHE_MB, SOAK_CHANGE_SECS, SOAK_DIR, SOAK_MEDIA.
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_MINUTES="${SOAK_MINUTES:-60}"
cargo build --release --example soak
exec nice -n 19 target/release/examples/soak

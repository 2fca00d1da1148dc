#!/usr/bin/env bash
# The one test command: installs what is missing, generates the test media, builds, checks the
# committed C header is fresh, and runs every test (Rust unit + integration tests, which build and
# run the C programs, FFmpeg checks, sanitizers). LIBHLS_LONG=1 adds long soaks and benchmarks.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/setup.sh
scripts/gen-media.sh ${LIBHLS_LONG:+--long}

cargo build --release --locked
if git rev-parse --git-dir >/dev/null 2>&1; then
    if ! git diff --exit-code --stat -- include/hls.h; then
        echo "test: include/hls.h is stale: the build regenerated it; commit the new header" >&2
        exit 1
    fi
fi

cargo test --release --locked --no-fail-fast -- --test-threads=2

if [[ -n "${LIBHLS_LONG:-}" ]]; then
    cargo bench --bench hls_bench
fi

#!/usr/bin/env bash
# The one test command: installs what is missing, generates the test media, builds, checks the
# committed C header is fresh, holds the style tools (rustfmt, clippy with -D warnings, rustdoc
# with -D warnings), and runs every test (Rust unit + integration tests, among them
# tests/architecture.rs, the layer rule; the integration tests build and run the C programs,
# FFmpeg checks, sanitizers). A failing style check does not stop the tests: every check runs and
# the script fails at the end naming the ones that failed. LIBHLS_LONG=1 adds long soaks and
# benchmarks.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/setup.sh
scripts/gen-media.sh ${LIBHLS_LONG:+--long}

# rustfmt and clippy: rustup components (idempotent: added only when missing).
missing_components=()
cargo fmt --version >/dev/null 2>&1 || missing_components+=(rustfmt)
cargo clippy --version >/dev/null 2>&1 || missing_components+=(clippy)
if ((${#missing_components[@]} > 0)); then
    command -v rustup >/dev/null 2>&1 ||
        { echo "test: cargo lacks ${missing_components[*]} and rustup is not available to add them" >&2; exit 1; }
    echo "test: adding rustup components: ${missing_components[*]}" >&2
    rustup component add "${missing_components[@]}"
fi

cargo build --release --locked
if git rev-parse --git-dir >/dev/null 2>&1; then
    if ! git diff --exit-code --stat -- include/hls.h; then
        echo "test: include/hls.h is stale: the build regenerated it; commit the new header" >&2
        exit 1
    fi
fi

failed=()
cargo fmt --all -- --check || failed+=("cargo fmt --check")
cargo clippy --release --locked --all-targets -- -D warnings || failed+=("cargo clippy")
RUSTDOCFLAGS="-D warnings" cargo doc --release --locked --no-deps || failed+=("cargo doc")

cargo test --release --locked --no-fail-fast -- --test-threads=2 || failed+=("cargo test")
# Faults injected into reads (a failing or short read at every depth of a segment): the library
# built once more with the test-only hook.
cargo test --release --locked --features fault-injection --test faults || failed+=("cargo test --features fault-injection")

# The installable C library: install into a temp prefix, build the C examples from pkg-config alone.
scripts/install-test.sh || failed+=("scripts/install-test.sh")

# Language bindings: the Go package (go vet, gofmt, go test -race) and the Python package
# (pip install into a fresh venv, pytest from there).
bindings/go/test.sh || failed+=("bindings/go/test.sh")
bindings/python/test.sh || failed+=("bindings/python/test.sh")

# The nginx dynamic module, in Debian's stock nginx: whole crawls byte-identical to hls-dump,
# every HTTP rule, the thread pool, reload and quit.
bindings/nginx/test.sh || failed+=("bindings/nginx/test.sh")
# Through nginx: hls.js in Chromium drives the player page (plays, seeks, switches audio, shows
# subtitles); two origins behind a caching proxy, one killed mid-crawl, bytes unchanged.
bindings/nginx/browser-test.sh || failed+=("bindings/nginx/browser-test.sh")
bindings/nginx/scaleout-test.sh || failed+=("bindings/nginx/scaleout-test.sh")
# Media read from an HTTP store: nginx's remote mode (crawls byte-identical to local ones, a store
# that stops or changes mid-crawl), two remote origins behind a cache, and hls-serve --remote.
bindings/nginx/remote-test.sh || failed+=("bindings/nginx/remote-test.sh")
bindings/nginx/remote-scaleout-test.sh || failed+=("bindings/nginx/remote-scaleout-test.sh")
examples-c/test-remote.sh || failed+=("examples-c/test-remote.sh")

# Coverage-guided fuzzing: the fuzz targets built with AddressSanitizer, and every committed corpus
# input (seeds and the findings' reproducers) replayed through them. Exploring (the smoke's fixed
# seed and inputs, or a campaign) finds new bugs and so runs only when asked: LIBHLS_LONG=1 runs
# the smoke here, FUZZ_LONG=1 scripts/fuzz-smoke.sh a campaign.
if [[ -n "${LIBHLS_LONG:-}" ]]; then
  scripts/fuzz-smoke.sh || failed+=("scripts/fuzz-smoke.sh")
else
  FUZZ_REPLAY=1 scripts/fuzz-smoke.sh || failed+=("FUZZ_REPLAY=1 scripts/fuzz-smoke.sh")
fi

if [[ -n "${LIBHLS_LONG:-}" ]]; then
    cargo bench --bench hls_bench || failed+=("cargo bench")
    benches/bindings/run.sh || failed+=("benches/bindings/run.sh")
    SOAK_MINUTES="${SOAK_MINUTES:-60}" scripts/soak.sh || failed+=("scripts/soak.sh")
fi

if ((${#failed[@]} > 0)); then
    printf 'test: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi

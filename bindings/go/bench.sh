#!/usr/bin/env bash
# The Go side of the bindings benchmark (benches/bindings/run.sh; format and measures:
# benches/bindings/README.md). Builds bindings/go/internal/benchcmd (cache_hit, cold_segment
# through the Go API) and cmd/hls-serve-go (http_rps: hls.Handler under net/http, loaded by
# "$LIBHLS_BENCH_LOAD"), without the race detector, and prints BENCH lines on stdout.
#
#   bindings/go/bench.sh FILE
#
# Assumes `cargo build --release` was run (links target/release through its hls.pc).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pkg="$root/bindings/go"
file="${1:?usage: bindings/go/bench.sh FILE}"
file="$(cd "$(dirname "$file")" && pwd)/$(basename "$file")"
load="${LIBHLS_BENCH_LOAD:-$root/benches/bindings/load.sh}"
quick="${LIBHLS_BENCH_QUICK:-0}"

run() {
    echo "+ $*" >&2
    "$@"
}

command -v go >/dev/null 2>&1 || { echo "go-bench: go is missing (apt-get install golang-go)" >&2; exit 1; }
export PKG_CONFIG_PATH="$root/target/release/pkgconfig"
[[ -f "$root/target/release/libhls.so" && -f "$PKG_CONFIG_PATH/hls.pc" ]] || {
    echo "go-bench: target/release/libhls.so or its hls.pc is missing: run cargo build --release first" >&2
    exit 1
}
# shellcheck source=bindings/go/env.sh
source "$pkg/env.sh"
bin="$root/target/go-cache/bin"
mkdir -p "$bin"

(cd "$pkg" && run go build -o "$bin/hls-bench-go" ./internal/benchcmd && run go build -o "$bin/hls-serve-go" ./cmd/hls-serve-go)

args=()
((quick)) && args=(-hit-iters 20000 -runs 3)
run "$bin/hls-bench-go" "${args[@]}" "$file"

# http_rps: hls-serve-go on a free 127.0.0.1 port, loaded by load.sh, then stopped.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$root/target/bench-bindings/hls-serve-go.log"
mkdir -p "$(dirname "$log")"
"$bin/hls-serve-go" -root "$(dirname "$file")" -addr "127.0.0.1:$port" -list 0 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
url="http://127.0.0.1:$port/$(basename "$file")/master.m3u8"
for _ in $(seq 100); do curl -fsS -o /dev/null "$url" 2>/dev/null && break; sleep 0.1; done
load_args=()
((quick)) && load_args=(--seconds 2)
run "$load" "${load_args[@]}" --label go --note "cmd/hls-serve-go (net/http, GOMAXPROCS=$(nproc))" "$url"

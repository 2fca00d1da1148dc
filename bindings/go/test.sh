#!/usr/bin/env bash
# Tests the Go package (bindings/go): go vet, gofmt, `go test -race` (concurrent crawls checked
# by FFmpeg, bad inputs, handle lifetimes, the HTTP handler), and builds the example server.
#
# Assumes `cargo build --release` was run: links the uninstalled libhls through
# target/release/pkgconfig, or an installed one when LIBHLS_PKG_CONFIG_PATH names the directory
# of its hls.pc. Test media: $LIBHLS_MEDIA, default target/media (scripts/gen-media.sh).
# Go's caches live under target/go-cache; no module proxy is used (standard library only).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pkg="$root/bindings/go"

run() {
    echo "+ $*" >&2
    "$@"
}

# Tools: apt-get only for what is missing.
missing=()
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
if ((${#missing[@]} > 0)); then
    echo "go-test: installing ${missing[*]}" >&2
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    run "${sudo[@]}" apt-get update -q
    run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ -n "${LIBHLS_PKG_CONFIG_PATH:-}" ]]; then
    export PKG_CONFIG_PATH="$LIBHLS_PKG_CONFIG_PATH"
else
    export PKG_CONFIG_PATH="$root/target/release/pkgconfig"
    [[ -f "$root/target/release/libhls.so" && -f "$PKG_CONFIG_PATH/hls.pc" ]] || {
        echo "go-test: $root/target/release/libhls.so or its hls.pc is missing: run cargo build --release first" >&2
        exit 1
    }
fi
pkg-config --exists hls || { echo "go-test: pkg-config finds no hls.pc in $PKG_CONFIG_PATH" >&2; exit 1; }
echo "go-test: libhls from $PKG_CONFIG_PATH: $(pkg-config --cflags --libs hls)" >&2
# An installed copy without an rpath in its hls.pc (e.g. a temp prefix) is found at run time too.
libdir="$(pkg-config --variable=libdir hls)"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

export LIBHLS_MEDIA="${LIBHLS_MEDIA:-$root/target/media}"
[[ -f "$LIBHLS_MEDIA/h264_aac.mp4" ]] || {
    echo "go-test: no test media in $LIBHLS_MEDIA: run scripts/gen-media.sh (or set LIBHLS_MEDIA)" >&2
    exit 1
}

# shellcheck source=bindings/go/env.sh
source "$pkg/env.sh"

cd "$pkg"
run go version
run go vet ./...
unformatted="$(gofmt -l .)"
if [[ -n "$unformatted" ]]; then
    echo "go-test: gofmt would change: $unformatted" >&2
    exit 1
fi
echo "+ gofmt -l . (clean)" >&2
run go build -o "$root/target/go-cache/bin/hls-serve-go" ./cmd/hls-serve-go
run go test -race -count=1 ./...

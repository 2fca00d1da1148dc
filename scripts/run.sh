#!/usr/bin/env bash
# The one "run" command: installs what is missing, builds libhls and the example server, and
# serves a media file (default: a generated sample with two audio languages and subtitles) over
# HTTP with a browser player page. Usage: scripts/run.sh [MEDIA-FILE] [PORT]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/setup.sh
cargo build --release --locked
make -s -C examples-c LIBDIR="$root/target/release" INCLUDE="$root/include"

file="${1:-}"
port="${2:-8080}"
if [[ -z "$file" ]]; then
    scripts/gen-media.sh >/dev/null
    file="$root/target/media/multi_audio.mkv"
fi
file="$(realpath "$file")"
media_root="$(dirname "$file")"

# hls.js for the player page, from the npm registry, cached under target/.
hlsjs="$root/target/web/node_modules/hls.js/dist/hls.min.js"
if [[ ! -f "$hlsjs" ]] && command -v npm >/dev/null 2>&1; then
    mkdir -p "$root/target/web"
    (cd "$root/target/web" && npm install --silent --no-audit --no-fund hls.js@1 >/dev/null 2>&1) || true
fi
args=(--port "$port" --threads 8 --print-url "$file")
[[ -f "$hlsjs" ]] && args+=(--hlsjs "$hlsjs")
exec "$root/examples-c/hls-serve" "${args[@]}" "$media_root"

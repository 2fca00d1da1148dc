#!/usr/bin/env bash
# Tests ngx_http_hls_module in Debian's stock nginx (/usr/sbin/nginx): builds the module
# (build.sh) and hls-dump, then runs tests/test_nginx.py, which starts nginx instances with
# their own prefix under target/nginx-test/ (config, logs, temp paths) on free 127.0.0.1 ports
# and checks crawls (byte-identical to hls-dump), FFmpeg decoding, the HTTP semantics, nginx -t
# errors, the thread pool, reload, restart and graceful quit. Whatever nginx is still running
# from target/nginx-test/ is stopped on exit.
#
#   bindings/nginx/test.sh           (from any directory; exit status non-zero on any failure)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/target/nginx-test"

# shellcheck source-path=SCRIPTDIR source=conf/lib.sh
source "$here/conf/lib.sh"
stop_all() { ngx_stop_daemons "$out"; }
trap stop_all EXIT

command -v curl >/dev/null || { apt-get install -y curl >&2 || { apt-get update >&2 && apt-get install -y curl >&2; }; }
for cmd in ffmpeg ffprobe python3 curl; do
    command -v "$cmd" >/dev/null || { echo "test.sh: missing $cmd" >&2; exit 1; }
done

ngx_build_module
so="$NGX_MODULE"
ngx_build_examples
echo "module: $so"
[ -f "$root/target/media/h264_aac.mp4" ] || "$root/scripts/gen-media.sh"

stop_all
rm -rf "$out"
mkdir -p "$out"
python3 "$here/tests/test_nginx.py" "$so" "$root" "$out" "$root/examples-c/hls-dump"

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

stop_all() {
    local pidfile pid
    for pidfile in "$out"/*/logs/nginx.pid; do
        [ -f "$pidfile" ] || continue
        pid="$(cat "$pidfile" 2>/dev/null || true)"
        if [ -n "$pid" ] && grep -qa "nginx: master process /usr/sbin/nginx -p $out/" \
            "/proc/$pid/cmdline" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
}
trap stop_all EXIT

command -v curl >/dev/null || { apt-get install -y curl >&2 || { apt-get update >&2 && apt-get install -y curl >&2; }; }
for cmd in ffmpeg ffprobe python3 curl; do
    command -v "$cmd" >/dev/null || { echo "test.sh: missing $cmd" >&2; exit 1; }
done

so="$("$here/build.sh" | tail -n 1)"
echo "module: $so"
[ -f "$root/target/media/h264_aac.mp4" ] || "$root/scripts/gen-media.sh"
make -s -C "$root/examples-c" LIBDIR="$root/target/release" INCLUDE="$root/include" hls-dump >&2

stop_all
rm -rf "$out"
mkdir -p "$out"
python3 "$here/tests/test_nginx.py" "$so" "$root" "$out" "$root/examples-c/hls-dump"

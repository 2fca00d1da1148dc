#!/usr/bin/env bash
# Tests ngx_http_hls_module's remote mode (hls_remote) against a real HTTP store on loopback:
# builds the module (build.sh: links libcurl, installing libcurl4-openssl-dev if missing) and
# hls-dump, then runs tests/test_remote.py, which starts Debian's /usr/sbin/nginx as the store
# (static files: Range, ETag, Last-Modified, If-Match) and as libhls origins, each with its own
# prefix under target/nginx-remote-test/ on free 127.0.0.1 ports, and checks: nginx -t on the
# remote directives; crawls through the store byte-identical to local-alias crawls (and to
# hls-dump) for every file the local tests crawl; FFmpeg decoding through the store; headers,
# ranges, 304s, 404/415 statuses and escaped object names; validations kept per worker
# (hls_remote_validate); eight concurrent clients; the store stopped mid-crawl (502, other media
# still served, back when it is); a store that never answers (502 after hls_remote_timeout); an
# object replaced mid-crawl (never a mix: 412 from the store, the new object served whole);
# clean error logs. Whatever nginx is still running from target/nginx-remote-test/ is stopped
# on exit.
#
#   bindings/nginx/remote-test.sh        (from any directory; exit status non-zero on failure)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/target/nginx-remote-test"

# shellcheck source-path=SCRIPTDIR source=conf/lib.sh
source "$here/conf/lib.sh"
stop_all() { ngx_stop_daemons "$out"; }
trap stop_all EXIT

for cmd in ffmpeg ffprobe python3; do
    command -v "$cmd" >/dev/null || { echo "remote-test.sh: missing $cmd" >&2; exit 1; }
done

ngx_build_module
so="$NGX_MODULE"
ngx_build_examples
echo "module: $so"
[ -f "$root/target/media/looped_4min.mkv" ] || "$root/scripts/gen-media.sh"

stop_all
rm -rf "$out"
mkdir -p "$out"
python3 "$here/tests/test_remote.py" "$so" "$root" "$out" "$root/examples-c/hls-dump"

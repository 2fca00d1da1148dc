#!/usr/bin/env bash
# Browser test through nginx + ngx_http_hls_module: starts Debian's nginx with the module and the
# player page (the scripts/run.sh configuration, bindings/nginx/conf/run.conf.in) over
# target/media on a free loopback port, then headless Chromium (playwright-core) drives the
# player page: the folder is listed, multi_audio.mkv and h264_aac.mp4 play (frames decoded),
# seek, switch audio (the other language's segments fetched), show subtitles, a file with an
# awkward name in a sub-folder plays, and errors show their HTTP status
# (bindings/nginx/browser-test.mjs has the checks).
#
#   bindings/nginx/browser-test.sh          (from any directory; exits non-zero on failure)
#
# Needs chromium (LIBHLS_BROWSER=1 scripts/setup.sh installs it) and npm; playwright-core and
# hls.js come from tests/browser/package-lock.json, installed with `npm ci` into
# target/browser-node (as tests/browser.rs does). Prefix, config and logs: target/nginx/browser.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC2034 # (read by conf/lib.sh)
NGX_WHO=browser-test
# shellcheck source-path=SCRIPTDIR source=conf/lib.sh
source "$root/bindings/nginx/conf/lib.sh"
t0=$SECONDS

chromium="${LIBHLS_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
    ngx_log "$chromium missing: LIBHLS_BROWSER=1 scripts/setup.sh"
    LIBHLS_BROWSER=1 "$root/scripts/setup.sh"
fi
[[ -x "$chromium" ]] || ngx_die "$chromium missing (set LIBHLS_CHROMIUM)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    ngx_die "node and npm are needed (apt-get install nodejs npm)"
fi

# Node packages (playwright-core, hls.js), pinned by tests/browser/package-lock.json.
node_dir="$root/target/browser-node"
mkdir -p "$node_dir"
fresh=1
for f in package.json package-lock.json; do
    cmp -s "$root/tests/browser/$f" "$node_dir/$f" || { cp "$root/tests/browser/$f" "$node_dir/$f"; fresh=0; }
done
for p in hls.js playwright-core; do
    [[ -f "$node_dir/node_modules/$p/package.json" ]] || fresh=0
done
if ((fresh == 0)); then
    ngx_log "npm ci in target/browser-node (tests/browser/package-lock.json)"
    (cd "$node_dir" && npm ci --no-audit --no-fund --silent) || ngx_die "npm ci failed"
fi

"$root/scripts/gen-media.sh" >/dev/null
media="$(realpath "$root/target/media")"
for f in multi_audio.mkv h264_aac.mp4 text.mp4; do
    [[ -f "$media/$f" ]] || ngx_die "$media/$f missing after scripts/gen-media.sh"
done
ngx_build_module

prefix="$root/target/nginx/browser"
port="$(ngx_free_port)"
www="$root/bindings/nginx/www"
hlsjs="$node_dir/node_modules/hls.js/dist"
ngx_prefix "$prefix"
# The folder served: target/media's files (symlinks), plus a sub-folder and a file name with
# spaces, UTF-8, '#' and '&', as users' folders have.
src_media="$media"
media="$prefix/media"
mkdir -p "$media/sub dir é"
for f in "$src_media"/*; do
    if [[ -f "$f" ]]; then ln -s "$f" "$media/"; fi
done
ln -s "$src_media/h264_aac.mp4" "$media/sub dir é/film été #1 & co.mp4"
ngx_render "$NGX_CONF_DIR/run.conf.in" "$prefix/conf/nginx.conf" \
    PREFIX="$prefix" PORT="$port" WORKERS=2 MODULE="$NGX_MODULE" WWW="$www" HLSJS="$hlsjs" MEDIA="$media" \
    USER="$(ngx_user_line "$media" "$www" "$hlsjs")" \
    HLS_DIRECTIVES="            hls_transcode browser_safe;"
trap ngx_cleanup EXIT
ngx_start "$prefix" "$port"
ngx_log "nginx (2 workers, module $NGX_MODULE) on http://127.0.0.1:$port/ over $media"

rc=0
LIBHLS_NODE_DIR="$node_dir" LIBHLS_CHROMIUM="$chromium" \
    timeout 170 node "$root/bindings/nginx/browser-test.mjs" "http://127.0.0.1:$port" "$media" || rc=$?
if ((rc != 0)); then
    ngx_log "failed (node exit $rc); nginx error log ($prefix/logs/error.log), last lines:"
    tail -n 30 "$prefix/logs/error.log" >&2 || true
fi
ngx_log "done in $((SECONDS - t0)) s"
exit "$rc"

#!/usr/bin/env bash
# The one "run" command: installs what is missing, builds libhls and its nginx module, and serves
# a media folder through Debian's nginx with the module, with a player page. Usage:
#
#   scripts/run.sh [FOLDER-OR-FILE] [PORT]
#
# FOLDER-OR-FILE: the folder to serve (default: the generated samples, target/media), or a file,
# whose folder is served with that file preselected. PORT: loopback port (default 8080).
# nginx runs in the foreground (Ctrl-C stops it); its config, logs and temp files are under
# target/nginx/run/. The page lists the folder, plays the chosen file with hls.js (installed from
# npm into target/web) and shows its audio, subtitle and quality menus and media info.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck disable=SC2034 # (read by conf/lib.sh)
NGX_WHO=run
# shellcheck source-path=SCRIPTDIR source=../bindings/nginx/conf/lib.sh
source "$root/bindings/nginx/conf/lib.sh"

target="${1:-}"
port="${2:-8080}"
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    ngx_die "PORT must be 1..65535, not '$port'"
fi

scripts/setup.sh
if [[ -z "$target" ]]; then
    scripts/gen-media.sh >/dev/null
    target="$root/target/media"
fi
[[ -e "$target" ]] || ngx_die "$target: no such file or folder"
target="$(realpath "$target")"
preselect=""
if [[ -d "$target" ]]; then
    media="$target"
else
    media="$(dirname "$target")"
    preselect="$(basename "$target")"
fi

ngx_build_module
if ! hlsjs="$(ngx_hlsjs_dist)"; then
    ngx_log "warning: hls.js could not be installed: the page will say so (native HLS only, e.g. Safari)"
    hlsjs="$root/target/web/no-hls.js"
    mkdir -p "$hlsjs"
fi

prefix="$root/target/nginx/run"
ngx_prefix "$prefix"
ngx_render "$NGX_CONF_DIR/run.conf.in" "$prefix/conf/nginx.conf" \
    PREFIX="$prefix" PORT="$port" WORKERS=auto MODULE="$NGX_MODULE" \
    WWW="$root/bindings/nginx/www" HLSJS="$hlsjs" MEDIA="$media" \
    USER="$(ngx_user_line "$media" "$root/bindings/nginx/www" "$hlsjs")" \
    HLS_DIRECTIVES="            hls_transcode browser_safe;  # MP3, AC-3, E-AC-3, FLAC, Opus as AAC: every browser plays every track"

trap ngx_cleanup EXIT
trap 'exit 130' INT TERM
ngx_start "$prefix" "$port"

url="http://127.0.0.1:$port/"
[[ -n "$preselect" ]] && url+="?file=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$preselect")"
cat <<MSG

Serving $media through nginx + libhls (config: $prefix/conf/nginx.conf, logs: $prefix/logs/)
  player page:  $url
  any player:   http://127.0.0.1:$port/vod/<file>/master.m3u8   (media info: .../info.json)
Ctrl-C stops nginx.
MSG
wait "$NGX_PID"

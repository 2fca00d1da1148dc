#!/usr/bin/env bash
# Playlist latency while transcodes run (issue #15): ONE nginx worker; 8 clients fetch playlists
# (master and media playlists of the 10-minute and 2-hour MP4s, served from the cache) while 2
# clients fetch transcoded segments (DTS and TrueHD audio served as AAC) from a location with
# `hls_cache_size 0`, so that every one of them is transcoded anew (cold). Prints the playlists'
# and the transcoded segments' latency percentiles (client wall clock) for each layout:
#
#   one-pool   every libhls call on one thread pool (hls_transcode_thread_pool off), the pool
#              of THREADS threads (default 32, nginx's default pool)
#   two-pools  the module's default: transcodes and thumbnails on their own pool
#              (hls_transcode_thread_pool; its threads run at a lower CPU priority)
#
#   bindings/nginx/bench-p99.sh [SECONDS]      (default 20 per layout; ROUNDS=1)
#
# Environment: THREADS (size of the main pool, default 32), LAYOUTS ("one-pool two-pools"),
# PLAYLISTS=cached (default: served from the cache, which the module answers on the event loop)
# or uncached (from the hls_cache_size 0 location: every playlist is a task on the pool, made
# anew).
# Not part of the test suite; run it under nice on a shared machine (the clients get the same
# niceness as nginx then). Work files: target/nginx/bench-p99/. The last line printed is a
# markdown table.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC2034 # (read by conf/lib.sh)
NGX_WHO=bench-p99
# shellcheck source-path=SCRIPTDIR source=conf/lib.sh
source "$root/bindings/nginx/conf/lib.sh"

seconds="${1:-20}"
THREADS="${THREADS:-32}"
LAYOUTS="${LAYOUTS:-one-pool two-pools}"
ROUNDS="${ROUNDS:-1}"
media="$root/target/media"
for f in long_10min.mp4 long_2h.mp4 dts.mkv truehd.mkv; do
    [[ -f "$media/$f" ]] || { ngx_log "$f missing: scripts/gen-media.sh --long"; "$root/scripts/gen-media.sh" --long >/dev/null; break; }
done
[[ -n "${NGX_MODULE:-}" ]] || ngx_build_module
work="$root/target/nginx/bench-p99"
mkdir -p "$work"
trap ngx_cleanup EXIT

PLAYLISTS="${PLAYLISTS:-cached}"
case $PLAYLISTS in
    cached) ploc=vod ;;      # cache hits: answered on the event loop
    uncached) ploc=tx ;;     # hls_cache_size 0: every playlist made anew by a task on the pool
    *) ngx_die "PLAYLISTS is cached or uncached" ;;
esac
fast=()
for f in long_10min.mp4 long_2h.mp4; do
    fast+=("/$ploc/$f/master.m3u8" "/$ploc/$f/t0.m3u8" "/$ploc/$f/t1.m3u8")
done
slow=()
for k in 0 1 2 3; do
    slow+=("/tx/dts.mkv/t1_$k.m4s" "/tx/truehd.mkv/t1_$k.m4s")
done

rows=()
for ((round = 1; round <= ROUNDS; round++)); do
    for layout in $LAYOUTS; do
        p="$work/$layout"
        port="$(ngx_free_port)"
        ngx_prefix "$p"
        case $layout in
            one-pool) tx="hls_transcode_thread_pool off;" ;;
            two-pools) tx="" ;;
            *) ngx_die "unknown layout $layout" ;;
        esac
        cat >"$p/conf/nginx.conf" <<EOF
worker_processes 1;
pid "$p/nginx.pid";
lock_file "$p/nginx.lock";
error_log "$p/logs/error.log" warn;
load_module "$NGX_MODULE";
thread_pool default threads=$THREADS;
events { worker_connections 1024; }
http {
    include common-http.conf;
    access_log off;
    $tx
    server {
        listen 127.0.0.1:$port;
        location /vod/ { alias "$media/"; hls; }
        location /tx/ { alias "$media/"; hls; hls_cache_size 0; }
    }
}
EOF
        ngx_start "$p" "$port"
        pid=$NGX_PID
        # warm: the files indexed, the playlists cached, one transcode of each done
        for u in "${fast[@]}" "${slow[@]:0:2}"; do
            curl -sf -o /dev/null "http://127.0.0.1:$port$u" || ngx_die "$layout: $u failed"
        done
        ngx_log "$layout: 8 playlist clients, 2 transcoded-segment clients, ${seconds} s"
        json="$(python3 "$root/bindings/nginx/tests/load_mix.py" "$port" "$seconds" \
            --fast 8 "${fast[@]}" --slow 2 "${slow[@]}")"
        echo "$json" >"$work/$layout-$round.json"
        ngx_stop "$pid"
        rows+=("$(python3 - "$layout" "$json" <<'PY'
import json, sys
layout, r = sys.argv[1], json.loads(sys.argv[2])
f, s = r["fast"], r["slow"]
print(f"| {layout} | {f['requests']} ({f['failures']} failed) | {f['p50']} | {f['p90']} | {f['p99']} | {f['max']} "
      f"| {s['requests']} ({s['failures']} failed) | {s['p50']} | {s['p99']} |")
PY
)")
        ngx_log "${rows[-1]}"
    done
done

cat <<EOF

nginx 1 worker, thread_pool default threads=$THREADS, $PLAYLISTS playlists; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); ${seconds} s per run
| layout | playlists | p50 ms | p90 ms | p99 ms | max ms | transcoded segments | p50 ms | p99 ms |
|---|---|---|---|---|---|---|---|---|
EOF
printf '%s\n' "${rows[@]}"

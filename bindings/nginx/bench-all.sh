#!/usr/bin/env bash
# The one benchmark of issue #15: in the same run, on the same files, every way we serve HLS
# beside static files, and ONE table.
#
#   bindings/nginx/bench-all.sh            (a few minutes; run it under nice on a shared machine)
#
# Files (target/media, made by scripts/gen-media.sh --long): the 10-minute 720p MP4
# long_10min.mp4, the 2-hour MP4 long_2h.mp4 and the 2-hour Matroska long_2h.mkv (FILES="..."
# to change). Servers, each started afresh for every file (page cache warm: the file is read
# once before):
#
#   static      stock nginx serving hls-dump's output of the file (sendfile on), 1 and 2 workers
#   module      ngx_http_hls_module with its defaults, 1 and 2 workers: "cold" is the first
#               crawl after the start (the file opened and indexed, every segment cut), "warm"
#               the next one (libhls's cache)
#   hls-serve   examples-c/hls-serve (one process, 8 threads, sendfile for file ranges)
#
# A crawl fetches every URI of the presentation once (master, media playlists, init and media
# segments, in order) over PARALLEL=8 keep-alive connections, and fails on any status but 200 or
# a byte count other than hls-dump's files. The client (same machine; its CPU is not counted) is
# CLIENT=splice by default: bindings/nginx/crawl-splice.c, one thread per connection, each body
# spliced from the socket to /dev/null without being copied, so that the server gets nearly both
# cores (the 2-worker rows measure the server, not the client); CLIENT=curl: CLIENTS=2 curl
# --parallel processes, as before. Columns:
#   requests/s, MB/s        client wall clock
#   CPU ms / crawl          server CPU of one crawl (median)
#   CPU s / min of media    server CPU over the crawl (every thread of nginx's master and
#                           workers, or of hls-serve: /proc/<pid>/task/*/schedstat) divided by
#                           the media's duration in minutes
#   first master / media    ms of the first GET of master.m3u8, then of its first media
#                           playlist, right after the start (curl time_total)
#   RSS / worker            MB, each worker's VmRSS after the crawls (nginx workers, hls-serve)
# Then the playlist-latency scenario (bench-p99.sh: one worker, 8 playlist clients, 2 clients
# fetching cold transcoded segments; P99_SECONDS=10 per layout), twice: playlists cached (nginx's
# default pool), and playlists uncached with a pool of 2 threads (where the transcode pool
# matters: without it they queue behind the transcodes).
#
# Environment: ROUNDS=2 (fresh starts per server and file; medians over them), WARM=2 (warm
# crawls after the cold one), PARALLEL=8 connections from CLIENTS=2 curl processes,
# P99_SECONDS=10 (0: skip), FILES, CONFIGS="static-1 static-2 module-1 module-2 hls-serve-1"
# (the servers run, in that order), REUSEPORT=1 (nginx, static and module alike, listens with
# `reuseport`: the kernel deals the connections out to the workers; REUSEPORT=0: one listening
# socket, and 8 connections opened at once often all land on one worker, see the "cold CPU
# per worker" column), OLD_MODULE (a module .so to run beside this tree's, as the server "old" in
# CONFIGS, e.g. CONFIGS="static-1 old-1 module-1": before and after a change, alternated in one
# run), HLS_DIRECTIVES (added to the module's location, both modules). Work files:
# target/nginx/bench-all/ (hls-dump output: ~0.5 GB).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC2034 # (read by conf/lib.sh)
NGX_WHO=bench-all
# shellcheck source-path=SCRIPTDIR source=conf/lib.sh
source "$root/bindings/nginx/conf/lib.sh"
PARALLEL=${PARALLEL:-8}
CLIENTS=${CLIENTS:-2}
CLIENT=${CLIENT:-splice}
REUSEPORT=${REUSEPORT:-1}
ROUNDS=${ROUNDS:-2}
WARM=${WARM:-2}
P99_SECONDS=${P99_SECONDS:-10}
FILES=${FILES:-long_10min.mp4 long_2h.mp4 long_2h.mkv}
media="$root/target/media"

for f in $FILES; do
    [[ -f "$media/$f" ]] || { ngx_log "$f missing: scripts/gen-media.sh --long"; "$root/scripts/gen-media.sh" --long >/dev/null; break; }
done
ngx_build_module
ngx_build_examples
command -v curl >/dev/null || ngx_die "curl is needed"
work="$root/target/nginx/bench-all"
mkdir -p "$work"
if [[ $CLIENT == splice ]]; then
    cc -O2 -Wall -Werror -pthread -o "$work/crawl-splice" "$root/bindings/nginx/crawl-splice.c" ||
        ngx_die "crawl-splice did not build"
fi
results="$work/results.tsv"
: >"$results"
trap ngx_cleanup EXIT
HLS_SERVE_PID=""
stop_hls_serve() {
    [[ -n $HLS_SERVE_PID ]] || return 0
    kill -TERM "$HLS_SERVE_PID" 2>/dev/null || true
    wait "$HLS_SERVE_PID" 2>/dev/null || true
    HLS_SERVE_PID=""
}
trap 'stop_hls_serve; ngx_cleanup' EXIT

# ns on CPU of every thread of the given pids (schedstat's first field)
cpu_ns() {
    local pid t total=0 v
    for pid in "$@"; do
        for t in /proc/"$pid"/task/*; do
            read -r v _ <"$t/schedstat" 2>/dev/null || continue
            total=$((total + v))
        done
    done
    echo "$total"
}

# crawl PORT PREFIX NAMES WANT LABEL -> "seconds bytes": PARALLEL connections in all, from
# crawl-splice's threads (CLIENT=splice) or from CLIENTS curl processes (the names dealt out in
# turn), so that the client is not one thread on one core
crawl() {
    local port=$1 prefix=$2 names=$3 want=$4 label=$5 out="$work/crawl.txt" t0 t1 bad bytes c pids=()
    if [[ $CLIENT == splice ]]; then
        t0="$(date +%s.%N)"
        "$work/crawl-splice" "$port" "$prefix" "$names" "$PARALLEL" >"$out" || ngx_die "$label: crawl-splice failed"
        t1="$(date +%s.%N)"
    else
        for ((c = 0; c < CLIENTS; c++)); do
            awk -v c="$c" -v n="$CLIENTS" '(NR - 1) % n == c' "$names" |
                sed "s|.*|url = \"http://127.0.0.1:$port$prefix/&\"\noutput = \"/dev/null\"|" >"$work/curl-$c.cfg"
        done
        t0="$(date +%s.%N)"
        for ((c = 0; c < CLIENTS; c++)); do
            curl -s --no-progress-meter -Z --parallel-max "$((PARALLEL / CLIENTS))" --parallel-immediate \
                -K "$work/curl-$c.cfg" -w '%{http_code} %{size_download}\n' >"$work/crawl-$c.txt" &
            pids+=($!)
        done
        for c in "${pids[@]}"; do wait "$c" || ngx_die "$label: curl failed"; done
        t1="$(date +%s.%N)"
        cat "$work"/crawl-*.txt >"$out"
        rm -f "$work"/crawl-*.txt
    fi
    bad="$(awk '$1 != 200' "$out" | wc -l)"
    bytes="$(awk '{s += $2} END {print s}' "$out")"
    ((bad == 0 && $(wc -l <"$out") == $(wc -l <"$names"))) || ngx_die "$label: $bad responses not 200"
    ((bytes == want)) || ngx_die "$label: $bytes bytes, expected $want (hls-dump's files)"
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b - a}') $bytes"
}

ms() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$1" | awk '$1 != 200 {exit 1} {printf "%.1f", $2 * 1000}'; }

rss_mb() {
    local pid out=""
    for pid in "$@"; do
        out+="$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status" 2>/dev/null)/"
    done
    echo "${out%/}"
}

# start SERVER WORKERS FILE -> sets PORT PIDS (the processes whose CPU counts) PREFIX_URI
start() {
    local server=$1 workers=$2 p="$work/srv" i
    PORT="$(ngx_free_port)"
    case $server in
        static | module | old)
            ngx_prefix "$p"
            if [[ $server != static ]]; then
                local module=$NGX_MODULE
                [[ $server == old ]] && module=$OLD_MODULE
                ngx_render "$NGX_CONF_DIR/origin.conf.in" "$p/conf/nginx.conf" PREFIX="$p" PORT="$PORT" \
                    WORKERS="$workers" MODULE="$module" MEDIA="$media" HLS_DIRECTIVES="${HLS_DIRECTIVES:-}"
            else
                ngx_render "$NGX_CONF_DIR/static.conf.in" "$p/conf/nginx.conf" PREFIX="$p" PORT="$PORT" \
                    WORKERS="$workers" STATIC="$work/static"
            fi
            sed -i 's|access_log .*;|access_log off;|' "$p/conf/nginx.conf"
            if [[ $REUSEPORT == 1 ]]; then
                sed -i "s|listen 127.0.0.1:$PORT;|listen 127.0.0.1:$PORT reuseport;|" "$p/conf/nginx.conf"
            fi
            ngx_start "$p" "$PORT"
            MASTER=$NGX_PID
            for ((i = 0; i < 50; i++)); do
                mapfile -t WORKER_PIDS < <(pgrep -P "$MASTER")
                ((${#WORKER_PIDS[@]} == workers)) && break
                sleep 0.1
            done
            PIDS=("$MASTER" "${WORKER_PIDS[@]}")
            PREFIX_URI=/vod
            ;;
        hls-serve)
            "$root/examples-c/hls-serve" --port "$PORT" --bind 127.0.0.1 --threads 8 --quiet "$media" \
                >"$work/hls-serve.log" 2>&1 &
            HLS_SERVE_PID=$!
            for ((i = 0; i < 100; i++)); do
                curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/" && break
                sleep 0.1
            done
            PIDS=("$HLS_SERVE_PID")
            WORKER_PIDS=("$HLS_SERVE_PID")
            PREFIX_URI=""
            ;;
    esac
}

stop() {
    case $1 in
        hls-serve) stop_hls_serve ;;
        *) ngx_stop "$MASTER" ;;
    esac
}

read -r -a configs <<<"${CONFIGS:-static-1 static-2 module-1 module-2 hls-serve-1}"
for f in $FILES; do
    src="$media/$f"
    cat "$src" >/dev/null # page cache warm
    ngx_log "hls-dump $f"
    rm -rf "$work/static/$f"
    "$root/examples-c/hls-dump" "$src" "$work/static/$f" >/dev/null 2>&1 || ngx_die "hls-dump $f failed"
done
for ((round = 1; round <= ROUNDS; round++)); do
    for f in $FILES; do
        d="$work/static/$f"
        duration="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["duration"])' "$d/info.json")"
        names="$work/names-$f.txt"
        (cd "$d" && { echo master.m3u8; find . -type f ! -name master.m3u8 ! -name info.json -printf '%P\n' | sort -V; }) >"$names"
        want="$(cd "$d" && xargs stat -c %s <"$names" | awk '{s += $1} END {print s}')"
        first_media="$(grep -v '^#' "$d/master.m3u8" | grep -m1 .)"
        for label in "${configs[@]}"; do
            server=${label%-*} workers=${label##*-}
            start "$server" "$workers"
            base="http://127.0.0.1:$PORT$PREFIX_URI/$f"
            lm="$(ms "$base/master.m3u8")" || ngx_die "$label $f: master.m3u8 not 200"
            lp="$(ms "$base/$first_media")" || ngx_die "$label $f: $first_media not 200"
            c0="$(cpu_ns "${PIDS[@]}")"
            w0=(); for pid in "${WORKER_PIDS[@]}"; do w0+=("$(cpu_ns "$pid")"); done
            read -r secs bytes <<<"$(crawl "$PORT" "$PREFIX_URI/$f" "$names" "$want" "$label $f cold")"
            c1="$(cpu_ns "${PIDS[@]}")"
            split=""
            for i in "${!WORKER_PIDS[@]}"; do split+="$(($(cpu_ns "${WORKER_PIDS[$i]}") - w0[i]))/"; done
            printf '%s\t%s\t%s\tcold\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$server" "$workers" \
                "$(wc -l <"$names")" "$secs" "$bytes" "$((c1 - c0))" "$duration" "$lm" "$lp" "${split%/}" >>"$results"
            for ((w = 0; w < WARM; w++)); do
                c1="$(cpu_ns "${PIDS[@]}")"
                read -r secs bytes <<<"$(crawl "$PORT" "$PREFIX_URI/$f" "$names" "$want" "$label $f warm")"
                c2="$(cpu_ns "${PIDS[@]}")"
                printf '%s\t%s\t%s\twarm\t%s\t%s\t%s\t%s\t%s\t\t\t%s\n' "$f" "$server" "$workers" \
                    "$(wc -l <"$names")" "$secs" "$bytes" "$((c2 - c1))" "$duration" "$(rss_mb "${WORKER_PIDS[@]}")" >>"$results"
            done
            ngx_log "round $round $f $label: first master / media $lm / $lp ms; $(tail -n 1 "$results" | cut -f6) s warm crawl"
            stop "$server"
        done
    done
done

p99=""
if [[ $P99_SECONDS != 0 ]]; then
    ngx_log "playlist latency under transcodes (bench-p99.sh, $P99_SECONDS s per layout)"
    p99="$(NGX_MODULE="$NGX_MODULE" "$root/bindings/nginx/bench-p99.sh" "$P99_SECONDS" 2>"$work/bench-p99.log" | sed -n "/^nginx 1 worker/,\$p")"
    p99+=$'\n\n'"$(NGX_MODULE="$NGX_MODULE" PLAYLISTS=uncached THREADS=2 "$root/bindings/nginx/bench-p99.sh" "$P99_SECONDS" 2>>"$work/bench-p99.log" | sed -n "/^nginx 1 worker/,\$p")"
fi

echo
echo "nginx $("$NGINX" -v 2>&1 | sed 's|.*/||'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$PARALLEL parallel keep-alive connections ($CLIENT, same machine); medians of $ROUNDS round(s), $WARM warm crawl(s) per start"
echo
python3 - "$results" <<'PY'
import statistics as st, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    f, server, workers, kind, n, secs, nbytes, ns, dur, lm, lp, rss = line.rstrip("\n").split("\t")
    rows[(f, server, workers, kind)].append((int(n), float(secs), int(nbytes), int(ns), float(dur), lm, lp, rss))
who = {"static": "static nginx (hls-dump, sendfile)", "old": "libhls nginx module, OLD_MODULE", "module": "libhls nginx module", "hls-serve": "hls-serve"}
order = {"static": 0, "old": 1, "module": 2, "hls-serve": 3}
files = []
for k in rows:
    if k[0] not in files:
        files.append(k[0])
print("| file | server | workers | crawl | requests/s | MB/s | CPU ms / crawl | CPU s / min of media | × static | first master / media ms | RSS MB / worker | cold CPU per worker % |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
cpu = {}
rps = {}
for k, v in rows.items():
    n, secs, nbytes, ns, dur, *_ = v[0]
    cpu[k] = st.median(x[3] for x in v) / 1e9 / (dur / 60)
    rps[k] = st.median(x[0] / x[1] for x in v)
for f in files:
    keys = sorted((k for k in rows if k[0] == f), key=lambda k: (order[k[1]], k[2], k[3]))
    for k in keys:
        v = rows[k]
        mbs = st.median(x[2] / x[1] / 1e6 for x in v)
        base = cpu.get((f, "static", k[2], k[3])) or cpu.get((f, "static", "1", k[3]))
        ratio = f"{cpu[k] / base:.2f}" if base else ""
        lat = ""
        if k[3] == "cold":
            lat = f"{st.median(float(x[5]) for x in v):.1f} / {st.median(float(x[6]) for x in v):.1f}"
        warm = rows.get((f, k[1], k[2], "warm"))
        rss = warm[-1][7] if (warm and k[3] == "warm") else ""
        split = ""
        if k[3] == "cold" and k[2] == "2":
            parts = [[int(y) for y in x[7].split("/")] for x in v if x[7]]
            split = "; ".join("/".join(f"{100 * y / max(1, sum(p)):.0f}" for y in p) for p in parts)
        cms = st.median(x[3] for x in v) / 1e6
        print(f"| {f} | {who[k[1]]} | {k[2]} | {k[3]} | {rps[k]:,.0f} | {mbs:,.0f} | {cms:.1f} | {cpu[k]:.4f} | {ratio} | {lat} | {rss} | {split} |")
print()
for f in files:
    one, two = rps.get((f, "module", "1", "cold")), rps.get((f, "module", "2", "cold"))
    s1, s2 = rps.get((f, "static", "1", "cold")), rps.get((f, "static", "2", "cold"))
    if one and two:
        print(f"- {f}: module cold, 2 workers / 1 worker throughput: {two / one:.2f}× (static nginx: {s2 / s1:.2f}×)")
PY
if [[ -n $p99 ]]; then
    echo
    echo "Playlist latency, one worker, 8 clients fetching playlists while 2 fetch cold transcoded segments:"
    echo "$p99"
fi

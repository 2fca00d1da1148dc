#!/usr/bin/env bash
# Benchmark of ngx_http_hls_module beside stock nginx serving the same presentation as static
# files (written by examples-c/hls-dump, `sendfile on`), in the same run, on the same machine.
#
#   bindings/nginx/bench.sh [MEDIA-FILE]     (default: target/media/long_10min.mp4, the 10-minute
#                                             720p H.264+AAC file; made by gen-media.sh --long)
#
# For each server (module, static) and 1 and 2 nginx workers, on a fresh nginx:
#   - latency: the first GET of master.m3u8, then of the first media playlist it names (curl
#     time_total; for the module the first includes opening and indexing the file);
#   - cold crawl: every URI of the presentation once (all playlists, init and media segments),
#     8 parallel keep-alive connections (curl --parallel); requests/s, MB/s, and the server's CPU
#     (utime+stime of the nginx master and workers, every thread, from /proc) per minute of media;
#   - warm crawl: the same again on the same nginx.
# ROUNDS=5 rounds, each starting every configuration afresh (cold crawl, then WARM=4 warm
# crawls), interleaved so that the machine's load hits all alike; PARALLEL=8 connections. CPU
# is per crawl; latencies are medians over the fresh starts.
# Prints a markdown table. The client runs on the same machine (its CPU is not counted). Not
# part of the test suite. Work files: target/nginx/bench/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC2034 # (read by conf/lib.sh)
NGX_WHO=bench
# shellcheck source-path=SCRIPTDIR source=conf/lib.sh
source "$root/bindings/nginx/conf/lib.sh"
PARALLEL=${PARALLEL:-8}

src="${1:-$root/target/media/long_10min.mp4}"
if [[ ! -f "$src" && -z "${1:-}" ]]; then
    ngx_log "$src missing: scripts/gen-media.sh --long"
    "$root/scripts/gen-media.sh" --long >/dev/null
fi
[[ -f "$src" ]] || ngx_die "$src: no such file"
src="$(realpath "$src")"
name="$(basename "$src")"
media="$(dirname "$src")"
ngx_build_module
ngx_build_examples
command -v curl >/dev/null || ngx_die "curl is needed"

work="$root/target/nginx/bench"
rm -rf "$work"
mkdir -p "$work"
static="$work/static"
ngx_log "hls-dump $name -> $static/$name"
"$root/examples-c/hls-dump" "$src" "$static/$name" >&2 || ngx_die "hls-dump failed"
duration="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["duration"])' "$static/$name/info.json")"
minutes="$(python3 -c "print($duration / 60)")"

# Every URI: master, the media playlists, then init and media segments (sorted, so the crawl
# walks the presentation in order). Expected total bytes: the files' sizes.
(cd "$static/$name" && { echo master.m3u8; find . -type f ! -name master.m3u8 ! -name info.json -printf '%P\n' | sort -V; }) >"$work/names.txt"
n_uris="$(wc -l <"$work/names.txt")"
want_bytes="$(cd "$static/$name" && xargs stat -c %s <"$work/names.txt" | awk '{s += $1} END {print s}')"
first_media="$(grep -v '^#' "$static/$name/master.m3u8" | grep -m1 .)"
ngx_log "$name: $duration s, $n_uris URIs, $want_bytes bytes; first media playlist $first_media"
tck="$(getconf CLK_TCK)"

# crawl PORT LABEL TIMES -> "seconds bytes": every URI TIMES times in one curl run; fails on any
# status but 200 or a byte count that is not TIMES x the files' sizes.
crawl() {
    local port=$1 label=$2 times=$3 cfg="$work/curl-$1.cfg" out="$work/crawl-$2.txt" t0 t1 bad bytes i
    for ((i = 0; i < times; i++)); do
        sed "s|.*|url = \"http://127.0.0.1:$port/vod/$name/&\"\noutput = \"/dev/null\"|" "$work/names.txt"
    done >"$cfg"
    t0="$(date +%s.%N)"
    curl -s --no-progress-meter -Z --parallel-max "$PARALLEL" --parallel-immediate -K "$cfg" \
        -w '%{http_code} %{size_download}\n' >"$out" || ngx_die "$label: curl failed"
    t1="$(date +%s.%N)"
    bad="$(awk '$1 != 200' "$out" | wc -l)"
    bytes="$(awk '{s += $2} END {print s}' "$out")"
    (($(wc -l <"$out") == n_uris * times && bad == 0)) || ngx_die "$label: $bad of $(wc -l <"$out") responses not 200"
    ((bytes == want_bytes * times)) || ngx_die "$label: $bytes bytes, expected $((want_bytes * times))"
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b - a}') $bytes"
}

# First GET of URL: milliseconds (fails unless 200).
ms() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$1" | awk '$1 != 200 {exit 1} {printf "%.1f", $2 * 1000}'; }

# row SERVER WORKERS CRAWL CRAWLS SECONDS BYTES CPU-TICKS LATENCY -> a markdown table row
row() {
    python3 - "$@" "$tck" "$minutes" "$n_uris" <<'PY'
import sys
server, workers, crawl, crawls, secs, nbytes, ticks, lat, tck, mins, uris = sys.argv[1:]
crawls, secs, nbytes, cpu, mins = int(crawls), float(secs), int(nbytes), int(ticks) / int(tck), float(mins)
n = crawls * int(uris)
if lat:
    import statistics
    pairs = [tuple(float(x) for x in p.split('/')) for p in lat.split(';')]
    med = [statistics.median(p[i] for p in pairs) for i in (0, 1)]
    mx = [max(p[i] for p in pairs) for i in (0, 1)]
    lat = f'{med[0]:.1f} / {med[1]:.1f} (max {mx[0]:.1f} / {mx[1]:.1f})'
who = 'libhls module' if server == 'module' else 'static files (hls-dump, sendfile)'
print(f'| {who} | {workers} | {crawl} | {n / secs:,.0f} | {nbytes / secs / 1e6:,.0f} | {cpu / crawls / mins:.3f} | {lat} |')
PY
}

ROUNDS=${ROUNDS:-5}  # fresh nginx starts per configuration (one cold crawl each)
WARM=${WARM:-4}      # warm crawls after each cold one (one curl run)
configs=(module-1 static-1 module-2 static-2)
declare -A csecs cbytes cticks clats wsecs wbytes wticks
for c in "${configs[@]}"; do csecs[$c]=0 cbytes[$c]=0 cticks[$c]=0 clats[$c]="" wsecs[$c]=0 wbytes[$c]=0 wticks[$c]=0; done
add() { awk -v a="$1" -v b="$2" 'BEGIN {print a + b}'; }
trap ngx_cleanup EXIT
# Rounds interleave the configurations, so a change in the machine's load hits all of them alike.
for ((run = 1; run <= ROUNDS; run++)); do
    for label in "${configs[@]}"; do
        server=${label%-*} workers=${label#*-}
        p="$work/$label"
        port="$(ngx_free_port)"
        ngx_prefix "$p"
        if [[ $server == module ]]; then
            ngx_render "$NGX_CONF_DIR/origin.conf.in" "$p/conf/nginx.conf" PREFIX="$p" PORT="$port" \
                WORKERS="$workers" MODULE="$NGX_MODULE" MEDIA="$media" HLS_DIRECTIVES=""
        else
            ngx_render "$NGX_CONF_DIR/static.conf.in" "$p/conf/nginx.conf" PREFIX="$p" PORT="$port" \
                WORKERS="$workers" STATIC="$static"
        fi
        ngx_start "$p" "$port"
        pid=$NGX_PID
        base="http://127.0.0.1:$port/vod/$name"
        lat_master="$(ms "$base/master.m3u8")" || ngx_die "$label: master.m3u8 not 200"
        lat_media="$(ms "$base/$first_media")" || ngx_die "$label: $first_media not 200"
        clats[$label]+="$lat_master/$lat_media;"
        c1="$(ngx_cpu_ticks "$pid")"
        result="$(crawl "$port" "$label-cold$run" 1)"
        c2="$(ngx_cpu_ticks "$pid")"
        read -r secs bytes <<<"$result"
        csecs[$label]="$(add "${csecs[$label]}" "$secs")"
        cbytes[$label]=$((${cbytes[$label]} + bytes))
        cticks[$label]=$((${cticks[$label]} + c2 - c1))
        result="$(crawl "$port" "$label-warm$run" "$WARM")"
        c3="$(ngx_cpu_ticks "$pid")"
        read -r wsec wbyte <<<"$result"
        wsecs[$label]="$(add "${wsecs[$label]}" "$wsec")"
        wbytes[$label]=$((${wbytes[$label]} + wbyte))
        wticks[$label]=$((${wticks[$label]} + c3 - c2))
        ngx_log "round $run $label: first master / media playlist $lat_master / $lat_media ms, cold crawl $secs s, $WARM warm crawls $wsec s"
        ngx_stop "$pid"
    done
done
rows=()
for server in module static; do
    for workers in 1 2; do
        label="$server-$workers"
        rows+=("$(row "$server" "$workers" "cold (×$ROUNDS)" "$ROUNDS" "${csecs[$label]}" "${cbytes[$label]}" "${cticks[$label]}" "${clats[$label]%;}")")
        rows+=("$(row "$server" "$workers" "warm (×$((ROUNDS * WARM)))" "$((ROUNDS * WARM))" "${wsecs[$label]}" "${wbytes[$label]}" "${wticks[$label]}" "")")
    done
done

cat <<EOF

nginx $("$NGINX" -v 2>&1 | sed 's|.*/||'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), load average $(cut -d' ' -f1-3 /proc/loadavg)
$name: $duration s, $n_uris URIs ($((want_bytes / 1000000)) MB) per crawl; $PARALLEL parallel keep-alive connections (curl, same machine)

| server | workers | crawl | requests/s | MB/s | server CPU s per min of media | first master / media playlist, ms: median of the cold starts |
|---|---|---|---|---|---|---|
EOF
printf '%s\n' "${rows[@]}"

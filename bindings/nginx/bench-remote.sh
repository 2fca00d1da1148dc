#!/usr/bin/env bash
# Benchmark of remote mode (hls_remote): the same files served by ngx_http_hls_module from a
# local alias, from a store on loopback (Debian's nginx, static files), and from the same store
# behind a proxy that waits 20 ms before each request (delay-proxy.py: a store across a
# network). Prints a markdown table.
#
#   bindings/nginx/bench-remote.sh [FILE...]   (default: target/media/long_10min.mp4,
#                                               long_2h.mp4 and long_2h.mkv; gen-media.sh --long)
#
# For each file and source, on a fresh origin (one worker, so one libhls context):
#   - open: the first GET of master.m3u8 (opening and indexing the file) and of the first media
#     playlist: their latency (curl), and the store requests (HEAD + range GETs) and bytes the
#     open cost, from the store's access log;
#   - crawl: every name of the presentation once (PARALLEL=8 keep-alive connections, bodies
#     counted and dropped): seconds, and the store requests and bytes per media segment, and
#     the store's bytes over the file's size.
# DELAY_MS=20 sets the proxy's delay. Heavy: run it under nice on a shared machine. Not part of
# the test suite. Work files: target/nginx/bench-remote/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC2034 # (read by conf/lib.sh)
NGX_WHO=bench-remote
# shellcheck source-path=SCRIPTDIR source=conf/lib.sh
source "$root/bindings/nginx/conf/lib.sh"
PARALLEL=${PARALLEL:-8}
DELAY_MS=${DELAY_MS:-20}

if (($# == 0)); then
    set -- "$root/target/media/long_10min.mp4" "$root/target/media/long_2h.mp4" "$root/target/media/long_2h.mkv"
    [[ -f $1 && -f $2 && -f $3 ]] || "$root/scripts/gen-media.sh" --long >/dev/null
fi
files=()
for f in "$@"; do
    [[ -f $f ]] || ngx_die "$f: no such file"
    files+=("$(realpath "$f")")
done
media="$(dirname "${files[0]}")"
for f in "${files[@]}"; do
    [[ "$(dirname "$f")" == "$media" ]] || ngx_die "all files must be in one folder (the store's)"
done
ngx_build_module
command -v curl >/dev/null || ngx_die "curl is needed"

work="$root/target/nginx/bench-remote"
rm -rf "$work"
mkdir -p "$work"
trap 'ngx_cleanup; [[ -n ${delay_pid:-} ]] && kill "$delay_pid" 2>/dev/null; true' EXIT

# The store, and the delaying proxy in front of it.
store="$work/store"
s_port="$(ngx_free_port)"
ngx_prefix "$store"
ngx_render "$NGX_CONF_DIR/store.conf.in" "$store/conf/nginx.conf" PREFIX="$store" MEDIA="$media" \
    LISTEN="        listen 127.0.0.1:$s_port;"
ngx_start "$store" "$s_port"
d_port="$(ngx_free_port)"
python3 "$root/bindings/nginx/delay-proxy.py" "$d_port" "127.0.0.1:$s_port" "$DELAY_MS" &
delay_pid=$!
for ((i = 0; i < 50; i++)); do
    curl -s -o /dev/null "http://127.0.0.1:$d_port/" && break
    sleep 0.1
done

# The crawler: every name once, PARALLEL connections; prints "seconds names segments bytes".
cat >"$work/crawl.py" <<'PY'
import http.client, queue, re, sys, threading, time, urllib.parse
base, jobs = sys.argv[1], int(sys.argv[2])
u = urllib.parse.urlsplit(base)
uri_re = re.compile(r'URI="([^"]+)"')
work, lock, seen = queue.Queue(), threading.Lock(), set()
stats = {"names": 0, "segments": 0, "bytes": 0, "bad": []}
pending = [0]
done = threading.Event()
def add(n):
    with lock:
        if n in seen:
            return
        seen.add(n)
        pending[0] += 1
    work.put(n)
def worker():
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    while True:
        n = work.get()
        if n is None:
            return
        try:
            conn.request("GET", u.path + n)
            r = conn.getresponse()
            body = r.read()
            with lock:
                stats["names"] += 1
                stats["bytes"] += len(body)
                stats["segments"] += n.endswith(".m4s")
                if r.status != 200:
                    stats["bad"].append(f"{n}: {r.status}")
            if r.status == 200 and n.endswith(".m3u8"):
                for line in body.decode().splitlines():
                    line = line.strip()
                    if line.startswith("#"):
                        for x in uri_re.findall(line):
                            add(x)
                    elif line:
                        add(line)
        except Exception as e:
            with lock:
                stats["bad"].append(f"{n}: {e!r}")
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        finally:
            with lock:
                pending[0] -= 1
                if pending[0] == 0:
                    done.set()
t0 = time.monotonic()
threads = [threading.Thread(target=worker, daemon=True) for _ in range(jobs)]
for t in threads:
    t.start()
add("master.m3u8")
done.wait()
dt = time.monotonic() - t0
if stats["bad"]:
    print("crawl failed:", stats["bad"][:5], file=sys.stderr)
    sys.exit(1)
print(f'{dt:.2f} {stats["names"]} {stats["segments"]} {stats["bytes"]}')
PY

# store_since LINE FILE -> "requests bytes" in the store's log after LINE for FILE
store_since() {
    tail -n +"$(($1 + 1))" "$store/logs/access.log" |
        awk -v uri="/media/$2" '$3 == uri {n++; b += $5} END {printf "%d %d\n", n, b}'
}
ms() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$1" | awk '$1 != 200 {exit 1} {printf "%.1f", $2 * 1000}'; }

echo "| file | source | open: store requests | open: store bytes | first master.m3u8 | first media playlist | crawl | names | store requests / segment | store bytes / segment | store bytes / file size |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for f in "${files[@]}"; do
    name="$(basename "$f")"
    size="$(stat -c %s "$f")"
    for source in local remote "remote +${DELAY_MS} ms"; do
        p="$work/origin"
        port="$(ngx_free_port)"
        ngx_prefix "$p"
        case $source in
            local)  ngx_render "$NGX_CONF_DIR/origin.conf.in" "$p/conf/nginx.conf" PREFIX="$p" PORT="$port" \
                        WORKERS=1 MODULE="$NGX_MODULE" MEDIA="$media" HLS_DIRECTIVES="" ;;
            remote) ngx_render "$NGX_CONF_DIR/remote-origin.conf.in" "$p/conf/nginx.conf" PREFIX="$p" PORT="$port" \
                        WORKERS=1 MODULE="$NGX_MODULE" STORE_URL="http://127.0.0.1:$s_port/media/" HLS_DIRECTIVES="" ;;
            *)      ngx_render "$NGX_CONF_DIR/remote-origin.conf.in" "$p/conf/nginx.conf" PREFIX="$p" PORT="$port" \
                        WORKERS=1 MODULE="$NGX_MODULE" STORE_URL="http://127.0.0.1:$d_port/media/" HLS_DIRECTIVES="" ;;
        esac
        ngx_start "$p" "$port"
        pid=$NGX_PID
        base="http://127.0.0.1:$port/vod/$name/"
        l0="$(wc -l <"$store/logs/access.log")"
        t_master="$(ms "${base}master.m3u8")" || ngx_die "$name ($source): master.m3u8 failed"
        first_media="$(curl -s "${base}master.m3u8" | grep -v '^#' | grep -m1 .)"
        t_media="$(ms "$base$first_media")" || ngx_die "$name ($source): $first_media failed"
        sleep 0.2                          # the store's log is written when a request ends
        read -r open_n open_b <<<"$(store_since "$l0" "$name")"
        l1="$(wc -l <"$store/logs/access.log")"
        read -r secs names segs _bytes <<<"$(python3 "$work/crawl.py" "$base" "$PARALLEL")" || ngx_die "$name ($source): crawl failed"
        sleep 0.2
        read -r crawl_n crawl_b <<<"$(store_since "$l1" "$name")"
        ngx_stop "$pid"
        if [[ $source == local ]]; then
            printf '| %s | %s | – | – | %s ms | %s ms | %s s | %s | – | – | – |\n' \
                "$name" "$source" "$t_master" "$t_media" "$secs" "$names"
        else
            python3 - "$name" "$source" "$open_n" "$open_b" "$t_master" "$t_media" "$secs" "$names" "$segs" "$crawl_n" "$crawl_b" "$size" <<'PY'
import sys
name, source, on, ob, tm, tp, secs, names, segs, cn, cb, size = sys.argv[1:]
on, ob, segs, cn, cb, size = int(on), int(ob), int(segs), int(cn), int(cb), int(size)
print(f"| {name} | {source} | {on} | {ob / 1024:.0f} KiB | {tm} ms | {tp} ms | {secs} s | {names} | "
      f"{cn / segs:.2f} | {cb / segs / 1024:.0f} KiB | {(ob + cb) / size:.2f} |")
PY
        fi
    done
done
echo
echo "Store requests and bytes are counted in the store's access log (HEAD and range GETs for the file); per segment: the crawl's store requests over its media segments (every track's), after the open. $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)."

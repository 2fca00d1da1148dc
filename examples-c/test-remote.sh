#!/usr/bin/env bash
# hls-serve --remote against a real HTTP store on loopback: nginx serving target/media (Range,
# ETag) plays the object store. Every name of every file below is the same bytes from
# `hls-serve --remote http://store/` as from `hls-serve target/media`; the store's access log
# counts the requests; a store that stops gives 502 while local media keep playing.
#
# Needs: cargo build --release, scripts/gen-media.sh, nginx and libcurl4-openssl-dev (installed
# with apt-get when missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
media="$root/target/media"
files=(h264_aac.mp4 h264_aac.mkv h264_aac.ts audio_only.mp3 hevc_aac.mp4 subs.mp4 multi_audio.mkv dts.mkv)

missing=()
command -v nginx >/dev/null || missing+=(nginx)
pkg-config --exists libcurl 2>/dev/null || missing+=(libcurl4-openssl-dev)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
    echo "test-remote: installing ${missing[*]}" >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
make -s -C "$root/examples-c" hls-serve CURL=1 >/dev/null

work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
store_port=$(free_port)
cat >"$work/nginx.conf" <<CONF
daemon on;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 256; }
http {
    access_log $work/access.log;
    client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
    uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
    server { listen 127.0.0.1:$store_port; root $media; etag on; keepalive_requests 100000; }
}
CONF
mkdir -p "$work/tmp"
nginx -c "$work/nginx.conf" -p "$work"

remote_port=$(free_port)
local_port=$(free_port)
"$root/examples-c/hls-serve" --quiet --port "$remote_port" --remote "http://127.0.0.1:$store_port/" &
pids+=($!)
"$root/examples-c/hls-serve" --quiet --port "$local_port" "$media" &
pids+=($!)
for port in "$remote_port" "$local_port" "$store_port"; do
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done

# Every name of one file's presentation (playlists first).
names() {
    local base=$1 todo=(master.m3u8) seen=" " n
    while ((${#todo[@]})); do
        n=${todo[0]}
        todo=("${todo[@]:1}")
        [[ $seen == *" $n "* ]] && continue
        seen+="$n "
        echo "$n"
        if [[ $n == *.m3u8 ]]; then
            while read -r u; do todo+=("$u"); done < <(curl -sf "$base/$n" | grep -oE '(URI="[^"]+"|^[^#].*)' | sed -E 's/^URI="//; s/"$//')
        fi
    done
}

failures=0 total=0
for f in "${files[@]}"; do
    before=$(wc -l <"$work/access.log" 2>/dev/null || echo 0)
    n=0
    while read -r name; do
        a=$(curl -sf "http://127.0.0.1:$local_port/$f/$name" | sha256sum | cut -c1-64)
        b=$(curl -sf "http://127.0.0.1:$remote_port/$f/$name" | sha256sum | cut -c1-64)
        if [[ $a != "$b" ]]; then
            echo "DIFFERENT: $f/$name" >&2
            failures=$((failures + 1))
        fi
        n=$((n + 1))
    done < <(names "http://127.0.0.1:$local_port/$f")
    after=$(wc -l <"$work/access.log")
    size=$(stat -c %s "$media/$f")
    bytes=$(tail -n +"$((before + 1))" "$work/access.log" | awk '{s += $10} END {print s + 0}')
    printf 'test-remote: %-18s %4d names identical; store: %5d requests, %10d bytes (file %d bytes: %s)\n' \
        "$f" "$n" "$((after - before))" "$bytes" "$size" "$(awk -v b="$bytes" -v s="$size" 'BEGIN { printf "%.2fx", b / s }')"
    # Each byte of the object about once: libhls keeps what it read (its block cache) and asks
    # the store only for what it does not hold.
    if ((bytes * 10 > size * 13)); then
        echo "test-remote: $f: the store sent $bytes bytes of a $size-byte object (more than 1.3x)" >&2
        failures=$((failures + 1))
    fi
    total=$((total + n))
done

# The store stops: a segment not served yet is 502 (the store's error), local media still play.
nginx -c "$work/nginx.conf" -p "$work" -s stop
sleep 0.5
code=$(curl -s -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$remote_port/long_10min.mp4/master.m3u8" || true)
echo "test-remote: store stopped: remote master.m3u8 -> HTTP $code: $(head -c 200 "$work/body")"
[[ $code == 502 ]] || { echo "test-remote: expected 502 with the store down" >&2; failures=$((failures + 1)); }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$local_port/h264_aac.mp4/t0_1.m4s")
[[ $code == 200 ]] || { echo "test-remote: local media failed ($code)" >&2; failures=$((failures + 1)); }

echo "test-remote: $total names, $failures failure(s)"
((failures == 0))

#!/usr/bin/env bash
# Scale-out over an object store: two nginx + ngx_http_hls_module origins in remote mode
# (hls_remote) over the same store -- Debian's nginx serving the media folder, on one port per
# origin so that its access log tells them apart -- behind a third nginx as caching proxy
# (proxy_cache; upstream with both origins and proxy_next_upstream), the CDN's role; a fourth
# nginx serves the same media from a local alias, the reference. Checks:
#   1. each origin answers every name of a presentation byte-identical to the local origin and
#      to hls-dump, with the same ETag and Last-Modified on both origins;
#   2. a crawl through the proxy (4 connections, cold origins, empty cache) completes although
#      origin A is killed (SIGKILL) a third of the way through, byte-identical to the local
#      origin's crawl;
#   3. the store saw each byte range of the source about once per origin: from its access log
#      (port, method, status, bytes, Range), per origin and file, the bytes requested over the
#      distinct bytes covered, at most 1.3 (libhls keeps the bytes it read in a block cache per
#      context and asks the store only for bytes it does not hold: every segment name of a
#      segment, the walk's margin, the open and FFmpeg's re-reads find them there), and how
#      many bytes were read more than once. One worker per origin: each worker has its own
#      libhls context, which reads the index once and keeps its own block cache;
#   4. a second crawl comes from the proxy's cache and costs the store nothing.
#
#   bindings/nginx/remote-scaleout-test.sh     (from any directory; exits non-zero on failure)
#
# Everything (prefixes, configs, logs, cache, crawled bodies) is under
# target/nginx/remote-scaleout/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC2034 # (read by conf/lib.sh)
NGX_WHO=remote-scaleout-test
# shellcheck source-path=SCRIPTDIR source=conf/lib.sh
source "$root/bindings/nginx/conf/lib.sh"
t0=$SECONDS
crawl=(python3 "$root/bindings/nginx/crawl.py")

# multi_audio.mkv: 3 audio languages, 2 subtitle tracks; h264_aac.mp4: a plain MP4 crawled by
# both origins through the proxy; looped_4min.mkv (4 minutes): the crawl in which an origin dies.
small=multi_audio.mkv
mp4=h264_aac.mp4
long=looped_4min.mkv

"$root/scripts/gen-media.sh" >/dev/null
media="$(realpath "$root/target/media")"
for f in "$small" "$mp4" "$long"; do [[ -f "$media/$f" ]] || ngx_die "$media/$f missing after scripts/gen-media.sh"; done
ngx_build_module
ngx_build_examples

work="$root/target/nginx/remote-scaleout"
rm -rf "$work"
mkdir -p "$work"
fails=0
pass() { printf 'ok - %s\n' "$*"; }
fail() { printf 'not ok - %s\n' "$*"; fails=$((fails + 1)); }
same_tree() {
    diff -r -q -x info.json -x .headers.tsv "$1" "$2" >"$work/diff.txt" 2>&1
}

for f in "$small" "$mp4" "$long"; do
    "$root/examples-c/hls-dump" "$media/$f" "$work/hls-dump/$f" >/dev/null || ngx_die "hls-dump $f failed"
done

trap ngx_cleanup EXIT

# The store: one port per origin.
store="$work/store"
s_port_a="$(ngx_free_port)"
s_port_b="$(ngx_free_port)"
ngx_prefix "$store"
ngx_render "$NGX_CONF_DIR/store.conf.in" "$store/conf/nginx.conf" PREFIX="$store" MEDIA="$media" \
    LISTEN="        listen 127.0.0.1:$s_port_a;
        listen 127.0.0.1:$s_port_b;"
ngx_start "$store" "$s_port_a"
store_pid=$NGX_PID

start_remote_origin() { # NAME STORE_PORT -> sets ORIGIN_PID, ORIGIN_PORT
    local p="$work/$1" port
    port="$(ngx_free_port)"
    ngx_prefix "$p"
    ngx_render "$NGX_CONF_DIR/remote-origin.conf.in" "$p/conf/nginx.conf" PREFIX="$p" PORT="$port" \
        WORKERS=1 MODULE="$NGX_MODULE" STORE_URL="http://127.0.0.1:$2/media/" HLS_DIRECTIVES=""
    ngx_start "$p" "$port"
    ORIGIN_PID=$NGX_PID
    ORIGIN_PORT=$port
}
start_remote_origin origin-a "$s_port_a"
a_pid=$ORIGIN_PID a_port=$ORIGIN_PORT
start_remote_origin origin-b "$s_port_b"
b_pid=$ORIGIN_PID b_port=$ORIGIN_PORT

# The reference: one origin over the same files by a local alias.
local_p="$work/local"
l_port="$(ngx_free_port)"
ngx_prefix "$local_p"
ngx_render "$NGX_CONF_DIR/origin.conf.in" "$local_p/conf/nginx.conf" PREFIX="$local_p" PORT="$l_port" \
    WORKERS=1 MODULE="$NGX_MODULE" MEDIA="$media" HLS_DIRECTIVES=""
ngx_start "$local_p" "$l_port"

proxy="$work/proxy"
p_port="$(ngx_free_port)"
ngx_prefix "$proxy"
ngx_render "$NGX_CONF_DIR/proxy.conf.in" "$proxy/conf/nginx.conf" PREFIX="$proxy" PORT="$p_port" \
    UPSTREAMS="        server 127.0.0.1:$a_port max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$b_port max_fails=1 fail_timeout=30s;"
ngx_start "$proxy" "$p_port"
echo "remote-scaleout: store 127.0.0.1:$s_port_a (for A) and :$s_port_b (for B) (pid $store_pid), origin A 127.0.0.1:$a_port (pid $a_pid), origin B 127.0.0.1:$b_port (pid $b_pid), local origin 127.0.0.1:$l_port, caching proxy 127.0.0.1:$p_port"

# 1. Each origin alone ---------------------------------------------------------------------------
echo "# 1. $small from each remote origin directly, and from the local origin"
"${crawl[@]}" "http://127.0.0.1:$l_port/vod/$small/" "$work/local/$small" || fail "$small: crawl of the local origin"
"${crawl[@]}" "http://127.0.0.1:$a_port/vod/$small/" "$work/direct-a/$small" || fail "$small: crawl of origin A"
"${crawl[@]}" "http://127.0.0.1:$b_port/vod/$small/" "$work/direct-b/$small" || fail "$small: crawl of origin B"
if same_tree "$work/direct-a/$small" "$work/local/$small" && same_tree "$work/direct-b/$small" "$work/local/$small" \
    && same_tree "$work/local/$small" "$work/hls-dump/$small"; then
    pass "$small: both remote origins serve every name byte-identical to the local origin and hls-dump ($(wc -l <"$work/direct-a/$small/.headers.tsv") names)"
else
    fail "$small: remote bodies differ: $(head -c 600 "$work/diff.txt")"
fi
if cmp -s <(cut -f1-5 "$work/direct-a/$small/.headers.tsv") <(cut -f1-5 "$work/direct-b/$small/.headers.tsv") \
    && ! cut -f4 "$work/direct-a/$small/.headers.tsv" | grep -qx -- -; then
    pass "$small: ETag and Last-Modified of every name are the same on both remote origins"
else
    fail "$small: headers differ between the remote origins: $(diff <(cut -f1-5 "$work/direct-a/$small/.headers.tsv") <(cut -f1-5 "$work/direct-b/$small/.headers.tsv") | head -6 | tr '\n' ' ')"
fi

# 2. Through the proxy ---------------------------------------------------------------------------
echo "# 2a. $mp4 through the proxy, both origins up (cold, empty cache)"
store_before="$(wc -l <"$store/logs/access.log")"
"${crawl[@]}" "http://127.0.0.1:$p_port/vod/$mp4/" "$work/proxy-1/$mp4" --jobs 4 || fail "$mp4: crawl through the proxy"
"${crawl[@]}" "http://127.0.0.1:$l_port/vod/$mp4/" "$work/local/$mp4" || fail "$mp4: crawl of the local origin"
if same_tree "$work/proxy-1/$mp4" "$work/local/$mp4" && same_tree "$work/proxy-1/$mp4" "$work/hls-dump/$mp4"; then
    pass "$mp4: through the proxy (both origins) byte-identical to the local origin and hls-dump"
else
    fail "$mp4: bodies through the proxy differ: $(head -c 600 "$work/diff.txt")"
fi
tail -n +"$((store_before + 1))" "$store/logs/access.log" >"$work/store-$mp4.log"

echo "# 2b. $long through the proxy, origin A killed mid-crawl"
n_long="$(find "$work/hls-dump/$long" -type f ! -name info.json | wc -l)"
after=$((n_long / 3))
store_before="$(wc -l <"$store/logs/access.log")"
echo "# $long: $n_long names, cold origins, empty cache; origin A killed after $after responses"
a_family="$(ngx_family "$a_pid" | tr '\n' ' ')"
if "${crawl[@]}" "http://127.0.0.1:$p_port/vod/$long/" "$work/proxy-1/$long" --jobs 4 --after "$after" \
    --run "kill -KILL $a_family; echo 'remote-scaleout: origin A killed (pids $a_family)'"; then
    pass "$long: the crawl through the proxy completes although origin A died during it"
else
    fail "$long: the crawl through the proxy failed after origin A was killed"
fi
sleep 0.2
tail -n +"$((store_before + 1))" "$store/logs/access.log" >"$work/store-$long.log"
wait "$a_pid" 2>/dev/null || true
failovers="$(grep -c "upstream=\[127.0.0.1:$a_port, 127.0.0.1:$b_port\]" "$proxy/logs/access.log" || true)"
from_a="$(grep -c "upstream=\[127.0.0.1:$a_port\]" "$proxy/logs/access.log" || true)"
echo "# the proxy got $from_a answers from A, and retried $failovers request(s) on B after A died"
if ((from_a > 0 && failovers > 0)); then
    pass "$long: the proxy used both origins and failed over from the dead one"
else
    fail "$long: no failover seen ($from_a answers from A, $failovers retried on B)"
fi
"${crawl[@]}" "http://127.0.0.1:$l_port/vod/$long/" "$work/local/$long" || fail "$long: crawl of the local origin"
if same_tree "$work/proxy-1/$long" "$work/local/$long" && same_tree "$work/proxy-1/$long" "$work/hls-dump/$long"; then
    pass "$long: every body through the proxy is byte-identical to the single local origin's and hls-dump's"
else
    fail "$long: bodies through the proxy differ: $(head -c 600 "$work/diff.txt")"
fi

# 3. What the store saw --------------------------------------------------------------------------
# store_count LOG FILE BOUND: per origin, the range GETs of FILE in LOG (the store's access log
# lines of one crawl), the bytes requested over the distinct bytes covered, bytes read twice or
# more; fails when an origin's requested/distinct exceeds BOUND.
store_count() {
    python3 - "$1" "/media/$2" "$(stat -c %s "$media/$2")" "$s_port_a" "$s_port_b" "$3" <<'PY'
import re, sys
log, uri, size, port_a, port_b, bound = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], float(sys.argv[6])
line_re = re.compile(r'^(\d+) (\S+) (\S+) (\d+) (\d+) "([^"]*)"')
per = {port_a: [], port_b: []}
heads = {port_a: 0, port_b: 0}
bad = []
for line in open(log):
    m = line_re.match(line)
    if not m or m.group(3) != uri:
        continue
    port, method, status, rng = m.group(1), m.group(2), int(m.group(4)), m.group(6)
    if method == "HEAD":
        heads[port] += 1
        continue
    r = re.fullmatch(r"bytes=(\d+)-(\d+)", rng)
    if status != 206 or not r:
        bad.append(line.strip())
        continue
    per[port].append((int(r.group(1)), int(r.group(2)) + 1))
ok = not bad
for name, port in (("A", port_a), ("B", port_b)):
    ranges = per[port]
    requested = sum(e - s for s, e in ranges)
    # bytes covered once, twice, more: a sweep over the range ends
    events = sorted([(s, 1) for s, _ in ranges] + [(e, -1) for _, e in ranges])
    depth, last, cover = 0, 0, {}
    for pos, d in events:
        if depth > 0:
            cover[depth] = cover.get(depth, 0) + pos - last
        depth += d
        last = pos
    distinct = sum(cover.values())
    again = sum(v for k, v in cover.items() if k > 1)
    ratio = requested / distinct if distinct else 0
    print(f"# {uri} via origin {name}: {len(ranges)} range GETs, {heads[port]} HEADs, {requested} bytes "
          f"requested, {distinct} distinct ({100 * distinct / size:.0f}% of the file), "
          f"{again} read more than once, requested/distinct {ratio:.2f}")
    if ranges and ratio > bound:
        ok = False
if bad:
    print(f"# store requests that were not ranges answered 206: {bad[:3]}")
sys.exit(0 if ok else 1)
PY
}
echo "# 3. the store's access log, per origin (one port each): what each origin read of each file"
# Each segment name of segment K (t0_K.m4s, t1_K.m4s, the I-frame t0_iK.m4s) needs the same
# span of the source, the Matroska walk reads 64 KiB past the next segment's cluster, the open
# reads block headers at segment boundaries and FFmpeg's probe the first bytes: an origin reads
# each of those bytes from the store once and finds them in its context's block cache after
# (64 MiB by default, more than these files), asking the store only for what it does not hold.
# What remains read twice: a stretch two threads asked for at the same moment within one
# 64 KiB block (the 4 proxy connections), and whatever the origin that died had in flight.
bound=1.3
if store_count "$work/store-$mp4.log" "$mp4" "$bound"; then
    pass "$mp4: each origin read each source byte about once (requested/distinct <= $bound)"
else
    fail "$mp4: an origin read source bytes more than about once (requested/distinct > $bound)"
fi
if store_count "$work/store-$long.log" "$long" "$bound"; then
    pass "$long: each origin read each source byte about once (requested/distinct <= $bound)"
else
    fail "$long: an origin read source bytes more than about once (requested/distinct > $bound)"
fi

# 4. The cache -----------------------------------------------------------------------------------
echo "# 4. second crawl through the proxy: from its cache; the store sees nothing"
store_before="$(wc -l <"$store/logs/access.log")"
if "${crawl[@]}" "http://127.0.0.1:$p_port/vod/$long/" "$work/proxy-2/$long" --jobs 4 --expect-cache HIT \
    && same_tree "$work/proxy-2/$long" "$work/local/$long"; then
    pass "second crawl: X-Cache-Status HIT on every response, same bytes"
else
    fail "second crawl: not every response came from the cache"
fi
store_after="$(wc -l <"$store/logs/access.log")"
if ((store_after == store_before)); then
    pass "second crawl: no request reached the store"
else
    fail "second crawl: $((store_after - store_before)) request(s) reached the store"
fi

echo "remote-scaleout: $((SECONDS - t0)) s, $fails failed"
((fails == 0))

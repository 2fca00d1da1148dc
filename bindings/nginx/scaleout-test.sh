#!/usr/bin/env bash
# Scale-out test: two nginx + ngx_http_hls_module origins over the same media folder, behind a
# third nginx as caching proxy (proxy_cache; upstream with both origins and
# `proxy_next_upstream error timeout http_502 http_503`) -- the deployment the README describes,
# with the proxy in the role of the CDN. Checks:
#   1. both origins answer every name of a presentation with the same bytes, ETag and
#      Last-Modified, identical to what examples-c/hls-dump writes;
#   2. a crawl through the proxy (4 connections, cold origins, empty cache) completes although
#      one origin is killed (SIGKILL to its master and workers) a third of the way through, with
#      bodies byte-identical to the single-origin crawl and to hls-dump;
#   3. a second crawl is served from the cache (X-Cache-Status: HIT on every response), and
#      still is with every origin stopped.
#
#   bindings/nginx/scaleout-test.sh        (from any directory; exits non-zero on failure)
#
# Everything (prefixes, configs, logs, cache, crawled bodies) is under target/nginx/scaleout/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC2034 # (read by conf/lib.sh)
NGX_WHO=scaleout-test
# shellcheck source-path=SCRIPTDIR source=conf/lib.sh
source "$root/bindings/nginx/conf/lib.sh"
t0=$SECONDS
crawl=(python3 "$root/bindings/nginx/crawl.py")

# multi_audio.mkv: video, 3 audio languages, 2 subtitle tracks (35 names); looped_4min.mkv: a
# longer one (4 minutes), the crawl in which an origin dies.
small=multi_audio.mkv
long=looped_4min.mkv

"$root/scripts/gen-media.sh" >/dev/null
media="$(realpath "$root/target/media")"
for f in "$small" "$long"; do [[ -f "$media/$f" ]] || ngx_die "$media/$f missing after scripts/gen-media.sh"; done
ngx_build_module
ngx_build_examples

work="$root/target/nginx/scaleout"
rm -rf "$work"
mkdir -p "$work"
fails=0
pass() { printf 'ok - %s\n' "$*"; }
fail() { printf 'not ok - %s\n' "$*"; fails=$((fails + 1)); }

# Same bytes as hls-dump? Compares two crawl directories (names and bodies; hls-dump's info.json
# and the crawler's .headers.tsv aside).
same_tree() {
    diff -r -q -x info.json -x .headers.tsv "$1" "$2" >"$work/diff.txt" 2>&1
}

for f in "$small" "$long"; do
    "$root/examples-c/hls-dump" "$media/$f" "$work/hls-dump/$f" >/dev/null || ngx_die "hls-dump $f failed"
done

start_origin() { # NAME -> sets ORIGIN_PID, ORIGIN_PORT
    local p="$work/$1" port
    port="$(ngx_free_port)"
    ngx_prefix "$p"
    ngx_render "$NGX_CONF_DIR/origin.conf.in" "$p/conf/nginx.conf" PREFIX="$p" PORT="$port" WORKERS=2 \
        MODULE="$NGX_MODULE" MEDIA="$media" HLS_DIRECTIVES=""
    ngx_start "$p" "$port"
    ORIGIN_PID=$NGX_PID
    ORIGIN_PORT=$port
}

trap ngx_cleanup EXIT
start_origin origin-a
a_pid=$ORIGIN_PID a_port=$ORIGIN_PORT
start_origin origin-b
b_pid=$ORIGIN_PID b_port=$ORIGIN_PORT
proxy="$work/proxy"
p_port="$(ngx_free_port)"
ngx_prefix "$proxy"
ngx_render "$NGX_CONF_DIR/proxy.conf.in" "$proxy/conf/nginx.conf" PREFIX="$proxy" PORT="$p_port" \
    UPSTREAMS="        server 127.0.0.1:$a_port max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$b_port max_fails=1 fail_timeout=30s;"
ngx_start "$proxy" "$p_port"
echo "scaleout: origin A 127.0.0.1:$a_port (pid $a_pid), origin B 127.0.0.1:$b_port (pid $b_pid), caching proxy 127.0.0.1:$p_port (pid $NGX_PID)"

# 1. Each origin alone ---------------------------------------------------------------------------
echo "# 1. $small from each origin directly"
"${crawl[@]}" "http://127.0.0.1:$a_port/vod/$small/" "$work/direct-a/$small" || fail "$small: crawl of origin A"
"${crawl[@]}" "http://127.0.0.1:$b_port/vod/$small/" "$work/direct-b/$small" || fail "$small: crawl of origin B"
if same_tree "$work/direct-a/$small" "$work/hls-dump/$small" && same_tree "$work/direct-b/$small" "$work/hls-dump/$small"; then
    pass "$small: both origins serve every name byte-identical to hls-dump ($(wc -l <"$work/direct-a/$small/.headers.tsv") names)"
else
    fail "$small: origin bodies differ from hls-dump: $(head -c 600 "$work/diff.txt")"
fi
# name, status, bytes, ETag, Last-Modified
if cmp -s <(cut -f1-5 "$work/direct-a/$small/.headers.tsv") <(cut -f1-5 "$work/direct-b/$small/.headers.tsv"); then
    if cut -f4 "$work/direct-a/$small/.headers.tsv" | grep -qx -- -; then
        fail "$small: some responses have no ETag: $(awk -F'\t' '$4 == "-" {print $1}' "$work/direct-a/$small/.headers.tsv" | head -5 | tr '\n' ' ')"
    else
        pass "$small: ETag and Last-Modified of every name are the same on both origins (e.g. master.m3u8: $(awk -F'\t' '$1 == "master.m3u8" {print $4}' "$work/direct-a/$small/.headers.tsv"))"
    fi
else
    fail "$small: headers differ between origins: $(diff <(cut -f1-5 "$work/direct-a/$small/.headers.tsv") <(cut -f1-5 "$work/direct-b/$small/.headers.tsv") | head -6 | tr '\n' ' ')"
fi

# 2. Through the proxy, origin A killed mid-crawl -----------------------------------------------
n_long="$(find "$work/hls-dump/$long" -type f ! -name info.json | wc -l)"
after=$((n_long / 3))
echo "# 2. $long through the proxy ($n_long names, cold origins, empty cache); origin A killed after $after responses"
a_family="$(ngx_family "$a_pid" | tr '\n' ' ')"
a_direct="$(grep -c '/vod/' "$work/origin-a/logs/access.log" || true)"
a_before_kill="$work/a-requests-at-kill.txt"
if "${crawl[@]}" "http://127.0.0.1:$p_port/vod/$long/" "$work/proxy-1/$long" --jobs 4 --after "$after" \
    --run "grep -c '/vod/' '$work/origin-a/logs/access.log' >'$a_before_kill' || true; kill -KILL $a_family; echo 'scaleout: origin A killed (pids $a_family)'"; then
    pass "$long: the crawl through the proxy completes although origin A died during it"
else
    fail "$long: the crawl through the proxy failed after origin A was killed"
fi
wait "$a_pid" 2>/dev/null || true
if ngx_alive "$a_pid"; then fail "origin A still runs after SIGKILL"; fi
served_a=$(($(cat "$a_before_kill" 2>/dev/null || echo "$a_direct") - a_direct))
failovers="$(grep -c "upstream=\[127.0.0.1:$a_port, 127.0.0.1:$b_port\]" "$proxy/logs/access.log" || true)"
a_errors="$(grep "upstream: \"http://127.0.0.1:$a_port/" "$proxy/logs/error.log" | grep '\[error\]' | sed -E 's/.*\] [0-9#]+: \*[0-9]+ ([^,]*), client.*/\1/' | sort | uniq -c | sed 's/^ *//' | paste -sd ';' || true)"
echo "# origin A had answered $served_a proxied requests when killed; the proxy retried $failovers request(s) on B (its errors from A: ${a_errors:-none})"
if ((served_a > 0 && failovers > 0)); then
    pass "$long: the proxy used both origins and failed over from the dead one ($failovers request(s) retried on B)"
else
    fail "$long: no failover seen (origin A answered $served_a before the kill, $failovers request(s) retried on B)"
fi
echo "# single-origin crawl of $long (origin B directly)"
"${crawl[@]}" "http://127.0.0.1:$b_port/vod/$long/" "$work/direct-b/$long" || fail "$long: crawl of origin B"
if same_tree "$work/proxy-1/$long" "$work/direct-b/$long" && same_tree "$work/proxy-1/$long" "$work/hls-dump/$long"; then
    pass "$long: every body through the proxy is byte-identical to the single-origin crawl and to hls-dump"
else
    fail "$long: bodies through the proxy differ: $(head -c 600 "$work/diff.txt")"
fi
if cmp -s <(cut -f1-5 "$work/proxy-1/$long/.headers.tsv") <(cut -f1-5 "$work/direct-b/$long/.headers.tsv"); then
    pass "$long: ETag and Last-Modified through the proxy (from A and from B) equal origin B's"
else
    fail "$long: headers differ: $(diff <(cut -f1-5 "$work/proxy-1/$long/.headers.tsv") <(cut -f1-5 "$work/direct-b/$long/.headers.tsv") | head -6 | tr '\n' ' ')"
fi
echo "# $small through the proxy, origin A dead from the start"
if "${crawl[@]}" "http://127.0.0.1:$p_port/vod/$small/" "$work/proxy-1/$small" --jobs 4 && same_tree "$work/proxy-1/$small" "$work/hls-dump/$small"; then
    pass "$small: crawled through the proxy with one origin dead, byte-identical to hls-dump"
else
    fail "$small: crawl through the proxy with one origin dead"
fi

# 3. The cache -----------------------------------------------------------------------------------
echo "# 3. second crawl through the proxy: from its cache"
ok=1
for f in "$long" "$small"; do
    if ! "${crawl[@]}" "http://127.0.0.1:$p_port/vod/$f/" "$work/proxy-2/$f" --jobs 4 --expect-cache HIT || ! same_tree "$work/proxy-2/$f" "$work/hls-dump/$f"; then
        ok=0
    fi
done
b_hits="$(grep -c '/vod/' "$work/origin-b/logs/access.log" || true)"
if ((ok)); then pass "second crawl: X-Cache-Status HIT on every response, same bytes"; else fail "second crawl: not every response came from the cache"; fi
echo "# origin B stopped (graceful); third crawl through the proxy"
ngx_stop "$b_pid"
ok=1
for f in "$long" "$small"; do
    if ! "${crawl[@]}" "http://127.0.0.1:$p_port/vod/$f/" "$work/proxy-3/$f" --jobs 4 --expect-cache HIT || ! same_tree "$work/proxy-3/$f" "$work/hls-dump/$f"; then
        ok=0
    fi
done
if ((ok)); then
    pass "with every origin down the proxy still serves both presentations from its cache"
else
    fail "with every origin down the proxy did not serve everything from its cache"
fi
echo "# origin B served $b_hits requests in all; proxy log: $proxy/logs/access.log"

echo "scaleout: $((SECONDS - t0)) s, $fails failed"
((fails == 0))

#!/usr/bin/env bash
# HTTP load for the bindings benchmark: crawls a presentation over HTTP (master.m3u8, the playlists
# it names, their URIs), fetches each chosen URL once (warm-up), then runs wrk cycling through them
# and prints one line:
#
#   BENCH <TAB> LABEL <TAB> http_rps <TAB> requests/s <TAB> req/s <TAB> NOTE
#
#   benches/bindings/load.sh [--label L] [--note TEXT] [--seconds S] [--connections C]
#                            [--threads T] [--set hits|all] http://HOST:PORT/<file>/master.m3u8
#
# --set hits (default): every playlist, every init segment and the first 8 media segments of each
# playlist, so after the warm-up every request is a libhls cache hit (the server and binding
# overhead, not FFmpeg); --set all: every URL of the presentation. Fails (exit 1) on any non-2xx
# answer or socket error. Installs wrk (apt) when missing.
set -euo pipefail

label=server note="" seconds=5 connections=16 threads=2 set=hits url=""
while (($# > 0)); do
    case "$1" in
        --label) label="$2"; shift ;;
        --note) note="$2"; shift ;;
        --seconds) seconds="$2"; shift ;;
        --connections) connections="$2"; shift ;;
        --threads) threads="$2"; shift ;;
        --set) set="$2"; shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) echo "load.sh: unknown option $1" >&2; exit 2 ;;
        *) url="$1" ;;
    esac
    shift
done
[[ "$url" == http://*/master.m3u8 ]] || { echo "load.sh: give the master playlist URL (http://.../master.m3u8)" >&2; exit 2; }
[[ "$set" == hits || "$set" == all ]] || { echo "load.sh: --set hits|all" >&2; exit 2; }

for tool in wrk curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "load.sh: installing $tool" >&2
        sudo_=()
        [[ "$(id -u)" == 0 ]] || sudo_=(sudo)
        "${sudo_[@]}" apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive "${sudo_[@]}" apt-get install -y -qq "$tool" >&2
    fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
base="${url%master.m3u8}"    # http://host:port/<file>/
hostport="${url#http://}"
hostport="${hostport%%/*}"
prefix="/${base#http://"$hostport"/}" # /<file>/

# Crawl: names in order, each playlist's URIs appended as it is fetched.
names=(master.m3u8)
declare -A seen=([master.m3u8]=1)
i=0
while ((i < ${#names[@]})); do
    n="${names[$i]}"
    i=$((i + 1))
    [[ "$n" == *.m3u8 ]] || continue
    curl -fsS "$base$n" -o "$tmp/pl" || { echo "load.sh: GET $base$n failed" >&2; exit 1; }
    count=0
    while IFS= read -r line; do
        line="${line%$'\r'}"
        uri=""
        if [[ "$line" == \#* ]]; then
            [[ "$line" =~ URI=\"([^\"]*)\" ]] && uri="${BASH_REMATCH[1]}"
        else
            uri="$line"
        fi
        [[ -n "$uri" && -z "${seen[$uri]:-}" ]] || continue
        seen[$uri]=1
        if [[ "$set" == hits && "$uri" == *.m4s ]]; then
            count=$((count + 1))
            ((count <= 8)) || continue
        fi
        names+=("$uri")
    done <"$tmp/pl"
done

for n in "${names[@]}"; do printf '%s%s\n' "$prefix" "$n"; done >"$tmp/paths"
# Warm-up: every chosen URL once (and a check that each answers 200).
while IFS= read -r p; do
    curl -fsS -o /dev/null "http://$hostport$p" || { echo "load.sh: warm-up GET $p failed" >&2; exit 1; }
done <"$tmp/paths"

cat >"$tmp/cycle.lua" <<'EOF'
local paths = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = math.random(#paths) - 1
end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
EOF
echo "load.sh: wrk -t$threads -c$connections -d${seconds}s over ${#names[@]} URLs ($set) of $base" >&2
wrk -t"$threads" -c"$connections" -d"${seconds}s" -s "$tmp/cycle.lua" "http://$hostport/" -- "$tmp/paths" >"$tmp/wrk.out" 2>&1 || {
    cat "$tmp/wrk.out" >&2
    exit 1
}
sed 's/^/load.sh:   /' "$tmp/wrk.out" >&2
if grep -q 'Non-2xx or 3xx responses\|Socket errors' "$tmp/wrk.out"; then
    echo "load.sh: errors during the load (see above)" >&2
    exit 1
fi
rps="$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk.out")"
xfer="$(awk '/^Transfer\/sec:/ { print $2 }' "$tmp/wrk.out")"
[[ -n "$rps" ]] || { echo "load.sh: no Requests/sec in wrk's output" >&2; exit 1; }
printf 'BENCH\t%s\thttp_rps\t%s\treq/s\t%s\n' "$label" "$rps" "${note:+$note; }$set set, ${#names[@]} URLs, -c$connections, $xfer/s"

#!/usr/bin/env bash
# The bindings benchmark (issue #13): cache-hit and cold-segment cost per call through the C API,
# Go and Python in the same run (the binding's overhead), and requests/s of hls-serve (C), the Go
# handler and the WSGI app on the same file. Prints a Markdown table.
#
#   benches/bindings/run.sh [--check] [--quick] [FILE]
#
# FILE: default target/media/long_10min.mp4 (scripts/gen-media.sh --long makes it).
# --quick: fewer iterations and 2-second loads (a smoke run; the numbers are rough).
# --check: exit 1 unless every target below was measured and met.
# Targets: binding overhead per cache hit < 1 us in Go, < 10 us in Python.
#
# The C side is benches/bindings/calls.c and examples-c/hls-serve.c (built here against
# target/release); each binding contributes through an executable bindings/<lang>/bench.sh, run
# with the FILE as its argument and these in the environment:
#   LIBHLS_BENCH_LOAD   benches/bindings/load.sh (HTTP load with wrk over the presentation)
#   LIBHLS_BENCH_QUICK  1 with --quick
# and printing BENCH lines on stdout (format: benches/bindings/README.md). A missing bench.sh is
# shown as "not measured".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

check=0 quick=0 file=""
for a in "$@"; do
    case "$a" in
        --check) check=1 ;;
        --quick) quick=1 ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) echo "bindings-bench: unknown option $a" >&2; exit 2 ;;
        *) file="$a" ;;
    esac
done
file="${file:-$root/target/media/long_10min.mp4}"
[[ -f "$file" ]] || {
    echo "bindings-bench: $file is missing: run scripts/gen-media.sh --long, or give a FILE" >&2
    exit 1
}
file="$(cd "$(dirname "$file")" && pwd)/$(basename "$file")"
[[ -f "$root/target/release/libhls.so" ]] || { echo "bindings-bench: run cargo build --release first" >&2; exit 1; }

load_start="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')" # other work on the machine skews the numbers
out="$root/target/bench-bindings"
mkdir -p "$out"
results="$out/results.tsv"
: >"$results"
export PKG_CONFIG_PATH="$root/target/release/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
read -ra hls_flags <<<"$(pkg-config --cflags --libs hls)"

echo "bindings-bench: building the C programs" >&2
cc -std=c11 -O2 -Wall -Wextra -Werror "$here/calls.c" -o "$out/calls" "${hls_flags[@]}"
cc -std=c11 -O2 -Wall -Wextra -Werror -pthread "$root/examples-c/hls-serve.c" -o "$out/hls-serve" "${hls_flags[@]}"

calls_args=()
load_args=()
if ((quick)); then
    calls_args=(--hit-iters 20000 --runs 3)
    load_args=(--seconds 2)
fi
export LIBHLS_BENCH_LOAD="$here/load.sh" LIBHLS_BENCH_QUICK="$quick"

# ---- C API ---------------------------------------------------------------------------------------
echo "+ calls ${calls_args[*]} $file" >&2
"$out/calls" "${calls_args[@]}" "$file" | grep '^BENCH' >>"$results"

# ---- C HTTP server (examples-c/hls-serve), the reference for the handlers -----------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
"$out/hls-serve" --port "$port" --threads 8 --quiet "$(dirname "$file")" >"$out/hls-serve.log" 2>&1 &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true' EXIT
url="http://127.0.0.1:$port/$(basename "$file")/master.m3u8"
for _ in $(seq 100); do curl -fsS -o /dev/null "$url" 2>/dev/null && break; sleep 0.1; done
"$here/load.sh" "${load_args[@]}" --label c --note "examples-c/hls-serve, 8 threads" "$url" | grep '^BENCH' >>"$results"
kill "$serve_pid" 2>/dev/null || true
wait "$serve_pid" 2>/dev/null || true

# ---- bindings ------------------------------------------------------------------------------------
for lang in go python; do
    b="$root/bindings/$lang/bench.sh"
    if [[ -x "$b" ]]; then
        echo "+ bindings/$lang/bench.sh $file" >&2
        if ! "$b" "$file" >"$out/$lang.out"; then
            echo "bindings-bench: bindings/$lang/bench.sh failed" >&2
            printf 'BENCH\t%s\terror\t0\t-\tbench.sh failed\n' "$lang" >>"$results"
        fi
        grep '^BENCH' "$out/$lang.out" >>"$results" || true
    else
        echo "bindings-bench: bindings/$lang/bench.sh not found: $lang not measured" >&2
    fi
done

# ---- table ---------------------------------------------------------------------------------------
echo
load_now="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
echo "## Bindings: cost per call and HTTP requests/s ($(basename "$file"), $(nproc) cores, load average $load_start at start, $load_now at end)"
echo
awk -F'\t' -v check="$check" '
    function fmt_time(ns,    a) {
        if (ns == "") return "not measured"
        a = ns < 0 ? -ns : ns # the unit by magnitude: a difference can be negative (noise)
        if (a < 1000) return sprintf("%.0f ns", ns)
        if (a < 1000000) return sprintf("%.2f µs", ns / 1000)
        return sprintf("%.2f ms", ns / 1000000)
    }
    function ns_of(v, unit) { return unit == "us" ? v * 1000 : unit == "ms" ? v * 1000000 : v }
    $1 == "BENCH" {
        key = $2 SUBSEP $3
        val[key] = ($3 == "http_rps") ? $4 : ns_of($4, $5)
        note[key] = $6
    }
    END {
        n = split("c go python", langs, " ")
        print "| measure | C API | Go | Python | Go overhead | Python overhead | target |"
        print "|---|---|---|---|---|---|---|"
        split("cache_hit cold_segment", ms, " ")
        title["cache_hit"] = "cache hit, per call (get + release)"
        title["cold_segment"] = "cold segment, per call (cache 0)"
        target["cache_hit"] = "overhead: Go < 1 µs, Python < 10 µs"
        target["cold_segment"] = ""
        failed = 0
        for (i = 1; i <= 2; i++) {
            m = ms[i]
            line = "| " title[m]
            for (j = 1; j <= n; j++) line = line " | " fmt_time(val[langs[j] SUBSEP m])
            c = val["c" SUBSEP m]
            for (j = 2; j <= n; j++) {
                v = val[langs[j] SUBSEP m]
                line = line " | " ((v == "" || c == "") ? "" : fmt_time(v - c))
            }
            print line " | " target[m] " |"
        }
        line = "| HTTP requests/s (cache hits)"
        for (j = 1; j <= n; j++) {
            v = val[langs[j] SUBSEP "http_rps"]
            line = line " | " (v == "" ? "not measured" : sprintf("%.0f", v))
        }
        print line " | | | |"
        print ""
        for (j = 1; j <= n; j++) {
            k = langs[j] SUBSEP "http_rps"
            if (note[k] != "") print "- HTTP " langs[j] ": " note[k]
            if ((langs[j] SUBSEP "error") in val) { print "- " langs[j] ": bench.sh failed"; failed = 1 }
        }
        # The targets: overhead per cache hit.
        c = val["c" SUBSEP "cache_hit"]
        limit["go"] = 1000; limit["python"] = 10000
        for (j = 2; j <= n; j++) {
            v = val[langs[j] SUBSEP "cache_hit"]
            if (v == "" || c == "") { verdict = "not measured"; failed = 1 }
            else if (v - c < limit[langs[j]]) verdict = "met"
            else { verdict = "MISSED"; failed = 1 }
            print "- target " langs[j] " cache-hit overhead < " fmt_time(limit[langs[j]]) ": " verdict
        }
        exit (check && failed) ? 1 : 0
    }
' "$results"

#!/usr/bin/env bash
# Behaviour fingerprint: the SHA-256 of every playlist, init segment, media segment and WebVTT
# file libhls serves for every generated test file, under every indexing path and transcode
# policy, plus the (timing- and path-free) info JSON and the status of files libhls refuses.
# A refactor that claims "no change in behaviour" records before and checks after:
#
#   scripts/crawl-hashes.sh record [FILE]   # crawl and write FILE (default target/crawl-hashes.txt)
#   scripts/crawl-hashes.sh check  [FILE]   # crawl again and diff against FILE; exit 1 on any change
#
# The media must be the same files in both runs (the listing starts with each input's own hash,
# so a regenerated input shows up as such, not as a libhls change). Needs a release build
# (cargo build --release) and builds examples-c/hls-dump against it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

mode=${1:-}
file=${2:-$root/target/crawl-hashes.txt}
[[ $mode == record || $mode == check ]] || { echo "usage: $0 record|check [FILE]" >&2; exit 2; }

media_dir=$root/target/media
[[ -d $media_dir ]] || { echo "crawl: no $media_dir: run scripts/gen-media.sh" >&2; exit 1; }
make -s -C examples-c hls-dump >/dev/null
dump=$root/examples-c/hls-dump
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

crawl() {
    local f name
    for f in "$media_dir"/*; do
        [[ -f $f ]] || continue
        name=${f##*/}
        case $name in *.txt | *.json | .*) continue ;; esac
        printf 'input %s %s\n' "$name" "$(sha256sum <"$f" | cut -d' ' -f1)"
        local variants=("default:" "browser-safe:--transcode browser-safe" "add-aac:--transcode add-aac"
            "never:--transcode never")
        case $name in *.mkv | *.mka | *.webm) variants+=("scan:--scan") ;; esac
        local v label args out
        for v in "${variants[@]}"; do
            label=${v%%:*}
            args=${v#*:}
            out=$work/out
            rm -rf "$out"
            # shellcheck disable=SC2086
            if ! "$dump" $args "$f" "$out" >"$work/log" 2>&1; then
                # A refused file: its status line is behaviour too (messages name temp paths: cut).
                printf '%s %s FAILED %s\n' "$name" "$label" "$(grep -o 'HLS_[A-Z_]*' "$work/log" | head -1)"
                continue
            fi
            (
                cd "$out"
                for g in $(find . -type f | sort); do
                    g=${g#./}
                    if [[ $g == info.json ]]; then
                        h=$(jq -S 'del(.path, .index_time_ms)' "$g" | sha256sum | cut -d' ' -f1)
                    else
                        h=$(sha256sum <"$g" | cut -d' ' -f1)
                    fi
                    printf '%s %s %s %s\n' "$name" "$label" "$g" "$h"
                done
            )
        done
    done
}

case $mode in
record)
    crawl >"$file.tmp"
    mv "$file.tmp" "$file"
    echo "crawl: recorded $(grep -vc '^input ' "$file") hashes of $(grep -c '^input ' "$file") inputs -> $file"
    ;;
check)
    [[ -f $file ]] || { echo "crawl: no baseline $file: record one first" >&2; exit 1; }
    crawl >"$work/now"
    if diff -u "$file" "$work/now" >"$work/diff"; then
        echo "crawl: identical: $(grep -vc '^input ' "$file") hashes of $(grep -c '^input ' "$file") inputs"
    else
        echo "crawl: CHANGED ($(grep -c '^[-+][^-+]' "$work/diff") lines differ):" >&2
        head -60 "$work/diff" >&2
        exit 1
    fi
    ;;
esac

#!/usr/bin/env bash
# Builds the cargo-fuzz (libFuzzer) targets in fuzz/ and runs each from its committed seed corpus
# (fuzz/corpus/<target>) with its dictionary (fuzz/dict/), failing on any crash, timeout or OOM.
#
#   scripts/fuzz-smoke.sh [TARGET...]      # every target (or those named): a fixed number of
#                                          # inputs from a fixed seed (below), FUZZ_SECONDS at most
#   FUZZ_LONG=1 scripts/fuzz-smoke.sh ...  # a campaign: FUZZ_SECONDS each (default 1800), random
#                                          # seed, the corpus grows and is kept in fuzz/corpus-work/
#   FUZZ_REPLAY=1 scripts/fuzz-smoke.sh    # what the test command runs: every committed corpus
#                                          # input (seeds and the findings' reproducers) once,
#                                          # under AddressSanitizer and overflow checks; no mutation
#
# The smoke (what the test command runs) is deterministic: libFuzzer's mutations from seed
# FUZZ_SEED (default 1) for a fixed number of executions per target (runs_of; about 15 s each on a
# quiet 2-core machine, FUZZ_RUNS_SCALE=2 doubles them; the inputs repeat up to libFuzzer's
# small timing effects), so a commit that passes here passes in CI;
# a slower machine stops at the FUZZ_SECONDS cap (default 60) on a prefix of the same inputs.
# The media targets run threads whose coverage depends on timing, so their inputs drift from run
# to run: a smoke can still find something new. The test command therefore only replays
# (FUZZ_REPLAY=1); exploring for new findings is the smoke's and the campaigns' job.
#
# The fuzz crate needs nightly-only flags (-Zsanitizer=address, -Cpasses=sancov-module): on the
# stable toolchain they are enabled with RUSTC_BOOTSTRAP=1, which this script sets. cargo-fuzz is
# installed when missing (`cargo install cargo-fuzz --locked`). Everything runs under nice -n 19,
# one target at a time. A finding is written to fuzz/artifacts/<target>/ (minimise it with
# `RUSTC_BOOTSTRAP=1 cargo fuzz tmin -a <target> <file>`), and the script prints per target the
# executions and the coverage (cov: edges, ft: features) of libFuzzer's final stats.
# FUZZ_SANITIZER=none builds without AddressSanitizer (into fuzz/target/none, so the two builds
# do not overwrite each other): several times the executions per second, for campaigns on the
# parsers, whose code is safe Rust.
# libFuzzer's -timeout (FUZZ_TIMEOUT, default 10 s per input) is wall-clock time: on a machine
# shared with other jobs, re-run a timeout artifact alone (`time fuzz/target/*/release/<target>
# <file>`) and judge it by its CPU time before calling it a finding.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
all=(names subtitles mp4_boxes mkv_ebml index_file c_api serve_mp4 serve_fmp4 serve_mkv serve_ts serve_mp3)
targets=("${@:-${all[@]}}")
long="${FUZZ_LONG:-0}"
if [ "$long" = 1 ]; then seconds="${FUZZ_SECONDS:-1800}"; else seconds="${FUZZ_SECONDS:-60}"; fi
san="${FUZZ_SANITIZER:-address}"
build_args=(-a -s "$san")
[ "$san" = address ] || build_args+=(--target-dir "$root/fuzz/target/$san")
logs="$root/fuzz/target/logs"
mkdir -p "$logs"
# The C API target includes a seed file; the media targets read the generated test media only
# through their committed corpora.
nice -n 19 cargo fuzz build "${build_args[@]}" >"$logs/build.log" 2>&1 || { tail -40 "$logs/build.log"; exit 1; }

dict_of() {
  case "$1" in
    serve_mp4 | serve_fmp4 | mp4_boxes) echo mp4 ;;
    serve_mkv | mkv_ebml) echo mkv ;;
    serve_ts) echo ts ;;
    serve_mp3) echo mp3 ;;
    subtitles) echo subtitles ;;
    names | c_api) echo names ;;
    index_file) echo index ;;
  esac
}
max_len_of() {
  case "$1" in
    names) echo 64 ;;
    subtitles | c_api) echo 4096 ;;
    *) echo 65536 ;;
  esac
}

# Executions of the deterministic smoke, per target (about 15 s each here, quiet).
runs_of() {
  local n
  case "$1" in
    names) n=600000 ;;
    subtitles) n=50000 ;;
    mp4_boxes | mkv_ebml) n=150000 ;;
    index_file) n=120000 ;;
    c_api) n=100000 ;;
    serve_mp4 | serve_fmp4) n=8000 ;;
    serve_mkv) n=1500 ;;
    serve_ts) n=1200 ;;
    serve_mp3) n=600 ;;
  esac
  echo $((n * ${FUZZ_RUNS_SCALE:-1}))
}

failed=()
printf '%-11s %8s %12s %9s %7s %8s %s\n' target seconds executions exec/s cov ft result >"$logs/summary.txt"
for t in "${targets[@]}"; do
  if [ "$long" = 1 ]; then
    work="$root/fuzz/corpus-work/$t"
  else
    work="$(mktemp -d "${TMPDIR:-/tmp}/libhls-fuzz-$t.XXXXXX")"
  fi
  mkdir -p "$work" "$root/fuzz/artifacts/$t"
  log="$logs/$t.log"
  if [ "$long" = 1 ]; then
    echo "fuzzing $t for ${seconds}s (log: $log)"
  elif [ "${FUZZ_REPLAY:-0}" = 1 ]; then
    echo "replaying $t's corpus (log: $log)"
  else
    echo "fuzzing $t: $(runs_of "$t") inputs from seed ${FUZZ_SEED:-1}, ${seconds}s at most (log: $log)"
  fi
  result=ok
  if [ "$long" = 1 ]; then
    budget=()
  elif [ "${FUZZ_REPLAY:-0}" = 1 ]; then
    budget=(-runs=0)
  else
    budget=(-seed="${FUZZ_SEED:-1}" -runs="$(runs_of "$t")")
  fi
  started=$SECONDS
  nice -n 19 cargo fuzz run "${build_args[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
    "${budget[@]}" -max_total_time="$seconds" -max_len="$(max_len_of "$t")" -rss_limit_mb=2048 -timeout="${FUZZ_TIMEOUT:-10}" \
    -dict="fuzz/dict/$(dict_of "$t").dict" -print_final_stats=1 >"$log" 2>&1 || result=FAILED
  took=$((SECONDS - started))
  [ "$long" = 1 ] || rm -rf "$work"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ "$result" != ok ]; then
    failed+=("$t")
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written|^Failing input' "$log" | head -8 || true
  fi
  printf '%-11s %8s %12s %9s %7s %8s %s\n' "$t" "$took" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result" \
    >>"$logs/summary.txt"
done
cat "$logs/summary.txt"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz-smoke: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
echo "fuzz-smoke: ${#targets[@]} targets passed"

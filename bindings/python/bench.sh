#!/usr/bin/env bash
# The Python side of the bindings benchmark (benches/bindings/run.sh; format and measures:
# benches/bindings/README.md). In the venv bindings/python/test.sh uses (target/py-venv; made,
# with the package installed the same way, if missing), plus gunicorn from PyPI:
#   - bindings/python/bench.py: cache_hit and cold_segment through the Python API;
#   - http_rps: libhls.wsgi.App under gunicorn (gthread workers) on a free 127.0.0.1 port,
#     loaded by "$LIBHLS_BENCH_LOAD", then stopped.
# Prints BENCH lines on stdout.
#
#   bindings/python/bench.sh FILE
#
# Assumes `cargo build --release` was run. LIBHLS_BENCH_WORKERS / LIBHLS_BENCH_THREADS: gunicorn's
# workers (default: the number of cores) and threads per worker (default 4).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pkg="$root/bindings/python"
venv="${LIBHLS_PY_VENV:-$root/target/py-venv}"
file="${1:?usage: bindings/python/bench.sh FILE}"
file="$(cd "$(dirname "$file")" && pwd)/$(basename "$file")"
load="${LIBHLS_BENCH_LOAD:-$root/benches/bindings/load.sh}"
quick="${LIBHLS_BENCH_QUICK:-0}"
workers="${LIBHLS_BENCH_WORKERS:-$(nproc)}"
threads="${LIBHLS_BENCH_THREADS:-4}"

run() {
    echo "+ $*" >&2
    "$@"
}

[[ -f "$root/target/release/libhls.so" ]] || {
    echo "python-bench: target/release/libhls.so is missing: run cargo build --release first" >&2
    exit 1
}
# The venv and the package, as test.sh makes them (reused when they work).
if ! "$venv/bin/python" -c 'import pip' >/dev/null 2>&1; then
    run rm -rf "$venv"
    run "${PYTHON:-python3}" -m venv "$venv"
fi
vpy="$venv/bin/python"
pip=("$vpy" -m pip --disable-pip-version-check)
if ! "$vpy" -c 'import gunicorn, waitress, setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 77)' >/dev/null 2>&1; then
    run "${pip[@]}" install -q gunicorn waitress 'setuptools>=77' wheel
fi
# The package as it is in the tree (a real install, no network), as test.sh does.
run rm -rf "$pkg/build" "$pkg/src/libhls.egg-info"
run "${pip[@]}" install -q --no-build-isolation --no-deps --force-reinstall "$pkg"
run rm -rf "$pkg/build" "$pkg/src/libhls.egg-info"
export PKG_CONFIG_PATH="$root/target/release/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LIBHLS_LIBRARY="${LIBHLS_LIBRARY:-$root/target/release/libhls.so}"
export PYTHONDONTWRITEBYTECODE=1

args=()
((quick)) && args=(--hit-iters 20000 --runs 3)
(cd / && run "$vpy" "$pkg/bench.py" "${args[@]}" "$file")

# http_rps: gunicorn serving libhls.wsgi.App(<the file's folder>), loaded, then stopped.
port="$("$vpy" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$root/target/bench-bindings/gunicorn.log"
mkdir -p "$(dirname "$log")"
app="libhls.wsgi:App($("$vpy" -c 'import sys; print(repr(sys.argv[1]))' "$(dirname "$file")"))"
(cd / && exec "$venv/bin/gunicorn" --bind "127.0.0.1:$port" --workers "$workers" --threads "$threads" \
    --worker-class gthread --log-level warning "$app") >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
url="http://127.0.0.1:$port/$(basename "$file")/master.m3u8"
for _ in $(seq 150); do curl -fsS -o /dev/null "$url" 2>/dev/null && break; sleep 0.1; done
load_args=()
((quick)) && load_args=(--seconds 2)
gver="$("$vpy" -c 'import gunicorn; print(gunicorn.__version__)')"
run "$load" "${load_args[@]}" --label python \
    --note "libhls.wsgi.App under gunicorn $gver, $workers workers x $threads threads (gthread)" "$url"

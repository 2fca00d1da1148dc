#!/usr/bin/env bash
# Python binding test: a venv under target/py-venv (made if missing or broken), a real
# (non-editable) `pip install ./bindings/python` into it, then pytest from that venv against the
# installed package, run from an empty folder so the source tree cannot be imported by accident.
# Assumes `cargo build --release` was run; the library is found through the uninstalled
# target/release/pkgconfig/hls.pc (or LIBHLS_LIBRARY when pkg-config is missing).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pkg="$root/bindings/python"
venv="${LIBHLS_PY_VENV:-$root/target/py-venv}"
python="${PYTHON:-python3}"

run() {
    echo "+ $*" >&2
    "$@"
}

[ -f "$root/target/release/libhls.so" ] || {
    echo "bindings/python/test.sh: $root/target/release/libhls.so is missing: run cargo build --release" >&2
    exit 1
}
[ -e "$root/target/media/h264_aac.mp4" ] || {
    echo "bindings/python/test.sh: no test media in $root/target/media (scripts/gen-media.sh)" >&2
    exit 1
}

# The venv: reused when it works, made again when missing or broken.
if ! "$venv/bin/python" -c 'import pip' >/dev/null 2>&1; then
    run rm -rf "$venv"
    if ! run "$python" -m venv "$venv"; then
        # Debian's python3 needs python3-venv for ensurepip.
        if command -v apt-get >/dev/null; then
            run rm -rf "$venv"
            run apt-get install -y python3-venv
            run "$python" -m venv "$venv"
        else
            exit 1
        fi
    fi
fi
vpy="$venv/bin/python"
pip=("$vpy" -m pip --disable-pip-version-check)

# Test and build tools, only when missing (so a re-run needs no network).
if ! "$vpy" -c 'import pytest, waitress, mypy, setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 77)' >/dev/null 2>&1; then
    run "${pip[@]}" install -q pytest waitress mypy 'setuptools>=77' wheel
fi

# A real install of the package (a wheel built from the source tree), replacing any older one.
run rm -rf "$pkg/build" "$pkg/src/libhls.egg-info"
run "${pip[@]}" install -q --no-build-isolation --no-deps --force-reinstall "$pkg"
run rm -rf "$pkg/build" "$pkg/src/libhls.egg-info"

if command -v pkg-config >/dev/null; then
    export PKG_CONFIG_PATH="$root/target/release/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    echo "+ export PKG_CONFIG_PATH=$PKG_CONFIG_PATH" >&2
else
    export LIBHLS_LIBRARY="$root/target/release/libhls.so"
    echo "+ export LIBHLS_LIBRARY=$LIBHLS_LIBRARY (pkg-config is not installed)" >&2
fi
export LIBHLS_MEDIA="$root/target/media" LIBHLS_REPO="$root" LIBHLS_EXPECT_INSTALLED=1
export PYTHONDONTWRITEBYTECODE=1

elsewhere="$(mktemp -d)"
trap 'rm -rf "$elsewhere"' EXIT
cd "$elsewhere"
run timeout 900 "$venv/bin/pytest" -ra -p no:cacheprovider "$pkg/tests" "$@"

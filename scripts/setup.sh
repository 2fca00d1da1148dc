#!/usr/bin/env bash
# Install libhls build/test dependencies on Debian 12 (bookworm).
#
# Idempotent and fast when everything is already present: each package is
# checked first (dpkg status, or the command it provides) and apt-get runs
# (including `apt-get update`) only when something is actually missing.
#
# Also installs Debian's nginx (+ nginx-dev, to build the dynamic module in bindings/nginx) and
# GStreamer (the hlsdemux2 player the presentation tests play through).
#
# Environment:
#   LIBHLS_BROWSER=1   also install chromium (+ fonts) for browser playback tests
#
# Works as root, or through sudo when run as an ordinary user.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# package -> command that proves it is usable ("" = check dpkg only).
# A command found on PATH counts as installed (e.g. a pyenv python3).
declare -A PKG_CMD=(
    [ffmpeg]=ffprobe
    [libavformat-dev]=''
    [libavcodec-dev]=''
    [libavutil-dev]=''
    [libswresample-dev]=''
    [libswscale-dev]=''
    [libavfilter-dev]=''
    [libavdevice-dev]=''
    [clang]=clang
    [libclang-dev]=''
    [pkg-config]=pkg-config
    [gcc]=gcc
    [make]=make
    [valgrind]=valgrind
    [python3]=python3
    [jq]=jq
    [mkvtoolnix]=mkvmerge
    [golang-go]=go
    [python3-venv]=''
    [curl]=curl
    [strace]=strace
    [nodejs]=node
    [npm]=npm
    [fonts-dejavu-core]=''
    [nginx-core]=''
    [nginx-dev]=''
    [gstreamer1.0-tools]=gst-launch-1.0
    [gstreamer1.0-plugins-base]=''
    [gstreamer1.0-plugins-good]=''
    [gstreamer1.0-plugins-bad]=''
    [gstreamer1.0-libav]=''
    [python3-gst-1.0]=''
    [libcurl4-openssl-dev]=''
    [openssl]=openssl
    [e2fsprogs]=chattr
)
# Keep a stable install order (associative arrays are unordered).
PACKAGES=(
    ffmpeg
    libavformat-dev libavcodec-dev libavutil-dev libswresample-dev
    libswscale-dev libavfilter-dev libavdevice-dev
    clang libclang-dev pkg-config gcc make
    valgrind python3 jq
    mkvtoolnix
    golang-go python3-venv
    curl strace nodejs npm fonts-dejavu-core nginx-core nginx-dev
    libcurl4-openssl-dev openssl e2fsprogs
    gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad gstreamer1.0-libav python3-gst-1.0
)
if [[ ${LIBHLS_BROWSER:-0} == 1 ]]; then
    PKG_CMD[chromium]=chromium
    PKG_CMD[fonts-liberation]=''
    PACKAGES+=(chromium fonts-liberation)
fi

dpkg_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

is_present() {
    local pkg=$1 cmd=${PKG_CMD[$1]}
    if [[ -n $cmd ]] && command -v "$cmd" >/dev/null 2>&1; then
        return 0
    fi
    dpkg_installed "$pkg"
}

# --- apt packages -----------------------------------------------------------
# Sets `missing` to the packages of PACKAGES not present.
find_missing() {
    local pkg
    missing=()
    for pkg in "${PACKAGES[@]}"; do
        is_present "$pkg" || missing+=("$pkg")
    done
}
find_missing

# Two setups at once (the test suite runs its browser tests in parallel, each calling
# `LIBHLS_BROWSER=1 scripts/setup.sh`) must not both run apt-get: `apt-get update` fails at once
# on the lists lock (DPkg::Lock::Timeout does not cover it in Debian 12's apt). So the second
# waits for the first, then looks again at what is still missing.
if ((${#missing[@]} > 0)) && command -v flock >/dev/null 2>&1; then
    exec {apt_lock}>"${TMPDIR:-/tmp}/libhls-setup-apt.lock"
    flock -w 1800 "$apt_lock" || die "another scripts/setup.sh held the apt lock for 30 minutes"
    find_missing
fi

if ((${#missing[@]} > 0)); then
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found (Debian 12 expected); missing: ${missing[*]}"
    SUDO=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "not root and sudo is not available; missing: ${missing[*]}"
        SUDO=(sudo)
    fi
    log "installing: ${missing[*]}"
    apt_opts=(-o DPkg::Lock::Timeout=300 -y -q)
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}"
    for pkg in "${missing[@]}"; do
        is_present "$pkg" || die "package $pkg still missing after apt-get install"
    done
else
    log "all apt packages present"
fi
[[ -z ${apt_lock:-} ]] || exec {apt_lock}>&-

# --- sanity checks ----------------------------------------------------------
pc_missing=()
for lib in libavformat libavcodec libavutil libswresample libswscale libavfilter libavdevice; do
    pkg-config --exists "$lib" || pc_missing+=("$lib")
done
((${#pc_missing[@]} == 0)) || die "pkg-config cannot find: ${pc_missing[*]}"

encoders=$(ffmpeg -hide_banner -nostdin -encoders 2>/dev/null || true)
for enc in libx264 libx265 aac; do
    grep -qw -- "$enc" <<<"$encoders" || die "ffmpeg lacks the $enc encoder (need Debian's ffmpeg build)"
done

if ! command -v cargo >/dev/null 2>&1; then
    if [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo ]]; then
        die "cargo is installed in ${CARGO_HOME:-$HOME/.cargo}/bin but not on PATH; add it to PATH"
    fi
    die "cargo not found: install a Rust toolchain (rustup or Debian's cargo) first"
fi

# cargo-fuzz (scripts/fuzz-smoke.sh): libFuzzer targets under fuzz/, built with the stable
# toolchain and RUSTC_BOOTSTRAP=1.
if ! command -v cargo-fuzz >/dev/null 2>&1 && ! [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo-fuzz ]]; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

log "ok: libavformat $(pkg-config --modversion libavformat), $(cargo --version 2>/dev/null || echo cargo)"

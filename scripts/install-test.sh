#!/usr/bin/env bash
# Tests scripts/install.sh: installs libhls into a temporary prefix (and once through DESTDIR with
# a multiarch LIBDIR), checks the installed files, symlinks, soname and manifest, builds the C
# examples against the INSTALLED copy using only pkg-config (shared, and with libhls.a linked
# statically), runs them on test media, then uninstalls and checks that exactly libhls's files went
# and an unrelated file survived. Assumes `cargo build --release` was run (install.sh runs it once
# more, a no-op) and target/media exists (scripts/gen-media.sh). Prints
# `install-test: N passed, N failed` last; exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
me="install-test"

# Tools (apt-get only when a command is missing).
need=()
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v readelf >/dev/null 2>&1 || need+=(binutils)
command -v ldd >/dev/null 2>&1 || need+=(libc-bin)
if ((${#need[@]} > 0)); then
    echo "$me: installing ${need[*]}"
    if [[ "$(id -u)" == 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    fi
fi

version="$(awk '
    /^\[/ { in_pkg = ($0 == "[package]") }
    in_pkg && /^version[ \t]*=/ { v = $0; sub(/^[^"]*"/, "", v); sub(/".*$/, "", v); print v; exit }
' Cargo.toml)"
major="${version%%.*}"
media="$root/target/media"
sample="$media/h264_aac.mp4"
sample2="$media/multi_audio.mkv" # several audio tracks, subtitles

tmp="$(mktemp -d "${TMPDIR:-/tmp}/libhls-install-test.XXXXXX")"
passed=0
failed=0
cleanup() {
    if ((failed == 0)); then rm -rf -- "$tmp"; else echo "$me: kept $tmp for inspection"; fi
}
trap cleanup EXIT

pass() {
    passed=$((passed + 1))
    echo "$me: ok   $*"
}
fail() {
    failed=$((failed + 1))
    echo "$me: FAIL $*"
}
# check DESCRIPTION COMMAND...: runs COMMAND (its output kept in $tmp/last.log, shown on failure).
check() {
    local desc="$1"
    shift
    if "$@" >"$tmp/last.log" 2>&1; then
        pass "$desc"
    else
        fail "$desc"
        sed 's/^/    | /' "$tmp/last.log" | tail -n 40
    fi
}
# run COMMAND...: prints it (to the terminal, also inside check), then runs it.
exec 3>&1
run() {
    echo "+ $*" >&3
    "$@"
}
same() { # same EXPECTED ACTUAL
    if [[ "$1" == "$2" ]]; then return 0; fi
    echo "expected: $1"
    echo "actual:   $2"
    return 1
}
same_files() { # same_files EXPECTED_LIST_FILE ACTUAL_LIST_FILE
    diff -u "$1" "$2"
}

# Files and symlinks under a directory, relative to it, sorted.
list_tree() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | LC_ALL=C sort); }
list_dirs() { (cd "$1" && find . -mindepth 1 -type d | sed 's|^\./||' | LC_ALL=C sort); }

# The library a dynamically linked program loads for libhls.so.MAJOR (per ldd).
ldd_libhls() { ldd "$1" | awk -v n="libhls.so.$major" '$1 == n { print $3 }'; }
needs_libhls() { readelf -d "$1" | grep -q "NEEDED.*\[libhls\.so"; }
soname_of() { readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p'; }

# A program built only from what pkg-config says about the installed copy: no CPATH/LIBRARY_PATH,
# no -I/-L into the repository.
pc_env() { env -u CPATH -u C_INCLUDE_PATH -u LIBRARY_PATH -u LD_LIBRARY_PATH "$@"; }

[[ -f "$sample" && -f "$sample2" ]] || {
    fail "test media missing ($sample, $sample2): run scripts/gen-media.sh"
    echo "$me: $passed passed, $failed failed"
    exit 1
}

cat >"$tmp/version.c" <<'EOF'
/* Prints hls_version() and HLS_VERSION_STRING; fails unless they, and the numbers, agree. */
#include <hls.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    const char *v = hls_version();
    printf("hls_version()=%s HLS_VERSION_STRING=%s hls_version_number()=%u HLS_VERSION_NUMBER=%u\n",
           v ? v : "(null)", HLS_VERSION_STRING, (unsigned)hls_version_number(), (unsigned)HLS_VERSION_NUMBER);
    if (!v || strcmp(v, HLS_VERSION_STRING) != 0) return 1;
    if (hls_version_number() != HLS_VERSION_NUMBER) return 1;
    if (HLS_VERSION_NUMBER != HLS_VERSION_MAJOR * 1000000u + HLS_VERSION_MINOR * 1000u + HLS_VERSION_PATCH) return 1;
    return 0;
}
EOF
# The example is compiled from a copy, away from the repository's include/.
cp examples-c/hls-dump.c "$tmp/hls-dump.c"
CFLAGS_STRICT=(-std=c11 -Wall -Wextra -Werror -pthread -O2)

# ---- --help --------------------------------------------------------------------------------------
check "install.sh --help prints the usage" \
    bash -c 'scripts/install.sh --help | grep -q "PREFIX" && scripts/install.sh --help | grep -q "DESTDIR"'
check "install.sh rejects an unknown argument" bash -c '! scripts/install.sh --bogus'

# ---- install into a temporary prefix ---------------------------------------------------------------
prefix="$tmp/prefix"
mkdir -p "$prefix/lib"
echo "not libhls" >"$prefix/lib/libunrelated.so.1"
echo "not libhls either" >"$prefix/lib/hls.txt"
expected_files="lib/hls.txt
lib/libhls.a
lib/libhls.so
lib/libhls.so.$major
lib/libhls.so.$version
lib/libunrelated.so.1
lib/pkgconfig/hls.pc
include/hls.h
share/libhls/install-manifest.txt"
printf '%s\n' "$expected_files" | LC_ALL=C sort >"$tmp/expected-files.txt"

check "install.sh (PREFIX=$prefix) succeeds" run env PREFIX="$prefix" scripts/install.sh
check "installed file set (version $version)" \
    bash -c "diff -u '$tmp/expected-files.txt' <(cd '$prefix' && find . \\( -type f -o -type l \\) | sed 's|^\\./||' | LC_ALL=C sort)"
check "libhls.so.$version is a regular executable file; libhls.so.$major -> libhls.so.$version; libhls.so -> libhls.so.$major" \
    bash -c "[[ -f '$prefix/lib/libhls.so.$version' && ! -L '$prefix/lib/libhls.so.$version' && -x '$prefix/lib/libhls.so.$version' ]] &&
             [[ \"\$(readlink '$prefix/lib/libhls.so.$major')\" == 'libhls.so.$version' ]] &&
             [[ \"\$(readlink '$prefix/lib/libhls.so')\" == 'libhls.so.$major' ]]"
check "installed soname is libhls.so.$major (readelf)" \
    same "libhls.so.$major" "$(soname_of "$prefix/lib/libhls.so.$version")"
check "manifest lists exactly the installed files" \
    bash -c "diff -u <(grep -v '^libunrelated\\|^lib/libunrelated\\|^lib/hls.txt' '$tmp/expected-files.txt' | sed 's|^|$prefix/|' | LC_ALL=C sort) \
                     <(grep -v '^#' '$prefix/share/libhls/install-manifest.txt' | grep -v '/\$' | LC_ALL=C sort)"
check "installed hls.h is include/hls.h, version macros = Cargo.toml's $version" \
    bash -c "cmp include/hls.h '$prefix/include/hls.h' &&
             grep -qx '#define HLS_VERSION_STRING \"$version\"' '$prefix/include/hls.h' &&
             grep -qx '#define HLS_VERSION_MAJOR $major' '$prefix/include/hls.h' &&
             grep -qx '#define HLS_VERSION_MINOR $(echo "$version" | cut -d. -f2)' '$prefix/include/hls.h' &&
             grep -qx '#define HLS_VERSION_PATCH $(echo "$version" | cut -d. -f3)' '$prefix/include/hls.h'"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# As arrays (pkg-config pads its output with spaces), and re-joined for the string checks.
read -ra cflags_a <<<"$(pkg-config --cflags hls || true)"
read -ra libs_a <<<"$(pkg-config --libs hls || true)"
read -ra static_libs_a <<<"$(pkg-config --static --libs hls || true)"
cflags="${cflags_a[*]}"
libs="${libs_a[*]}"
static_libs="${static_libs_a[*]}"
echo "+ pkg-config --cflags --libs hls: $cflags $libs"
echo "+ pkg-config --static --libs hls: $static_libs"
check "pkg-config finds the installed hls.pc: version $version, -I/-L into the prefix" \
    bash -c "[[ \"\$(pkg-config --variable=pcfiledir hls)\" == '$prefix/lib/pkgconfig' ]] &&
             [[ \"\$(pkg-config --modversion hls)\" == '$version' ]] &&
             [[ \"\$(pkg-config --variable=prefix hls)\" == '$prefix' ]] &&
             [[ '$cflags' == '-I$prefix/include' ]] && [[ '$libs' == '-L$prefix/lib -lhls' ]]"
check "pkg-config's flags (also --static) name the prefix only, nothing in the repository ($root)" \
    bash -c "[[ '$cflags $libs $static_libs' != *'$root'* ]]"

# ---- C programs against the installed shared library ---------------------------------------------
check "version program builds against the installed copy (pkg-config only)" \
    bash -c "env -u CPATH -u C_INCLUDE_PATH -u LIBRARY_PATH cc ${CFLAGS_STRICT[*]} $cflags '$tmp/version.c' -o '$tmp/version' $libs"
check "version program: hls_version() = HLS_VERSION_STRING = $version (LD_LIBRARY_PATH=$prefix/lib)" \
    bash -c "out=\"\$(LD_LIBRARY_PATH='$prefix/lib' '$tmp/version')\" && echo \"\$out\" &&
             [[ \"\$out\" == *'hls_version()=$version HLS_VERSION_STRING=$version '* ]]"
check "ldd: the version program loads $prefix/lib/libhls.so.$major" \
    same "$prefix/lib/libhls.so.$major" "$(LD_LIBRARY_PATH="$prefix/lib" ldd_libhls "$tmp/version" 2>/dev/null || true)"

check "hls-dump builds against the installed copy (pkg-config only, -Werror)" \
    pc_env cc "${CFLAGS_STRICT[@]}" "${cflags_a[@]}" "$tmp/hls-dump.c" -o "$tmp/hls-dump" "${libs_a[@]}"
check "ldd: hls-dump loads $prefix/lib/libhls.so.$major" \
    same "$prefix/lib/libhls.so.$major" "$(LD_LIBRARY_PATH="$prefix/lib" ldd_libhls "$tmp/hls-dump" 2>/dev/null || true)"
crawl_ok() { # crawl_ok OUTDIR: master.m3u8, media playlists, init segments, segments, info.json
    [[ -s "$1/master.m3u8" && -s "$1/info.json" ]] &&
        (($(find "$1" -name '*.m3u8' | wc -l) >= 2)) &&
        (($(find "$1" -name '*.m4s' | wc -l) >= 4)) &&
        (($(find "$1" -name '*_init.mp4' | wc -l) >= 1))
}
check "hls-dump (shared libhls) crawls $(basename "$sample")" \
    bash -c "$(declare -f crawl_ok); LD_LIBRARY_PATH='$prefix/lib' '$tmp/hls-dump' '$sample' '$tmp/out-shared' && crawl_ok '$tmp/out-shared'"
check "hls-dump --threads 2 (shared libhls) crawls $(basename "$sample2")" \
    bash -c "$(declare -f crawl_ok); LD_LIBRARY_PATH='$prefix/lib' '$tmp/hls-dump' --threads 2 '$sample2' '$tmp/out-shared2' && crawl_ok '$tmp/out-shared2'"
if command -v ffmpeg >/dev/null 2>&1; then
    check "FFmpeg decodes the presentation hls-dump wrote" \
        ffmpeg -v error -nostdin -i "$tmp/out-shared/master.m3u8" -map 0 -f null -
fi

# ---- static libhls (libhls.a), FFmpeg and the C runtime shared -----------------------------------
# Debian ships FFmpeg's .a files but not static builds of all their dependencies, so FFmpeg stays
# shared; hls.pc's Libs.private names what libhls.a needs for that link.
static_link_a=()
for f in "${static_libs_a[@]}"; do
    if [[ "$f" == -lhls ]]; then static_link_a+=('-Wl,-Bstatic' -lhls '-Wl,-Bdynamic'); else static_link_a+=("$f"); fi
done
static_link="${static_link_a[*]}"
echo "+ static link flags: $static_link"
check "version program links libhls.a (pkg-config --static --libs hls)" \
    bash -c "[[ '$static_libs' == *-lhls* ]] && env -u CPATH -u C_INCLUDE_PATH -u LIBRARY_PATH cc ${CFLAGS_STRICT[*]} $cflags '$tmp/version.c' -o '$tmp/version-static' $static_link"
check "static version program: no libhls.so needed, runs without LD_LIBRARY_PATH, versions agree" \
    bash -c "$(declare -f needs_libhls); ! needs_libhls '$tmp/version-static' &&
             out=\"\$(env -u LD_LIBRARY_PATH '$tmp/version-static')\" && echo \"\$out\" &&
             [[ \"\$out\" == *'hls_version()=$version HLS_VERSION_STRING=$version '* ]]"
check "hls-dump links libhls.a (pkg-config --static --libs hls)" \
    pc_env cc "${CFLAGS_STRICT[@]}" "${cflags_a[@]}" "$tmp/hls-dump.c" -o "$tmp/hls-dump-static" "${static_link_a[@]}"
check "static hls-dump: no libhls.so needed; crawls $(basename "$sample") to the same bytes as the shared build (info.json aside: it has timings)" \
    bash -c "$(declare -f needs_libhls crawl_ok); ! needs_libhls '$tmp/hls-dump-static' &&
             env -u LD_LIBRARY_PATH '$tmp/hls-dump-static' '$sample' '$tmp/out-static' && crawl_ok '$tmp/out-static' &&
             diff -r -x info.json '$tmp/out-shared' '$tmp/out-static'"

# ---- reinstall (idempotent), leftovers of an older install ----------------------------------------
manifest="$prefix/share/libhls/install-manifest.txt"
cp "$manifest" "$tmp/manifest-1.txt"
list_tree "$prefix" >"$tmp/tree-1.txt"
check "reinstall (LIBHLS_NO_BUILD=1) succeeds, same files, same manifest" \
    bash -c "env PREFIX='$prefix' LIBHLS_NO_BUILD=1 scripts/install.sh && cmp '$tmp/manifest-1.txt' '$manifest' &&
             $(declare -f list_tree); diff -u '$tmp/tree-1.txt' <(list_tree '$prefix')"
# An older version's library listed in the manifest goes at the next install.
echo stale >"$prefix/lib/libhls.so.$major.0.0-old"
echo "$prefix/lib/libhls.so.$major.0.0-old" >>"$manifest"
check "reinstall removes an older install's leftover (libhls.so.$major.0.0-old), nothing else" \
    bash -c "env PREFIX='$prefix' LIBHLS_NO_BUILD=1 scripts/install.sh && [[ ! -e '$prefix/lib/libhls.so.$major.0.0-old' ]] &&
             $(declare -f list_tree); diff -u '$tmp/tree-1.txt' <(list_tree '$prefix')"

# ---- uninstall -----------------------------------------------------------------------------------
# A manifest naming a file that is not libhls's must not make uninstall remove it.
echo "$prefix/lib/libunrelated.so.1" >>"$manifest"
check "uninstall succeeds" run env PREFIX="$prefix" scripts/install.sh --uninstall
check "after uninstall only the unrelated files remain (lib/ kept, include/ share/ lib/pkgconfig/ gone)" \
    bash -c "$(declare -f list_tree list_dirs);
             diff -u <(printf 'lib/hls.txt\nlib/libunrelated.so.1\n') <(list_tree '$prefix') &&
             diff -u <(printf 'lib\n') <(list_dirs '$prefix') &&
             [[ \"\$(cat '$prefix/lib/libunrelated.so.1')\" == 'not libhls' ]]"
check "a second uninstall fails clearly (no manifest) and removes nothing" \
    bash -c "! env PREFIX='$prefix' scripts/install.sh --uninstall 2>'$tmp/un2.err' && grep -q 'no manifest' '$tmp/un2.err' &&
             $(declare -f list_tree); diff -u <(printf 'lib/hls.txt\nlib/libunrelated.so.1\n') <(list_tree '$prefix')"

# ---- DESTDIR staging, multiarch LIBDIR -------------------------------------------------------------
stage="$tmp/stage"
mlib="lib/x86_64-linux-gnu"
system_hls() { find /usr/local \( -name 'libhls*' -o -name hls.h -o -name hls.pc \) -printf '%p %T@\n' 2>/dev/null | LC_ALL=C sort; }
real_before="$(system_hls)"
check "install.sh DESTDIR=$stage PREFIX=/usr/local LIBDIR=$mlib succeeds" \
    run env DESTDIR="$stage" PREFIX=/usr/local LIBDIR="$mlib" LIBHLS_NO_BUILD=1 scripts/install.sh
check "DESTDIR install: the files land under DESTDIR/usr/local/$mlib, nothing outside DESTDIR" \
    bash -c "$(declare -f list_tree);
             diff -u <(printf '%s\n' usr/local/include/hls.h usr/local/$mlib/libhls.a usr/local/$mlib/libhls.so \
                         usr/local/$mlib/libhls.so.$major usr/local/$mlib/libhls.so.$version \
                         usr/local/$mlib/pkgconfig/hls.pc usr/local/share/libhls/install-manifest.txt | LC_ALL=C sort) \
                     <(list_tree '$stage') &&
             $(declare -f system_hls); [[ \"\$(system_hls)\" == '$real_before' ]]"
check "DESTDIR install: hls.pc says prefix=/usr/local, libdir=\${prefix}/$mlib; the manifest has no DESTDIR" \
    bash -c "grep -qx 'prefix=/usr/local' '$stage/usr/local/$mlib/pkgconfig/hls.pc' &&
             grep -qxF 'libdir=\${prefix}/$mlib' '$stage/usr/local/$mlib/pkgconfig/hls.pc' &&
             ! grep -q '$stage' '$stage/usr/local/share/libhls/install-manifest.txt' &&
             grep -qx '/usr/local/$mlib/libhls.so.$version' '$stage/usr/local/share/libhls/install-manifest.txt'"
check "the staged copy builds and runs the version program (PKG_CONFIG_SYSROOT_DIR=$stage)" \
    bash -c "export PKG_CONFIG_PATH='$stage/usr/local/$mlib/pkgconfig' PKG_CONFIG_SYSROOT_DIR='$stage' &&
             env -u CPATH -u C_INCLUDE_PATH -u LIBRARY_PATH cc ${CFLAGS_STRICT[*]} \$(pkg-config --cflags hls) '$tmp/version.c' \
                 -o '$tmp/version-staged' \$(pkg-config --libs hls) &&
             LD_LIBRARY_PATH='$stage/usr/local/$mlib' '$tmp/version-staged' &&
             [[ \"\$(LD_LIBRARY_PATH='$stage/usr/local/$mlib' ldd '$tmp/version-staged' | awk '\$1 == \"libhls.so.$major\" { print \$3 }')\" == '$stage/usr/local/$mlib/libhls.so.$major' ]]"
check "DESTDIR uninstall leaves no file under DESTDIR and removes the directories it created" \
    bash -c "env DESTDIR='$stage' PREFIX=/usr/local scripts/install.sh --uninstall &&
             $(declare -f list_tree list_dirs); [[ -z \"\$(list_tree '$stage')\" ]] &&
             diff -u <(printf 'usr\n') <(list_dirs '$stage')"

echo "$me: $passed passed, $failed failed"
((failed == 0))

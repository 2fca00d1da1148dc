#!/usr/bin/env bash
# Installs the C library (libhls.so with its soname links, libhls.a, hls.h, hls.pc) under a
# prefix, or uninstalls what an earlier run installed there. Run with --help for the details.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
me="install.sh"

usage() {
    cat <<'EOF'
Usage: scripts/install.sh [--uninstall] [--help]

Installs the libhls C library (build it first, or let this script run
`cargo build --release --locked`):

  $LIBDIR/libhls.so.X.Y.Z          the shared library (soname libhls.so.X)
  $LIBDIR/libhls.so.X -> libhls.so.X.Y.Z
  $LIBDIR/libhls.so   -> libhls.so.X  (the name `-lhls` links against)
  $LIBDIR/libhls.a                 the static library
  $INCLUDEDIR/hls.h                the C header (HLS_VERSION_* macros, hls_version())
  $LIBDIR/pkgconfig/hls.pc         for `pkg-config --cflags --libs hls`
  $PREFIX/share/libhls/install-manifest.txt   what was installed (used by --uninstall)

Environment:
  PREFIX=/usr/local      where to install
  DESTDIR=               staging root prepended to every installed path (packaging);
                         hls.pc still says prefix=$PREFIX
  LIBDIR=$PREFIX/lib     relative paths are taken under PREFIX, e.g. LIBDIR=lib/x86_64-linux-gnu
  INCLUDEDIR=$PREFIX/include
  LIBHLS_NO_BUILD=1      do not run cargo; install what target/release already holds
  CARGO_TARGET_DIR       where cargo builds (default: target/ in the repository)
  LDCONFIG=0|1           run ldconfig after installing/uninstalling (default: only when
                         DESTDIR is empty, running as root and PREFIX is /usr or /usr/local)

--uninstall removes exactly the files listed in the manifest under $DESTDIR$PREFIX (only files
named like libhls's: libhls.so*, libhls.a, hls.h, hls.pc, install-manifest.txt), then the
directories the install created, if they are empty.

Linking against the installed library:
  cc app.c $(pkg-config --cflags --libs hls) -o app
Static libhls (FFmpeg and the C runtime stay shared):
  cc app.c $(pkg-config --cflags hls) \
     $(pkg-config --static --libs hls | sed 's/-lhls/-Wl,-Bstatic -lhls -Wl,-Bdynamic/') -o app
EOF
}

say() { echo "$me: $*"; }
die() {
    echo "$me: error: $*" >&2
    exit 1
}

mode=install
for arg in "$@"; do
    case "$arg" in
        -h | --help) usage; exit 0 ;;
        --uninstall) mode=uninstall ;;
        --install) mode=install ;;
        *) usage >&2; die "unknown argument: $arg" ;;
    esac
done

# ---- paths ---------------------------------------------------------------------------------------
PREFIX="${PREFIX:-/usr/local}"
DESTDIR="${DESTDIR:-}"
[[ "$PREFIX" == /* ]] || die "PREFIX must be an absolute path (got '$PREFIX')"
PREFIX="${PREFIX%/}"
[[ -n "$PREFIX" ]] || PREFIX=/ # PREFIX=/ is allowed (files then go to /lib, /include, ...)
DESTDIR="${DESTDIR%/}"
if [[ -n "$DESTDIR" && "$DESTDIR" != /* ]]; then DESTDIR="$PWD/$DESTDIR"; fi

under_prefix() { # under_prefix DIR: DIR if absolute, else PREFIX/DIR
    local d="${1%/}"
    if [[ "$d" == /* ]]; then echo "$d"; elif [[ "$PREFIX" == / ]]; then echo "/$d"; else echo "$PREFIX/$d"; fi
}
LIBDIR="$(under_prefix "${LIBDIR:-lib}")"
INCLUDEDIR="$(under_prefix "${INCLUDEDIR:-include}")"
PKGCONFIGDIR="$LIBDIR/pkgconfig"
SHAREDIR="$(under_prefix share/libhls)"
MANIFEST="$SHAREDIR/install-manifest.txt"
for p in "$PREFIX" "$LIBDIR" "$INCLUDEDIR"; do
    case "/$p/" in */../* | */./*) die "'$p' contains a '.' or '..' component" ;; esac
    [[ "$p" != *[[:space:]]* ]] || die "'$p' contains white space (pkg-config files cannot express it)"
done

# Only files with these names are ever removed (by --uninstall, or as leftovers of an older
# install), whatever a manifest says.
is_ours() {
    case "${1##*/}" in
        libhls.so | libhls.so.* | libhls.a | hls.h | hls.pc | install-manifest.txt) return 0 ;;
        *) return 1 ;;
    esac
}

run_ldconfig() {
    local want="${LDCONFIG:-auto}"
    if [[ "$want" == auto ]]; then
        want=0
        if [[ -z "$DESTDIR" && "$(id -u)" == 0 ]]; then
            case "$PREFIX" in /usr | /usr/local) want=1 ;; esac
        fi
    fi
    [[ "$want" == 1 ]] || return 0
    local ldconfig
    ldconfig="$(command -v ldconfig || true)"
    if [[ -z "$ldconfig" && -x /sbin/ldconfig ]]; then ldconfig=/sbin/ldconfig; fi
    if [[ -n "$ldconfig" ]]; then
        say "running $ldconfig"
        "$ldconfig" || say "warning: ldconfig failed (the dynamic linker cache may be stale)"
    else
        say "ldconfig not found; skipped"
    fi
}

# Reads a manifest: prints its absolute, '..'-free lines (files, and directories ending in '/').
read_manifest() {
    local line
    while IFS= read -r line || [[ -n "$line" ]]; do
        [[ -z "$line" || "$line" == \#* ]] && continue
        [[ "$line" == /* ]] || { say "warning: ignoring manifest line '$line' (not absolute)" >&2; continue; }
        case "/$line/" in */../* | */./*) say "warning: ignoring manifest line '$line'" >&2; continue ;; esac
        printf '%s\n' "$line"
    done <"$1"
}

# Removes one file listed in a manifest (DESTDIR prepended), if it is one of ours.
remove_file() {
    local f="$1" target="$DESTDIR$1"
    if ! is_ours "$f"; then
        say "warning: not removing $target: not a libhls file name" >&2
        return 0
    fi
    if [[ -L "$target" || -f "$target" ]]; then
        rm -f -- "$target"
        say "removed $target"
    elif [[ -e "$target" ]]; then
        say "warning: not removing $target: not a file or symlink" >&2
    fi
}

# Removes listed directories (deepest first) that are empty.
remove_dirs() {
    local d
    printf '%s\n' "$@" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2- | while IFS= read -r d; do
        d="${d%/}"
        if [[ -n "$d" && -d "$DESTDIR$d" ]] && rmdir -- "$DESTDIR$d" 2>/dev/null; then
            say "removed directory $DESTDIR$d"
        fi
    done
}

# ---- uninstall ----------------------------------------------------------------------------------
if [[ "$mode" == uninstall ]]; then
    [[ -f "$DESTDIR$MANIFEST" ]] ||
        die "no manifest at $DESTDIR$MANIFEST: nothing was installed by $me under PREFIX=$PREFIX${DESTDIR:+ DESTDIR=$DESTDIR}"
    mapfile -t entries < <(read_manifest "$DESTDIR$MANIFEST")
    dirs=()
    for e in "${entries[@]}"; do
        if [[ "$e" == */ ]]; then
            dirs+=("$e")
        elif [[ "$e" != "$MANIFEST" ]]; then
            remove_file "$e"
        fi
    done
    rm -f -- "$DESTDIR$MANIFEST"
    say "removed $DESTDIR$MANIFEST"
    remove_dirs "${dirs[@]}" "$SHAREDIR/"
    run_ldconfig
    say "uninstalled libhls from $DESTDIR$PREFIX"
    exit 0
fi

# ---- build --------------------------------------------------------------------------------------
version="$(awk '
    /^\[/ { in_pkg = ($0 == "[package]") }
    in_pkg && /^version[ \t]*=/ { v = $0; sub(/^[^"]*"/, "", v); sub(/".*$/, "", v); print v; exit }
' "$root/Cargo.toml")"
[[ "$version" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || die "cannot read a MAJOR.MINOR.PATCH version from Cargo.toml (got '$version')"
major="${BASH_REMATCH[1]}"
soname="libhls.so.$major"
real="libhls.so.$version"

build_dir="${CARGO_TARGET_DIR:-$root/target}"
[[ "$build_dir" == /* ]] || build_dir="$root/$build_dir"
build_dir="$build_dir/release"
if [[ "${LIBHLS_NO_BUILD:-0}" != 1 ]]; then
    if command -v cargo >/dev/null 2>&1; then
        say "building: cargo build --release --locked"
        (cd "$root" && cargo build --release --locked)
    elif [[ -f "$build_dir/libhls.so" ]]; then
        say "cargo not found; installing the existing build in $build_dir"
    else
        die "cargo not found and no build in $build_dir (run cargo build --release first)"
    fi
fi
for f in libhls.so libhls.a; do
    [[ -f "$build_dir/$f" ]] || die "$build_dir/$f is missing (run cargo build --release first)"
done
header="$root/include/hls.h"
[[ -f "$header" ]] || die "$header is missing (cargo build generates it)"
grep -q "^#define HLS_VERSION_STRING \"$version\"" "$header" ||
    die "$header is not the header of version $version (rebuild: cargo build --release)"
if command -v readelf >/dev/null 2>&1; then
    built_soname="$(readelf -d "$build_dir/libhls.so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')"
    [[ "$built_soname" == "$soname" ]] ||
        die "$build_dir/libhls.so has soname '$built_soname', expected '$soname' (stale build? run cargo build --release)"
fi

# ---- hls.pc -------------------------------------------------------------------------------------
pc_path() { # ${prefix}-relative form of a path under PREFIX
    if [[ "$1" == "$PREFIX" ]]; then
        # shellcheck disable=SC2016 # a pkg-config variable, not a shell one
        echo '${prefix}'
    elif [[ "$PREFIX" != / && "$1" == "$PREFIX"/* ]]; then
        echo "\${prefix}${1#"$PREFIX"}"
    else
        echo "$1"
    fi
}
# What libhls.a needs besides itself: FFmpeg (shared: Debian ships no linkable static FFmpeg
# dependency chain, so FFmpeg's libraries are named here rather than through Requires.private,
# whose --static expansion would pull in FFmpeg's own private libraries), and the Rust standard
# library's system libraries (`rustc --print native-static-libs`).
ffmpeg_libs="-lavformat -lavcodec -lavutil -lswresample -lswscale"
if command -v pkg-config >/dev/null 2>&1 &&
    found="$(pkg-config --libs libavformat libavcodec libavutil libswresample libswscale 2>/dev/null)"; then
    ffmpeg_libs="$(echo "$found" | xargs)"
fi
rust_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
pc_text="prefix=$PREFIX
libdir=$(pc_path "$LIBDIR")
includedir=$(pc_path "$INCLUDEDIR")

Name: libhls
Description: On-demand HLS (fMP4 + WebVTT) from media files
Version: $version
Libs: -L\${libdir} -lhls
# For a static libhls (libhls.a) with shared FFmpeg and C runtime:
#   pkg-config --static --libs hls | sed 's/-lhls/-Wl,-Bstatic -lhls -Wl,-Bdynamic/'
Libs.private: $ffmpeg_libs $rust_libs
Cflags: -I\${includedir}
"

# ---- install ------------------------------------------------------------------------------------
installed=()    # files and symlinks, without DESTDIR
created_dirs=() # directories this run created, without DESTDIR, ending in '/'

# make_dir DIR (without DESTDIR): creates it and its missing parents, remembering those at or
# below PREFIX (or below the first existing ancestor when DIR is outside PREFIX).
make_dir() {
    local d="$1" missing=()
    while [[ -n "$d" && ! -d "$DESTDIR$d" ]]; do
        missing+=("$d")
        d="${d%/*}"
    done
    ((${#missing[@]} > 0)) || return 0
    mkdir -p -- "$DESTDIR$1"
    for d in "${missing[@]}"; do
        # Not the ancestors of PREFIX (e.g. the DESTDIR skeleton): they are not ours to remove.
        if [[ "$PREFIX" != "$d"/* ]]; then
            created_dirs+=("$d/")
        fi
    done
}

install_file() { # install_file MODE SOURCE DEST (DEST without DESTDIR)
    make_dir "${3%/*}"
    # install(1) unlinks the destination first: a running program keeps its mapped copy.
    install -m "$1" -- "$2" "$DESTDIR$3"
    installed+=("$3")
    say "installed $DESTDIR$3"
}

install_link() { # install_link TARGET LINK (LINK without DESTDIR)
    make_dir "${2%/*}"
    ln -sfn -- "$1" "$DESTDIR$2"
    installed+=("$2")
    say "installed $DESTDIR$2 -> $1"
}

old_entries=()
if [[ -f "$DESTDIR$MANIFEST" ]]; then
    mapfile -t old_entries < <(read_manifest "$DESTDIR$MANIFEST")
fi

say "installing libhls $version into ${DESTDIR:+$DESTDIR (DESTDIR) + }$PREFIX"
install_file 0755 "$build_dir/libhls.so" "$LIBDIR/$real"
install_link "$real" "$LIBDIR/$soname"
install_link "$soname" "$LIBDIR/libhls.so"
install_file 0644 "$build_dir/libhls.a" "$LIBDIR/libhls.a"
install_file 0644 "$header" "$INCLUDEDIR/hls.h"
tmp_pc="$(mktemp)"
trap 'rm -f "$tmp_pc"' EXIT
printf '%s' "$pc_text" >"$tmp_pc"
install_file 0644 "$tmp_pc" "$PKGCONFIGDIR/hls.pc"
make_dir "$SHAREDIR"
installed+=("$MANIFEST")

# Files of an older install that this one did not replace (another version's libhls.so.X.Y.Z,
# another LIBDIR): removed. Directories an older install created stay recorded.
for e in "${old_entries[@]}"; do
    if [[ "$e" == */ ]]; then
        [[ -d "$DESTDIR$e" ]] && created_dirs+=("$e")
        continue
    fi
    keep=0
    for n in "${installed[@]}"; do [[ "$n" == "$e" ]] && keep=1 && break; done
    ((keep)) || remove_file "$e"
done

{
    echo "# libhls $version installed by scripts/install.sh: PREFIX=$PREFIX; paths without DESTDIR;"
    echo "# lines ending in / are directories the install created (removed by --uninstall if empty)"
    printf '%s\n' "${installed[@]}"
    if ((${#created_dirs[@]} > 0)); then printf '%s\n' "${created_dirs[@]}" | sort -u; fi
} >"$DESTDIR$MANIFEST"
chmod 0644 "$DESTDIR$MANIFEST"
say "installed $DESTDIR$MANIFEST"

run_ldconfig
pc_default="$(pkg-config --variable pc_path pkg-config 2>/dev/null || true)"
if [[ -z "$DESTDIR" && ":$pc_default:" == *":$PKGCONFIGDIR:"* ]]; then
    say "done; build with: cc app.c \$(pkg-config --cflags --libs hls)"
else
    say "done; build with: export PKG_CONFIG_PATH=$DESTDIR$PKGCONFIGDIR${DESTDIR:+ PKG_CONFIG_SYSROOT_DIR=$DESTDIR}; cc app.c \$(pkg-config --cflags --libs hls)"
fi

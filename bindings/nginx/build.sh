#!/usr/bin/env bash
# Builds ngx_http_hls_module.so for the installed Debian nginx, the way Debian builds its
# libnginx-mod-* packages: nginx-dev's source tree (/usr/share/nginx/src), its configure flags
# (conf_flags, with --with-compat), --add-dynamic-module, `make modules`. libhls is linked
# through pkg-config (target/release/pkgconfig/hls.pc, rpath included), and libcurl (remote
# mode) through pkg-config too (Debian's libcurl4-openssl-dev, installed if missing).
#
#   bindings/nginx/build.sh          prints the absolute path of ngx_http_hls_module.so last
#
# Environment: CARGO_BUILD=0 skips `cargo build --release` (libhls.so must then exist);
# PKG_CONFIG_PATH (with CARGO_BUILD=0) may point at another hls.pc, e.g. an installed libhls.
# Outputs go to target/nginx/ (build tree in target/nginx/build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/target/nginx"
build="$out/build"

log() { echo "build.sh: $*" >&2; }

# 1. nginx and its development tree.
if [ ! -x /usr/sbin/nginx ] || [ ! -f /usr/share/nginx/src/conf_flags ]; then
    log "installing nginx-core and nginx-dev"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y nginx-core nginx-dev >&2 || { apt-get update >&2 && apt-get install -y nginx-core nginx-dev >&2; }
fi
# libcurl (remote mode: hls_remote reads the store with it).
if ! pkg-config --exists libcurl 2>/dev/null; then
    log "installing libcurl4-openssl-dev"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y libcurl4-openssl-dev >&2 || { apt-get update >&2 && apt-get install -y libcurl4-openssl-dev >&2; }
fi
for cmd in cc make pkg-config; do
    command -v "$cmd" >/dev/null || { log "missing $cmd"; exit 1; }
done

# 2. libhls.
if [ "${CARGO_BUILD:-1}" != 0 ]; then
    (cd "$root" && cargo build --release >&2)
    export PKG_CONFIG_PATH="$root/target/release/pkgconfig"
elif [ -z "${PKG_CONFIG_PATH:-}" ]; then
    export PKG_CONFIG_PATH="$root/target/release/pkgconfig"
fi
pkg-config --exists hls || { log "pkg-config cannot find hls (PKG_CONFIG_PATH=$PKG_CONFIG_PATH)"; exit 1; }
libdir="$(pkg-config --variable=libdir hls)"
[ -e "$libdir/libhls.so" ] || { log "no libhls.so in $libdir"; exit 1; }

# One build at a time per tree (run.sh and test.sh may start together).
mkdir -p "$out"
exec 9>"$out/.build.lock"
flock 9

# 3. Configure (again only when the inputs changed): the installed nginx's own flags, so the
# module's signature matches the binary's ("is not binary compatible" otherwise).
nginx_version="$(/usr/sbin/nginx -v 2>&1 | sed -n 's|.*nginx/||p')"
# shellcheck disable=SC1091
. /usr/share/nginx/src/conf_flags   # NGX_CONF_FLAGS=( ... --with-compat ... )
cc_opt="-g -O2 -fstack-protector-strong -Wformat -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2"
ld_opt="-Wl,-z,relro -Wl,-z,now -fPIC"
key="$( { echo "$nginx_version"; echo "${NGX_CONF_FLAGS[*]}"; echo "$cc_opt $ld_opt";
          pkg-config --cflags --libs hls; pkg-config --cflags --libs libcurl; cat "$here/config"; } | sha256sum | cut -c1-16)"

if [ ! -f "$build/objs/Makefile" ] || [ "$(cat "$build/.key" 2>/dev/null)" != "$key" ]; then
    log "configuring against nginx $nginx_version"
    rm -rf "$build"
    mkdir -p "$out"
    cp -a /usr/share/nginx/src "$build"
    (cd "$build" && ./configure --with-cc-opt="$cc_opt" --with-ld-opt="$ld_opt" \
        "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$here" >"$out/configure.log" 2>&1) || {
        tail -30 "$out/configure.log" >&2; log "configure failed (see $out/configure.log)"; exit 1; }
    echo "$key" > "$build/.key"
fi

# 4. Compile (make notices changed module sources and hls.h).
hdr="$(pkg-config --variable=includedir hls)/hls.h"
if [ "$hdr" -nt "$build/objs/ngx_http_hls_module.so" ] 2>/dev/null; then
    rm -f "$build/objs/addon/nginx/"*.o
fi
make -C "$build" -f objs/Makefile modules >"$out/make.log" 2>&1 || {
    cat "$out/make.log" >&2; log "make modules failed"; exit 1; }
if grep -q "warning:" "$out/make.log"; then
    grep -A3 "warning:" "$out/make.log" >&2
fi

cp "$build/objs/ngx_http_hls_module.so" "$out/ngx_http_hls_module.so.tmp"
mv -f "$out/ngx_http_hls_module.so.tmp" "$out/ngx_http_hls_module.so"
echo "$out/ngx_http_hls_module.so"

# Sourced by bindings/go/test.sh and bench.sh (not run on its own): the Go build environment for
# linking libhls through pkg-config. Expects $root (the repository) and $PKG_CONFIG_PATH (the
# directory of the hls.pc to link) to be set.
#
# Go's build cache keys cgo packages on CGO_* variables but not on pkg-config's output or on
# hls.h: a key of both in CGO_CFLAGS rebuilds the package when the libhls it links changes
# (uninstalled vs installed, another prefix, a new header). Go's caches live under
# target/go-cache; no module proxy is used (standard library only).
includedir="$(pkg-config --variable=includedir hls)"
key="$({ pkg-config --cflags --libs hls; cat "$includedir/hls.h"; } | sha256sum | cut -c1-16)"
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} -DLIBHLS_BUILD_KEY_$key"
export GOCACHE="$root/target/go-cache/build"
export GOPATH="$root/target/go-cache/gopath"
export GOMODCACHE="$GOPATH/pkg/mod"
export GOFLAGS=-modcacherw
export GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local
export CGO_ENABLED=1
mkdir -p "$GOCACHE" "$GOPATH"

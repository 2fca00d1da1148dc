// Package hls serves on-demand HLS (fMP4/CMAF segments, WebVTT subtitles and their playlists)
// from ordinary media files through libhls, the C library, via cgo.
//
// A Context holds the configuration, the registry of opened files and the segment cache; make
// one per process. Context.Open indexes a file and returns a Media; Media.Get returns the bytes
// of any name its playlists use ("master.m3u8", "tN.m3u8", "tN_init.mp4", "tN_K.m4s",
// "tN_K.vtt", ...) as a Buffer. Handler serves /<file under a root>/<name> over net/http.
//
// Every handle (Context, Media, Buffer) is an io.Closer: Close is safe to call twice and from
// several goroutines, a handle used after Close returns ErrClosed, and a finaliser releases
// handles the caller forgot (call Close anyway: finalisers run late, if at all). All methods
// may be called from any goroutine at once.
//
// Errors returned by libhls are *Error values carrying the Status and libhls's message (which
// file, which stream, why); compare them with errors.Is against the sentinels ErrNotFound,
// ErrInvalidMedia, ... . They are built from libhls's per-call HlsError (the "_ex" calls), so
// they stay right when goroutines move between OS threads.
//
// Build: the package links libhls through pkg-config ("#cgo pkg-config: hls"). For an
// installed libhls nothing is needed; for an uninstalled build set
// PKG_CONFIG_PATH=<libhls checkout>/target/release/pkgconfig after `cargo build --release`.
package hls

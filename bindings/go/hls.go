package hls

/*
#cgo pkg-config: hls
#include <hls.h>
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Version is the version of the libhls library loaded at run time, e.g. "0.1.0".
func Version() string { return C.GoString(C.hls_version()) }

// HeaderVersion is the version of hls.h this package was compiled against.
const HeaderVersion = C.HLS_VERSION_STRING

// TranscodePolicy says which audio tracks libhls serves as AAC made on demand.
type TranscodePolicy int

// The transcode policies (HlsTranscodePolicy in hls.h).
const (
	// TranscodeUnplayable transcodes to AAC only what HLS players can't play (DTS, TrueHD,
	// Vorbis, PCM, ...).
	TranscodeUnplayable TranscodePolicy = C.HLS_TRANSCODE_UNPLAYABLE
	// TranscodeBrowserSafe also transcodes FLAC, Opus, AC-3, E-AC-3 and MP3.
	TranscodeBrowserSafe TranscodePolicy = C.HLS_TRANSCODE_BROWSER_SAFE
	// TranscodeNever never transcodes: unplayable audio tracks are not served.
	TranscodeNever TranscodePolicy = C.HLS_TRANSCODE_NEVER
	// TranscodeAddAAC (the default) is TranscodeUnplayable plus an AAC rendition ("tNa.m3u8")
	// beside every AC-3/E-AC-3/MP3 track, so every browser plays every language.
	TranscodeAddAAC TranscodePolicy = C.HLS_TRANSCODE_ADD_AAC
)

func (p TranscodePolicy) String() string {
	switch p {
	case TranscodeUnplayable:
		return "TranscodeUnplayable"
	case TranscodeBrowserSafe:
		return "TranscodeBrowserSafe"
	case TranscodeNever:
		return "TranscodeNever"
	case TranscodeAddAAC:
		return "TranscodeAddAAC"
	}
	return fmt.Sprintf("TranscodePolicy(%d)", int(p))
}

// config is the HlsConfig being built by NewContext's options.
type config struct {
	c *C.HlsConfig
}

// Option is a setting for NewContext. An invalid value makes NewContext fail with an *Error
// (ErrInvalidArgument) naming the option.
type Option func(*config) error

func setterError(st C.enum_HlsStatus, what string) error {
	if st == C.HLS_OK {
		return nil
	}
	return statusError(st, what+": "+Status(st).Description())
}

func millis(d time.Duration, what string) (uint64, error) {
	if d < 0 || d%time.Millisecond != 0 {
		return 0, invalidArgument(fmt.Sprintf("%s: %v is not a whole, non-negative number of milliseconds", what, d))
	}
	return uint64(d / time.Millisecond), nil
}

// WithSegmentDuration sets the target segment duration (default 6s; 1s to 60s, whole
// milliseconds).
func WithSegmentDuration(d time.Duration) Option {
	return func(c *config) error {
		what := fmt.Sprintf("WithSegmentDuration(%v)", d)
		ms, err := millis(d, what)
		if err != nil {
			return err
		}
		if ms > math.MaxUint32 {
			return invalidArgument(what + ": out of range")
		}
		return setterError(C.hls_config_set_segment_duration_ms(c.c, C.uint32_t(ms)), what)
	}
}

// WithCacheBytes sets the byte budget of the context-wide segment cache (default 256 MiB; 0
// disables caching).
func WithCacheBytes(n uint64) Option {
	return func(c *config) error {
		return setterError(C.hls_config_set_cache_bytes(c.c, C.uint64_t(n)), fmt.Sprintf("WithCacheBytes(%d)", n))
	}
}

// WithSourceCacheBytes sets the budget of the context's block cache of caller-supplied
// sources' bytes (OpenReaderAt, OpenURL; default 64 MiB; 0 turns it off): bytes read are kept,
// so each byte of an object is fetched about once while it stays hot.
func WithSourceCacheBytes(n uint64) Option {
	return func(c *config) error {
		return setterError(C.hls_config_set_source_cache_bytes(c.c, C.uint64_t(n)), fmt.Sprintf("WithSourceCacheBytes(%d)", n))
	}
}

// WithMaxIndexBytes sets the ceiling on the memory one open file's index may use (default
// 1 GiB: a 10-hour file at 60 frames/s with eight audio tracks still opens; at least 4096).
// A file that would need more fails to open with ErrUnsupported, before its tables are
// allocated.
func WithMaxIndexBytes(n uint64) Option {
	return func(c *config) error {
		return setterError(C.hls_config_set_max_index_bytes(c.c, C.uint64_t(n)), fmt.Sprintf("WithMaxIndexBytes(%d)", n))
	}
}

// WithIdleMedia sets how many closed media stay indexed for reuse, and for how long (defaults
// 64 and 5 minutes; whole milliseconds).
func WithIdleMedia(maxCount int, ttl time.Duration) Option {
	return func(c *config) error {
		what := fmt.Sprintf("WithIdleMedia(%d, %v)", maxCount, ttl)
		if maxCount < 0 || uint64(maxCount) > math.MaxUint32 {
			return invalidArgument(what + ": count out of range")
		}
		ms, err := millis(ttl, what)
		if err != nil {
			return err
		}
		return setterError(C.hls_config_set_idle_media(c.c, C.uint32_t(maxCount), C.uint64_t(ms)), what)
	}
}

// WithTranscodePolicy sets which audio tracks are served as AAC (default TranscodeAddAAC).
func WithTranscodePolicy(p TranscodePolicy) Option {
	return func(c *config) error {
		what := fmt.Sprintf("WithTranscodePolicy(%v)", p)
		if int64(p) != int64(C.int(p)) {
			return invalidArgument(what + ": out of range")
		}
		return setterError(C.hls_config_set_transcode_policy(c.c, C.int(p)), what)
	}
}

// WithAAC sets the AAC bitrate in bit/s for a stereo output (default 128000; 32000 to 512000;
// 5.1 uses 3x) and whether 5.1 sources stay 5.1 (keepSurround) instead of a stereo downmix.
func WithAAC(bitrate int, keepSurround bool) Option {
	return func(c *config) error {
		what := fmt.Sprintf("WithAAC(%d, %v)", bitrate, keepSurround)
		if bitrate < 0 || uint64(bitrate) > math.MaxUint32 {
			return invalidArgument(what + ": bitrate out of range")
		}
		return setterError(C.hls_config_set_aac(c.c, C.uint32_t(bitrate), cBool(keepSurround)), what)
	}
}

// WithThumbnails sets the scrubbing thumbnails ("thumb_<ms>.jpg", the WebVTT thumbnail track
// "thumbnails.vtt" and its 5x5 sprite sheets "thumbs_<k>.jpg"): the width in pixels of a
// thumbnail and of a tile (default 320; 16 to 1920; the height keeps the display aspect ratio;
// 0 disables thumbnails) and the time between two tiles of the track (default 10s; 500ms to
// 10m, whole milliseconds; ignored when width is 0).
func WithThumbnails(width int, interval time.Duration) Option {
	return func(c *config) error {
		what := fmt.Sprintf("WithThumbnails(%d, %v)", width, interval)
		if width < 0 || uint64(width) > math.MaxUint32 {
			return invalidArgument(what + ": width out of range")
		}
		ms, err := millis(interval, what)
		if err != nil {
			return err
		}
		if ms > math.MaxUint32 {
			return invalidArgument(what + ": interval out of range")
		}
		return setterError(C.hls_config_set_thumbnails(c.c, C.uint32_t(width), C.uint32_t(ms)), what)
	}
}

// WithContainerIndex sets whether Matroska files are indexed from their Cues (true, the
// default) or by reading every packet once (false). Both give the same output.
func WithContainerIndex(enabled bool) Option {
	return func(c *config) error {
		return setterError(C.hls_config_set_use_container_index(c.c, cBool(enabled)), fmt.Sprintf("WithContainerIndex(%v)", enabled))
	}
}

// WithIndexDir persists the index of every opened file in dir (default: none, indexes live in
// memory only), so that another process, or a restart, opens an unchanged file from its index
// file without reading its media. Stale, truncated or damaged index files are ignored and
// rewritten; a directory that cannot be written only costs the persisting (logged). "" turns
// persisting off. Info().IndexFromDisk and the IndexFile* counters of Stats tell what happened.
func WithIndexDir(dir string) Option {
	return func(c *config) error {
		what := fmt.Sprintf("WithIndexDir(%q)", dir)
		b, err := cString(dir, "index directory")
		if err != nil {
			return err
		}
		st := C.hls_config_set_index_dir(c.c, cPtr(b))
		runtime.KeepAlive(b)
		return setterError(st, what)
	}
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// cString returns s as a NUL-terminated string in Go memory that holds no Go pointers (so it
// may be passed to C, which borrows it for the call only), or ErrInvalidArgument if s contains
// a NUL byte. Keep the returned slice alive (runtime.KeepAlive) until the call returns.
func cString(s, what string) ([]byte, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, invalidArgument(fmt.Sprintf("%s %q contains a NUL byte", what, s))
	}
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b, nil
}

func cPtr(b []byte) *C.char { return (*C.char)(unsafe.Pointer(&b[0])) }

// Context is the libhls engine: configuration, registry of opened media, segment cache. Make
// one per process and share it between goroutines.
type Context struct {
	mu  sync.RWMutex // read-held by calls using c; write-held by Close
	ptr *C.HlsContext
}

// NewContext creates a context with the given options (defaults: 6 s segments, 256 MiB cache).
func NewContext(opts ...Option) (*Context, error) {
	cfg := config{c: C.hls_config_new()}
	if cfg.c == nil {
		return nil, &Error{Status: StatusInternal, Message: "hls_config_new: out of memory"}
	}
	defer C.hls_config_free(cfg.c)
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	p := C.hls_context_new(cfg.c)
	if p == nil {
		return nil, &Error{Status: StatusInternal, Message: "hls_context_new failed"}
	}
	c := &Context{ptr: p}
	runtime.SetFinalizer(c, (*Context).Close)
	return c, nil
}

// Close frees the context. Media opened from it stay valid until they are closed. Safe to call
// twice; it waits for calls on the context in progress.
func (c *Context) Close() error {
	c.mu.Lock()
	p := c.ptr
	c.ptr = nil
	c.mu.Unlock()
	if p != nil {
		runtime.SetFinalizer(c, nil)
		C.hls_context_free(p)
	}
	return nil
}

// Open opens and indexes the media file at path, presented as opts say (none: the whole file,
// e.g. WithClip for a clip). Concurrent opens of one file with equal options index it once;
// reopening an unchanged, already indexed file costs one stat. Close the Media when done.
func (c *Context) Open(path string, opts ...OpenOption) (*Media, error) {
	cpath, err := cString(path, "path")
	if err != nil {
		return nil, err
	}
	var copts *C.HlsOpenOptions
	if len(opts) > 0 {
		copts = C.hls_open_options_new()
		if copts == nil {
			return nil, &Error{Status: StatusInternal, Message: "hls_open_options_new: out of memory"}
		}
		defer C.hls_open_options_free(copts)
		for _, o := range opts {
			if o == nil {
				continue
			}
			if err := o(copts); err != nil {
				return nil, err
			}
		}
	}
	var m *C.HlsMedia
	var cerr *C.HlsError
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return nil, ErrClosed
	}
	st := C.hls_open_with(c.ptr, cPtr(cpath), copts, &m, &cerr)
	c.mu.RUnlock()
	runtime.KeepAlive(cpath)
	if st != C.HLS_OK {
		return nil, takeError(st, cerr)
	}
	media := &Media{ptr: m}
	runtime.SetFinalizer(media, (*Media).Close)
	return media, nil
}

// Stats are the counters of a context (hls_context_stats_json).
type Stats struct {
	CacheHits       uint64 `json:"cache_hits"`
	CacheMisses     uint64 `json:"cache_misses"`
	CacheBytes      uint64 `json:"cache_bytes"`
	CacheEntries    uint64 `json:"cache_entries"`
	CacheBudget     uint64 `json:"cache_budget"`
	Evictions       uint64 `json:"evictions"`
	Generations     uint64 `json:"generations"`
	SharedWaits     uint64 `json:"shared_waits"`
	Opens           uint64 `json:"opens"`
	Indexings       uint64 `json:"indexings"`
	OpenReuses      uint64 `json:"open_reuses"`
	IndexTimeUS     uint64 `json:"index_time_us"`
	MediaRegistered uint64 `json:"media_registered"`
	MediaIdle       uint64 `json:"media_idle"`
	// The index directory (WithIndexDir): opens served from an index file, opens that indexed
	// the media, index files found stale or damaged (ignored and rewritten), files written,
	// files that could not be written.
	IndexFileHits          uint64 `json:"index_file_hits"`
	IndexFileMisses        uint64 `json:"index_file_misses"`
	IndexFileRewrites      uint64 `json:"index_file_rewrites"`
	IndexFileWrites        uint64 `json:"index_file_writes"`
	IndexFileWriteFailures uint64 `json:"index_file_write_failures"`
	SourceReads            uint64 `json:"source_reads"` // reads of caller-supplied sources (OpenReaderAt, OpenURL)
	SourceBytes            uint64 `json:"source_bytes"` // bytes read from them
	// The block cache of their bytes (WithSourceCacheBytes): budget, bytes and blocks held,
	// bytes served from it instead of read.
	SourceCacheBudget   uint64 `json:"source_cache_budget"`
	SourceCacheBytes    uint64 `json:"source_cache_bytes"`
	SourceCacheBlocks   uint64 `json:"source_cache_blocks"`
	SourceCacheHitBytes uint64 `json:"source_cache_hit_bytes"`
	// Segments held as file ranges read into bytes (Media.Get): once however many goroutines
	// ask at once.
	RangeReads uint64 `json:"range_reads"`
}

// Stats returns the context's cache and engine counters.
func (c *Context) Stats() (Stats, error) {
	var s Stats
	var buf C.HlsBuffer
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return s, ErrClosed
	}
	st := C.hls_context_stats_json(c.ptr, &buf)
	c.mu.RUnlock()
	if st != C.HLS_OK {
		return s, statusError(st, "hls_context_stats_json")
	}
	err := json.Unmarshal(cBytes(&buf), &s)
	C.hls_free_buffer(&buf)
	if err != nil {
		return s, &Error{Status: StatusInternal, Message: "stats JSON: " + err.Error()}
	}
	return s, nil
}

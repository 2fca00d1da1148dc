package hls

/*
#include <hls.h>
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Media is one opened, indexed media file. Any number of goroutines may call Get, Info and
// Duration on it at once.
type Media struct {
	mu  sync.RWMutex // read-held by calls using m; write-held by Close
	ptr *C.HlsMedia
}

// Close closes the media. Buffers already returned by Get stay valid until their own Close.
// Safe to call twice; it waits for calls on the media in progress.
func (m *Media) Close() error {
	m.mu.Lock()
	p := m.ptr
	m.ptr = nil
	m.mu.Unlock()
	if p != nil {
		runtime.SetFinalizer(m, nil)
		C.hls_close(p)
	}
	return nil
}

// Get serves any name a playlist of this media uses: "master.m3u8", a media playlist, an init
// segment, a media segment or a WebVTT file. The caller closes the Buffer. A name no playlist
// uses fails with ErrNotFound; a malformed one (leading '/', "..", '?', control characters,
// NUL) with ErrInvalidArgument; a file changed on disk since it was opened with ErrFileChanged
// (open it again).
func (m *Media) Get(name string) (*Buffer, error) {
	cname, err := cString(name, "name")
	if err != nil {
		return nil, err
	}
	b := &Buffer{}
	var cerr *C.HlsError
	m.mu.RLock()
	if m.ptr == nil {
		m.mu.RUnlock()
		return nil, ErrClosed
	}
	st := C.hls_get_ex(m.ptr, cPtr(cname), &b.buf, &cerr)
	m.mu.RUnlock()
	runtime.KeepAlive(cname)
	if st != C.HLS_OK {
		return nil, takeError(st, cerr)
	}
	b.ctype = contentType(b.buf.content_type)
	runtime.SetFinalizer(b, (*Buffer).Close)
	return b, nil
}

// Duration is the duration of the presentation (0 after Close).
func (m *Media) Duration() time.Duration {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return 0
	}
	return time.Duration(float64(C.hls_media_duration(m.ptr)) * float64(time.Second))
}

// Info is what libhls found in a media file (hls_media_info_json).
type Info struct {
	Path           string        // the path the file was opened with
	Format         string        // container format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm"
	Duration       time.Duration // duration of the presentation
	Segments       int           // number of segments of the presentation
	TargetDuration int           // EXT-X-TARGETDURATION of the media playlists, in seconds
	IndexedFrom    string        // "mp4 sample tables", "matroska cues" or "packet scan"
	IndexTime      time.Duration // how long indexing took
	Tracks         []Track       // every track of the file, served or not
	Source         *SourceInfo   // reads of the source, for media opened with OpenReaderAt/OpenURL (else nil)
}

// SourceInfo is what reading a caller-supplied source cost (hls_media_info_json's "source").
type SourceInfo struct {
	Identity     string `json:"identity"`
	Size         int64  `json:"size"`
	OpenReads    uint64 `json:"open_reads"`    // reads made by the open
	OpenBytes    uint64 `json:"open_bytes"`    // bytes read by the open
	SegmentsRead uint64 `json:"segments_read"` // media segments generated (cache hits read nothing)
	SegmentReads uint64 `json:"segment_reads"` // reads made by them
	SegmentBytes uint64 `json:"segment_bytes"` // bytes read by them
}

// Track is one track of a media file as Info reports it. Fields that do not apply to the
// track's type are zero.
type Track struct {
	Index       int     `json:"index"`        // stream index in the file
	Rendition   string  `json:"rendition"`    // the rendition id N of its names (tN.m3u8, ...): "1", "2a", ...
	Type        string  `json:"type"`         // "video", "audio", "subtitle", ...
	Codec       string  `json:"codec"`        // codec name, e.g. "h264", "aac"
	CodecString string  `json:"codec_string"` // RFC 6381 string, e.g. "avc1.64001f" (empty if none)
	Language    string  `json:"language"`     // language tag (empty if none)
	Title       string  `json:"title"`        // track title (empty if none)
	Default     bool    `json:"default"`      // the file marks the track default
	Forced      bool    `json:"forced"`       // the file marks the track forced
	Served      bool    `json:"served"`       // the track is served
	Delivery    string  `json:"delivery"`     // "copy", "transcode-aac", "webvtt" or "none"
	Reason      string  `json:"reason"`       // why the track is not served (empty if served)
	Playlist    string  `json:"playlist"`     // the media playlist's name (empty if not served)
	Segments    int     `json:"segments"`     // number of segments of the track
	Width       int     `json:"width"`        // video: width in pixels
	Height      int     `json:"height"`       // video: height in pixels
	FrameRate   float64 `json:"frame_rate"`   // video: frames per second (0 if unknown)
	SampleRate  int     `json:"sample_rate"`  // audio: samples per second
	Channels    int     `json:"channels"`     // audio: channel count
	Timescale   int     `json:"timescale"`    // fMP4 timescale of the served track (0 if none)
}

type infoJSON struct {
	Path           string      `json:"path"`
	Format         string      `json:"format"`
	Duration       float64     `json:"duration"`
	Segments       int         `json:"segments"`
	TargetDuration int         `json:"target_duration"`
	IndexedFrom    string      `json:"indexed_from"`
	IndexTimeMS    float64     `json:"index_time_ms"`
	Tracks         []Track     `json:"tracks"`
	Source         *SourceInfo `json:"source"`
}

// Info describes the media: duration, format, and every track with its codec, language and
// whether (and how) it is served.
func (m *Media) Info() (Info, error) {
	var buf C.HlsBuffer
	m.mu.RLock()
	if m.ptr == nil {
		m.mu.RUnlock()
		return Info{}, ErrClosed
	}
	st := C.hls_media_info_json(m.ptr, &buf)
	m.mu.RUnlock()
	if st != C.HLS_OK {
		return Info{}, statusError(st, "hls_media_info_json")
	}
	var raw infoJSON
	err := json.Unmarshal(cBytes(&buf), &raw)
	C.hls_free_buffer(&buf)
	if err != nil {
		return Info{}, &Error{Status: StatusInternal, Message: "info JSON: " + err.Error()}
	}
	return Info{
		Path:           raw.Path,
		Format:         raw.Format,
		Duration:       time.Duration(raw.Duration * float64(time.Second)),
		Segments:       raw.Segments,
		TargetDuration: raw.TargetDuration,
		IndexedFrom:    raw.IndexedFrom,
		IndexTime:      time.Duration(raw.IndexTimeMS * float64(time.Millisecond)),
		Tracks:         raw.Tracks,
		Source:         raw.Source,
	}, nil
}

// Buffer holds bytes served by libhls: a playlist or a segment. The bytes belong to libhls
// until Close; they stay valid after the Media is closed or the cache evicts them.
type Buffer struct {
	mu     sync.RWMutex // read-held by Bytes/Len; write-held by Close
	buf    C.HlsBuffer  // zeroed by Close
	ctype  string
	closed bool
}

// Bytes returns the buffer's bytes without copying them: the slice points into memory owned
// by libhls and is valid only until Close (also a Close by the finaliser). Do not modify it,
// and keep the Buffer reachable while using the slice (close it after the last use, or call
// runtime.KeepAlive(buf)): the slice alone does not keep the Buffer alive. Nil after Close.
func (b *Buffer) Bytes() []byte {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil
	}
	return cBytes(&b.buf)
}

// Len is the number of bytes (0 after Close).
func (b *Buffer) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return 0
	}
	return int(b.buf.len)
}

// ContentType is the MIME type of the bytes: "application/vnd.apple.mpegurl", "video/mp4",
// "audio/mp4" or "text/vtt". It stays available after Close.
func (b *Buffer) ContentType() string { return b.ctype }

// Close releases the bytes (hls_free_buffer); slices from Bytes become invalid. Safe to call
// twice; it waits for Bytes/Len calls in progress.
func (b *Buffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		runtime.SetFinalizer(b, nil)
		C.hls_free_buffer(&b.buf)
	}
	return nil
}

// cBytes is a slice over a filled HlsBuffer's bytes (no copy), or nil if it is empty.
func cBytes(buf *C.HlsBuffer) []byte {
	if buf.len == 0 || buf.data == nil {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(buf.data)), int(buf.len))
}

// contentTypes maps libhls's static content-type strings (by address) to Go strings, so Get
// converts each only once.
var contentTypes sync.Map // uintptr -> string

func contentType(p *C.char) string {
	if p == nil {
		return "application/octet-stream"
	}
	key := uintptr(unsafe.Pointer(p))
	if s, ok := contentTypes.Load(key); ok {
		return s.(string)
	}
	s := C.GoString(p)
	contentTypes.Store(key, s)
	return s
}

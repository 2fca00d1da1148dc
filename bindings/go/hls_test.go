package hls_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"libhls.dev/hls"
)

// The handles are io.Closers.
var (
	_ io.Closer = (*hls.Context)(nil)
	_ io.Closer = (*hls.Media)(nil)
	_ io.Closer = (*hls.Buffer)(nil)
)

func TestVersion(t *testing.T) {
	if v := hls.Version(); v == "" || v != hls.HeaderVersion {
		t.Errorf("Version() = %q, header says %q", v, hls.HeaderVersion)
	}
}

func TestGetPlaylistsAndSegments(t *testing.T) {
	ctx := newContext(t)
	m := openMedia(t, ctx, "h264_aac.mp4")
	b, err := m.Get("master.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !bytes.HasPrefix(b.Bytes(), []byte("#EXTM3U")) {
		t.Errorf("master playlist starts with %q", b.Bytes()[:min(20, b.Len())])
	}
	if b.ContentType() != "application/vnd.apple.mpegurl" {
		t.Errorf("ContentType() = %q", b.ContentType())
	}
	types := map[string]string{}
	c, err := crawl(func(name string) ([]byte, error) {
		b, err := m.Get(name)
		if err != nil {
			return nil, err
		}
		defer b.Close()
		types[name] = b.ContentType()
		return append([]byte(nil), b.Bytes()...), nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, ct := range types {
		var want string
		switch filepath.Ext(name) {
		case ".m3u8":
			want = "application/vnd.apple.mpegurl"
		case ".mp4", ".m4s":
			want = "video/mp4"
			if strings.HasPrefix(name, "t1") { // the audio track
				want = "audio/mp4"
			}
		default:
			t.Errorf("unexpected name %q", name)
		}
		if ct != want {
			t.Errorf("%s: content type %q, want %q", name, ct, want)
		}
	}
	if _, ok := c["t0_init.mp4"]; !ok {
		t.Errorf("no t0_init.mp4 among %d names", len(c))
	}
	// A subtitle file's WebVTT segments.
	s := openMedia(t, ctx, "subs.mp4")
	sc, err := crawl(getBytes(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	vtt := 0
	for name, b := range sc {
		if strings.HasSuffix(name, ".vtt") {
			vtt++
			if !bytes.HasPrefix(b, []byte("WEBVTT")) {
				t.Errorf("%s starts with %q", name, b[:min(10, len(b))])
			}
		}
	}
	if vtt == 0 {
		t.Error("subs.mp4: no WebVTT segment")
	}
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func TestInfoAndDuration(t *testing.T) {
	ctx := newContext(t)
	m := openMedia(t, ctx, "h264_aac.mp4")
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Duration <= 0 || info.Duration != m.Duration() {
		t.Errorf("Info().Duration %v, Duration() %v", info.Duration, m.Duration())
	}
	if !strings.Contains(info.Format, "mp4") || info.IndexedFrom != "mp4 sample tables" || info.Segments < 2 ||
		info.TargetDuration <= 0 || info.Path != mediaPath(t, "h264_aac.mp4") {
		t.Errorf("info: %+v", info)
	}
	if len(info.Tracks) != 2 {
		t.Fatalf("tracks: %+v", info.Tracks)
	}
	v, a := info.Tracks[0], info.Tracks[1]
	if v.Type != "video" || v.Codec != "h264" || !strings.HasPrefix(v.CodecString, "avc1.") || v.Width <= 0 ||
		v.Height <= 0 || v.FrameRate <= 0 || !v.Served || v.Delivery != "copy" || v.Playlist != "t0.m3u8" ||
		v.Segments != info.Segments || v.Timescale <= 0 || v.SampleRate != 0 {
		t.Errorf("video track: %+v", v)
	}
	if a.Type != "audio" || a.Codec != "aac" || a.CodecString != "mp4a.40.2" || a.SampleRate <= 0 || a.Channels != 2 ||
		!a.Served || a.Language != "eng" || a.Width != 0 || a.Reason != "" || a.Rendition != "1" {
		t.Errorf("audio track: %+v", a)
	}

	multi := openMedia(t, ctx, "multi_audio.mkv")
	mi, err := multi.Info()
	if err != nil {
		t.Fatal(err)
	}
	langs := map[string]bool{}
	for _, tr := range mi.Tracks {
		if tr.Type == "audio" {
			langs[tr.Language] = true
		}
	}
	if len(langs) < 2 || mi.IndexedFrom != "matroska cues" || !strings.Contains(mi.Format, "matroska") {
		t.Errorf("multi_audio.mkv: %+v", mi)
	}

	dts := openMedia(t, ctx, "dts.mkv")
	di, err := dts.Info()
	if err != nil {
		t.Fatal(err)
	}
	if tr := findTrack(di, "audio"); tr.Codec != "dts" || tr.Delivery != "transcode-aac" || !tr.Served {
		t.Errorf("dts.mkv audio: %+v", tr)
	}
}

func findTrack(info hls.Info, typ string) hls.Track {
	for _, tr := range info.Tracks {
		if tr.Type == typ {
			return tr
		}
	}
	return hls.Track{}
}

// A file whose index needs more than WithMaxIndexBytes allows is refused with ErrUnsupported;
// under a ceiling it fits, it opens.
func TestMaxIndexBytes(t *testing.T) {
	small := newContext(t, hls.WithMaxIndexBytes(4096))
	m, err := small.Open(mediaPath(t, "h264_aac.mp4"))
	if m != nil || !errors.Is(err, hls.ErrUnsupported) || !strings.Contains(err.Error(), "max_index_bytes") {
		t.Fatalf("Open under a 4 KiB index ceiling = %v, %v; want ErrUnsupported naming max_index_bytes", m, err)
	}
	big := newContext(t, hls.WithMaxIndexBytes(64<<20))
	openMedia(t, big, "h264_aac.mp4")
}

func TestOptions(t *testing.T) {
	all := []hls.Option{
		hls.WithSegmentDuration(2 * time.Second),
		hls.WithCacheBytes(0),
		hls.WithIdleMedia(0, 0),
		hls.WithTranscodePolicy(hls.TranscodeNever),
		hls.WithAAC(96000, true),
		hls.WithContainerIndex(false),
	}
	ctx := newContext(t, all...)
	st, err := ctx.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.CacheBudget != 0 {
		t.Errorf("WithCacheBytes(0): budget %d", st.CacheBudget)
	}
	m := openMedia(t, ctx, "h264_aac.mkv")
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.IndexedFrom != "packet scan" || info.TargetDuration > 3 {
		t.Errorf("WithContainerIndex(false), WithSegmentDuration(2s): indexed from %q, target duration %d",
			info.IndexedFrom, info.TargetDuration)
	}
	dts := openMedia(t, ctx, "dts.mkv")
	di, err := dts.Info()
	if err != nil {
		t.Fatal(err)
	}
	if tr := findTrack(di, "audio"); tr.Served || tr.Reason == "" {
		t.Errorf("TranscodeNever: DTS track %+v", tr)
	}
	def := newContext(t)
	st, err = def.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.CacheBudget != 256<<20 {
		t.Errorf("default cache budget %d", st.CacheBudget)
	}
	bs := newContext(t, hls.WithTranscodePolicy(hls.TranscodeBrowserSafe))
	oi, err := openMedia(t, bs, "opus_flac.mkv").Info()
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range oi.Tracks {
		if tr.Type == "audio" && tr.Delivery != "transcode-aac" {
			t.Errorf("TranscodeBrowserSafe: %+v", tr)
		}
	}
	if hls.TranscodeAddAAC.String() != "TranscodeAddAAC" || hls.TranscodePolicy(9).String() != "TranscodePolicy(9)" {
		t.Error("TranscodePolicy.String")
	}
	newContext(t, hls.WithTranscodePolicy(hls.TranscodeAddAAC), hls.WithTranscodePolicy(hls.TranscodeUnplayable), nil)
}

func TestIndexDirOpensFromDisk(t *testing.T) {
	dir := t.TempDir()
	var masters [2]string
	for round, fromDisk := range []bool{false, true} {
		ctx := newContext(t, hls.WithIndexDir(dir))
		m := openMedia(t, ctx, "h264_aac.mp4")
		info, err := m.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.IndexFromDisk != fromDisk {
			t.Errorf("round %d: IndexFromDisk %v", round, info.IndexFromDisk)
		}
		b, err := m.Get("master.m3u8")
		if err != nil {
			t.Fatal(err)
		}
		masters[round] = string(b.Bytes())
		b.Close()
		st, err := ctx.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if fromDisk && (st.IndexFileHits != 1 || st.IndexFileMisses != 0 || st.Indexings != 0) {
			t.Errorf("second context: %+v", st)
		}
		if !fromDisk && (st.IndexFileMisses != 1 || st.IndexFileWrites != 1) {
			t.Errorf("first context: %+v", st)
		}
		ctx.Close()
	}
	if masters[0] != masters[1] || masters[0] == "" {
		t.Error("the master from the index file differs")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.hlsidx"))
	if len(files) != 1 {
		t.Errorf("index files: %v", files)
	}
}

func TestInvalidOptions(t *testing.T) {
	for name, opt := range map[string]hls.Option{
		"segment 500ms":     hls.WithSegmentDuration(500 * time.Millisecond),
		"segment 61s":       hls.WithSegmentDuration(61 * time.Second),
		"segment -1s":       hls.WithSegmentDuration(-time.Second),
		"segment 2.0005s":   hls.WithSegmentDuration(2*time.Second + 500*time.Microsecond),
		"segment huge":      hls.WithSegmentDuration(1 << 62),
		"policy 4":          hls.WithTranscodePolicy(4),
		"policy -1":         hls.WithTranscodePolicy(-1),
		"policy huge":       hls.WithTranscodePolicy(1 << 40),
		"aac 1000":          hls.WithAAC(1000, false),
		"aac 1e6":           hls.WithAAC(1000000, true),
		"aac -1":            hls.WithAAC(-1, false),
		"idle count -1":     hls.WithIdleMedia(-1, time.Second),
		"idle ttl -1s":      hls.WithIdleMedia(1, -time.Second),
		"idle ttl 1.5ms":    hls.WithIdleMedia(1, 1500*time.Microsecond),
		"idle count 2^33":   hls.WithIdleMedia(1<<33, time.Second),
		"max index 4095":    hls.WithMaxIndexBytes(4095),
		"after a valid one": func() hls.Option { return hls.WithAAC(1, false) }(),
		"thumbnails 5000px": hls.WithThumbnails(5000, 10*time.Second),
		"thumbnails -1px":   hls.WithThumbnails(-1, 10*time.Second),
		"thumbnails 100ms":  hls.WithThumbnails(160, 100*time.Millisecond),
		"thumbnails 1.5ms":  hls.WithThumbnails(160, 1500*time.Microsecond),
	} {
		ctx, err := hls.NewContext(hls.WithCacheBytes(1<<20), opt)
		if ctx != nil || !errors.Is(err, hls.ErrInvalidArgument) {
			t.Errorf("%s: NewContext = %v, %v; want ErrInvalidArgument", name, ctx, err)
			continue
		}
		var e *hls.Error
		if !errors.As(err, &e) || !strings.Contains(e.Message, "With") {
			t.Errorf("%s: error %q does not name the option", name, err)
		}
	}
}

func TestBadInputs(t *testing.T) {
	ctx := newContext(t)
	dir := mediaDir(t)
	for _, tc := range []struct {
		file string
		want error
	}{
		{"does-not-exist.mp4", hls.ErrIO},
		{"", hls.ErrIO}, // the directory itself
		{"text.mp4", hls.ErrInvalidMedia},
		{"empty.mp4", hls.ErrInvalidMedia},
		{"truncated.mp4", hls.ErrInvalidMedia},
		{"no_av.mkv", hls.ErrNoPlayableTracks},
		{"subs_only.mkv", hls.ErrNoPlayableTracks},
		{"h264_aac.mp4\x00.txt", hls.ErrInvalidArgument},
	} {
		m, err := ctx.Open(filepath.Join(dir, tc.file))
		if m != nil || !errors.Is(err, tc.want) {
			t.Errorf("Open(%q) = %v, %v; want %v", tc.file, m, err, tc.want)
			continue
		}
		var e *hls.Error
		if !errors.As(err, &e) || e.Message == "" {
			t.Errorf("Open(%q): %v carries no message", tc.file, err)
		}
		if tc.want != hls.ErrInvalidArgument && !strings.Contains(e.Message, filepath.Base(filepath.Join(dir, tc.file))) {
			t.Errorf("Open(%q): message %q does not name the file", tc.file, e.Message)
		}
	}

	m := openMedia(t, ctx, "h264_aac.mp4")
	for _, tc := range []struct {
		name string
		want error
	}{
		{"nope.m3u8", hls.ErrNotFound},
		{"t9.m3u8", hls.ErrNotFound},
		{"t0_999.m4s", hls.ErrNotFound},
		{"", hls.ErrInvalidArgument},
		{"master.m3u8\x00", hls.ErrInvalidArgument},
		{"\x00", hls.ErrInvalidArgument},
		{"/master.m3u8", hls.ErrInvalidArgument},
		{"../master.m3u8", hls.ErrInvalidArgument},
		{"master.m3u8?x=1", hls.ErrInvalidArgument},
		{"t0\n.m3u8", hls.ErrInvalidArgument},
		{"\xff.m3u8", hls.ErrInvalidUTF8},
	} {
		b, err := m.Get(tc.name)
		if b != nil || !errors.Is(err, tc.want) {
			t.Errorf("Get(%q) = %v, %v; want %v", tc.name, b, err, tc.want)
		}
	}
	if _, err := ctx.Open(string([]byte{0xff, 0xfe})); !errors.Is(err, hls.ErrInvalidUTF8) {
		t.Errorf("Open(invalid UTF-8) = %v", err)
	}
}

func TestFileChanged(t *testing.T) {
	src, err := os.ReadFile(mediaPath(t, "h264_aac.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "copy.mp4")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := newContext(t)
	m, err := ctx.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get("t0_1.m4s"); !errors.Is(err, hls.ErrFileChanged) {
		t.Fatalf("Get after the file changed: %v, want ErrFileChanged", err)
	}
	m2, err := ctx.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	b, err := m2.Get("t0_1.m4s")
	if err != nil {
		t.Fatalf("Get after reopening: %v", err)
	}
	b.Close()
}

func TestErrorsIs(t *testing.T) {
	sentinels := map[hls.Status]error{
		hls.StatusNullArgument:     hls.ErrNullArgument,
		hls.StatusInvalidUTF8:      hls.ErrInvalidUTF8,
		hls.StatusInvalidArgument:  hls.ErrInvalidArgument,
		hls.StatusNotFound:         hls.ErrNotFound,
		hls.StatusIO:               hls.ErrIO,
		hls.StatusInvalidMedia:     hls.ErrInvalidMedia,
		hls.StatusNoPlayableTracks: hls.ErrNoPlayableTracks,
		hls.StatusFileChanged:      hls.ErrFileChanged,
		hls.StatusUnsupported:      hls.ErrUnsupported,
		hls.StatusPanic:            hls.ErrPanic,
		hls.StatusInternal:         hls.ErrInternal,
	}
	names := map[hls.Status]string{
		hls.StatusOK: "HLS_OK", hls.StatusNullArgument: "HLS_ERR_NULL_ARGUMENT",
		hls.StatusInvalidUTF8: "HLS_ERR_INVALID_UTF8", hls.StatusInvalidArgument: "HLS_ERR_INVALID_ARGUMENT",
		hls.StatusNotFound: "HLS_ERR_NOT_FOUND", hls.StatusIO: "HLS_ERR_IO",
		hls.StatusInvalidMedia: "HLS_ERR_INVALID_MEDIA", hls.StatusNoPlayableTracks: "HLS_ERR_NO_PLAYABLE_TRACKS",
		hls.StatusFileChanged: "HLS_ERR_FILE_CHANGED", hls.StatusUnsupported: "HLS_ERR_UNSUPPORTED",
		hls.StatusPanic: "HLS_ERR_PANIC", hls.StatusInternal: "HLS_ERR_INTERNAL",
	}
	for st, name := range names {
		if st.String() != name || !strings.HasPrefix(st.Description(), name+": ") {
			t.Errorf("status %d: String %q, Description %q; want %s", int(st), st.String(), st.Description(), name)
		}
	}
	if s := hls.Status(99).String(); s != "Status(99)" {
		t.Errorf("Status(99).String() = %q", s)
	}
	if d := hls.Status(1 << 40).Description(); d != "unknown status" {
		t.Errorf("Status(1<<40).Description() = %q", d)
	}
	for st, sentinel := range sentinels {
		err := fmt.Errorf("wrapped: %w", &hls.Error{Status: st, Message: "detail"})
		for other, s2 := range sentinels {
			if got := errors.Is(err, s2); got != (other == st) {
				t.Errorf("errors.Is(%v, %v) = %v", err, s2, got)
			}
		}
		if errors.Is(err, hls.ErrClosed) || errors.Is(hls.ErrClosed, sentinel) {
			t.Errorf("%v matches ErrClosed", err)
		}
		var e *hls.Error
		if !errors.As(err, &e) || e.Status != st || e.Message != "detail" {
			t.Errorf("errors.As(%v) = %+v", err, e)
		}
		if want := "hls: " + names[st] + ": detail"; e.Error() != want {
			t.Errorf("Error() = %q, want %q", e.Error(), want)
		}
		if !errors.Is(err, &hls.Error{Status: st, Message: "detail"}) || errors.Is(err, &hls.Error{Status: st, Message: "other"}) {
			t.Errorf("errors.Is with a message: %v", err)
		}
	}
}

func TestDoubleCloseAndUseAfterClose(t *testing.T) {
	ctx, err := hls.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	m, err := ctx.Open(mediaPath(t, "h264_aac.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Get("master.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := b.Close(); err != nil {
			t.Errorf("Buffer.Close #%d: %v", i+1, err)
		}
	}
	if b.Bytes() != nil || b.Len() != 0 || b.ContentType() != "application/vnd.apple.mpegurl" {
		t.Errorf("closed Buffer: Bytes %v, Len %d, ContentType %q", b.Bytes(), b.Len(), b.ContentType())
	}
	for i := 0; i < 2; i++ {
		if err := m.Close(); err != nil {
			t.Errorf("Media.Close #%d: %v", i+1, err)
		}
	}
	if b, err := m.Get("master.m3u8"); b != nil || err != hls.ErrClosed {
		t.Errorf("Get after Close = %v, %v", b, err)
	}
	if _, err := m.Info(); err != hls.ErrClosed {
		t.Errorf("Info after Close: %v", err)
	}
	if d := m.Duration(); d != 0 {
		t.Errorf("Duration after Close: %v", d)
	}
	for i := 0; i < 2; i++ {
		if err := ctx.Close(); err != nil {
			t.Errorf("Context.Close #%d: %v", i+1, err)
		}
	}
	if m, err := ctx.Open(mediaPath(t, "h264_aac.mp4")); m != nil || !errors.Is(err, hls.ErrClosed) {
		t.Errorf("Open after Close = %v, %v", m, err)
	}
	if _, err := ctx.Stats(); err != hls.ErrClosed {
		t.Errorf("Stats after Close: %v", err)
	}
}

// Media stay usable after their Context is closed (they keep the engine alive), and Buffers
// stay valid after their Media and Context are closed, until their own Close.
func TestHandlesOutliveTheirParents(t *testing.T) {
	want := map[string][]byte{}
	{
		ref := newContext(t)
		c, err := crawl(getBytes(openMedia(t, ref, "multi_audio.mkv")), nil)
		if err != nil {
			t.Fatal(err)
		}
		want = c
	}
	ctx, err := hls.NewContext(hls.WithCacheBytes(1 << 20)) // small: entries get evicted
	if err != nil {
		t.Fatal(err)
	}
	m, err := ctx.Open(mediaPath(t, "multi_audio.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	ctx.Close()
	bufs := map[string]*hls.Buffer{}
	for name := range want {
		b, err := m.Get(name)
		if err != nil {
			t.Fatalf("Get(%s) after Context.Close: %v", name, err)
		}
		bufs[name] = b
	}
	if _, err := m.Info(); err != nil {
		t.Errorf("Info after Context.Close: %v", err)
	}
	m.Close()
	// Churn the allocator: freed memory would be reused by now.
	other := newContext(t, hls.WithCacheBytes(0))
	if _, err := crawl(getBytes(openMedia(t, other, "h264_aac.mkv")), nil); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	for name, b := range bufs {
		if !bytes.Equal(b.Bytes(), want[name]) {
			t.Errorf("%s: Buffer bytes changed after Media and Context were closed", name)
		}
		b.Close()
	}
}

// Close racing with use returns ErrClosed from the losers and never crashes.
func TestConcurrentCloseAndUse(t *testing.T) {
	path := mediaPath(t, "h264_aac.mp4")
	for round := 0; round < 20; round++ {
		ctx, err := hls.NewContext()
		if err != nil {
			t.Fatal(err)
		}
		m, err := ctx.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.Get("t0_init.mp4")
		if err != nil {
			t.Fatal(err)
		}
		n := b.Len()
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		start := make(chan struct{})
		for g := 0; g < 6; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				<-start
				for i := 0; i < 30; i++ {
					var err error
					switch g % 3 {
					case 0:
						var x *hls.Buffer
						if x, err = m.Get([]string{"master.m3u8", "t0.m3u8", "t0_1.m4s", "t1_2.m4s"}[i%4]); err == nil {
							x.Close()
						}
						if err == nil {
							_, err = m.Info()
						}
					case 1:
						var x *hls.Media
						if x, err = ctx.Open(path); err == nil {
							x.Close()
						}
						if err == nil {
							_, err = ctx.Stats()
						}
					case 2:
						if l := b.Len(); l != 0 && l != n {
							err = fmt.Errorf("Len %d", l)
						} else if bs := b.Bytes(); bs != nil && len(bs) != n {
							err = fmt.Errorf("len(Bytes) %d", len(bs))
						}
					}
					if err != nil && err != hls.ErrClosed {
						errs <- err
						return
					}
				}
			}(g)
		}
		close(start)
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		var cw sync.WaitGroup
		for _, c := range []io.Closer{m, ctx, b, m, ctx, b} {
			cw.Add(1)
			go func(c io.Closer) { defer cw.Done(); c.Close() }(c)
		}
		cw.Wait()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
	}
}

// Media the caller forgot are closed by their finaliser.
func TestFinaliserClosesForgottenMedia(t *testing.T) {
	ctx := newContext(t)
	forget := func() {
		for _, f := range []string{"h264_aac.mp4", "h264_aac.mkv", "subs.mp4"} {
			m, err := ctx.Open(mediaPath(t, f))
			if err != nil {
				t.Fatal(err)
			}
			b, err := m.Get("master.m3u8")
			if err != nil {
				t.Fatal(err)
			}
			_ = b.Len()
		}
	}
	forget()
	// A closed handle moves its media to the idle list (WithIdleMedia): the finalisers' Close
	// shows there.
	st, err := ctx.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.MediaIdle != 0 {
		t.Fatalf("%d media idle before any was closed", st.MediaIdle)
	}
	deadline := time.Now().Add(10 * time.Second)
	for st.MediaIdle != 3 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		if st, err = ctx.Stats(); err != nil {
			t.Fatal(err)
		}
	}
	if st.MediaIdle != 3 {
		t.Errorf("%d media idle, want 3: finalisers did not close the forgotten media", st.MediaIdle)
	}
}

// TestThumbnails: WithThumbnails sets the tile width and interval of thumbnails.vtt, its sprite
// sheets and thumb_<ms>.jpg are JPEGs, audio-only media and width 0 have none (ErrNotFound).
func TestThumbnails(t *testing.T) {
	ctx := newContext(t, hls.WithThumbnails(160, 2*time.Second))
	m := openMedia(t, ctx, "h264_aac.mp4")
	get := func(name string) (string, []byte, error) {
		b, err := m.Get(name)
		if err != nil {
			return "", nil, err
		}
		defer b.Close()
		return b.ContentType(), append([]byte(nil), b.Bytes()...), nil
	}
	ct, vtt, err := get("thumbnails.vtt")
	if err != nil || ct != "text/vtt" {
		t.Fatalf("thumbnails.vtt: %q, %v", ct, err)
	}
	// 30 s, a tile every 2 s: 15 cues of 160x90 tiles; the second cue is the second tile.
	if n := strings.Count(string(vtt), " --> "); n != 15 ||
		!strings.Contains(string(vtt), "00:00:02.000 --> 00:00:04.000\nthumbs_0.jpg#xywh=160,0,160,90\n") {
		t.Errorf("thumbnails.vtt: %d cues:\n%s", n, vtt)
	}
	for _, name := range []string{"thumbs_0.jpg", "thumb_12000.jpg"} {
		ct, b, err := get(name)
		if err != nil || ct != "image/jpeg" || len(b) < 1000 || b[0] != 0xFF || b[1] != 0xD8 {
			t.Errorf("%s: %q, %d bytes, %v", name, ct, len(b), err)
		}
	}
	if _, _, err := get("thumb_30000.jpg"); !errors.Is(err, hls.ErrNotFound) {
		t.Errorf("thumb_30000.jpg (past the end): %v", err)
	}
	a := openMedia(t, ctx, "audio_only.m4a")
	if b, err := a.Get("thumbnails.vtt"); !errors.Is(err, hls.ErrNotFound) {
		t.Errorf("audio-only thumbnails.vtt: %v, %v", b, err)
	}
	off := openMedia(t, newContext(t, hls.WithThumbnails(0, 0)), "h264_aac.mp4")
	if b, err := off.Get("thumbnails.vtt"); !errors.Is(err, hls.ErrNotFound) {
		t.Errorf("WithThumbnails(0, 0): %v, %v", b, err)
	}
}

package hls_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"libhls.dev/hls"
)

// store is a loopback HTTP object store over the test media: Range (206), ETag, Last-Modified,
// If-Match; it counts requests and connections and can be told to fail.
type store struct {
	srv      *httptest.Server
	requests atomic.Int64
	conns    atomic.Int64
	failing  atomic.Bool
	etagSalt atomic.Int64
}

func newStore(t *testing.T) *store {
	s := &store{}
	files := http.FileServer(http.Dir(mediaDir(t)))
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if s.failing.Load() {
			http.Error(w, "store down (test)", http.StatusServiceUnavailable)
			return
		}
		fi, err := os.Stat(filepath.Join(mediaDir(t), filepath.Clean("/"+r.URL.Path)))
		if err == nil {
			// http.ServeContent honours If-Match against this ETag.
			w.Header().Set("ETag", fmt.Sprintf(`"%x-%x-%d"`, fi.ModTime().UnixNano(), fi.Size(), s.etagSalt.Load()))
		}
		files.ServeHTTP(w, r)
	}))
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *store) url(name string) string { return s.srv.URL + "/" + name }

// allBytes serves every name of the presentation, keyed by name.
func allBytes(t *testing.T, m *hls.Media) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	for _, name := range crawlNames(t, m) {
		b, err := m.Get(name)
		if err != nil {
			t.Fatalf("Get(%s): %v", name, err)
		}
		out[name] = sha256.Sum256(b.Bytes())
		b.Close()
	}
	return out
}

// crawlNames lists the names the playlists of m write (playlists included).
func crawlNames(t *testing.T, m *hls.Media) []string {
	t.Helper()
	seen := map[string]bool{}
	todo := []string{"master.m3u8"}
	var names []string
	for len(todo) > 0 {
		pl := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[pl] {
			continue
		}
		seen[pl] = true
		names = append(names, pl)
		b, err := m.Get(pl)
		if err != nil {
			t.Fatalf("Get(%s): %v", pl, err)
		}
		for _, line := range strings.Split(string(b.Bytes()), "\n") {
			var uris []string
			if line != "" && !strings.HasPrefix(line, "#") {
				uris = append(uris, strings.TrimSpace(line))
			}
			for rest := line; strings.Contains(rest, `URI="`); {
				rest = rest[strings.Index(rest, `URI="`)+5:]
				if j := strings.IndexByte(rest, '"'); j >= 0 {
					uris = append(uris, rest[:j])
					rest = rest[j:]
				}
			}
			for _, u := range uris {
				if strings.HasSuffix(u, ".m3u8") {
					todo = append(todo, u)
				} else if !seen[u] {
					seen[u] = true
					names = append(names, u)
				}
			}
		}
		b.Close()
	}
	return names
}

var sourceFiles = []string{"h264_aac.mp4", "h264_aac.mkv", "h264_aac.ts", "audio_only.mp3", "hevc_aac.mp4", "subs.mp4"}

func TestMediaFromAReaderAtIsTheSameBytesAsFromItsPath(t *testing.T) {
	ctx := newContext(t)
	for _, name := range sourceFiles {
		local := openMedia(t, ctx, name)
		f, err := os.Open(mediaPath(t, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, _ := f.Stat()
		m, err := ctx.OpenReaderAt(f, fi.Size(), "file://"+name)
		if err != nil {
			t.Fatalf("OpenReaderAt(%s): %v", name, err)
		}
		want, got := allBytes(t, local), allBytes(t, m)
		if len(want) < 5 || len(got) != len(want) {
			t.Fatalf("%s: %d names locally, %d through the source", name, len(want), len(got))
		}
		for n, h := range want {
			if got[n] != h {
				t.Errorf("%s %s: bytes differ through the source", name, n)
			}
		}
		info, err := m.Info()
		if err != nil || info.Source == nil || info.Source.OpenReads == 0 {
			t.Fatalf("%s: Info().Source = %+v, %v", name, info.Source, err)
		}
		m.Close()
		local.Close()
	}
}

func TestMediaFromAnHTTPStoreIsTheSameBytesOverKeptAliveConnections(t *testing.T) {
	st := newStore(t)
	ctx := newContext(t)
	for _, name := range sourceFiles {
		local := openMedia(t, ctx, name)
		before := st.requests.Load()
		m, err := ctx.OpenURL(context.Background(), nil, st.url(name))
		if err != nil {
			t.Fatalf("OpenURL(%s): %v", name, err)
		}
		info, _ := m.Info()
		t.Logf("%s: open: %d store requests (HEAD + %d reads, %d bytes)", name, st.requests.Load()-before,
			info.Source.OpenReads, info.Source.OpenBytes)
		// An audio/video MP4 opens in at most 3 reads (text subtitle samples cost more).
		if strings.HasSuffix(name, "aac.mp4") && info.Source.OpenReads > 3 {
			t.Errorf("%s: opening an MP4 took %d reads", name, info.Source.OpenReads)
		}
		want, got := allBytes(t, local), allBytes(t, m)
		for n, h := range want {
			if got[n] != h {
				t.Errorf("%s %s: bytes differ through the store", name, n)
			}
		}
		m.Close()
		local.Close()
	}
	t.Logf("%d requests over %d connections", st.requests.Load(), st.conns.Load())
	if st.conns.Load() > 70 || st.conns.Load()*10 > st.requests.Load() {
		t.Errorf("connections not reused: %d requests over %d connections", st.requests.Load(), st.conns.Load())
	}
}

func TestAStoreThatGoesDownGivesIOErrorsAndOtherMediaKeepPlaying(t *testing.T) {
	st := newStore(t)
	ctx := newContext(t, hls.WithCacheBytes(0))
	m, err := ctx.OpenURL(context.Background(), nil, st.url("h264_aac.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	other := openMedia(t, ctx, "h264_aac.mkv")
	st.failing.Store(true)
	_, err = m.Get("t0_3.m4s")
	var he *hls.Error
	if !errors.As(err, &he) || he.Status != hls.StatusIO || !strings.Contains(he.Message, "503") {
		t.Fatalf("a store that is down: %v", err)
	}
	t.Logf("store down: %v", err)
	for _, n := range []string{"master.m3u8", "t0_1.m4s", "t1_1.m4s"} {
		b, err := other.Get(n)
		if err != nil {
			t.Fatalf("other media %s: %v", n, err)
		}
		b.Close()
	}
	st.failing.Store(false)
	b, err := m.Get("t0_3.m4s")
	if err != nil {
		t.Fatalf("the store is back: %v", err)
	}
	b.Close()
	// The object replaced on the store (new ETag): the open source refuses to mix versions.
	st.etagSalt.Add(1)
	_, err = m.Get("t0_4.m4s")
	if !errors.As(err, &he) || he.Status != hls.StatusIO || !strings.Contains(he.Message, "changed") {
		t.Fatalf("a replaced object: %v", err)
	}
	m2, err := ctx.OpenURL(context.Background(), nil, st.url("h264_aac.mp4"))
	if err != nil {
		t.Fatalf("open again: %v", err)
	}
	defer m2.Close()
	b, err = m2.Get("t0_4.m4s")
	if err != nil {
		t.Fatalf("the new version: %v", err)
	}
	b.Close()
}

func TestConcurrentReadsThroughAReaderAt(t *testing.T) {
	ctx := newContext(t, hls.WithCacheBytes(0))
	data, err := os.ReadFile(mediaPath(t, "h264_aac.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ctx.OpenReaderAt(bytes.NewReader(data), int64(len(data)), "mem://h264_aac.mkv")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	names := crawlNames(t, m)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(names); i += 8 {
				b, err := m.Get(names[i])
				if err != nil {
					errs <- fmt.Errorf("%s: %w", names[i], err)
					return
				}
				b.Close()
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// countingReaderAt counts the bytes libhls asks of a ReaderAt.
type countingReaderAt struct {
	r     *bytes.Reader
	bytes atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.bytes.Add(int64(n))
	return n, err
}

func TestASourceIsReadAboutOnceWithTheBlockCacheAndMoreWithout(t *testing.T) {
	// MPEG-TS goes through FFmpeg's demuxer, which seeks back and reads forward for every segment.
	data, err := os.ReadFile(mediaPath(t, "h264_aac.ts"))
	if err != nil {
		t.Fatal(err)
	}
	read := map[uint64]int64{}
	for _, budget := range []uint64{0, 64 << 20} {
		ctx := newContext(t, hls.WithSourceCacheBytes(budget))
		src := &countingReaderAt{r: bytes.NewReader(data)}
		m, err := ctx.OpenReaderAt(src, int64(len(data)), "mem://h264_aac.ts")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range crawlNames(t, m) {
			b, err := m.Get(n)
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			b.Close()
		}
		m.Close()
		st, err := ctx.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.SourceCacheBudget != budget || (st.SourceCacheHitBytes > 0) != (budget > 0) {
			t.Errorf("budget %d: stats %+v", budget, st)
		}
		read[budget] = src.bytes.Load()
	}
	t.Logf("h264_aac.ts (%d bytes): %d bytes read without the block cache, %d with it", len(data), read[0], read[64<<20])
	if read[64<<20] > int64(len(data))*11/10 || read[0] <= read[64<<20] {
		t.Errorf("bytes read: %v for a %d-byte file", read, len(data))
	}
}

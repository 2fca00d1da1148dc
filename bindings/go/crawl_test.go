package hls_test

import (
	"bytes"
	"fmt"
	"math/rand"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"libhls.dev/hls"
)

// crawlFiles are crawled whole by the concurrency test: MP4 and Matroska, several audio
// tracks (AAC, AC-3, E-AC-3), subtitles (mov_text, SRT, ASS), DTS transcoded to AAC, MP3.
var crawlFiles = []string{
	"h264_aac.mp4", "h264_aac.mkv", "multi_audio.mkv", "subs.mp4", "mkvmerge_subs.mkv",
	"dts.mkv", "audio_only.mp3",
}

const crawlWorkers = 8

// TestConcurrentCrawl: 8 goroutines crawl every presentation in random orders, half through
// their own Media, half through one shared Media per file, with the cache on and off; every
// byte must equal a sequential crawl, and FFmpeg must decode what they fetched.
func TestConcurrentCrawl(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("ffmpeg is needed to decode the crawled presentations: %v", err)
	}
	refCtx := newContext(t)
	ref := map[string]map[string][]byte{}
	for _, f := range crawlFiles {
		m := openMedia(t, refCtx, f)
		c, err := crawl(getBytes(m), nil)
		if err != nil {
			t.Fatalf("%s: sequential crawl: %v", f, err)
		}
		if len(c) < 4 {
			t.Fatalf("%s: crawl found only %d names", f, len(c))
		}
		ref[f] = c
		m.Close()
	}

	var fetched map[string]map[string][]byte // one worker's crawls, for FFmpeg
	for _, tc := range []struct {
		name string
		opts []hls.Option
	}{
		{"cache", nil},
		{"no-cache", []hls.Option{hls.WithCacheBytes(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newContext(t, tc.opts...)
			shared := map[string]*hls.Media{}
			paths := map[string]string{}
			for _, f := range crawlFiles {
				shared[f] = openMedia(t, ctx, f)
				paths[f] = mediaPath(t, f)
			}
			results := make([]map[string]map[string][]byte, crawlWorkers)
			errs := make(chan error, crawlWorkers*len(crawlFiles))
			start := make(chan struct{})
			var wg sync.WaitGroup
			for w := 0; w < crawlWorkers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					<-start
					rng := rand.New(rand.NewSource(int64(w)))
					got := map[string]map[string][]byte{}
					for i := range crawlFiles {
						f := crawlFiles[(i+w)%len(crawlFiles)]
						m := shared[f]
						if w%2 == 0 {
							var err error
							if m, err = ctx.Open(paths[f]); err != nil {
								errs <- fmt.Errorf("worker %d: open %s: %w", w, f, err)
								continue
							}
						}
						c, err := crawl(getBytes(m), rng)
						if w%2 == 0 {
							if err := m.Close(); err != nil {
								errs <- err
							}
						}
						if err != nil {
							errs <- fmt.Errorf("worker %d: %s: %w", w, f, err)
							continue
						}
						got[f] = c
					}
					results[w] = got
				}(w)
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for w, got := range results {
				for _, f := range crawlFiles {
					if d := sameCrawl(ref[f], got[f]); d != "" {
						t.Errorf("worker %d, %s: concurrent crawl differs from the sequential one: %s", w, f, d)
					}
				}
			}
			st, err := ctx.Stats()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("stats: %+v", st)
			if st.Indexings != uint64(len(crawlFiles)) {
				t.Errorf("%d indexings for %d files: concurrent opens must index each file once", st.Indexings, len(crawlFiles))
			}
			if !t.Failed() {
				fetched = results[crawlWorkers-1]
			}
		})
	}
	if fetched == nil {
		t.Fatal("no concurrent crawl to decode")
	}

	dir := t.TempDir()
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, f := range crawlFiles {
		out := filepath.Join(dir, f)
		writeCrawl(t, out, fetched[f])
		wg.Add(1)
		go func(f, out string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.Command(ffmpeg, "-nostdin", "-v", "error", "-allowed_extensions", "ALL",
				"-i", filepath.Join(out, "master.m3u8"), "-map", "0", "-f", "null", "-")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil || stderr.Len() > 0 {
				t.Errorf("%s: ffmpeg failed to decode the fetched presentation (%v): %s", f, err,
					strings.TrimSpace(stderr.String()))
			}
		}(f, out)
	}
	wg.Wait()
}

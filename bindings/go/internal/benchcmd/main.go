// Command benchcmd is the Go side of the bindings benchmark (benches/bindings/run.sh, run by
// bindings/go/bench.sh). It measures, exactly as benches/bindings/calls.c does for the C API:
//
//	cache_hit     ns per Media.Get + Buffer.Close of the first .m4s name in crawl order, after
//	              one warm-up fetch, context cache 256 MiB; -hit-iters calls per run, median of
//	              -runs runs.
//	cold_segment  us per Media.Get + Buffer.Close of every .m4s name in crawl order, once each,
//	              on a freshly opened file with a context whose cache is 0 bytes; median of 3.
//
// and prints BENCH lines (format: benches/bindings/README.md). With -names it prints the crawl
// order instead (to compare with `calls --names`).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"libhls.dev/hls"
)

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchcmd: "+format+"\n", args...)
	os.Exit(1)
}

func get(m *hls.Media, name string) []byte {
	b, err := m.Get(name)
	if err != nil {
		die("%s: %v", name, err)
	}
	defer b.Close()
	return append([]byte(nil), b.Bytes()...)
}

// crawl: master.m3u8, then every URI each playlist names (URI="..." attributes and URI lines),
// in order, each playlist's URIs appended as it is fetched; duplicates dropped.
func crawl(m *hls.Media) []string {
	names := []string{"master.m3u8"}
	seen := map[string]bool{"master.m3u8": true}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			names = append(names, s)
		}
	}
	for i := 0; i < len(names); i++ {
		if !strings.HasSuffix(names[i], ".m3u8") {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(get(m, names[i])))
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			line := strings.TrimSuffix(sc.Text(), "\r")
			if strings.HasPrefix(line, "#") {
				if k := strings.Index(line, `URI="`); k >= 0 {
					rest := line[k+5:]
					if e := strings.IndexByte(rest, '"'); e >= 0 {
						add(rest[:e])
					}
				}
			} else {
				add(line)
			}
		}
		if err := sc.Err(); err != nil {
			die("%s: %v", names[i], err)
		}
	}
	return names
}

func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func open(cacheBytes uint64, path string) (*hls.Context, *hls.Media) {
	ctx, err := hls.NewContext(hls.WithCacheBytes(cacheBytes))
	if err != nil {
		die("context: %v", err)
	}
	m, err := ctx.Open(path)
	if err != nil {
		die("%s: %v", path, err)
	}
	return ctx, m
}

func main() {
	hitIters := flag.Int("hit-iters", 200000, "cache-hit calls per run")
	runs := flag.Int("runs", 5, "cache-hit runs (the median is printed)")
	namesOnly := flag.Bool("names", false, "print the crawl order and exit")
	flag.Parse()
	if flag.NArg() != 1 || *hitIters < 1 || *runs < 1 {
		fmt.Fprintln(os.Stderr, "usage: benchcmd [-hit-iters N] [-runs R] [-names] FILE")
		os.Exit(2)
	}
	path := flag.Arg(0)

	ctx, m := open(256<<20, path)
	names := crawl(m)
	if *namesOnly {
		for _, n := range names {
			fmt.Println(n)
		}
		return
	}
	var segs []string
	for _, n := range names {
		if strings.HasSuffix(n, ".m4s") {
			segs = append(segs, n)
		}
	}
	if len(segs) == 0 {
		die("%s has no .m4s segment", path)
	}
	seg := segs[0]

	get(m, seg) // warm-up: now a cache hit
	t := make([]float64, *runs)
	for r := range t {
		t0 := time.Now()
		for i := 0; i < *hitIters; i++ {
			b, err := m.Get(seg)
			if err != nil {
				die("%s: %v", seg, err)
			}
			b.Close()
		}
		t[r] = float64(time.Since(t0).Nanoseconds()) / float64(*hitIters)
	}
	fmt.Printf("BENCH\tgo\tcache_hit\t%.1f\tns\tMedia.Get + Buffer.Close, %d calls x %d runs\n", median(t), *hitIters, *runs)
	m.Close()
	ctx.Close()

	cold := make([]float64, 3)
	for r := range cold {
		cctx, cm := open(0, path)
		t0 := time.Now()
		for _, s := range segs {
			b, err := cm.Get(s)
			if err != nil {
				die("%s: %v", s, err)
			}
			b.Close()
		}
		cold[r] = float64(time.Since(t0).Nanoseconds()) / 1e3 / float64(len(segs))
		cm.Close()
		cctx.Close()
	}
	fmt.Printf("BENCH\tgo\tcold_segment\t%.1f\tus\t%d segments x 3 runs\n", median(cold), len(segs))
	fmt.Fprintf(os.Stderr, "benchcmd: %s: %d names, %d segments; cache hit on %s\n", path, len(names), len(segs), seg)
}

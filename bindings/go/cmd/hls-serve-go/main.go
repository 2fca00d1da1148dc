// Command hls-serve-go serves the media files under a directory as on-demand HLS:
// http://ADDR/<file path under -root>/master.m3u8 is the presentation of that file.
//
//	hls-serve-go -root /srv/media -addr 127.0.0.1:8081
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"libhls.dev/hls"
)

// mediaExt are the extensions whose files are listed at start (any file can be requested).
var mediaExt = map[string]bool{
	".mp4": true, ".m4v": true, ".m4a": true, ".mov": true, ".mkv": true, ".mka": true,
	".webm": true, ".ts": true, ".mp3": true,
}

func main() {
	root := flag.String("root", ".", "directory whose media files are served")
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	list := flag.Int("list", 20, "print the master playlist URL of up to this many files found under -root")
	flag.Parse()

	ctx, err := hls.NewContext()
	if err != nil {
		log.Fatal(err)
	}
	defer ctx.Close()

	mux := http.NewServeMux()
	mux.Handle("/", hls.Handler(*root, ctx))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	fmt.Printf("hls-serve-go (libhls %s): serving %s on http://%s/\n", hls.Version(), *root, *addr)
	printURLs(*root, *addr, *list)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// printURLs prints the master playlist URL of the first n media files under root.
func printURLs(root, addr string, n int) {
	if n <= 0 {
		return
	}
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real // walk the directory a symlinked root points to
	}
	errEnough := errors.New("enough")
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !mediaExt[strings.ToLower(filepath.Ext(path))] {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return nil
		}
		u := url.URL{Scheme: "http", Host: addr, Path: "/" + filepath.ToSlash(rel) + "/master.m3u8"}
		fmt.Println("  " + u.String())
		if n--; n == 0 {
			return errEnough
		}
		return nil
	})
}

package hls_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"libhls.dev/hls"
)

// Open a file, print what libhls found and its master playlist.
func Example() {
	ctx, err := hls.NewContext(hls.WithSegmentDuration(6 * time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer ctx.Close()

	m, err := ctx.Open("movie.mkv")
	if errors.Is(err, hls.ErrInvalidMedia) || errors.Is(err, hls.ErrNoPlayableTracks) {
		log.Fatalf("cannot serve movie.mkv: %v", err)
	} else if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	info, err := m.Info()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Duration, info.Format)
	for _, t := range info.Tracks {
		fmt.Println(t.Type, t.Codec, t.Language, t.Served, t.Reason)
	}

	b, err := m.Get("master.m3u8") // or any name the playlists use: t0.m3u8, t0_1.m4s, ...
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close() // b.Bytes() is valid until then
	fmt.Println(b.ContentType())
	os.Stdout.Write(b.Bytes())
}

// Serve every media file under /srv/media: http://127.0.0.1:8081/<file>/master.m3u8.
func ExampleHandler() {
	ctx, err := hls.NewContext()
	if err != nil {
		log.Fatal(err)
	}
	defer ctx.Close()
	http.Handle("/", hls.Handler("/srv/media", ctx))
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", nil))
}

module libhls.dev/hls

go 1.19

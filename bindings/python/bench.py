"""The Python side of the bindings benchmark (benches/bindings/run.sh, run by
bindings/python/bench.sh). Measures, exactly as benches/bindings/calls.c does for the C API:

- cache_hit: ns per ``media.get(name)`` + ``Buffer.close()`` of the first .m4s name in crawl
  order, after one warm-up fetch, context cache 256 MiB; --hit-iters calls per run, median of
  --runs runs.
- cold_segment: us per ``media.get`` + ``close`` of every .m4s name in crawl order, once each,
  on a freshly opened file with a context whose cache is 0 bytes; median of 3 runs.

and prints BENCH lines (format: benches/bindings/README.md). ``--names`` prints the crawl order.
"""

import argparse
import re
import statistics
import sys
import time

import libhls

_URI = re.compile(r'URI="([^"]*)"')


def crawl(media: libhls.Media) -> list:
    """master.m3u8, then every URI each playlist names (URI="..." attributes and URI lines), in
    order, each playlist's URIs appended as it is fetched; duplicates dropped."""
    names = ["master.m3u8"]
    seen = set(names)
    i = 0
    while i < len(names):
        name = names[i]
        i += 1
        if not name.endswith(".m3u8"):
            continue
        with media.get(name) as buf:
            text = buf.tobytes().decode("utf-8")
        for line in text.split("\n"):
            line = line.rstrip("\r")
            if line.startswith("#"):
                m = _URI.search(line)
                uri = m.group(1) if m else ""
            else:
                uri = line
            if uri and uri not in seen:
                seen.add(uri)
                names.append(uri)
    return names


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hit-iters", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--names", action="store_true")
    ap.add_argument("file")
    args = ap.parse_args()

    with libhls.Context(cache_bytes=256 << 20) as ctx, ctx.open(args.file) as media:
        names = crawl(media)
        if args.names:
            print("\n".join(names))
            return 0
        segs = [n for n in names if n.endswith(".m4s")]
        if not segs:
            print(f"bench.py: {args.file} has no .m4s segment", file=sys.stderr)
            return 1
        seg = segs[0]
        media.get(seg).close()  # warm-up: now a cache hit
        get = media.get
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter_ns()
            for _ in range(args.hit_iters):
                get(seg).close()
            times.append((time.perf_counter_ns() - t0) / args.hit_iters)
    print(
        f"BENCH\tpython\tcache_hit\t{statistics.median(times):.1f}\tns\t"
        f"Media.get + Buffer.close, {args.hit_iters} calls x {args.runs} runs"
    )

    cold = []
    for _ in range(3):
        with libhls.Context(cache_bytes=0) as ctx, ctx.open(args.file) as media:
            t0 = time.perf_counter_ns()
            for s in segs:
                media.get(s).close()
            cold.append((time.perf_counter_ns() - t0) / 1e3 / len(segs))
    print(f"BENCH\tpython\tcold_segment\t{statistics.median(cold):.1f}\tus\t{len(segs)} segments x 3 runs")
    print(
        f"bench.py: {args.file}: {len(names)} names, {len(segs)} segments; cache hit on {seg}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Segments as file ranges (issue #15, first point): server CPU of a whole-presentation crawl,
# one nginx worker, side by side in one run:
#
#   static   nginx serving hls-dump's output of the file (sendfile on): the floor
#   bytes    ngx_http_hls_module with hls_file_ranges off (hls_get: samples copied into memory)
#   ranges   ngx_http_hls_module with hls_file_ranges on and hls_file_range_min 0
#            (hls_get_parts: headers from memory, every sample range sent with sendfile)
#   auto     the module's default: hls_file_ranges on, hls_file_range_min 32k (segments whose
#            ranges average under 32 KiB, samples interleaved one by one, are read on the
#            thread pool, one pread per span, and sent from memory; nothing cached but headers)
#
# For each server: R rounds of (start a fresh nginx, crawl every name once = cold, crawl it
# three more times = warm, per crawl, stop). Server CPU is the worker's, all its threads (thread pool included), from
# /proc/<pid>/task/*/schedstat, divided by the media's duration in minutes; requests/s from the
# client's wall clock (one keep-alive client). Medians over the rounds. The page cache is warm
# (the file is read once before). Not run by the test suite.
#
# Two layouts of the same media: the file as given (FFmpeg's muxer interleaves audio and video
# sample by sample, so a segment's samples are ~150 ranges of ~6 KB), and its video track alone
# (ffmpeg -map 0:v -c copy: the samples of a segment are one contiguous range, as in files
# interleaved in chunks of a second or more).
#
#   bindings/nginx/bench-ranges.sh [file] [rounds]
#     file    default /work/longmedia/long_10min.mp4, else target/media/long_10min.mp4
#             (scripts/gen-media.sh --long makes it)
#     rounds  default 3
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/target/nginx-bench-ranges"

file="${1:-}"
if [ -z "$file" ]; then
    for f in /work/longmedia/long_10min.mp4 "$root/target/media/long_10min.mp4"; do
        [ -f "$f" ] && { file="$f"; break; }
    done
fi
if [ -z "$file" ]; then
    "$root/scripts/gen-media.sh" --long "$root/target/media"
    file="$root/target/media/long_10min.mp4"
fi
rounds="${2:-3}"

# shellcheck source-path=SCRIPTDIR source=conf/lib.sh
source "$here/conf/lib.sh"
stop_all() { ngx_stop_daemons "$out"; }
trap stop_all EXIT

ngx_build_module
so="$NGX_MODULE"
ngx_build_examples
stop_all
rm -rf "$out"
mkdir -p "$out/dump" "$out/media"
video="$out/media/$(basename "${file%.*}")_video_only.mp4"
ffmpeg -nostdin -v error -i "$file" -map 0:v -c copy "$video"
for f in "$file" "$video"; do
    "$root/examples-c/hls-dump" "$f" "$out/dump/$(basename "$f")" >/dev/null
done

for f in "$file" "$video"; do
python3 - "$so" "$f" "$out" "$rounds" <<'PY'
import http.client, os, socket, statistics, subprocess, sys, time

so, src, out, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
name = os.path.basename(src)
dump = os.path.join(out, "dump", name)
names = sorted(n for n in os.listdir(dump) if n != "info.json")
names.sort(key=lambda n: (not n.endswith(".m3u8"), n))
want = {n: os.path.getsize(os.path.join(dump, n)) for n in names}
dur = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                            "csv=p=0", src], capture_output=True, text=True).stdout.strip())
minutes = dur / 60
with open(src, "rb") as f:  # page cache warm
    while f.read(1 << 24):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def conf(kind, port):
    loc = {
        "static": f"location /s/ {{ alias {out}/dump/; }}",
        "bytes": f"location /s/ {{ alias {os.path.dirname(src)}/; hls; hls_file_ranges off; }}",
        "ranges": f"location /s/ {{ alias {os.path.dirname(src)}/; hls; hls_file_ranges on; "
                  "hls_file_range_min 0; }",
        "auto": f"location /s/ {{ alias {os.path.dirname(src)}/; hls; }}",
    }[kind]
    return f"""
load_module {so};
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
    server {{ listen 127.0.0.1:{port}; {loc} }}
}}
"""


def start(kind):
    prefix = os.path.join(out, kind)
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    os.makedirs(os.path.join(prefix, "tmp"), exist_ok=True)
    port = free_port()
    with open(os.path.join(prefix, "nginx.conf"), "w") as f:
        f.write(conf(kind, port))
    subprocess.run(["/usr/sbin/nginx", "-p", prefix + "/", "-c", os.path.join(prefix, "nginx.conf")], check=True)
    master = int(open(os.path.join(prefix, "logs", "nginx.pid")).read())
    for _ in range(200):
        kids = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        if kids:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return prefix, master, int(kids[0]), port
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"{kind}: nginx did not start")


def stop(prefix, master):
    subprocess.run(["/usr/sbin/nginx", "-p", prefix + "/", "-c", os.path.join(prefix, "nginx.conf"), "-s", "stop"])
    for _ in range(200):
        if not os.path.exists(f"/proc/{master}"):
            return
        time.sleep(0.05)


def cpu_ns(pid):
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
        except OSError:
            pass
    return total


def crawl(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    got = 0
    for n in names:
        c.request("GET", f"/s/{name}/{n}")
        r = c.getresponse()
        body = r.read()
        if r.status != 200 or len(body) != want[n]:
            raise RuntimeError(f"{n}: {r.status}, {len(body)} bytes, want {want[n]}")
        got += len(body)
    c.close()
    return got


results = {}
KINDS = ["static", "bytes", "ranges", "auto"]
WARM_CRAWLS = 3  # the warm figure is the mean of this many crawls
for kind in KINDS:
    runs = {"cold": [], "warm": []}
    for _ in range(rounds):
        prefix, master, worker, port = start(kind)
        try:
            for phase, times in [("cold", 1), ("warm", WARM_CRAWLS)]:
                c0, t0 = cpu_ns(worker), time.monotonic()
                for _ in range(times):
                    total = crawl(port)
                c1, t1 = cpu_ns(worker), time.monotonic()
                runs[phase].append(((c1 - c0) / 1e9 / times, (t1 - t0) / times, total))
        finally:
            stop(prefix, master)
    results[kind] = {p: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
                         v[0][2]) for p, v in runs.items()}

mb = results["static"]["cold"][2] / 1e6
print(f"\n{name}: {dur:.0f} s of media, {len(names)} names, {mb:.1f} MB per crawl; one nginx worker, "
      f"sendfile on, one keep-alive client; medians of {rounds} rounds (fresh nginx each; warm: "
      f"mean of {WARM_CRAWLS} crawls); load average {os.getloadavg()[0]:.1f}\n")
print("| server | phase | worker CPU (s) | CPU s / min of media | vs static | requests/s | MB/s |")
print("|---|---|---|---|---|---|---|")
for phase in ["cold", "warm"]:
    base = results["static"][phase][0]
    for kind in KINDS:
        cpu, wall, total = results[kind][phase]
        print(f"| {kind} | {phase} | {cpu:.3f} | {cpu / minutes:.4f} | {cpu / base:.2f}x | "
              f"{len(names) / wall:.0f} | {total / 1e6 / wall:.0f} |")
r = results
print(f"\nranges vs bytes: cold {r['ranges']['cold'][0] / r['bytes']['cold'][0]:.2f}x, "
      f"warm {r['ranges']['warm'][0] / r['bytes']['warm'][0]:.2f}x of the CPU")
PY
done

"""What the nginx module's end-to-end tests share (test_nginx.py, test_remote.py): their
arguments, the ok/FAIL report, processes, HTTP requests, playlist URIs, hls-dump's presentation
of a file, and FFmpeg's frame counts.

Both scripts take `<module.so> <repo root> <out dir> <hls-dump>`.
"""

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time

NGINX = "/usr/sbin/nginx"
SO, ROOT, OUT, HLS_DUMP = sys.argv[1:5]
MEDIA = os.path.realpath(os.path.join(ROOT, "target", "media"))
FAILURES = []


def check(cond, what, detail=""):
    if cond:
        print(f"ok - {what}", flush=True)
    else:
        print(f"FAIL - {what}" + (f": {detail}" if detail else ""), flush=True)
        FAILURES.append(what)
    return cond


def section(title):
    print(f"\n# {title}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().split(") ")[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d))
    return sorted(out)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_until(cond, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class Resp:
    def __init__(self, status, headers, body, raw=()):
        self.status, self.headers, self.body, self.raw = status, headers, body, list(raw)

    def count(self, name):
        return sum(1 for k, _ in self.raw if k.lower() == name.lower())

    def h(self, name):
        return self.headers.get(name.lower())


def request(port, path, method="GET", headers=None, body=None, timeout=120, conn=None):
    """One request; on its own connection (closed after it) unless `conn` is given."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        hdrs = {"Connection": "close"} if own else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data, r.getheaders())
    finally:
        if own:
            conn.close()


URI_ATTR = re.compile(r'URI="([^"]+)"')


def playlist_uris(text):
    uris = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            uris += URI_ATTR.findall(line)
        else:
            uris.append(line)
    return uris


DUMPS = {}


def dump(file, transcode=None):
    """hls-dump's presentation of MEDIA/file (or a path): {name: bytes}."""
    key = (file, transcode)
    if key not in DUMPS:
        d = os.path.join(OUT, "dump", os.path.basename(file) + (f".{transcode}" if transcode else ""))
        shutil.rmtree(d, ignore_errors=True)
        args = [HLS_DUMP] + (["--transcode", transcode] if transcode else []) + \
            [os.path.join(MEDIA, file), d]
        subprocess.run(args, check=True, capture_output=True)
        DUMPS[key] = {n: open(os.path.join(d, n), "rb").read() for n in os.listdir(d)}
    return DUMPS[key]


def video_frames_in_source(file):
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
                        "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0",
                        os.path.join(MEDIA, file)], capture_output=True, text=True, check=True)
    return int(r.stdout.split()[0])


def video_frames_decoded(url):
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-map", "0:v:0",
                        "-f", "null", "-", "-progress", "pipe:1", "-nostats"],
                       capture_output=True, text=True, timeout=300)
    frames = re.findall(r"^frame=(\d+)", r.stdout, re.M)
    return (int(frames[-1]) if frames else -1), r.returncode, r.stderr[-500:]

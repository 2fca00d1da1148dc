#!/usr/bin/env python3
"""Crawl one HLS presentation over HTTP: master.m3u8, every playlist it names, every URI each
playlist names (EXT-X-MAP, segments, EXT-X-MEDIA / EXT-X-I-FRAME-STREAM-INF URIs), with N
keep-alive connections in parallel. Used by bindings/nginx/scaleout-test.sh.

    crawl.py BASE OUTDIR [--jobs N] [--after K --run CMD] [--expect-cache STATUS]

BASE is the presentation's URL prefix (e.g. http://127.0.0.1:8080/vod/movie.mkv/). Each body is
written to OUTDIR/<name>; OUTDIR/.headers.tsv gets one line per response: name, status, bytes,
ETag, Last-Modified, X-Cache-Status. After K responses, CMD runs (through the shell) while the
requests already sent are under way (no new request starts until CMD has exited). No retries: any status but 200, or a body shorter than its Content-Length, fails
the crawl (exit 1), as does a cache status other than --expect-cache when given.
"""
import argparse
import http.client
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.parse

URI_ATTR = re.compile(r'URI="([^"]+)"')


def names_in(playlist):
    out = []
    for line in playlist.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith('#'):
            if line.startswith(('#EXT-X-MEDIA:', '#EXT-X-MAP:', '#EXT-X-I-FRAME-STREAM-INF:')):
                out += URI_ATTR.findall(line)
        else:
            out.append(line)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('base')
    ap.add_argument('outdir')
    ap.add_argument('--jobs', type=int, default=4)
    ap.add_argument('--after', type=int, default=0)
    ap.add_argument('--run', default='')
    ap.add_argument('--expect-cache', default='')
    a = ap.parse_args()

    u = urllib.parse.urlsplit(a.base if a.base.endswith('/') else a.base + '/')
    host, port, prefix = u.hostname, u.port or 80, u.path
    os.makedirs(a.outdir, exist_ok=True)

    work = queue.Queue()
    seen = set()
    lock = threading.Lock()
    rows = []
    failures = []
    pending = [0]
    done_all = threading.Event()
    hook = {'fired': False}
    gate = threading.Event()  # cleared while the --run command runs
    gate.set()

    def enqueue(name):
        with lock:
            if name in seen:
                return
            if '..' in name.split('/') or name.startswith('/') or '://' in name or '?' in name:
                failures.append(f'{name}: refused name')
                return
            seen.add(name)
            pending[0] += 1
        work.put(name)

    def finished_one():
        with lock:
            pending[0] -= 1
            n_done = len(rows)
            fire = a.run and not hook['fired'] and n_done >= a.after
            if fire:
                hook['fired'] = True
                gate.clear()
        if fire:
            print(f'crawl: after {n_done} responses: {a.run}', flush=True)
            rc = subprocess.call(a.run, shell=True)
            if rc != 0:
                with lock:
                    failures.append(f'--run command exited {rc}')
            gate.set()
        with lock:
            if pending[0] == 0:
                done_all.set()

    def worker():
        conn = None
        while True:
            name = work.get()
            if name is None:
                return
            gate.wait()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=120)
                conn.request('GET', prefix + urllib.parse.quote(name))
                r = conn.getresponse()
                body = r.read()
                clen = r.getheader('Content-Length')
                row = (name, r.status, len(body), r.getheader('ETag') or '-',
                       r.getheader('Last-Modified') or '-', r.getheader('X-Cache-Status') or '-')
                err = None
                if r.status != 200:
                    err = f'{name}: HTTP {r.status}'
                elif clen is not None and int(clen) != len(body):
                    err = f'{name}: {len(body)} bytes of Content-Length {clen}'
                elif a.expect_cache and row[5] != a.expect_cache:
                    err = f'{name}: X-Cache-Status {row[5]}, expected {a.expect_cache}'
                if r.getheader('Connection', '').lower() == 'close':
                    conn.close()
                    conn = None
                with lock:
                    rows.append(row)
                    if err:
                        failures.append(err)
                if not err:
                    path = os.path.join(a.outdir, name)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, 'wb') as f:
                        f.write(body)
                    if name.endswith('.m3u8'):
                        for n in names_in(body.decode('utf-8')):
                            enqueue(n)
            except Exception as e:  # connection reset, timeout, ...: a failure, no retry
                with lock:
                    rows.append((name, 0, 0, '-', '-', '-'))
                    failures.append(f'{name}: {type(e).__name__}: {e}')
                if conn is not None:
                    conn.close()
                conn = None
            finally:
                finished_one()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(a.jobs)]
    for t in threads:
        t.start()
    enqueue('master.m3u8')
    done_all.wait()
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join()
    dt = time.monotonic() - t0

    with open(os.path.join(a.outdir, '.headers.tsv'), 'w') as f:
        for row in sorted(rows):
            f.write('\t'.join(str(x) for x in row) + '\n')
    total = sum(r[2] for r in rows)
    caches = {}
    for r in rows:
        caches[r[5]] = caches.get(r[5], 0) + 1
    cache_txt = ', '.join(f'{k} {v}' for k, v in sorted(caches.items()))
    print(f'crawl: {len(rows)} responses, {total} bytes in {dt:.2f} s '
          f'({len(failures)} failed; X-Cache-Status: {cache_txt})', flush=True)
    if a.run and not hook['fired']:
        failures.append(f'the crawl ended after {len(rows)} responses, before --after {a.after}')
    for f in failures[:20]:
        print(f'crawl: FAIL {f}', flush=True)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())

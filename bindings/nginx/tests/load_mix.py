#!/usr/bin/env python3
"""Mixed load on one HTTP server, latency of each kind of request (bench-p99.sh, bench-all.sh).

    load_mix.py PORT SECONDS --fast N URI... --slow M URI...

N clients fetch the --fast URIs (playlists) in turn, M clients the --slow URIs (cold
transcoded segments) in turn, each client a process of its own on its own keep-alive
connection, for SECONDS.
Prints one JSON object: per kind the number of requests, failures, and the latency
percentiles (p50, p90, p99, max; milliseconds, wall clock at the client from sending the
request to the last byte of the body).
"""
import argparse
import http.client
import json
import os
import time


def client(port, uris, start_at, until, out, errors, offset):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    i = offset
    while time.monotonic() < start_at:
        time.sleep(0.001)
    while True:
        t0 = time.monotonic()
        if t0 >= until:
            break
        uri = uris[i % len(uris)]
        i += 1
        try:
            conn.request("GET", uri)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status = 0
        t1 = time.monotonic()
        if status != 200:
            errors.append((uri, status))
        else:
            out.append((t1 - t0) * 1000.0)
    conn.close()


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return round(s[k], 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("--fast", nargs="+", required=True, help="N then the URIs")
    ap.add_argument("--slow", nargs="+", required=True, help="M then the URIs")
    a = ap.parse_args()
    kinds = {"fast": (int(a.fast[0]), a.fast[1:]), "slow": (int(a.slow[0]), a.slow[1:])}
    # one process per client: no client waits for another's turn at the interpreter lock
    start_at = time.monotonic() + 0.5
    until = start_at + a.seconds
    results = {k: ([], []) for k in kinds}
    procs = []
    for kind, (n, uris) in kinds.items():
        for c in range(n):
            rfd, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(rfd)
                lat, err = [], []
                client(a.port, uris, start_at, until, lat, err, c * 7)
                with os.fdopen(wfd, "w") as w:
                    json.dump([lat, err], w)
                os._exit(0)
            os.close(wfd)
            procs.append((kind, pid, os.fdopen(rfd)))
    for kind, pid, r in procs:
        lat, err = json.load(r)
        r.close()
        os.waitpid(pid, 0)
        results[kind][0].extend(lat)
        results[kind][1].extend(err)
    report = {}
    for kind, (lat, err) in results.items():
        report[kind] = {
            "requests": len(lat), "failures": len(err), "failed": err[:3],
            "p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99),
            "max": round(max(lat), 2) if lat else None,
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()

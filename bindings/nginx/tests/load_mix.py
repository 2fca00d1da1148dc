#!/usr/bin/env python3
"""Mixed load on one HTTP server, latency of each kind of request (bench-p99.sh, bench-all.sh).

    load_mix.py PORT SECONDS --fast N URI... --slow M URI...

N clients fetch the --fast URIs (playlists) in turn, M clients the --slow URIs (cold
transcoded segments) in turn, each client on its own keep-alive connection, for SECONDS.
Prints one JSON object: per kind the number of requests, failures, and the latency
percentiles (p50, p90, p99, max; milliseconds, wall clock at the client from sending the
request to the last byte of the body).
"""
import argparse
import http.client
import json
import threading
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
    start_at = time.monotonic() + 0.2
    until = start_at + a.seconds
    results = {k: ([], []) for k in kinds}
    threads = []
    for kind, (n, uris) in kinds.items():
        for c in range(n):
            th = threading.Thread(target=client, args=(a.port, uris, start_at, until,
                                                       results[kind][0], results[kind][1],
                                                       c * 7))
            th.start()
            threads.append(th)
    for th in threads:
        th.join()
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

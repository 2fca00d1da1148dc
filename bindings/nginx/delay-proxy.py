#!/usr/bin/env python3
"""A forward-only HTTP/1.1 proxy that waits DELAY_MS before passing each request on: a store
on loopback made as far away as a store across a network (bench-remote.sh: what each round
trip to an object store costs). Keep-alive on both sides; GET and HEAD; the request's headers
(Range, If-Match, ...) and the answer's status, headers and body pass unchanged.

    delay-proxy.py LISTEN_PORT UPSTREAM_HOST:PORT DELAY_MS [drop-conditionals]

With "drop-conditionals" it also removes If-Match and If-Unmodified-Since from each request: a
store that ignores them (tests/test_remote.py: the module must then notice a replaced object by
the 206's ETag and Last-Modified).
"""
import http.client
import http.server
import socketserver
import sys
import threading
import time

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
       "upgrade"}


def main():
    port, upstream, delay_ms = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    drop = set()
    if len(sys.argv) > 4 and sys.argv[4] == "drop-conditionals":
        drop = {"if-match", "if-unmodified-since"}
    host, uport = upstream.rsplit(":", 1)
    local = threading.local()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def upstream(self):
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection(host, int(uport), timeout=60)
            return conn

        def forward(self):
            time.sleep(delay_ms / 1000.0)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in HOP and k.lower() not in drop}
            for attempt in (0, 1):
                conn = self.upstream()
                try:
                    conn.request(self.command, self.path, headers=headers)
                    r = conn.getresponse()
                    body = r.read()
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()
                    local.conn = None
                    if attempt:
                        self.send_error(502)
                        return
            self.send_response_only(r.status, r.reason)
            for k, v in r.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", r.getheader("Content-Length", str(len(body))))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = forward
        do_HEAD = forward

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    Server(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()

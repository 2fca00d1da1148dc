#!/usr/bin/env python3
"""Serve the media files under a folder as HLS with the standard library only.

    python3 serve.py /srv/media --port 8080
    # then play http://127.0.0.1:8080/<file under /srv/media>/master.m3u8

A ``http.server.ThreadingHTTPServer`` (one thread per connection, HTTP/1.1 keep-alive) whose
handler answers every request with :meth:`libhls.wsgi.App.respond`: exactly the HTTP semantics
of the WSGI app (Range, ETag/304, HEAD, 405, status mapping, no path outside the root, CORS).
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Sequence

import libhls
from libhls.wsgi import App

HEADERS = (
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "range",
)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"libhls-serve/{libhls.__version__}"
    app: App  # set by main()
    quiet = False

    def _answer(self) -> None:
        # The path as a WSGI server gives it: without the query, percent-decoded, as bytes.
        target = self.path
        if not target.startswith("/"):  # absolute-form ("http://host/path"), from proxies
            target = urllib.parse.urlsplit(target).path or "/"
        path = urllib.parse.unquote_to_bytes(target.split("?", 1)[0])
        headers = {name: self.headers.get(name) for name in HEADERS}
        query = urllib.parse.urlsplit(target).query
        resp = self.app.respond(self.command, path, headers, query)
        self.send_response(resp.status)
        for key, value in resp.headers:
            self.send_header(key, value)
        self.end_headers()
        if resp.body:
            self.wfile.write(resp.body)

    def __getattr__(self, name: str) -> object:
        # Every method reaches the app (which answers 405 to all but GET and HEAD), not
        # http.server's 501.
        if name.startswith("do_"):
            return self._answer
        raise AttributeError(name)

    def log_message(self, format: str, *args: object) -> None:
        if not self.quiet:
            super().log_message(format, *args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Serve media files as HLS (libhls).")
    parser.add_argument("root", help="folder whose files are served")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--segment-duration", type=float, default=6.0, help="seconds")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)

    with libhls.Context(segment_duration=args.segment_duration) as ctx:
        Handler.app = App(args.root, ctx)
        Handler.quiet = args.quiet
        server = ThreadingHTTPServer((args.host, args.port), Handler)
        server.daemon_threads = True
        port = server.server_address[1]
        print(f"serving {Handler.app.root} on http://{args.host}:{port}/<file>/master.m3u8", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

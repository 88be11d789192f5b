#!/usr/bin/env python3
"""A loopback HTTP(S) server with health endpoints that misbehave on purpose.

Used by health-probe's tests, the bats suite and `make demo`:

    health_server.py --state DIR [--tls] [--port N]

Once listening, writes DIR/port (and with --tls, DIR/cert.pem and DIR/key.pem, a
self-signed certificate for 127.0.0.1 and localhost made with openssl unless present).
Every request is appended to DIR/access.log as "METHOD PATH". Binds 127.0.0.1 only.
Stops on SIGTERM, or when stdin reaches end of file if --stdin-eof is given (so a test
process that dies takes its server with it).

Endpoints:
    /healthz              200 {"status":"ok"}
    /status/N             status N, body {"status":"N"}
    /slow/MS              waits MS milliseconds, then 200
    /flaky/NAME?fail=N    503 for the first N requests (default 1) to this path, then 200
    /loop                 302 to /loop, for ever
    /redirect/N           302 to /redirect/N-1; /redirect/0 is 200
    /body/TEXT            200 with TEXT (URL-decoded) as the body
    /goto/URL             302 to URL (URL-decoded; another server, another scheme)
"""

import argparse
import os
import signal
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selfsigned import make_cert


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (timeout, failed TLS handshake) is what the tests do.
        pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rollout-test-health/1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        server = self.server
        with server.lock:
            with open(server.log_path, "a", encoding="utf-8") as log:
                log.write("GET %s\n" % self.path)
        path, _, query = self.path.partition("?")
        params = urllib.parse.parse_qs(query)
        parts = path.strip("/").split("/", 1)
        head, rest = parts[0], parts[1] if len(parts) > 1 else ""
        if head == "healthz":
            self.reply(200, b'{"status":"ok"}')
        elif head == "status" and rest.isdigit():
            self.reply(int(rest), b'{"status":"%s"}' % rest.encode())
        elif head == "slow" and rest.isdigit():
            time.sleep(int(rest) / 1000)
            self.reply(200, b'{"status":"ok","slow":true}')
        elif head == "flaky":
            fail = int(params.get("fail", ["1"])[0])
            with server.lock:
                seen = server.hits.get(path, 0)
                server.hits[path] = seen + 1
            if seen < fail:
                self.reply(503, b'{"status":"starting"}')
            else:
                self.reply(200, b'{"status":"ok"}')
        elif head == "loop":
            self.reply(302, headers=[("Location", "/loop")])
        elif head == "redirect" and rest.isdigit():
            n = int(rest)
            if n == 0:
                self.reply(200, b'{"status":"ok"}')
            else:
                self.reply(302, headers=[("Location", "/redirect/%d" % (n - 1))])
        elif head == "goto":
            self.reply(302, headers=[("Location", urllib.parse.unquote(rest))])
        elif head == "body":
            self.reply(200, urllib.parse.unquote(rest).encode())
        else:
            self.reply(404, b'{"error":"not found"}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--stdin-eof", action="store_true")
    args = ap.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    server.lock = threading.Lock()
    server.hits = {}
    server.log_path = os.path.join(args.state, "access.log")
    if args.tls:
        cert, key = make_cert(args.state)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)

    def stop(*_):
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    if args.stdin_eof:
        threading.Thread(
            target=lambda: (sys.stdin.read(), stop()), daemon=True
        ).start()
    tmp = os.path.join(args.state, "port.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, os.path.join(args.state, "port"))
    server.serve_forever()


if __name__ == "__main__":
    main()

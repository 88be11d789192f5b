#!/usr/bin/env python3
"""Two plain-HTTP servers on 127.0.0.1 for tag-bump's credential tests:

    redirect_server.py --state DIR

"origin" (DIR/port, written last) answers every request with 302 to the same path on "elsewhere";
"elsewhere" (DIR/port-elsewhere) answers 401 with a Basic challenge, as a git host that
wants credentials does. Every request is appended to DIR/requests.log as
"SERVER METHOD PATH AUTHORIZATION" (AUTHORIZATION "-" when none was sent), so a test can
check that a token never reached a host it was not for. Stops on SIGTERM.
"""
import argparse
import http.server
import os
import signal
import sys
import threading


def handler(name, state, target):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def record(self):
            auth = self.headers.get("Authorization") or "-"
            with open(os.path.join(state, "requests.log"), "a") as log:
                log.write(f"{name} {self.command} {self.path} {auth}\n")

        def answer(self):
            self.record()
            if target is not None:
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{target()}{self.path}")
            else:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = answer
        do_POST = answer

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", required=True)
    args = parser.parse_args()
    elsewhere = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), handler("elsewhere", args.state, None))
    origin = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), handler("origin", args.state, lambda: elsewhere.server_port))
    for server in (elsewhere, origin):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    for name, server in (("port-elsewhere", elsewhere), ("port", origin)):
        tmp = os.path.join(args.state, f"{name}.tmp")
        with open(tmp, "w") as f:
            f.write(str(server.server_port))
        os.replace(tmp, os.path.join(args.state, name))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()


if __name__ == "__main__":
    main()

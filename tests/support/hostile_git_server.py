#!/usr/bin/env python3
"""A plain-HTTP "git server" on 127.0.0.1 that never serves a usable repository, for
tag-bump's transfer-bound tests:

    hostile_git_server.py --state DIR --mode trickle
    hostile_git_server.py --state DIR --mode refs:N

Both answer GET /info/refs?service=git-upload-pack with a well-formed ref advertisement:
"trickle" sends it one byte every 0.2 s, without end (each read gets an answer, so only a
deadline on the whole operation stops the client); "refs:N" sends N refs as fast as it can
(a client that holds every advertised ref in memory grows with N). The port is written to
DIR/port once listening. Stops on SIGTERM.
"""
import argparse
import http.server
import os
import signal
import sys
import threading
import time

SHA = "1" * 40


def pkt(text):
    data = text.encode()
    return b"%04x" % (len(data) + 4) + data


def advertisement(count):
    yield pkt("# service=git-upload-pack\n") + b"0000"
    yield pkt(f"{SHA} HEAD\0symref=HEAD:refs/heads/main agent=hostile\n")
    yield pkt(f"{SHA} refs/heads/main\n")
    batch = []
    for i in range(count):
        batch.append(pkt(f"{SHA} refs/heads/b{i:09d}\n"))
        if len(batch) == 4096:
            yield b"".join(batch)
            batch = []
    yield b"".join(batch) + b"0000"


def handler(mode):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def chunk(self, data):
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
            self.wfile.flush()

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/x-git-upload-pack-advertisement")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                if mode == "trickle":
                    for chunk in advertisement(10**9):
                        for i in range(len(chunk)):
                            self.chunk(chunk[i:i + 1])
                            time.sleep(0.2)
                else:
                    for chunk in advertisement(int(mode.split(":", 1)[1])):
                        self.chunk(chunk)
                    self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_POST(self):
            self.close_connection = True
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", required=True)
    parser.add_argument("--mode", required=True)
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(args.mode))
    server.daemon_threads = True
    server.handle_error = lambda *_: None  # a client cutting the connection is the point
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tmp = os.path.join(args.state, "port.tmp")
    with open(tmp, "w") as f:
        f.write(str(server.server_port))
    os.rename(tmp, os.path.join(args.state, "port"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()


if __name__ == "__main__":
    main()

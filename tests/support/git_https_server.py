#!/usr/bin/env python3
"""A loopback HTTPS smart-HTTP git server for tag-bump's tests.

Serves the bare repositories under --root through `git http-backend` (the CGI program
that ships with git), over TLS with a self-signed certificate for 127.0.0.1, behind HTTP
Basic auth. Hooks in the bare repositories run, as on a real forge, so a `pre-receive`
hook can refuse a push (libgit2's local transport would skip it).

    git_https_server.py --root DIR --state DIR [--token T [--user U]] [--port N]

Writes DIR/cert.pem and DIR/key.pem (made with openssl unless present) and, once
listening, DIR/port. Requests are logged to DIR/access.log without credentials.
Binds 127.0.0.1 only. Stops on SIGTERM.
"""

import argparse
import base64
import hmac
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selfsigned import make_cert

BACKEND_CANDIDATES = [
    "/usr/lib/git-core/git-http-backend",
    "/usr/libexec/git-core/git-http-backend",
    "/usr/local/libexec/git-core/git-http-backend",
]


def find_backend():
    try:
        exec_path = subprocess.run(
            ["git", "--exec-path"], capture_output=True, text=True, check=True
        ).stdout.strip()
        candidate = os.path.join(exec_path, "git-http-backend")
        if os.access(candidate, os.X_OK):
            return candidate
    except (OSError, subprocess.CalledProcessError):
        pass
    for c in BACKEND_CANDIDATES:
        if os.access(c, os.X_OK):
            return c
    sys.exit("git-http-backend not found (install git)")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rollout-test-git/1"

    def log_message(self, fmt, *args):
        with self.server.log_lock:
            with open(self.server.log_path, "a", encoding="utf-8") as log:
                log.write("%s %s\n" % (self.command, fmt % args))

    def authorized(self):
        if not self.server.token:
            return "anonymous"
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, token = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        # Like a forge: the token is the secret; a user name is checked only when set.
        ok = hmac.compare_digest(token, self.server.token) and (
            self.server.user is None or hmac.compare_digest(user, self.server.user)
        )
        return user if ok else None

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_git(self):
        body = self.read_body() if self.command == "POST" else b""
        user = self.authorized()
        if user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.server.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": self.server.root,
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(
            [self.server.backend], input=body, env=env, capture_output=True
        )
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = handle_git
    do_POST = handle_git


class Server(ThreadingHTTPServer):
    """One thread per connection, the TLS handshake made in that thread: a handshake in
    the accept loop would take connections one at a time, and a backlog of 5 (the
    socketserver default) drops the SYNs of a burst, which then wait seconds to be
    retried. A forge takes a fleet's connections at once.

    Nagle's algorithm is off on every connection, as on a forge's front end (nginx's
    tcp_nodelay is on by default): with it on, the response's body waited for the
    client's delayed acknowledgement of its headers, 40ms on every request, and a
    benchmark over this server measured that wait instead of the client."""

    daemon_threads = True
    request_queue_size = 1024

    def finish_request(self, request, client_address):
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.tls.wrap_socket(request, server_side=True)
        except OSError:
            request.close()  # a client that refused the certificate, or went away
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--user")
    ap.add_argument("--token")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.state, exist_ok=True)
    cert, key = make_cert(args.state)
    server = Server(("127.0.0.1", args.port), Handler)
    server.root = os.path.abspath(args.root)
    server.backend = find_backend()
    server.user = args.user
    server.token = args.token or ""
    server.log_path = os.path.join(args.state, "access.log")
    server.log_lock = threading.Lock()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.tls = ctx
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port_file = os.path.join(args.state, "port")
    with open(port_file + ".tmp", "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

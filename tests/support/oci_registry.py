#!/usr/bin/env python3
"""A real OCI registry on 127.0.0.1, seeded with images, for image-resolve's tests.

    oci_registry.py --state DIR [--auth htpasswd|token|none] [--password PW]
                    [--seed FILE] [--stdin-eof]

Starts Debian's docker-registry (the CNCF distribution server, installed by
tests/support/ensure-deps.sh) with TLS (a self-signed certificate for 127.0.0.1, made with
openssl) and:
  * htpasswd: Basic auth, user "ci" with PW (bcrypt, as the registry requires);
  * token: the Bearer token flow, through a small token server on another loopback port
    (this file, HTTPS too): it hands out RS256 JWTs, signed with openssl, to user "ci" with
    PW for every repository and to anyone for pulls of "public/*";
  * none: no auth.

Then builds images with umoci and pushes them with skopeo copy:
  * org/app:v1 and :v2 (linux/amd64, one small layer, the OCI source and revision labels;
    v2's revision differs), org/app:stable (the same manifest as v1), org/app:moved
    (pushed as v1, then retagged to v2's manifest: DIR/moved-before holds the first digest);
  * org/multi:v1, an image index of linux/amd64 and linux/arm64/v8 images;
  * org/many: N tags (default 30) of one image, named for the selection tests: 1.0.0 ..
    1.2.9, 2.0.0-rc.1, build-100 .. build-112, main-<n>-<sha>, latest;
  * public/app:v1 (anonymous pulls with --auth token);
  * acme/web (v1.3.0, v1.4.2, v2.0.0, main-41-…, main-42-…), acme/api:v1.4.2 and
    library/redis:7.2 (an index), which the --help and README examples name;
  * with --seed FILE, a JSON list of {"ref": "REPO:TAG", "labels": {...}}: one more image
    each (linux/amd64, its own content), for the workflow rehearsals.

A front (this file, HTTPS, DIR/front-port) forwards every request to the registry as it
is, but for what the distribution 2.8 server does not do: it pages tags/list (`?n=`,
`last=`, `Link: <…>; rel="next"`, as GHCR and distribution 3 do), and it obeys
DIR/front-faults, a JSON list consumed one entry per request: {"status": 429,
"retryAfter": "1"} answers that status, {"tamper": "header"} sends a wrong
Docker-Content-Digest, {"tamper": "body"} changes a byte of the body, {"link": URL} adds
that Link header. Every request the front sees is appended to DIR/front.log.

When ready, writes DIR/port (the registry's), DIR/front-port, DIR/cert.pem,
DIR/digests.json (every tag's manifest digest, as skopeo inspect reports it) and
DIR/token-port with --auth token.
Every request the token server answers is appended to DIR/token.log. Stops on SIGTERM, or
at end of stdin with --stdin-eof (so a test that dies takes its registry with it).
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
import crypt  # noqa: E402  (bcrypt through libxcrypt; deprecated in 3.11, kept until 3.13)
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selfsigned import make_cert

USER = "ci"
SERVICE = "rollout-test-registry"
ISSUER = "rollout-test-token-issuer"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class TokenHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        server = self.server
        path, _, query = self.path.partition("?")
        params = urllib.parse.parse_qs(query)
        header = self.headers.get("Authorization", "")
        who = "anonymous"
        if header.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
            except Exception:
                user, pw = "", ""
            if user != USER or pw != server.password:
                self.log(path, "refused", params)
                self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
                return
            who = user
        if path != "/token" or params.get("service", [""])[0] != SERVICE:
            self.reply(400, b'{"errors":[{"code":"BAD_REQUEST"}]}')
            return
        access = []
        for scope in params.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = [a for a in actions.split(",") if a]
            if who == USER:
                granted = wanted
            elif name.startswith("public/"):
                granted = [a for a in wanted if a == "pull"]
            else:
                granted = []
            if granted:
                access.append({"type": kind, "name": name, "actions": granted})
        self.log(path, who, params)
        now = int(time.time())
        claims = {
            "iss": ISSUER, "sub": who, "aud": SERVICE, "exp": now + 300,
            "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access,
        }
        head = {"typ": "JWT", "alg": "RS256", "x5c": [server.cert_der]}
        signing_input = (b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", server.key_path],
            input=signing_input, capture_output=True, check=True,
        ).stdout
        token = signing_input.decode() + "." + b64url(sig)
        self.reply(200, json.dumps({"token": token, "expires_in": 300, "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}).encode())

    def log(self, path, who, params):
        with self.server.lock:
            with open(self.server.log_path, "a", encoding="utf-8") as f:
                f.write("%s %s %s\n" % (path, who, " ".join(params.get("scope", []))))


class FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def next_fault(self):
        path = self.server.faults_path
        with self.server.lock:
            with open(self.server.log_path, "a", encoding="utf-8") as f:
                f.write("%s %s\n" % (self.command, self.path))
            try:
                with open(path, encoding="utf-8") as f:
                    faults = json.load(f)
            except (OSError, ValueError):
                return {}
            if not faults:
                return {}
            with open(path, "w", encoding="utf-8") as f:
                json.dump(faults[1:], f)
            return faults[0]

    def upstream(self, path):
        import http.client
        ctx = ssl._create_unverified_context()
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.upstream_port, context=ctx, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "accept")}
        conn.request(self.command, path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        conn.close()
        return r.status, r.getheaders(), body

    def send(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() in ("content-type", "docker-content-digest", "www-authenticate", "link", "retry-after"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        fault = self.next_fault()
        if "status" in fault:
            headers = [("Content-Type", "application/json")]
            if fault.get("retryAfter"):
                headers.append(("Retry-After", fault["retryAfter"]))
            self.send(fault["status"], headers, b'{"errors":[{"code":"TOOMANYREQUESTS"}]}')
            return
        path, _, query = self.path.partition("?")
        params = urllib.parse.parse_qs(query)
        if path.endswith("/tags/list"):
            status, headers, body = self.upstream(path)
            if status == 200:
                doc = json.loads(body)
                tags = sorted(doc.get("tags") or [])
                last = params.get("last", [None])[0]
                if last is not None:
                    tags = [t for t in tags if t > last]
                n = int(params.get("n", ["0"])[0] or 0)
                more = n and len(tags) > n
                page = tags[:n] if n else tags
                headers = [("Content-Type", "application/json")]
                if more:
                    headers.append(("Link", '<%s?n=%d&last=%s>; rel="next"' % (path, n, urllib.parse.quote(page[-1]))))
                body = json.dumps({"name": doc["name"], "tags": page}).encode()
        else:
            status, headers, body = self.upstream(self.path)
        if fault.get("tamper") == "header":
            headers = [(k, v) for k, v in headers if k.lower() != "docker-content-digest"]
            headers.append(("Docker-Content-Digest", "sha256:" + "0" * 64))
        elif fault.get("tamper") == "body" and body:
            body = body[:-1] + (b" " if body[-1:] != b" " else b"\n")
        if fault.get("link"):
            headers = [(k, v) for k, v in headers if k.lower() != "link"]
            headers.append(("Link", '<%s>; rel="next"' % fault["link"]))
        self.send(status, headers, body)


def serve_https(handler, cert, key, **attrs):
    server = TokenServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.lock = threading.Lock()
    for k, v in attrs.items():
        setattr(server, k, v)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def build_images(state, port, creds, seed):
    """Build the images with umoci and push them with skopeo; return {ref: digest}."""
    work = os.path.join(state, "build")
    shutil.rmtree(work, ignore_errors=True)
    layout = os.path.join(work, "layout")
    run(["umoci", "init", "--layout", layout])
    rootfs_files = os.path.join(work, "files")
    os.makedirs(rootfs_files)

    def image(tag, arch, variant, labels, content):
        # fixed times everywhere (the file, history entries, the config), so the same
        # images have the same digests on every run
        run(["umoci", "new", "--image", "%s:%s" % (layout, tag)])
        path = os.path.join(rootfs_files, "content")
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)
        os.utime(path, (1764504000, 1764504000))
        run(["umoci", "insert", "--rootless", "--no-history", "--image", "%s:%s" % (layout, tag),
             path, "/content"])
        args = ["umoci", "config", "--no-history", "--image", "%s:%s" % (layout, tag), "--os", "linux",
                "--architecture", arch, "--created", "2026-11-30T12:00:00Z"]
        for k, v in labels.items():
            args += ["--config.label", "%s=%s" % (k, v)]
        run(args)
        if variant:
            set_variant(layout, tag, variant)

    src = "https://github.com/acme/app"
    image("v1", "amd64", None, {"org.opencontainers.image.source": src,
                                "org.opencontainers.image.revision": "a" * 40}, "v1\n")
    image("v2", "amd64", None, {"org.opencontainers.image.source": src,
                                "org.opencontainers.image.revision": "b" * 40}, "v2\n")
    image("arm", "arm64", "v8", {"org.opencontainers.image.source": src}, "arm\n")
    make_index(layout, "multi", ["v1", "arm"])
    for i, entry in enumerate(seed):
        image("seed%d" % i, "amd64", None, entry.get("labels", {}), "seed %s\n" % entry["ref"])

    dest_creds = ["--dest-creds", "%s:%s" % creds] if creds else []
    registry = "127.0.0.1:%d" % port

    def push(src_tag, dest, all_=False):
        cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"] + dest_creds
        if all_:
            cmd.append("--all")
        run(cmd + ["oci:%s:%s" % (layout, src_tag), "docker://%s/%s" % (registry, dest)])

    push("v1", "org/app:v1")
    push("v2", "org/app:v2")
    push("v1", "org/app:stable")
    push("v1", "org/app:moved")
    push("multi", "org/multi:v1", all_=True)
    push("v1", "public/app:v1")
    # the repositories the --help and README examples name (ghcr.io/acme/..., redis)
    for tag in ["v1.3.0", "v1.4.2", "main-41-5e1c2a7", "main-42-9f0b3d1"]:
        push("v1", "acme/web:%s" % tag)
    push("v2", "acme/web:v2.0.0")
    push("v1", "acme/api:v1.4.2")
    push("multi", "library/redis:7.2", all_=True)
    for i, entry in enumerate(seed):
        push("seed%d" % i, entry["ref"])
    many = ["1.0.%d" % i for i in range(10)] + ["1.1.%d" % i for i in range(10)] + \
        ["1.2.%d" % i for i in range(10)] + ["2.0.0-rc.1", "latest"] + \
        ["build-%d" % i for i in range(100, 113)] + \
        ["main-%d-%s" % (i, hashlib.sha1(str(i).encode()).hexdigest()[:7]) for i in (7, 9, 12)]
    # one upload, then tags: skopeo copies of an image already there are manifest PUTs only
    for tag in many:
        push("v1", "org/many:%s" % tag)
    digests = {}
    for ref in ["org/app:v1", "org/app:v2", "org/app:stable", "org/app:moved", "org/multi:v1",
                "public/app:v1"] + [e["ref"] for e in seed]:
        digests[ref] = inspect_digest(registry, ref, creds)
    with open(os.path.join(state, "moved-before"), "w", encoding="utf-8") as f:
        f.write(digests["org/app:moved"])
    push("v2", "org/app:moved")
    digests["org/app:moved"] = inspect_digest(registry, "org/app:moved", creds)
    digests["org/many"] = many
    return digests


def inspect_digest(registry, ref, creds):
    cmd = ["skopeo", "inspect", "--raw", "--tls-verify=false"]
    if creds:
        cmd += ["--creds", "%s:%s" % creds]
    raw = run(cmd + ["docker://%s/%s" % (registry, ref)]).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def blob_path(layout, digest):
    return os.path.join(layout, "blobs", *digest.split(":", 1))


def write_blob(layout, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(layout, digest), "wb") as f:
        f.write(data)
    return digest


def load_index(layout):
    with open(os.path.join(layout, "index.json"), encoding="utf-8") as f:
        return json.load(f)


def save_index(layout, index):
    with open(os.path.join(layout, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f)


def descriptor(index, tag):
    for d in index["manifests"]:
        if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return d
    raise KeyError(tag)


def set_variant(layout, tag, variant):
    """umoci has no --variant: set it in the config and rewrite the manifest over it."""
    index = load_index(layout)
    desc = descriptor(index, tag)
    with open(blob_path(layout, desc["digest"]), "rb") as f:
        manifest = json.load(f)
    with open(blob_path(layout, manifest["config"]["digest"]), "rb") as f:
        config = json.load(f)
    config["variant"] = variant
    data = json.dumps(config).encode()
    manifest["config"]["digest"] = write_blob(layout, data)
    manifest["config"]["size"] = len(data)
    data = json.dumps(manifest).encode()
    desc["digest"] = write_blob(layout, data)
    desc["size"] = len(data)
    save_index(layout, index)


def make_index(layout, tag, tags):
    """An image index of the images tagged TAGS, tagged TAG in the layout."""
    index = load_index(layout)
    children = []
    for t in tags:
        desc = dict(descriptor(index, t))
        with open(blob_path(layout, desc["digest"]), "rb") as f:
            manifest = json.load(f)
        with open(blob_path(layout, manifest["config"]["digest"]), "rb") as f:
            config = json.load(f)
        platform = {"architecture": config["architecture"], "os": config["os"]}
        if config.get("variant"):
            platform["variant"] = config["variant"]
        children.append({"mediaType": desc["mediaType"], "digest": desc["digest"],
                         "size": desc["size"], "platform": platform})
    data = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": children}).encode()
    index["manifests"].append({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": write_blob(layout, data), "size": len(data),
        "annotations": {"org.opencontainers.image.ref.name": tag},
    })
    save_index(layout, index)


def wait_listening(port, proc, what):
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit("%s exited with %s" % (what, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit("%s did not listen on %d" % (what, port))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--state", required=True)
    p.add_argument("--auth", choices=["htpasswd", "token", "none"], default="htpasswd")
    p.add_argument("--password", default="canary-pw-3f9a1c")
    p.add_argument("--seed")
    p.add_argument("--stdin-eof", action="store_true")
    args = p.parse_args()
    state = os.path.abspath(args.state)
    os.makedirs(state, exist_ok=True)
    cert, key = make_cert(state)
    port = free_port()
    data = os.path.join(state, "data")
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": data}, "delete": {"enabled": True}},
        "http": {"addr": "127.0.0.1:%d" % port, "tls": {"certificate": cert, "key": key}},
    }
    token_server = None
    if args.auth == "htpasswd":
        with open(os.path.join(state, "htpasswd"), "w", encoding="utf-8") as f:
            # cost 4: the registry checks the hash on every request
            f.write("%s:%s\n" % (USER, crypt.crypt(args.password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))))
        config["auth"] = {"htpasswd": {"realm": "rollout-test", "path": os.path.join(state, "htpasswd")}}
    elif args.auth == "token":
        der = ssl.PEM_cert_to_DER_cert(open(cert, encoding="utf-8").read())
        token_server = serve_https(
            TokenHandler, cert, key, password=args.password, key_path=key,
            log_path=os.path.join(state, "token.log"), cert_der=base64.b64encode(der).decode(),
        )
        tport = token_server.server_address[1]
        config["auth"] = {"token": {
            "realm": "https://127.0.0.1:%d/token" % tport, "service": SERVICE,
            "issuer": ISSUER, "rootcertbundle": cert,
        }}
    with open(os.path.join(state, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f)  # JSON is YAML: the registry reads it as its config.yml
    registry = subprocess.Popen(["docker-registry", "serve", os.path.join(state, "config.json")],
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(state, "registry.log"), "w"))

    def stop(*_):
        registry.terminate()
        try:
            registry.wait(5)
        except subprocess.TimeoutExpired:
            registry.kill()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    wait_listening(port, registry, "docker-registry")
    creds = (USER, args.password) if args.auth != "none" else None
    try:
        seed = json.load(open(args.seed, encoding="utf-8")) if args.seed else []
        digests = build_images(state, port, creds, seed)
    except subprocess.CalledProcessError as e:
        sys.stderr.write("seeding failed: %s\n%s\n" % (e.cmd, e.stderr.decode(errors="replace")))
        stop()
    with open(os.path.join(state, "digests.json"), "w", encoding="utf-8") as f:
        json.dump(digests, f, indent=1)
    front = serve_https(FrontHandler, cert, key, upstream_port=port,
                        faults_path=os.path.join(state, "front-faults"),
                        log_path=os.path.join(state, "front.log"))
    with open(os.path.join(state, "front-port"), "w", encoding="utf-8") as f:
        f.write(str(front.server_address[1]))
    if token_server is not None:
        with open(os.path.join(state, "token-port.tmp"), "w", encoding="utf-8") as f:
            f.write(str(token_server.server_address[1]))
        os.replace(os.path.join(state, "token-port.tmp"), os.path.join(state, "token-port"))
    with open(os.path.join(state, "port.tmp"), "w", encoding="utf-8") as f:
        f.write(str(port))
    os.replace(os.path.join(state, "port.tmp"), os.path.join(state, "port"))
    if args.stdin_eof:
        threading.Thread(target=lambda: (sys.stdin.read(), stop()), daemon=True).start()
    while True:
        if registry.poll() is not None:
            sys.exit("docker-registry exited with %s" % registry.returncode)
        time.sleep(0.2)


if __name__ == "__main__":
    main()

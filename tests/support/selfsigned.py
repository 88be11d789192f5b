"""A self-signed certificate for the loopback test servers (127.0.0.1 and localhost).

Shared by git_https_server.py and health_server.py, which import it from their own
directory. Made with the openssl command (installed by tests/support/ensure-deps.sh).
"""

import os
import subprocess


def make_cert(state):
    """Write STATE/cert.pem and STATE/key.pem unless present; return their paths."""
    cert = os.path.join(state, "cert.pem")
    key = os.path.join(state, "key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key, "-out", cert, "-days", "3650",
                "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ],
            check=True,
            capture_output=True,
        )
    return cert, key

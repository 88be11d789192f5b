# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
flux_remote
example_env GITHUB_SHA a1b2c3d4e5f60718293a4b5c6d7e8f9012345678
example_env DIGEST "$(digest_of 7)"
substitute "https://git.example.com/org/flux.git --workdir /tmp/flux" \
  "file://$PWD/flux.git --workdir $PWD/tmp-flux"
# github.com over SSH: a real sshd on 127.0.0.1 serving flux.git, the deploy key in
# ~/.ssh/flux_deploy, its host key in the pinned .github/known_hosts (by ssh-keyscan)
mkdir -p .sshd "$HOME/.ssh" .github
ssh-keygen -q -t ed25519 -N '' -f .sshd/host_ed25519
ssh-keygen -q -t ed25519 -N '' -f "$HOME/.ssh/flux_deploy"
cp "$HOME/.ssh/flux_deploy.pub" .sshd/authorized_keys
cat > .sshd/config <<CONF
ListenAddress 127.0.0.1
HostKey $PWD/.sshd/host_ed25519
AuthorizedKeysFile $PWD/.sshd/authorized_keys
PidFile $PWD/.sshd/sshd.pid
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
CONF
[ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/sbin/sshd -D -e -p "$port" -f "$PWD/.sshd/config" > /dev/null 2> .sshd/log &
echo $! >> .pids
for _ in $(seq 100); do ssh-keyscan -t ed25519 -p "$port" 127.0.0.1 > .github/known_hosts 2>/dev/null && [ -s .github/known_hosts ] && break; sleep 0.05; done
[ -s .github/known_hosts ] || { cat .sshd/log >&2; exit 1; }
substitute "git@github.com:org/flux.git --workdir /tmp/flux" \
  "ssh://$(id -un)@127.0.0.1:$port$PWD/flux.git --workdir $PWD/tmp-flux-ssh"

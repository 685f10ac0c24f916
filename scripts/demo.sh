#!/usr/bin/env bash
# banjo's main job on its built-in defaults, on a fresh Debian/Ubuntu machine (as root).
#
# - Where journald runs (a normal systemd host): follows the system journal with
#   `banjo run`, in dry-run mode (decides and reports, touches no firewall) unless
#   BANJO_REAL_BANS=1 is set.
# - Where no journald runs (a container, CI): builds a throwaway world instead — a
#   private journald and network namespace — replays an ssh brute force from a
#   TEST-NET address into that journal, lets `banjo run` ban it in the namespace's
#   firewall, prints `banjo status` and the kernel rule, and tears it all down.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "${BANJO_DEMO_INSIDE:-}" != 1 ]; then
  bash scripts/deps.sh
  export PATH="$HOME/.cargo/bin:$PATH"
  echo "==> building banjo (release)"
  cargo build --release --locked -q
  if [ -S /run/systemd/journal/socket ] && [ "$(ps -p 1 -o comm=)" = systemd ]; then
    mode=--dry-run
    [ "${BANJO_REAL_BANS:-}" = 1 ] && mode=
    echo "==> journald is running: following the system journal (banjo run $mode)"
    echo "    built-in defaults: sshd (5 failures in 10m -> 1h, growing for repeat offenders) and recidive"
    echo "    in another terminal: target/release/banjo status   |   journalctl SYSLOG_IDENTIFIER=banjo -f"
    exec target/release/banjo run $mode
  fi
  echo "==> no journald here: running the demo in private mount + network namespaces"
  exec unshare --mount --net --propagation private env BANJO_DEMO_INSIDE=1 bash "$0"
fi

# ---- inside the throwaway namespaces -------------------------------------------
banjo="$root/target/release/banjo"
work=$(mktemp -d)
cleanup() {
  [ -n "${banjo_pid:-}" ] && kill "$banjo_pid" 2>/dev/null || true
  [ -n "${journald_pid:-}" ] && kill "$journald_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for d in /run/systemd /run/log /var/log/journal; do
  mkdir -p "$d"
  mount -t tmpfs tmpfs "$d"
done
mkdir -p /run/systemd/journal
ip link set lo up
/lib/systemd/systemd-journald >/dev/null 2>&1 &
journald_pid=$!
for _ in $(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
echo "==> private journald started"

# Built-in defaults: no --config (there is no /etc/banjo here), only private paths.
"$banjo" run --state-dir "$work" --socket "$work/banjo.sock" >"$work/banjo.log" 2>&1 &
banjo_pid=$!
for _ in $(seq 200); do [ -S "$work/banjo.sock" ] && break; sleep 0.05; done
sleep 0.3
echo "==> banjo run started (pid $banjo_pid)"
"$banjo" status --socket "$work/banjo.sock"

echo
echo "==> an ssh brute force from 203.0.113.50, logged as sshd into the journal"
python3 - <<'PY'
import socket, time
# journald records _COMM from the sending process: call ourselves sshd, stay alive.
open('/proc/self/comm', 'w').write('sshd')
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for user in ["root", "admin", "oracle", "test", "ubuntu", "pi"]:
    msg = f"Failed password for invalid user {user} from 203.0.113.50 port 52{len(user)}1 ssh2"
    s.sendto(f"MESSAGE={msg}\nSYSLOG_IDENTIFIER=sshd\nPRIORITY=6\n".encode(), "/run/systemd/journal/socket")
    print("   sshd:", msg)
    time.sleep(0.05)
time.sleep(0.5)
PY

for _ in $(seq 100); do
  ipset list banjo-sshd-4 2>/dev/null | grep -q '^203.0.113.50' && break
  sleep 0.05
done
echo
echo "==> banjo status"
"$banjo" status --socket "$work/banjo.sock"
echo
"$banjo" status sshd --socket "$work/banjo.sock"
echo
echo "==> the firewall (iptables -S, ipset list banjo-sshd-4)"
iptables -S | grep banjo
ipset list banjo-sshd-4 | sed -n '1,3p;/^Members/,$p'
echo
echo "==> what banjo wrote to the journal (journalctl SYSLOG_IDENTIFIER=banjo)"
journalctl -q --no-pager SYSLOG_IDENTIFIER=banjo -o short-iso | tail -5
echo
if ipset list banjo-sshd-4 | grep -q '^203.0.113.50'; then
  echo "==> OK: 203.0.113.50 is banned in the kernel. Tearing the namespaces down."
else
  echo "==> FAILED: no ban; banjo's log:" >&2
  cat "$work/banjo.log" >&2
  exit 1
fi

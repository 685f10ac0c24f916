#!/usr/bin/env bash
# The packaged banjo on the older systems users still run: install the .deb into a
# debootstrap chroot of each, start that system's own systemd-journald, and let its
# banjo ban an ssh brute force through that system's iptables and ipset. As root;
# called by scripts/package.sh after it has built the .deb.
#
#   sudo bash scripts/old-hosts.sh target/debian/banjo_0.1.0-1_amd64.deb
#
# - Ubuntu 20.04 (focal): glibc 2.31, systemd 245. No sd_journal_enumerate_available_data
#   (systemd 246): banjo must find that out at run time and say so.
# - Debian 11 (bullseye): glibc 2.31, systemd 247.
# RHEL/Alma/Rocky 8 (glibc 2.28, systemd 239) cannot be bootstrapped here (no dnf);
# scripts/package.sh checks that the binary asks no newer symbol of glibc or
# libsystemd than those.
#
# Everything runs in private mount and network namespaces: the chroot's journald and
# firewall vanish with them, and only TEST-NET addresses are used. The chroots are
# kept in target/old-hosts/ for the next run (remove the directory to rebuild them).
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(readlink -f "${1:?usage: old-hosts.sh BANJO.deb}")
[ "$(id -u)" = 0 ] || { echo "scripts/old-hosts.sh: run as root" >&2; exit 2; }
fail() { printf 'scripts/old-hosts.sh: FAILED: %s\n' "$*" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
for p in debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || apt-get install -y -qq --no-install-recommends "$p" >/dev/null || fail "cannot install $p"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Debian 12 ships no Ubuntu archive keyring. The keyring package is fetched from the
# Ubuntu archive and trusted by its hash, pinned here: debootstrap then checks the
# release files against it as usual.
ubuntu_keyring() {
  local deb_url=http://archive.ubuntu.com/ubuntu/pool/main/u/ubuntu-keyring/ubuntu-keyring_2020.02.11.4_all.deb
  local sha=2684fae16e90a9ff3cb4dc08a8af5bd9973d38763b60e5f458dea0b403a39788
  curl -fsS -m 60 -o "$work/ubuntu-keyring.deb" "$deb_url" || fail "cannot fetch $deb_url"
  echo "$sha  $work/ubuntu-keyring.deb" | sha256sum -c --quiet - || fail "ubuntu-keyring.deb does not have the pinned sha256"
  dpkg-deb -x "$work/ubuntu-keyring.deb" "$work/ukr"
  echo "$work/ukr/usr/share/keyrings/ubuntu-archive-keyring.gpg"
}

bootstrap() { # name suite mirror keyring
  local dir=target/old-hosts/$1
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"
    mkdir -p target/old-hosts
    echo "    debootstrap $2 from $3" >&2
    debootstrap --variant=minbase --keyring="$4" \
      --include=systemd,iptables,ipset,libsqlite3-0,libpcre2-8-0 \
      "$2" "$dir" "$3" >"$work/debootstrap-$1.log" 2>&1 \
      || { tail -20 "$work/debootstrap-$1.log" >&2; fail "debootstrap $2"; }
    touch "$dir/.complete"
  fi
  echo "$dir"
}

# The attack, inside fresh mount and network namespaces: the chroot's journald on a
# tmpfs /run, banjo from the package, five sshd failures sent to that journald by a
# root process named sshd (as sshd's monitor logs them), then the ban in the chroot's
# ipset.
attack() { # dir expect-fallback(0|1)
  unshare --mount --net --propagation private bash -euo pipefail -s "$1" "$2" <<'EOF'
root=$1 fallback=$2
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
# journald wants the cgroup tree (it reads senders' units from it).
mount --rbind /sys "$root/sys"
mount -t tmpfs tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/tmp"
mkdir -p "$root/run/systemd/journal" "$root/tmp/etc" "$root/tmp/state"
ip link set lo up
chroot "$root" /lib/systemd/systemd-journald </dev/null >"$root/tmp/journald.log" 2>&1 &
for _ in $(seq 200); do [ -S "$root/run/systemd/journal/socket" ] && break; sleep 0.05; done
[ -S "$root/run/systemd/journal/socket" ] || { echo "journald did not start" >&2; exit 1; }
cat >"$root/tmp/etc/banjo.toml" <<'CFG'
[jail.sshd]
enabled = true
maxretry = 3
port = ["ssh"]
CFG
chroot "$root" /usr/bin/banjo run --config /tmp/etc --state-dir /tmp/state \
  --socket /tmp/banjo.sock </dev/null >"$root/tmp/banjo.log" 2>&1 &
for _ in $(seq 200); do [ -S "$root/tmp/banjo.sock" ] && break; sleep 0.05; done
# READY: status answers once bans are restored and the reader is positioned.
for _ in $(seq 200); do chroot "$root" /usr/bin/banjo status --socket /tmp/banjo.sock >/dev/null 2>&1 && break; sleep 0.05; done
/usr/bin/python3 - "$root/run/systemd/journal/socket" <<'PY'
import socket, sys, time
open('/proc/self/comm', 'w').write('sshd')
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for _ in range(5):
    s.sendto(b"MESSAGE=Failed password for root from 203.0.113.50 port 4242 ssh2\nSYSLOG_IDENTIFIER=sshd\n", sys.argv[1])
time.sleep(1)
PY
ok=0
for _ in $(seq 100); do
  if chroot "$root" ipset list banjo-sshd-4 2>/dev/null | grep -qx '203.0.113.50 timeout [0-9]*'; then ok=1; break; fi
  sleep 0.05
done
status=$(chroot "$root" /usr/bin/banjo status sshd --socket /tmp/banjo.sock 2>&1 || true)
echo "$status" | sed 's/^/      /'
if [ $ok = 0 ]; then
  echo "--- banjo's log:" >&2; cat "$root/tmp/banjo.log" >&2
  echo "--- ipset:" >&2; chroot "$root" ipset list >&2 || true
  exit 1
fi
# Enforced, not only listed: INPUT jumps to the jail's chain (banjo picks the iptables
# flavour, legacy or nft, that the host's tables are in).
rules=$( { chroot "$root" iptables-legacy -S; chroot "$root" iptables-nft -S; } 2>/dev/null)
grep -q -- '-A INPUT .*-j banjo-sshd' <<<"$rules" || { echo "no jump to banjo-sshd in iptables:" >&2; echo "$rules" >&2; exit 1; }
# banjo logs to the journal when one runs: its own start-up lines, read back with
# that system's journalctl.
log=$(chroot "$root" journalctl -q -o cat _COMM=banjo 2>&1; cat "$root/tmp/banjo.log")
said=$(grep -c 'no sd_journal_enumerate_available_data' <<<"$log" || true)
if [ "$fallback" = 1 ] && [ "$said" = 0 ]; then
  echo "banjo did not say that it falls back to sd_journal_enumerate_data:" >&2; echo "$log" >&2; exit 1
fi
if [ "$fallback" = 0 ] && [ "$said" != 0 ]; then
  echo "banjo fell back to sd_journal_enumerate_data on a systemd >= 246:" >&2; echo "$log" >&2; exit 1
fi
pkill -f '/usr/bin/banjo run' || true
pkill -f systemd-journald || true
wait || true
EOF
}

check_host() { # name suite mirror keyring expect-fallback
  local dir glibc sd
  dir=$(bootstrap "$1" "$2" "$3" "$4")
  glibc=$(chroot "$dir" dpkg-query -W -f='${Version}' libc6)
  sd=$(chroot "$dir" dpkg-query -W -f='${Version}' libsystemd0)
  echo "    $1 ($2): libc6 $glibc, libsystemd0 $sd"
  cp "$deb" "$dir/banjo.deb"
  chroot "$dir" dpkg -i /banjo.deb >"$work/dpkg-$1.log" 2>&1 \
    || { cat "$work/dpkg-$1.log" >&2; fail "dpkg -i banjo.deb on $1"; }
  rm -f "$dir/banjo.deb"
  chroot "$dir" /usr/bin/banjo --version | sed 's/^/    installed: /'
  attack "$dir" "$5" || fail "the packaged banjo did not ban on $1"
  echo "    $1: banned 203.0.113.50 in its own ipset through its own journald"
  chroot "$dir" dpkg --purge banjo >/dev/null 2>&1 || fail "dpkg --purge banjo on $1"
}

check_host focal focal http://archive.ubuntu.com/ubuntu "$(ubuntu_keyring)" 1
check_host bullseye bullseye http://deb.debian.org/debian /usr/share/keyrings/debian-archive-keyring.gpg 0

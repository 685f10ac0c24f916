#!/usr/bin/env bash
# Install what building and testing banjo needs on Debian/Ubuntu (as root).
# Safe to run again: apt and cargo skip what is already there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
  build-essential pkg-config      # linking libsystemd, sqlite, pcre2
  libsystemd-dev                  # native journal reading
  libsqlite3-dev                  # daemon state
  libpcre2-dev                    # PCRE2-JIT fallback engine
  systemd systemd-journal-remote  # journald for tests; journal files from export format
  iptables ipset nftables iproute2 util-linux  # firewall and namespaces (unshare)
  fail2ban                        # reference: its test corpus and fail2ban-regex
  python3-systemd                 # fail2ban's backend=systemd (the benchmarks read journals with it)
  zsh fish                        # tests/completions.rs runs the shipped completions in their shells
  openssh-server                  # tests/daemon_netns.rs: a real sshd attacked from a peer namespace
  python3-prometheus-client       # tests/metrics_netns.rs: Prometheus's text parser (Python client)
  prometheus                      # tests/metrics_netns.rs: promtool check metrics (its linter); ~19 MB
  ca-certificates curl
)
missing=()
for p in "${pkgs[@]}"; do
  case "$p" in \#*) continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  # Install, never start: openssh-server (and fail2ban) would otherwise be started on
  # the host by their maintainer scripts where no systemd runs. The tests start their
  # own copies inside namespaces.
  no_start=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    no_start=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$no_start" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    apt-get install -y -qq --no-install-recommends cargo rustc >/dev/null
  fi
fi

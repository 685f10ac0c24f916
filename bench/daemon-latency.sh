#!/bin/bash
# Usage: bench/daemon-latency.sh
#
# The daemons under load, banjo and fail2ban-server on the same private world:
# inside `unshare --mount --net --propagation private` (nothing leaks to the host; all
# addresses from the 198.18.0.0/15 benchmark range) a systemd-journald on tmpfs, a fake
# sshd (bench/daemon_bench.py send: comm "sshd", native-protocol datagrams), and
#   1. banjo run (one sshd jail, maxretry 1, firewall iptables+ipset): idle RSS/CPU,
#      also while the journal carries one unrelated entry per second;
#      ban latency at RATE failures/s for SECS s (twice: from banjo's ban entries in the
#      journal with nothing else running, then with a kernel poller on the ipset);
#      idle again holding the bans;
#   2. BURST failures written while banjo is stopped, then the time from its start
#      until all BURST addresses are in the kernel set;
#   3. fail2ban-server -f (backend = systemd, maxretry 1, banaction iptables-ipset):
#      idle RSS/CPU, ban latency at the same rate (capped at CAP s).
#
#   Each failure of a latency run follows a TCP connection to 127.0.0.1:22, as a real
#   sshd's do (the connection comes first, the failure is logged right after it; no
#   key exchange or PAM delay in between): banjo's wake rule sees the connection.
#   CONNECT=0 sends the failures alone, to see the daemon without that wake-up.
#   Before each high-rate run: LOW_RATE failures/s for LOW_SECS s (the daemon idle
#   between failures: shows the wake-up latency, see RESULTS.md). Every latency run
#   starts after 5 quiet seconds, so each begins with an idle daemon as an attack
#   would; percentiles are also given for failures sent >= 1 s into the run.
#   Inside the namespace net.unix.max_dgram_qlen is set to 512, as systemd does at boot
#   (a new network namespace starts at the kernel's 10).
#
# Environment: RATE=1000 SECS=10 CAP=60 BURST=100000 (0 skips it) LOW_RATE=5 (0 skips
#              it) LOW_SECS=10, SKIP_FAIL2BAN=1, BURST_ONLY=1 (only stage 2),
#              BURST_PERF=FILE (perf record -a -g during stage 2, until all are in the set;
#              BURST_PERF_DWARF=1: banjo only, DWARF call graphs), NO_BUILD=1 (skip cargo build --release),
#              KEEP=1 (keep the work dir with the daemons' logs).
#              FIREWALL=nftables (with BURST_ONLY=1: the burst through the nftables
#              backend, table inet banjo; the set is polled with `nft get element`).
#              BANJO=PATH (another banjo binary, e.g. a build of main to compare; implies NO_BUILD=1).
# Output: the log on stdout; bench/out/daemon-latency.json with every number.
# Needs root, util-linux unshare, systemd-journald, iptables, ipset, fail2ban.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
banjo=${BANJO:-$root/target/release/banjo}

[ "$(id -u)" = 0 ] || { echo "$0: needs root (namespaces, journald, iptables)" >&2; exit 1; }
for tool in unshare ipset iptables /lib/systemd/systemd-journald /usr/bin/fail2ban-server; do
    command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 1; }
done

echo "### machine: $(nproc) cores; $(uptime | sed 's/^ *//')"
# CPU time the hypervisor gave to other guests ("steal" in /proc/stat): on a shared
# machine it explains a slow run that the load average does not.
steal() { awk '/^cpu /{print $9}' /proc/stat; }
steal0=$(steal) t0=$(date +%s)
if [ -z "${NO_BUILD:-}" ] && [ -z "${BANJO:-}" ]; then
    echo "### cargo build --release"
    (cd "$root" && cargo build --release 2>&1 | tail -n 3)
fi
[ -x "$banjo" ] || { echo "$0: no $banjo" >&2; exit 1; }
echo "banjo: $banjo: $($banjo --version), binary built $(date -r "$banjo" "+%F %T"); tree: $(git -C "$root" log -1 --format="%h %cd" --date=format:"%F %T" 2>/dev/null) + $(git -C "$root" status --porcelain 2>/dev/null | wc -l) changed files${BANJO:+ (tree of the bench scripts, not of \$BANJO)}"

work=$(mktemp -d /tmp/banjo-daemon-bench.XXXXXX)
mkdir -p "$here/out"
[ -n "${KEEP:-}" ] && echo "work dir kept: $work" || trap 'rm -rf "$work"' EXIT
args=(--banjo "$banjo" --work "$work" --rate "${RATE:-1000}" --secs "${SECS:-10}"
      --cap "${CAP:-60}" --burst "${BURST:-100000}" --low-rate "${LOW_RATE:-5}"
      --low-secs "${LOW_SECS:-10}")
[ -n "${SKIP_FAIL2BAN:-}" ] && args+=(--skip-fail2ban)
[ -n "${BURST_ONLY:-}" ] && args+=(--burst-only)
[ -n "${FIREWALL:-}" ] && args+=(--firewall "$FIREWALL")
[ "${CONNECT:-1}" = 0 ] && args+=(--no-connect)

# Everything below lives in new mount and network namespaces: journald's tmpfs, the
# iptables rules and ipsets vanish with them. The driver kills what it started.
BANJO_BENCH_NS=1 unshare --mount --net --propagation private -- \
    /usr/bin/python3 "$here/daemon_bench.py" run "${args[@]}"
cp "$work/results.json" "$here/out/daemon-latency.json"
echo "### load after the run: $(uptime | sed 's/^ *//')"
echo "### CPU stolen by the hypervisor during the run: $(( ($(steal) - steal0) / $(getconf CLK_TCK) )) s of $(( ($(date +%s) - t0) * $(nproc) )) core-seconds"
echo "numbers: $here/out/daemon-latency.json"

#!/bin/bash
# Usage: bench/escalation.sh
#
# Subnet escalation against a spray: NETS x PER_NET failures (default 400 /24s x 250
# addresses = 100,000, one failure each, maxretry 1) written to a private journald
# while banjo is stopped, then `banjo run`, with escalation off and on
# (escalate_after = AFTER), for each backend in FIREWALLS. Prints the time to READY=1
# (the backlog is in the kernel by then) and to banjo's last journal entry, banjo's
# CPU time, and the kernel elements, state rows and journal entries it ends with.
# Everything runs inside `unshare --mount --net --propagation private` (nothing leaks
# to the host; addresses from the 198.18.0.0/15 benchmark range).
#
# Environment: NETS=400 PER_NET=250 AFTER=5 FIREWALLS=iptables,nftables,
#              NO_BUILD=1 (skip cargo build --release), BANJO=PATH (another binary),
#              KEEP=1 (keep the work dir with banjo's logs).
# Output: the log on stdout; bench/out/escalation.json with every number.
# Needs root, util-linux unshare, systemd-journald, iptables, ipset, nft.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
banjo=${BANJO:-${CARGO_TARGET_DIR:-$root/target}/release/banjo}

[ "$(id -u)" = 0 ] || { echo "$0: needs root (namespaces, journald, iptables)" >&2; exit 1; }
for tool in unshare ipset iptables nft /lib/systemd/systemd-journald; do
    command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 1; }
done
echo "### machine: $(nproc) cores; $(uptime | sed 's/^ *//')"
if [ -z "${NO_BUILD:-}" ] && [ -z "${BANJO:-}" ]; then
    echo "### cargo build --release"
    (cd "$root" && cargo build --release 2>&1 | tail -n 3)
fi
[ -x "$banjo" ] || { echo "$0: no $banjo" >&2; exit 1; }
echo "banjo: $banjo: $($banjo --version), binary built $(date -r "$banjo" "+%F %T"); tree: $(git -C "$root" log -1 --format="%h" 2>/dev/null) + $(git -C "$root" status --porcelain 2>/dev/null | wc -l) changed files"

work=$(mktemp -d /tmp/banjo-escalation-bench.XXXXXX)
mkdir -p "$here/out"
[ -n "${KEEP:-}" ] && echo "work dir kept: $work" || trap 'rm -rf "$work"' EXIT
BANJO_BENCH_NS=1 unshare --mount --net --propagation private -- \
    /usr/bin/python3 "$here/escalation_bench.py" run --banjo "$banjo" --work "$work" \
    --nets "${NETS:-400}" --per-net "${PER_NET:-250}" --after "${AFTER:-5}" \
    --firewalls "${FIREWALLS:-iptables,nftables}"
cp "$work/results.json" "$here/out/escalation.json"
echo "### load after the run: $(uptime | sed 's/^ *//')"
echo "numbers: $here/out/escalation.json"

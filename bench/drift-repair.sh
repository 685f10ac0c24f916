#!/bin/bash
# Usage: bench/drift-repair.sh [--bans N] [--reps N]
#
# How long banjo takes to repair its firewall after another tool flushed it, per kind
# of flush and backend (iptables + ipset, nftables): in a private world (`unshare
# --mount --net`: a systemd-journald on tmpfs, the namespace's own empty firewall)
# banjo runs one jail holding --bans bans (default 1000); each kind of flush is run
# --reps times (default 5), and the time is from just before the flush to journald's
# timestamp of banjo's "firewall repaired" entry (written once the kernel was listed
# and holds every ban again). nf_tables announces its changes, so those repairs start
# at once; an ipset flush is found by the periodic glance ([daemon] drift_check, 1 s).
#
# Environment: NO_BUILD=1 (skip cargo build --release), BANJO=PATH (measure that
# binary; implies NO_BUILD), KEEP=1 (keep the work dir).
# Output: the log on stdout; bench/out/drift-repair.json with every number.
# Needs root, util-linux unshare, systemd-journald, iptables, ipset, nft.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
banjo=${BANJO:-$root/target/release/banjo}
[ -n "${BANJO:-}" ] && NO_BUILD=1

[ "$(id -u)" = 0 ] || { echo "$0: needs root (namespaces, journald, iptables)" >&2; exit 1; }
for tool in unshare ipset iptables nft /lib/systemd/systemd-journald; do
    command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 1; }
done
if [ -z "${NO_BUILD:-}" ]; then
    echo "### cargo build --release"
    (cd "$root" && cargo build --release 2>&1 | tail -n 3)
fi
[ -x "$banjo" ] || { echo "$0: no $banjo" >&2; exit 1; }
echo "banjo: $($banjo --version); tree: $(git -C "$root" log -1 --format="%h %cd" --date=format:"%F %T" 2>/dev/null) + $(git -C "$root" status --porcelain 2>/dev/null | wc -l) changed files"

work=$(mktemp -d /tmp/banjo-drift-repair.XXXXXX)
mkdir -p "$here/out"
[ -n "${KEEP:-}" ] && echo "work dir kept: $work" || trap 'rm -rf "$work"' EXIT
BANJO_BENCH_NS=1 unshare --mount --net --propagation private -- \
    /usr/bin/python3 "$here/drift_bench.py" --banjo "$banjo" --work "$work" "$@"
cp "$work/results.json" "$here/out/drift-repair.json"
echo "numbers: $here/out/drift-repair.json"

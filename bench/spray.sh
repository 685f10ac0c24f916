#!/bin/bash
# Usage: bench/spray.sh
#
# The spray of issue #15 (defect 7): failures below maxretry from distinct IPv6 /64s,
# against this tree's banjo and a build of OLD (default: main) in one run, on the same
# private world (bench/spray.py, inside `unshare --mount --net --propagation private`:
# a systemd-journald on tmpfs, the namespace's empty firewall). For each binary:
#   A. RSS (VmRSS, RssAnon, VmHWM) and `banjo status` time against the number of
#      distinct addresses sprayed (checkpoints up to MAX), two concurrent brute forces
#      that must still be banned (their ban latency), and a restart's warm-up;
#   B. QUIET_N windows, then 45 s with nothing: the memory still held once they expired.
#
# Environment: MAX=1000000, CHECKPOINTS=50000,100000,200000,500000,1000000, QUIET_N=200000,
#              OLD=main (a commit or branch: extracted with git archive and built with
#              cargo build --release under bench/data/old-<commit>/, reused next time),
#              OLD_BANJO=PATH (use this binary as the old one instead),
#              FIREWALL=iptables|nftables|dry-run, NO_BUILD=1 (skip building this tree),
#              KEEP=1 (keep the work dir with the daemons' logs).
# Output: the log on stdout; bench/out/spray.json with every number.
# Needs root, util-linux unshare, systemd-journald, iptables, ipset; ~2 GB of free
# memory at MAX=1000000 (journald's tmpfs and the old build's windows).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
[ "$(id -u)" = 0 ] || { echo "$0: needs root (namespaces, journald, iptables)" >&2; exit 1; }

echo "### machine: $(nproc) cores; $(uptime | sed 's/^ *//')"
steal() { awk '/^cpu /{print $9}' /proc/stat; }
steal0=$(steal) t0=$(date +%s)
if [ -z "${NO_BUILD:-}" ]; then
    echo "### cargo build --release (this tree)"
    (cd "$root" && cargo build --release 2>&1 | tail -n 3)
fi
new=$root/target/release/banjo
if [ -n "${OLD_BANJO:-}" ]; then
    old=$OLD_BANJO
else
    rev=$(git -C "$root" rev-parse --short "${OLD:-main}")
    src=$here/data/old-$rev
    old=$src/target/release/banjo
    if [ ! -x "$old" ]; then
        echo "### cargo build --release of ${OLD:-main} ($rev) in $src"
        rm -rf "$src" && mkdir -p "$src"
        git -C "$root" archive "$rev" | tar -x -C "$src"
        (cd "$src" && cargo build --release 2>&1 | tail -n 3)
    fi
fi
for b in "$old" "$new"; do
    [ -x "$b" ] || { echo "$0: no $b" >&2; exit 1; }
    echo "binary: $b, built $(date -r "$b" "+%F %T")"
done
echo "this tree: $(git -C "$root" log -1 --format="%h %cd" --date=format:"%F %T") + $(git -C "$root" status --porcelain | wc -l) changed files"

work=$(mktemp -d /tmp/banjo-spray.XXXXXX)
mkdir -p "$here/out"
[ -n "${KEEP:-}" ] && echo "work dir kept: $work" || trap 'rm -rf "$work"' EXIT
BANJO_BENCH_NS=1 unshare --mount --net --propagation private -- \
    /usr/bin/python3 "$here/spray.py" run --banjo "old=$old" --banjo "new=$new" --work "$work" \
    --max "${MAX:-1000000}" --checkpoints "${CHECKPOINTS:-50000,100000,200000,500000,1000000}" \
    --quiet-n "${QUIET_N:-200000}" --firewall "${FIREWALL:-iptables}"
cp "$work/results.json" "$here/out/spray.json"
echo "### load after the run: $(uptime | sed 's/^ *//')"
echo "### CPU stolen by the hypervisor during the run: $(( ($(steal) - steal0) / $(getconf CLK_TCK) )) s of $(( ($(date +%s) - t0) * $(nproc) )) core-seconds"
echo "numbers: $here/out/spray.json"

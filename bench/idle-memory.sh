#!/bin/bash
# Usage: bench/idle-memory.sh [--config FILE] [--runs N] [--bans N] [--history DIR] [--metrics] [--verbose]
#
# Resident memory of an idle `banjo run`, the way an operator would see it: in a private
# world (`unshare --mount --net`: a systemd-journald on tmpfs, the namespace's own empty
# iptables/ipset) banjo runs the built-in configuration (sshd + recidive, or --config
# FILE); per run (default 3, each with a fresh journal and state):
#   1. 5 s after READY=1: VmRSS = anon + file + shmem, VmHWM, threads, idle CPU over 10 s;
#   2. after a small burst (--bans addresses, 5 failures each from a fake sshd: that many
#      bans, their ban entries read back by recidive) and 5 s of quiet: the same again.
# The first run also prints the /proc/PID/smaps breakdown by mapping (--verbose: every run).
# --history DIR (e.g. bench/data/journal-n1000000-s1, from bench/make-journal.sh): its
# archived journal files become the world's persistent journal before journald starts,
# as on a host with weeks of logs; banjo's first start seeks past all of them.
# --metrics: with [metrics] listen (127.0.0.1:9191) and a textfile; one scrape after
# READY, 100 after the burst (their CPU cost), and a third idle sample after those.
# Both numbers count: (1) is what a quiet host pays, (2) is what it pays once banjo has
# done its job once — pages touched by banning (ipset/iptables children, SQLite writes,
# the journal writer) stay resident.
#
# Environment: NO_BUILD=1 (skip cargo build --release), BANJO=PATH (measure that binary
# instead of target/release/banjo, e.g. one built with another profile; implies NO_BUILD),
# KEEP=1 (keep the work dir),
# RESIDENT_CODE=1 (with each breakdown, bench/resident-code.py: the binary's resident
# pages by ELF section and its resident .text by crate).
# Output: the log on stdout; bench/out/idle-memory.json with every number.
# Needs root, util-linux unshare, systemd-journald, iptables, ipset.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
banjo=${BANJO:-$root/target/release/banjo}
[ -n "${BANJO:-}" ] && NO_BUILD=1

[ "$(id -u)" = 0 ] || { echo "$0: needs root (namespaces, journald, iptables)" >&2; exit 1; }
for tool in unshare ipset iptables /lib/systemd/systemd-journald; do
    command -v "$tool" >/dev/null || { echo "$0: needs $tool" >&2; exit 1; }
done
if [ -z "${NO_BUILD:-}" ]; then
    echo "### cargo build --release"
    (cd "$root" && cargo build --release 2>&1 | tail -n 3)
fi
[ -x "$banjo" ] || { echo "$0: no $banjo" >&2; exit 1; }
echo "banjo: $($banjo --version), binary $(stat -c %s "$banjo") bytes, built $(date -r "$banjo" "+%F %T"); tree: $(git -C "$root" log -1 --format="%h %cd" --date=format:"%F %T" 2>/dev/null) + $(git -C "$root" status --porcelain 2>/dev/null | wc -l) changed files"

work=$(mktemp -d /tmp/banjo-idle-memory.XXXXXX)
mkdir -p "$here/out"
[ -n "${KEEP:-}" ] && echo "work dir kept: $work" || trap 'rm -rf "$work"' EXIT
BANJO_BENCH_NS=1 unshare --mount --net --propagation private -- \
    /usr/bin/python3 "$here/daemon_bench.py" idle --banjo "$banjo" --work "$work" "$@"
cp "$work/results.json" "$here/out/idle-memory.json"
echo "numbers: $here/out/idle-memory.json"

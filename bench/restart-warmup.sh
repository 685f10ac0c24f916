#!/bin/bash
# Usage: bench/restart-warmup.sh [--runs N] [--entries N]
#
# What a restart costs: a journal of --entries (default 100,000) entries of synthetic
# host traffic spread over the last two days (bench/gen-traffic.py, ~60% sshd), the
# built-in-like config sshd (findtime 10m) + recidive (findtime 1d). Per run: a first
# `banjo run --dry-run --journal-dir` from 15 minutes ago (saves its cursor at the
# journal's end), stopped; then a restart, timed from spawn to its "banjo started"
# line (READY=1), and sshd's "total failed" after it (what warm-up counted again).
#
# Reference: BANJO_REF=PATH, another build (e.g. the one before per-jail warm-up),
# measured in the same run and printed beside it with the ratio.
# Environment: BANJO=PATH (the build measured; default target/release/banjo, built
# unless NO_BUILD=1), BANJO_REF=PATH, KEEP=1 (keep the work dir).
# No root needed: dry-run firewall, journal files, state and socket in a temp dir.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
banjo=${BANJO:-$root/target/release/banjo}
[ -n "${BANJO:-}" ] && NO_BUILD=1
runs=3
entries=100000
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --entries) entries=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--entries N]" >&2; exit 2 ;;
    esac
done
if [ -z "${NO_BUILD:-}" ]; then
    echo "### cargo build --release"
    (cd "$root" && cargo build --release 2>&1 | tail -n 3)
fi

work=$(mktemp -d /tmp/banjo-restart.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work/etc" "$work/journal"
cat >"$work/etc/banjo.toml" <<'EOF'
[defaults]
ignoreip = ["127.0.0.0/8", "::1"]
[jail.sshd]
enabled = true
findtime = "10m"
[jail.recidive]
enabled = true
findtime = "1d"
EOF
now=$(date +%s)
rate=$(awk "BEGIN { printf \"%.4f\", $entries / (2 * 86400) }")
echo "### $entries entries over the last 2 days ($rate/s)"
"$here/gen-traffic.py" --entries "$entries" --start $((now - 2 * 86400)) --rate "$rate" --out - |
    /lib/systemd/systemd-journal-remote --output="$work/journal/system.journal" - 2>/dev/null

failed() { # binary socket -> sshd's total failed
    "$1" status sshd --socket "$2" --json |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["total_failed"])'
}

# One run of binary $1: prints "seconds total_failed".
measure() {
    local b=$1 st="$work/state" sock="$work/banjo.sock" log="$work/run.log" pid t0 t1 n
    rm -rf "$st"; mkdir -p "$st"
    # A fresh log each time: the wait below must not see an earlier run's line.
    : >"$log"
    "$b" run --config "$work/etc" --state-dir "$st" --socket "$sock" --dry-run \
        --journal-dir "$work/journal" --since "@$(( $(date +%s) - 900 ))" >>"$log" 2>&1 &
    pid=$!
    until grep -q "banjo started" "$log"; do sleep 0.01; done
    kill "$pid"; wait "$pid" || true
    : >"$log"
    t0=$(date +%s.%N)
    "$b" run --config "$work/etc" --state-dir "$st" --socket "$sock" --dry-run \
        --journal-dir "$work/journal" >>"$log" 2>&1 &
    pid=$!
    until grep -q "banjo started" "$log"; do sleep 0.005; done
    t1=$(date +%s.%N)
    n=$(failed "$b" "$sock")
    kill "$pid"; wait "$pid" || true
    echo "$(awk "BEGIN { printf \"%.3f\", $t1 - $t0 }") $n"
}

printf '%-6s %-14s %-14s %-14s %-14s\n' run "restart s" "total failed" "ref restart s" "ref failed"
for r in $(seq 1 "$runs"); do
    read -r s n < <(measure "$banjo")
    if [ -n "${BANJO_REF:-}" ]; then
        read -r rs rn < <(measure "$BANJO_REF")
    else
        rs=- rn=-
    fi
    printf '%-6s %-14s %-14s %-14s %-14s\n' "$r" "$s" "$n" "$rs" "$rn"
done

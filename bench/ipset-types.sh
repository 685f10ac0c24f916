#!/bin/bash
# Usage: bench/ipset-types.sh [N] [RUNS]
#
# The IPv4 set type of the iptables backend, measured: N (default 100000) single
# addresses added with one `ipset restore` (with the set's own `create … -exist` line
# first, as banjo writes its scripts) into a `hash:ip` set (what banjo used before it
# held networks) and into a `hash:net` set (what it uses now), RUNS times each (default
# 3), and the kernel's "Size in memory" afterwards; then the same hash:net set with
# 1,000 /24 networks beside the N addresses (two prefix lengths: what a lookup walks).
# In a private network namespace; the host's sets are never touched.
set -euo pipefail
n=${1:-100000}
runs=${2:-3}
[ "$(id -u)" = 0 ] || { echo "$0: needs root (unshare --net, ipset)" >&2; exit 1; }
work=$(mktemp -d /tmp/banjo-ipset-types.XXXXXX)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$n" > "$work/adds" <<'PY'
import ipaddress, sys
base = int(ipaddress.ip_address("198.18.0.0"))
for i in range(int(sys.argv[1])):
    print(f"add S {ipaddress.ip_address(base + i)} timeout 3600")
PY
/usr/bin/python3 - > "$work/nets" <<'PY'
for i in range(1000):
    print(f"add S 10.{i // 256}.{i % 256}.0/24 timeout 3600")
PY
unshare --net -- bash -s "$work" "$n" "$runs" <<'SH'
set -euo pipefail
work=$1; n=$2; runs=$3
params="family inet timeout 0 maxelem 1048576"
for t in hash:ip hash:net; do
    for r in $(seq "$runs"); do
        ipset create S $t $params
        { echo "create S $t $params"; cat "$work/adds"; } > "$work/script"
        s=$(date +%s%N); ipset restore -exist < "$work/script"; e=$(date +%s%N)
        mem=$(ipset list -t S | sed -n 's/^Size in memory: //p')
        echo "$t: $n adds in $(( (e - s) / 1000000 )) ms, $mem bytes in the kernel (run $r)"
        ipset destroy S
    done
done
ipset create S hash:net $params
{ echo "create S hash:net $params"; cat "$work/adds" "$work/nets"; } > "$work/script"
s=$(date +%s%N); ipset restore -exist < "$work/script"; e=$(date +%s%N)
echo "hash:net: $n adds + 1000 /24s in $(( (e - s) / 1000000 )) ms, $(ipset list -t S | sed -n 's/^Size in memory: //p') bytes"
SH

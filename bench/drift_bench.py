#!/usr/bin/python3
"""Driver of bench/drift-repair.sh; runs inside `unshare --mount --net`.

    drift_bench.py --banjo BIN --work DIR [--bans 1000] [--reps 5]

Per backend (iptables + ipset, nftables) a private world: systemd-journald on tmpfs,
the namespace's empty firewall, `banjo run` with one jail (sshd, maxretry 1) holding
BANS bans from a backlog. Then, per kind of flush, REPS times: run the flush, and take
the time from just before it to journald's timestamp of banjo's "firewall repaired"
entry, which banjo writes once it listed the kernel and found every ban back. The
kernel's set is counted after each repair. Standard library only; reuses the world of
daemon_bench.py.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_bench import Banjo, World, ipset_count, note, nft_count, sh, stage  # noqa: E402

MSGID_REPAIRED = "b004fbf9ba504032bd7b91cb3259ca05"

CONFIG = """
[defaults]
ignoreip = ["127.0.0.0/8", "::1"]
[jail.sshd]
enabled = true
maxretry = 1
bantime = "1d"
bantime_increment = false
port = ["ssh"]
[jail.recidive]
enabled = false
"""

KINDS = {
    "iptables": [
        ("iptables -F", "iptables -F"),
        ("iptables -F INPUT", "iptables -F INPUT"),
        ("iptables-restore without banjo's rules", "iptables-restore < {work}/host-rules"),
        ("ipset flush (found by the 1 s glance)", "ipset flush banjo-sshd-4"),
        ("nft flush ruleset", "nft flush ruleset"),
    ],
    "nftables": [
        ("nft flush ruleset", "nft flush ruleset"),
        ("nft delete table inet banjo", "nft delete table inet banjo"),
        ("nft flush set", "nft flush set inet banjo banjo-sshd-4"),
        ("nft flush chain", "nft flush chain inet banjo banjo-sshd"),
    ],
}


def repairs():
    """Journal timestamps (ns) of banjo's repair entries, oldest first."""
    out = sh(f"journalctl -q -o json MESSAGE_ID={MSGID_REPAIRED} BANJO_JAIL=sshd "
             "--output-fields=__REALTIME_TIMESTAMP", check=False)
    return sorted(int(json.loads(l)["__REALTIME_TIMESTAMP"]) * 1000 for l in out.splitlines() if l)


def count(backend):
    return ipset_count("banjo-sshd-4") if backend == "iptables" else nft_count("banjo-sshd-4")


def run_backend(a, world, backend):
    stage(f"{backend}: {a.bans} bans, then each kind of flush {a.reps} times")
    world.fresh_journald()
    cfg = CONFIG + ("" if backend == "iptables" else '[daemon]\nfirewall = "nftables"\n')
    b = Banjo(world, a.banjo, f"drift-{backend}", cfg)
    b.start()
    b.stop()
    p, out = world.sender("198.18.0.1", a.bans, 0, f"drift-{backend}")
    World.sender_done(p, out)
    world.release(p)
    b.start()
    deadline = time.monotonic() + 30
    while count(backend) < a.bans and time.monotonic() < deadline:
        time.sleep(0.1)
    note(f"{count(backend)} of {a.bans} bans in the kernel")
    if backend == "iptables":
        sh(f"iptables -A INPUT -p tcp --dport 80 -j ACCEPT && iptables-save | grep -v banjo > {a.work}/host-rules")
    results = {}
    for what, cmd in KINDS[backend]:
        times = []
        for _ in range(a.reps):
            before = len(repairs())
            t0 = time.time_ns()
            sh(cmd.format(work=a.work), check=False)
            deadline = time.monotonic() + 10
            got = repairs()
            while len(got) <= before and time.monotonic() < deadline:
                time.sleep(0.05)
                got = repairs()
            if len(got) <= before:
                note(f"{what}: no repair within 10 s")
                continue
            times.append((got[before] - t0) / 1e6)
            held = count(backend)
            if held < a.bans:
                note(f"{what}: {held} of {a.bans} bans in the kernel after the repair")
            time.sleep(0.3)
        results[what] = times
        if times:
            note(f"{what}: repaired after {statistics.median(times):.1f} ms median, "
                 f"{min(times):.1f}-{max(times):.1f} ms ({len(times)} runs)")
    b.stop()
    sh(f"{a.banjo} flush", check=False)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--banjo", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--bans", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    if os.environ.get("BANJO_BENCH_NS") != "1":
        sys.exit("run me through bench/drift-repair.sh (inside unshare --mount --net)")
    os.makedirs(a.work, exist_ok=True)
    world = World(a.work)
    res = {}
    try:
        for backend in ("iptables", "nftables"):
            res[backend] = run_backend(a, world, backend)
    finally:
        world.cleanup()
    stage(f"summary: flush to \"firewall repaired\" entry, {a.bans} bans held (ms)")
    print("| backend | kind of flush | median | min | max | runs |")
    print("|---|---|--:|--:|--:|--:|")
    for backend, kinds in res.items():
        for what, t in kinds.items():
            if t:
                print(f"| {backend} | {what} | {statistics.median(t):.1f} | {min(t):.1f} | {max(t):.1f} | {len(t)} |")
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()

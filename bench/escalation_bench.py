#!/usr/bin/python3
"""Driver of bench/escalation.sh; runs inside `unshare --mount --net`.

    escalation_bench.py run --banjo BIN --work DIR [--nets 400] [--per-net 250]
                            [--firewalls iptables,nftables] [--after 5]
    escalation_bench.py send --nets N --per-net M --out FILE    (the fake sshd)

For each firewall and with escalation off and on: a fresh private journald, NETS x
PER_NET failures (one per address, maxretry 1; the addresses of 198.18.0.0/15, the
benchmark range, interleaved across the /24s as a spray would be) written while banjo
is stopped, then `banjo run`: the time from its start to READY=1 (the backlog is in
the kernel by then), to the last journal entry of its decisions, banjo's CPU time,
and what the kernel, the state and the journal hold at the end. Reuses World and
Banjo of daemon_bench.py. Standard library only.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time
from ipaddress import IPv4Address

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_bench import JSOCK, MSGID_BAN, Banjo, World, ipset_count, note, read_cpu_all, sh, stage  # noqa: E402

MSGID_ESCALATED = "76e91bb52e33438da8a9f741b84a9521"
BASE = int(IPv4Address("198.18.0.0"))


def addresses(nets, per_net):
    """Host h of every /24 before host h+1 of any: a spray over all the networks."""
    return [str(IPv4Address(BASE + (n << 8) + h)) for h in range(1, per_net + 1) for n in range(nets)]


def cmd_send(a):
    # journald takes _COMM from /proc/PID/comm of the (live) sender.
    with open("/proc/self/comm", "w") as f:
        f.write("sshd")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(JSOCK)
    for ip in addresses(a.nets, a.per_net):
        s.send(f"MESSAGE=Failed password for root from {ip} port 22 ssh2\nSYSLOG_IDENTIFIER=sshd\n".encode())
    print("done", flush=True)
    sys.stdin.read()  # stay alive (and "sshd") until the driver is done with us


def config(firewall, after):
    esc = f"escalate_after = {after}\nescalate_max = 1000\n" if after else ""
    return (f'[jail.sshd]\nenabled = true\nmaxretry = 1\nfindtime = "10m"\nbantime = "1h"\n'
            f'port = ["ssh"]\nignoreself = false\n{esc}'
            f'[jail.recidive]\nenabled = false\n[daemon]\nfirewall = "{firewall}"\n')


def kernel_elements(firewall):
    if firewall == "iptables":
        return ipset_count("banjo-sshd-4")
    n = 0
    for s in ("banjo-sshd-4", "banjo-sshd-4-24"):
        out = sh(f"nft -j list set inet banjo {s} 2>/dev/null", check=False)
        try:
            v = json.loads(out)
        except ValueError:
            continue
        for item in v.get("nftables", []):
            n += len(item.get("set", {}).get("elem", []))
    return n


def one_run(a, world, firewall, after):
    n = a.nets * a.per_net
    stage(f"{firewall}, escalation {'on (escalate_after = %d)' % after if after else 'off'}: "
          f"{n} failures from {a.nets} /24s written while banjo is stopped")
    world.fresh_journald()
    # An empty kernel: a fresh state would adopt what an earlier run left there.
    sh(f"{a.banjo} flush")
    name = f"{firewall}-{'on' if after else 'off'}"
    b = Banjo(world, a.banjo, name, config(firewall, after))
    # Started once so that its cursor is saved at the journal's tail; the failures
    # come while it is down, and are read as a backlog at the next start.
    b.start()
    b.stop()
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "send", "--nets", str(a.nets),
                          "--per-net", str(a.per_net)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    world.children.append(p)
    if p.stdout.readline().strip() != "done":
        raise RuntimeError("sender failed")
    t = time.monotonic()
    while world.journal_count("_COMM=sshd") < n:
        if time.monotonic() - t > 120:
            raise RuntimeError("the journal did not take every failure")
        time.sleep(0.5)
    b.start()
    ready_s = (b.t_ready - b.t_start) / 1e9
    want_ban, want_esc = (a.nets * after, a.nets) if after else (n, 0)
    t = time.monotonic()
    while True:
        bans = world.journal_count(f"MESSAGE_ID={MSGID_BAN}")
        escs = world.journal_count(f"MESSAGE_ID={MSGID_ESCALATED}")
        if bans >= want_ban and escs >= want_esc:
            break
        if time.monotonic() - t > 300:
            note(f"NOT every entry in the journal: {bans} ban, {escs} escalation entries")
            break
        time.sleep(0.2)
    last = json.loads(sh(f"journalctl -o json -n 1 SYSLOG_IDENTIFIER=banjo MESSAGE_ID={MSGID_ESCALATED if after else MSGID_BAN}"))
    journal_s = (int(last["__REALTIME_TIMESTAMP"]) * 1000 - b.t_start) / 1e9
    cpu = sum(read_cpu_all(b.p.pid)[:2])
    elements = kernel_elements(firewall)
    st = b.status()
    out = subprocess.run([a.banjo, "bans", "--json", "--socket", b.sock], stdout=subprocess.PIPE, text=True)
    rows = len(json.loads(out.stdout)) if out.returncode == 0 else -1
    nets = sum(1 for x in json.loads(out.stdout) if x["addr"].endswith("/24")) if rows >= 0 else -1
    b.stop()
    r = {"firewall": firewall, "escalate_after": after, "failures": n, "ready_s": round(ready_s, 2),
         "journal_s": round(journal_s, 2), "cpu_s": round(cpu, 2), "kernel_elements": elements,
         "state_bans": rows, "network_bans": nets, "ban_entries": bans, "escalation_entries": escs,
         "currently_banned": st.get("currently_banned")}
    note(f"READY=1 (backlog in the kernel) {ready_s:.2f} s after start; last entry {journal_s:.2f} s; "
         f"banjo CPU {cpu:.2f} s")
    note(f"kernel elements {elements}, state bans {rows} ({nets} /24s), journal: {bans} Ban + {escs} "
         f"escalation entries")
    return r


def cmd_run(a):
    world = World(a.work)
    results = []
    try:
        for fw in a.firewalls.split(","):
            for after in (0, a.after):
                results.append(one_run(a, world, fw, after))
    finally:
        world.cleanup()
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    stage("summary")
    print("| firewall | escalation | READY=1 after | last entry after | banjo CPU | kernel elements | state rows | journal entries |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        esc = f"escalate_after = {r['escalate_after']}" if r["escalate_after"] else "off"
        print(f"| {r['firewall']} | {esc} | {r['ready_s']:.2f} s | {r['journal_s']:.2f} s | {r['cpu_s']:.2f} s "
              f"| {r['kernel_elements']:,} | {r['state_bans']:,} | {r['ban_entries'] + r['escalation_entries']:,} |")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--banjo", required=True)
    r.add_argument("--work", required=True)
    r.add_argument("--nets", type=int, default=400)
    r.add_argument("--per-net", type=int, default=250)
    r.add_argument("--after", type=int, default=5)
    r.add_argument("--firewalls", default="iptables,nftables")
    s = sub.add_parser("send")
    s.add_argument("--nets", type=int, required=True)
    s.add_argument("--per-net", type=int, required=True)
    a = ap.parse_args()
    if a.cmd == "run":
        if not os.environ.get("BANJO_BENCH_NS"):
            sys.exit("run me through bench/escalation.sh (inside unshare --mount --net)")
        cmd_run(a)
    else:
        cmd_send(a)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Driver of bench/spray.sh; runs inside `unshare --mount --net`.

    spray.py run --banjo NAME=BIN [--banjo NAME=BIN ...] --work DIR [--max 1000000]
                 [--checkpoints 50000,200000,1000000] [--quiet-n 200000] [--firewall iptables]
    spray.py send                                  (the fake sshd; commands on stdin)

For each binary, on a fresh private journald (bench/daemon_bench.py's World):
  A. findtime 10m, maxretry 5: single failures from distinct IPv6 /64s of 2001:db8::/32
     (one per address, never enough to ban) up to --max, read at each checkpoint:
     banjo's VmRSS / RssAnon / VmHWM and how long `banjo status` takes. Concurrently two
     brute forces from one address each: 203.0.113.50 fails 4 times at the start and
     the 5th time after the whole spray; 203.0.113.51 fails 5 times in the middle of it,
     10,000 spray lines apart (MAX/20 for a shorter spray). The time from each one's 5th failure to banjo's ban
     entry in the journal is its ban latency; a brute force not banned is a failure.
     Then a restart (SIGTERM, start): the warm-up re-reads findtime of history under
     the same memory rules: time to READY=1, VmHWM, VmRSS after.
  B. findtime 30s: --quiet-n failures, then nothing for 45 s: the memory banjo still
     holds once every window has expired, on a host where nothing else happens.
Prints a table per stage and writes DIR/results.json. Standard library only.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from daemon_bench import JSOCK, MSGID_BAN, World, Banjo, note, proc_status, sh, stage  # noqa: E402

BRUTE_EARLY = "203.0.113.50"
BRUTE_MID = "203.0.113.51"


def v6(i):
    return f"2001:db8:{i >> 16:x}:{i & 0xffff:x}::1"


def line(ip):
    return f"MESSAGE=Failed password for root from {ip} port 4242 ssh2\nSYSLOG_IDENTIFIER=sshd\n".encode()


# --- the fake sshd ----------------------------------------------------------------------
def cmd_send(_a):
    """Commands on stdin, one per line, each answered with a line on stdout:
    `spray A B` sends failures of v6(A)..v6(B-1); `brute IP K` sends K failures of IP
    and answers the send time (ns) of the last; `quit`."""
    with open("/proc/self/comm", "w") as f:
        f.write("sshd")  # journald takes _COMM from the live sender
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(JSOCK)
    for cmd in sys.stdin:
        w = cmd.split()
        if w[0] == "spray":
            for i in range(int(w[1]), int(w[2])):
                s.send(line(v6(i)))
            print("ok", flush=True)
        elif w[0] == "brute":
            for _ in range(int(w[2])):
                s.send(line(w[1]))
            print(time.time_ns(), flush=True)
        else:
            return


class Sender:
    def __init__(self, world):
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "send"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        world.children.append(self.p)

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def spray(self, a, b, mid=None, step=10_000):
        """Failures a..b; the middle brute force's 5 (at mid, mid + step, ...)
        interleaved where they fall in here. Returns the send time of its 5th, if sent."""
        t5 = None
        for k in range(5):
            at = mid + k * step if mid is not None else -1
            if a <= at < b:
                self.ask(f"spray {a} {at}")
                t5 = int(self.ask(f"brute {BRUTE_MID} 1"))
                a = at
        self.ask(f"spray {a} {b}")
        return t5

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except OSError:
            pass
        self.p.wait(10)


def mem(pid):
    return {k: proc_status(pid, k) for k in ("VmRSS", "RssAnon", "VmHWM")}


def status_all(b):
    t = time.monotonic()
    out = subprocess.run([b.bin, "status", "--json", "--socket", b.sock],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ms = (time.monotonic() - t) * 1000
    return (json.loads(out.stdout) if out.returncode == 0 else {}), ms


def wait_failed(b, want, deadline=600):
    t = time.monotonic()
    while True:
        got = b.status().get("total_failed", 0)
        if got >= want:
            return
        if time.monotonic() - t > deadline:
            raise RuntimeError(f"banjo read {got} of {want} failures in {deadline} s")
        time.sleep(0.2)


def ban_time(ip, deadline=30):
    t = time.monotonic()
    while time.monotonic() - t < deadline:
        out = sh(f"journalctl -q -o json MESSAGE_ID={MSGID_BAN} BANJO_IP={ip} --output-fields=BANJO_IP",
                 check=False)
        for ln in out.splitlines():
            return int(json.loads(ln)["__REALTIME_TIMESTAMP"]) * 1000
        time.sleep(0.05)
    return None


def config(findtime, firewall):
    return f"""
[jail.sshd]
enabled = true
# As the built-in filter's own match today, written out so that the bench does not
# depend on it: the fake sshd is a python process named sshd.
journalmatch = "_COMM=sshd"
maxretry = 5
findtime = "{findtime}"
bantime = "1h"
port = ["ssh"]
[jail.recidive]
enabled = false
[daemon]
firewall = "{firewall}"
wake_on_connect = false
"""


# A 1M-entry spray is ~1 GB of journal: keep all of it (journald's default cap is 10%
# of the tmpfs), so that the restart re-reads every window.
JOURNAL_CONF = "SystemMaxUse=8G\nRuntimeMaxUse=8G\n"


def stage_a(world, name, binary, a, res):
    world.fresh_journald(conf=JOURNAL_CONF)
    b = Banjo(world, binary, f"{name}-a", config("10m", a.firewall))
    b.start()
    pid = b.p.pid
    snd = Sender(world)
    rows = []
    base = mem(pid)
    note(f"{name}: started, VmRSS {base['VmRSS']} KiB, RssAnon {base['RssAnon']} KiB")
    # The early brute force: 4 failures right after the first 1,000 of the spray.
    snd.spray(0, 1000)
    snd.ask(f"brute {BRUTE_EARLY} 4")
    # The middle one: 5 failures from half-way, 10,000 spray lines apart (less for a
    # short spray, so that all five come before its end).
    sent, t_mid5, mid = 1000, None, a.max // 2
    step = max(1, min(10_000, a.max // 20))
    for cp in a.checkpoints:
        t_mid5 = snd.spray(sent, cp, mid, step) or t_mid5
        sent = cp
        extra = 4 + sum(1 for k in range(5) if mid + k * step < cp)
        t0 = time.monotonic()
        wait_failed(b, cp + extra)
        st, ms = status_all(b)
        m = mem(pid)
        tm = st.get("tracker_memory", {})
        rows.append({"n": cp, **m, "status_ms": round(ms, 1), "windows": tm.get("windows"),
                     "forgotten": tm.get("windows_forgotten"), "read_s": round(time.monotonic() - t0, 1)})
        note(f"{name}: {cp:>8} sprayed: VmRSS {m['VmRSS']:>7} KiB, RssAnon {m['RssAnon']:>7} KiB, "
             f"VmHWM {m['VmHWM']:>7} KiB, status {ms:6.1f} ms"
             + (f", {tm['windows']} windows ({tm['used'] >> 20} MiB), {tm['windows_forgotten']} forgotten"
                if tm else ""))
    t_early5 = int(snd.ask(f"brute {BRUTE_EARLY} 1"))
    bans = {}
    for ip, t5 in ((BRUTE_EARLY, t_early5), (BRUTE_MID, t_mid5)):
        t = ban_time(ip) if t5 else None
        bans[ip] = round((t - t5) / 1e6, 1) if t else None
        note(f"{name}: brute force {ip}: " + (f"banned {bans[ip]} ms after its 5th failure"
                                               if t else "NOT BANNED"))
    snd.close()
    # Restart: the warm-up rebuilds the windows from the last findtime of the journal.
    b.stop()
    b.start(wait_ready=False)
    # VmHWM counts the journal files' pages the warm-up reads too: sample the
    # anonymous memory (the windows) until READY=1 for its own peak.
    peak = 0
    while not b.ready.wait(0.02):
        peak = max(peak, proc_status(b.p.pid, "RssAnon"))
    b.wait_ready()
    warm = {"ready_s": round((b.t_ready - b.t_start) / 1e9, 2), "RssAnon_peak": peak, **mem(b.p.pid)}
    note(f"{name}: restart: READY after {warm['ready_s']} s, VmHWM {warm['VmHWM']} KiB, "
         f"RssAnon at most {peak} KiB on the way; after: VmRSS {warm['VmRSS']} KiB, RssAnon {warm['RssAnon']} KiB")
    b.stop()
    res[name]["spray"] = {"start": base, "rows": rows, "ban_latency_ms": bans, "restart": warm}


def stage_b(world, name, binary, a, res):
    world.fresh_journald(conf=JOURNAL_CONF)
    b = Banjo(world, binary, f"{name}-b", config("30s", a.firewall))
    b.start()
    pid = b.p.pid
    snd = Sender(world)
    base = mem(pid)
    snd.spray(0, a.quiet_n)
    t_last = time.monotonic()
    snd.close()
    wait_failed(b, a.quiet_n)
    full = mem(pid)
    time.sleep(max(0.0, 45 - (time.monotonic() - t_last)))
    st = b.status()
    held = mem(pid)
    note(f"{name}: {a.quiet_n} windows: VmRSS {full['VmRSS']} KiB, RssAnon {full['RssAnon']} KiB; "
         f"45 s after the last failure ({st.get('currently_failed')} failing): VmRSS {held['VmRSS']} KiB, "
         f"RssAnon {held['RssAnon']} KiB (at start {base['VmRSS']} / {base['RssAnon']})")
    b.stop()
    res[name]["quiet"] = {"n": a.quiet_n, "start": base, "full": full, "after_45s": held}


def print_tables(res):
    stage("RSS against distinct addresses sprayed (KiB; status: `banjo status` wall time)")
    names = list(res)
    ns = [r["n"] for r in res[names[0]]["spray"]["rows"]]
    hdr = f"{'addresses':>10} " + " ".join(f"{n + ' VmRSS':>16} {n + ' anon':>14} {'status ms':>9}" for n in names)
    print(hdr)
    for i, n in enumerate(ns):
        cells = []
        for name in names:
            r = res[name]["spray"]["rows"][i]
            cells.append(f"{r['VmRSS']:>16} {r['RssAnon']:>14} {r['status_ms']:>9}")
        print(f"{n:>10} " + " ".join(cells))
    for name in names:
        s = res[name]["spray"]
        q = res[name]["quiet"]
        print(f"{name}: ban latency {s['ban_latency_ms']} ms; restart READY {s['restart']['ready_s']} s, "
              f"VmHWM {s['restart']['VmHWM']} KiB, RssAnon peak {s['restart']['RssAnon_peak']} KiB; "
              f"quiet host: {q['n']} windows held "
              f"{q['full']['RssAnon'] - q['start']['RssAnon']} KiB anon, 45 s later "
              f"{q['after_45s']['RssAnon'] - q['start']['RssAnon']} KiB")


def cmd_run(a):
    a.checkpoints = sorted({int(x) for x in a.checkpoints.split(",") if int(x) <= a.max} | {a.max})
    world = World(a.work)
    res = {}
    try:
        for spec in a.banjo:
            name, binary = spec.split("=", 1)
            res[name] = {"binary": binary}
            stage(f"{name}: spray to {a.max} with two brute forces, then a restart")
            stage_a(world, name, binary, a, res)
            stage(f"{name}: {a.quiet_n} windows, then a quiet host")
            stage_b(world, name, binary, a, res)
        print_tables(res)
    finally:
        world.cleanup()
        with open(os.path.join(a.work, "results.json"), "w") as f:
            json.dump(res, f, indent=1)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--banjo", action="append", required=True, help="NAME=BINARY")
    r.add_argument("--work", required=True)
    r.add_argument("--max", type=int, default=1_000_000)
    r.add_argument("--checkpoints", default="50000,100000,200000,500000,1000000")
    r.add_argument("--quiet-n", type=int, default=200_000)
    r.add_argument("--firewall", default="iptables")
    sub.add_parser("send")
    a = p.parse_args()
    {"run": cmd_run, "send": cmd_send}[a.cmd](a)


if __name__ == "__main__":
    main()

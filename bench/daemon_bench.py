#!/usr/bin/python3
"""Driver of bench/daemon-latency.sh; runs inside `unshare --mount --net`.

    daemon_bench.py run --banjo BIN --work DIR [--rate 1000] [--secs 10] [--cap 60]
                        [--burst 100000] [--skip-fail2ban] [--burst-only]
    daemon_bench.py send --rate R --count N --first IP --out FILE   (the fake sshd)

`run` builds a private world (systemd-journald on tmpfs, the namespace's empty
firewall) and measures, for banjo and then fail2ban-server (backend = systemd):
ban latency at RATE failures/s from distinct addresses, idle RSS and CPU, and for
banjo the time to apply BURST bans written while it was stopped. Standard library only.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from datetime import datetime
from ipaddress import IPv4Address

JSOCK = "/run/systemd/journal/socket"
MSGID_BAN = "4d654fc42ce94fee9c9d8899ca99f1bc"
TICK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))


def stage(msg):
    print(f"\n### {msg}", flush=True)


def note(msg):
    print(f"  {msg}", flush=True)


def sh(cmd, check=True):
    p = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"{cmd}: {p.stderr.strip()}")
    return p.stdout


# --- the fake sshd ----------------------------------------------------------------------
def cmd_send(a):
    # journald takes _COMM from /proc/PID/comm of the (live) sender.
    with open("/proc/self/comm", "w") as f:
        f.write("sshd")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(JSOCK)
    base = int(IPv4Address(a.first))
    msgs = [(str(IPv4Address(base + i)),) for i in range(a.count)]
    payloads = [f"MESSAGE=Failed password for root from {ip} port 22 ssh2\nSYSLOG_IDENTIFIER=sshd\n"
                .encode() for (ip,) in msgs]
    sent = [0] * a.count
    now = time.time_ns
    t0 = time.monotonic()
    gap = 1.0 / a.rate if a.rate > 0 else 0.0
    # As a real sshd sees it, each failure follows a connection to port 22: open one
    # (its SYN crosses INPUT, where banjo's wake rule sees it; nothing listens, so the
    # kernel answers RST) and log the failure at once, with none of the key exchange
    # and PAM time a real login attempt takes between the two: the hardest case.
    target = ("127.0.0.1", 22) if a.connect else None
    for i, p in enumerate(payloads):
        if gap:
            d = t0 + i * gap - time.monotonic()
            if d > 0:
                time.sleep(d)
        if target:
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(target)
            except (BlockingIOError, ConnectionRefusedError):
                pass
            c.close()
        sent[i] = now()
        s.send(p)
    with open(a.out, "w") as f:
        json.dump({"ips": [m[0] for m in msgs], "sent_ns": sent}, f)
    print("done", flush=True)
    sys.stdin.read()  # stay alive (and "sshd") until the driver is done with us


# --- helpers ----------------------------------------------------------------------------
def proc_cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])  # utime, stime (fields 14, 15)


def read_cpu_all(pid):
    """(utime, stime, cutime, cstime) in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return tuple(int(x) / TICK for x in rest[11:15])


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return 0


def ipset_count(name):
    out = subprocess.run(["ipset", "list", name, "-t"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    m = re.search(r"^Number of entries: (\d+)", out, re.M)
    return int(m.group(1)) if m else 0


class NftLookup:
    """Asks the kernel whether one address is in a set of `table inet banjo`: a single
    NFT_MSG_GETSETELEM over netlink (~10 us). `nft get element` would do, but nft 1.0.6
    reads the whole set first (0.4 s at 100k members), too slow to poll with."""
    NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWSETELEM, NFT_MSG_GETSETELEM = 10, 12, 13

    def __init__(self, table="banjo"):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
        self.s.bind((0, 0))
        self.table, self.seq = table, 0

    @staticmethod
    def attr(kind, payload, nested=False):
        n = 4 + len(payload)
        return struct.pack("=HH", n, kind | (0x8000 if nested else 0)) + payload + bytes(-n % 4)

    def has(self, setname, addr):
        A = NftLookup.attr
        key = A(1, socket.inet_pton(socket.AF_INET6 if ":" in addr else socket.AF_INET, addr))
        elems = A(1, A(1, key, True), True)  # LIST_ELEM { SET_ELEM_KEY { DATA_VALUE } }
        body = (struct.pack("=BBH", 1, 0, 0)  # nfgenmsg: NFPROTO_INET
                + A(1, self.table.encode() + b"\0") + A(2, setname.encode() + b"\0") + A(3, elems, True))
        self.seq += 1
        kind = (self.NFNL_SUBSYS_NFTABLES << 8) | self.NFT_MSG_GETSETELEM
        self.s.send(struct.pack("=IHHII", 16 + len(body), kind, 1 | 4, self.seq, 0) + body)
        while True:
            data, off = self.s.recv(65536), 0
            while off < len(data):
                n, typ, _, seq, _ = struct.unpack_from("=IHHII", data, off)
                if seq == self.seq:
                    if typ == (self.NFNL_SUBSYS_NFTABLES << 8) | self.NFT_MSG_NEWSETELEM:
                        return True
                    if typ == 2 and struct.unpack_from("=i", data, off + 16)[0] != 0:
                        return False  # NLMSG_ERROR: ENOENT (no such element, set or table)
                off += (n + 3) & ~3


def nft_count(setname):
    out = subprocess.run(["nft", "-j", "list", "set", "inet", "banjo", setname],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    try:
        items = json.loads(out)["nftables"]
    except (ValueError, KeyError):
        return 0
    return sum(len(i["set"].get("elem", [])) for i in items if "set" in i)


def burst_counter(a, setname, first):
    """How many of the burst's addresses are in the kernel set now. ipset counts for
    us; for nftables, batches reach the kernel in the order the addresses were sent, so
    the k-th address being in the set means the first k are: look up the addresses at
    10, 50, 90 and 100% (largest first) and answer the largest present (the full count
    is checked once the clock has stopped)."""
    if a.firewall != "nftables":
        return lambda: ipset_count(setname)
    base = int(IPv4Address(first))
    marks = [a.burst * p // 100 for p in (100, 90, 50, 10)]
    lookup = NftLookup()

    def count():
        for k in marks:
            if lookup.has(setname, str(IPv4Address(base + k - 1))):
                return k
        return 0
    return count


def pct(values, p):
    """Nearest-rank percentile; None counts as 'never' (larger than anything)."""
    v = sorted(values, key=lambda x: float("inf") if x is None else x)
    if not v:
        return None
    k = max(0, min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1))
    return v[k]


def fmt_ms(x, cap_ms=None):
    if x is None:
        return f"> {cap_ms / 1000:.0f} s (not banned)" if cap_ms else "never"
    return f"{x:.1f} ms" if x < 10_000 else f"{x / 1000:.1f} s"


def summary(label, lat_ms, cap_ms, after_1s=None):
    """Percentiles over all addresses; with after_1s, also over those sent at least 1 s
    after the first (the attack is under way: no wake-up from idle in them)."""
    got = sum(1 for x in lat_ms if x is not None)
    qs = (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
    parts = [f"{k}={fmt_ms(pct(lat_ms, q), cap_ms)}" for k, q in qs]
    note(f"{label}: {got}/{len(lat_ms)} banned; " + "  ".join(parts))
    res = {"label": label, "banned": got, "sent": len(lat_ms), **{k: pct(lat_ms, q) for k, q in qs}}
    if after_1s and any(after_1s) and not all(after_1s):
        late = [x for x, a in zip(lat_ms, after_1s) if a]
        note(f"  {'':>{len(label) - 2}}sent >= 1 s into the run ({len(late)}): " + "  ".join(
            f"{k}={fmt_ms(pct(late, q), cap_ms)}" for k, q in qs))
        res["steady"] = {"sent": len(late), **{k: pct(late, q) for k, q in qs}}
    return res


class Poller:
    """Polls `ipset list SET -t` (≈2 ms a call) and records when the member count grew.
    Addresses are distinct and sent in order, so the k-th ban's kernel time is when the
    count first reached k (t = when the listing returned: an upper bound)."""

    def __init__(self, setname):
        self.setname, self.samples, self.stop = setname, [], False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        last = -1
        while not self.stop:
            c = ipset_count(self.setname)
            t = time.time_ns()
            if c != last:
                self.samples.append((t, c))
                last = c
            time.sleep(0.001)

    def finish(self, reach=None, timeout=1.0):
        """Stop polling, but first let the poller itself see `reach` members (the
        count the caller already saw): stopping it at once could drop the last ban's
        sample and report it as never made."""
        deadline = time.monotonic() + timeout
        while (reach is not None and time.monotonic() < deadline
               and not (self.samples and self.samples[-1][1] >= reach)):
            time.sleep(0.001)
        self.stop = True
        self.t.join()
        return self.samples

    def kth_times(self, n, base=0):
        """ns time at which the count first reached base+k, for k=1..n (None if never)."""
        out, j, s = [], 0, self.samples
        for k in range(1, n + 1):
            while j < len(s) and s[j][1] < base + k:
                j += 1
            out.append(s[j][0] if j < len(s) else None)
        return out


# --- the world --------------------------------------------------------------------------
class World:
    def __init__(self, work):
        self.work = work
        self.journald = None
        self.children = []
        self.qlen = 512

    def fresh_journald(self, history=None, conf=""):
        """(Re)start systemd-journald on fresh tmpfs: an empty journal per phase. With
        `history` (a directory of journal files), its archived files are copied into
        this machine's persistent journal first, as a host's weeks of logs would be.
        `conf`: more [Journal] settings."""
        self.stop_journald()
        for d in ("/run/systemd", "/run/log", "/var/log/journal"):
            os.makedirs(d, exist_ok=True)
            sh(f"umount -l {d} 2>/dev/null; mount -t tmpfs tmpfs {d}", check=False)
        if history:
            mid = open("/etc/machine-id").read().strip()
            dest = os.path.join("/var/log/journal", mid)
            os.makedirs(dest, exist_ok=True)
            # Archived files only: journald appends to its own system.journal.
            for f in sorted(os.listdir(history)):
                if f.startswith("system@") and f.endswith(".journal"):
                    shutil.copy(os.path.join(history, f), dest)
        os.makedirs("/run/systemd/journal", exist_ok=True)
        os.makedirs("/run/systemd/journald.conf.d", exist_ok=True)
        # Both daemons and the fake sshd share this (container) cgroup: without this,
        # journald's per-cgroup rate limit (10k / 30 s) would drop the load itself.
        with open("/run/systemd/journald.conf.d/bench.conf", "w") as f:
            f.write("[Journal]\nRateLimitIntervalSec=0\nRateLimitBurst=0\n" + conf)
        sh("ip link set lo up")
        # systemd (PID 1) raises this from the kernel's 10 to 512 at boot; a new network
        # namespace starts at 10. Set it as on a real host, before journald makes its socket.
        sh(f"sysctl -q -w net.unix.max_dgram_qlen={self.qlen}")
        self.journald = subprocess.Popen(["/lib/systemd/systemd-journald"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t = time.monotonic()
        while not os.path.exists(JSOCK):
            if time.monotonic() - t > 10:
                raise RuntimeError("journald did not start")
            time.sleep(0.02)
        time.sleep(0.1)

    def stop_journald(self):
        if self.journald and self.journald.poll() is None:
            self.journald.terminate()
            try:
                self.journald.wait(5)
            except subprocess.TimeoutExpired:
                self.journald.kill()
                self.journald.wait()
        self.journald = None

    def sender(self, first, count, rate, tag, connect=False):
        out = os.path.join(self.work, f"sent-{tag}.json")
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "send", "--rate", str(rate),
                              "--count", str(count), "--first", first, "--out", out]
                             + (["--connect"] if connect else []),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.children.append(p)
        return p, out

    @staticmethod
    def sender_done(p, out, timeout=None):
        line = p.stdout.readline()
        if line.strip() != "done":
            raise RuntimeError("sender failed")
        with open(out) as f:
            return json.load(f)

    def release(self, p):
        try:
            p.stdin.close()
        except Exception:
            pass
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()

    def journal_count(self, match):
        return int(sh(f"journalctl -q -o cat {match} | wc -l").strip())

    def cleanup(self):
        for p in self.children:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.stop_journald()


class Banjo:
    def __init__(self, world, binary, name, config):
        self.world, self.bin = world, binary
        self.dir = os.path.join(world.work, name)
        os.makedirs(os.path.join(self.dir, "etc"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        with open(os.path.join(self.dir, "etc", "banjo.toml"), "w") as f:
            f.write(config)
        self.sock = os.path.join(self.dir, "banjo.sock")
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.p = None

    def start(self, wait_ready=True):
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.settimeout(0.5)
        # Read NOTIFY_SOCKET for as long as banjo runs, as systemd does: banjo sends a
        # STATUS= after every batch of decisions and blocks once the queue is full.
        self.ready = threading.Event()
        self.notify_stop = False
        self.notify_thread = threading.Thread(target=self.read_notify, daemon=True)
        self.notify_thread.start()
        log = open(os.path.join(self.dir, "banjo.log"), "a")
        self.t_start = time.time_ns()
        self.p = subprocess.Popen(
            [self.bin, "run", "--config", os.path.join(self.dir, "etc"), "--state-dir",
             os.path.join(self.dir, "state"), "--socket", self.sock],
            env={**os.environ, "NOTIFY_SOCKET": self.notify_path}, stdout=log, stderr=log)
        self.world.children.append(self.p)
        if wait_ready:
            self.wait_ready()

    def read_notify(self):
        while not self.notify_stop:
            try:
                msg = self.notify.recv(4096).decode(errors="replace")
            except socket.timeout:
                continue
            except OSError:
                return
            if "READY=1" in msg and not self.ready.is_set():
                self.t_ready = time.time_ns()
                self.ready.set()

    def wait_ready(self):
        if not self.ready.wait(120):
            raise RuntimeError("banjo sent no READY=1; see " + os.path.join(self.dir, "banjo.log"))

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.notify_stop = True
        self.notify_thread.join()
        self.notify.close()

    def status(self):
        out = subprocess.run([self.bin, "status", "sshd", "--json", "--socket", self.sock],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if out.returncode != 0:
            note(f"banjo status failed ({out.returncode}): {out.stderr.strip()[:300]}")
            return {}
        return json.loads(out.stdout)

    def ban_times(self):
        """{ip: __REALTIME_TIMESTAMP (ns)} of banjo's ban entries: written after the
        firewall call returned, so 'rule live' plus journald's own delay."""
        out = sh(f"journalctl -q -o json MESSAGE_ID={MSGID_BAN} --output-fields=BANJO_IP")
        res = {}
        for line in out.splitlines():
            d = json.loads(line)
            res.setdefault(d["BANJO_IP"], int(d["__REALTIME_TIMESTAMP"]) * 1000)
        return res


def uss_kib(pid):
    """Unique set size: pages only this process maps (Private_Clean + Private_Dirty)."""
    n = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                n += int(line.split()[1])
    return n


def smaps_breakdown(pid):
    """Resident memory by mapping, from /proc/PID/smaps: {region: {"rss", "anon", "dirty",
    "pss"}} in KiB. Regions: each mapped file by its basename (code, data and relro of
    the binary and each library together), "[heap]" (brk), "[stack]", "anon" (mmap'd:
    thread stacks, malloc arenas, big allocations), journal files (shmem on tmpfs) as
    "journal files"."""
    res = {}
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split(None, 5)
                path = parts[5].strip() if len(parts) > 5 else ""
                if path.endswith(".journal") or path.endswith(".journal~"):
                    cur = "journal files"
                elif path.startswith("/"):
                    cur = os.path.basename(path.replace(" (deleted)", ""))
                elif path:
                    cur = path
                else:
                    cur = "anon"
                res.setdefault(cur, {"rss": 0, "anon": 0, "dirty": 0, "pss": 0, "maps": 0})
                res[cur]["maps"] += 1
            elif cur and first in ("Rss:", "Anonymous:", "Pss:", "Private_Dirty:", "Shared_Dirty:"):
                kb = int(line.split()[1])
                key = {"Rss:": "rss", "Anonymous:": "anon", "Pss:": "pss"}.get(first, "dirty")
                res[cur][key] += kb
    return res


def fmt_breakdown(b, min_kib=64):
    """One line per region with at least min_kib resident, largest first."""
    rows = sorted(b.items(), key=lambda kv: -kv[1]["rss"])
    out = [f"{'region':<28} {'maps':>4} {'Rss':>7} {'Anon':>7} {'Dirty':>7}   (KiB)"]
    rest = 0
    for k, v in rows:
        if v["rss"] < min_kib:
            rest += v["rss"]
            continue
        out.append(f"{k[:28]:<28} {v['maps']:>4} {v['rss']:>7} {v['anon']:>7} {v['dirty']:>7}")
    out.append(f"{'(smaller regions)':<28} {'':>4} {rest:>7}")
    out.append(f"{'total':<28} {'':>4} {sum(v['rss'] for v in b.values()):>7}")
    return out


def ctxt_switches(pid):
    """Context switches per thread of pid (a wakeup each, for a sleeping daemon):
    {"tid comm": n}."""
    res = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            n = 0
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("Name:"):
                        name = line.split(None, 1)[1].strip()
                    elif line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                        n += int(line.split()[1])
            res[f"{tid} {name}"] = n
        except OSError:
            pass
    return res


def idle(pid, label, rss_after=5, cpu_secs=10):
    time.sleep(rss_after)
    rss = proc_status(pid, "VmRSS")
    anon, rfile, shm = proc_status(pid, "RssAnon"), proc_status(pid, "RssFile"), proc_status(pid, "RssShmem")
    threads = len(os.listdir(f"/proc/{pid}/task"))
    uss = uss_kib(pid)
    breakdown = smaps_breakdown(pid)
    c0 = proc_cpu_ticks(pid)
    w0 = ctxt_switches(pid)
    time.sleep(cpu_secs)
    ticks = proc_cpu_ticks(pid) - c0
    w1 = ctxt_switches(pid)
    per = {k: v - w0.get(k, 0) for k, v in w1.items()}
    wakes = sum(per.values())
    note(f"{label}: VmRSS {rss / 1024:.1f} MiB (anon {anon / 1024:.1f}, file {rfile / 1024:.1f}, "
         f"shmem {shm / 1024:.1f}; unique {uss / 1024:.1f}) after "
         f"{rss_after} s idle; over {cpu_secs} s idle: {ticks} CPU ticks ({ticks * 1000 // TICK} ms), "
         f"{wakes} context switches in {threads} threads"
         + (f" ({', '.join(f'{k.split(None, 1)[1]}: {v}' for k, v in per.items())})" if threads > 1 else ""))
    for line in fmt_breakdown(breakdown):
        note("  " + line)
    return {"rss_kib": rss, "anon_kib": anon, "file_kib": rfile, "shmem_kib": shm, "uss_kib": uss, "idle_ticks": ticks,
            "idle_secs": cpu_secs, "wakeups": wakes, "threads": threads, "smaps": breakdown}


def diagnose(pid):
    """Where a daemon that stopped banning sits (for the report)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        wchan = open(f"/proc/{pid}/wchan").read()
        note(f"daemon pid {pid}: state {state}, wchan {wchan or '-'}; threads:")
        for tid in sorted(os.listdir(f"/proc/{pid}/task")):
            w = open(f"/proc/{pid}/task/{tid}/wchan").read()
            stk = sh(f"cat /proc/{pid}/task/{tid}/stack 2>/dev/null | head -n 6", check=False)
            note(f"  tid {tid} wchan {w or '-'} {' <- '.join(l.split()[-1] for l in stk.splitlines())}")
        q = sh("ss -xp 2>/dev/null | grep -E 'journal/(socket|stdout)' | head -n 5", check=False)
        if q:
            note("journald sockets (Recv-Q Send-Q):\n" + q)
    except OSError as e:
        note(f"daemon pid {pid}: {e}")


def idle_with_noise(pid, label, every=1.0, secs=10):
    """Idle cost while the journal carries unrelated entries (one CRON line every
    `every` s, as a real host would): CPU ticks and context switches over `secs`."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    time.sleep(3)
    c0, w0 = proc_cpu_ticks(pid), ctxt_switches(pid)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        s.sendto(b"MESSAGE=(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)\n"
                 b"SYSLOG_IDENTIFIER=CRON\n", JSOCK)
        time.sleep(every)
    ticks = proc_cpu_ticks(pid) - c0
    wakes = sum(v - w0.get(k, 0) for k, v in ctxt_switches(pid).items())
    s.close()
    note(f"{label}: one unrelated journal entry every {every:g} s for {secs} s: {ticks} CPU ticks "
         f"({ticks * 1000 // TICK} ms), {wakes} context switches")
    return {"every": every, "secs": secs, "ticks": ticks, "wakeups": wakes}


def idle_with_scans(pid, label, every=1.0, secs=10):
    """What a scanned but unattacked host costs: one TCP connection to port 22 every
    `every` s for `secs` s (no failure is logged). Each one wakes banjo (its wake rule)
    and starts CONNECTED_FOR (5 s) of quick journal polling: CPU ticks and context
    switches over that time."""
    time.sleep(3)
    c0, w0 = proc_cpu_ticks(pid), ctxt_switches(pid)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", 22))
        except (BlockingIOError, ConnectionRefusedError):
            pass
        c.close()
        time.sleep(every)
    ticks = proc_cpu_ticks(pid) - c0
    wakes = sum(v - w0.get(k, 0) for k, v in ctxt_switches(pid).items())
    note(f"{label}: one connection to port 22 every {every:g} s for {secs} s: {ticks} CPU ticks "
         f"({ticks * 1000 // TICK} ms), {wakes} context switches")
    return {"every": every, "secs": secs, "ticks": ticks, "wakeups": wakes}


def wait_count(setname, want, deadline):
    while time.monotonic() < deadline:
        if ipset_count(setname) >= want:
            return True
        time.sleep(0.05)
    return False


PAUSE = 5.0  # quiet seconds before each run: every run starts with an idle daemon


CONNECT = True  # each failure follows a connection to port 22 (--no-connect: failures alone)


def latency_run(world, daemon_pid, setname, first, rate, secs, cap, tag, poll, ban_times):
    """After PAUSE quiet seconds, send rate*secs failures, wait for the bans (at most cap s
    after the first send); return per-address latencies from ban_times() and, with poll,
    from the kernel."""
    time.sleep(PAUSE)
    n = int(rate * secs)
    base = ipset_count(setname)
    poller = Poller(setname) if poll else None
    c0 = proc_cpu_ticks(daemon_pid)
    jc0 = proc_cpu_ticks(world.journald.pid)
    t_begin = time.monotonic()
    p, out = world.sender(first, n, rate, tag, connect=CONNECT)
    sent = World.sender_done(p, out)
    send_secs = (sent["sent_ns"][-1] - sent["sent_ns"][0]) / 1e9
    note(f"sent {n} failures in {send_secs:.2f} s ({n / send_secs:,.0f}/s), "
         f"{sent['ips'][0]} .. {sent['ips'][-1]}")
    done = wait_count(setname, base + n, t_begin + cap)
    t_end = time.monotonic()
    cpu = proc_cpu_ticks(daemon_pid) - c0
    jcpu = proc_cpu_ticks(world.journald.pid) - jc0
    in_set = ipset_count(setname) - base
    samples = poller.finish(base + in_set) if poller else None
    if not done and cpu < 5:  # not busy, yet not done: stuck somewhere
        diagnose(daemon_pid)
    world.release(p)
    note(f"{'all' if done else 'NOT all'} {n} in the kernel set after {t_end - t_begin:.1f} s "
         f"({in_set} there{'' if done else f'; capped at {cap} s'}); daemon CPU "
         f"{cpu / TICK:.2f} s, journald CPU {jcpu / TICK:.2f} s over that time")
    bt = ban_times()
    lat_log = [((bt[ip] - s) / 1e6 if ip in bt else None) for ip, s in zip(sent["ips"], sent["sent_ns"])]
    res = {"sent": n, "send_secs": send_secs,
           "after_1s": [(t - sent["sent_ns"][0]) >= 1e9 for t in sent["sent_ns"]], "all_banned": done, "in_set": in_set,
           "wall_secs": t_end - t_begin, "daemon_cpu_secs": cpu / TICK, "journald_cpu_secs": jcpu / TICK,
           "lat_log_ms": lat_log}
    if samples is not None:
        kt = poller.kth_times(n, base)
        res["lat_kernel_ms"] = [((k - s) / 1e6 if k is not None else None)
                                for k, s in zip(kt, sent["sent_ns"])]
        res["poll_samples"] = len(samples)
    return res


# --- fail2ban ---------------------------------------------------------------------------
F2B_JAIL = """[DEFAULT]
backend = systemd
banaction = iptables-ipset
banaction_allports = iptables-ipset[type=allports]
ignoreip = 127.0.0.1/8 ::1
bantime.increment = false

[sshd]
enabled = true
backend = systemd
mode = normal
port = ssh
maxretry = 1
findtime = 10m
bantime = 1h
"""


class Fail2ban:
    def __init__(self, world):
        self.world = world
        self.conf = os.path.join(world.work, "f2b-conf")
        shutil.rmtree(self.conf, ignore_errors=True)
        shutil.copytree("/etc/fail2ban", self.conf, symlinks=True)
        for f in os.listdir(os.path.join(self.conf, "jail.d")):
            os.unlink(os.path.join(self.conf, "jail.d", f))
        self.log = os.path.join(world.work, "f2b.log")
        self.sock = os.path.join(world.work, "f2b.sock")
        self.pidfile = os.path.join(world.work, "f2b.pid")
        with open(os.path.join(self.conf, "fail2ban.local"), "w") as f:
            f.write(f"[Definition]\nloglevel = INFO\nlogtarget = {self.log}\nsocket = {self.sock}\n"
                    f"pidfile = {self.pidfile}\ndbfile = {os.path.join(world.work, 'f2b.sqlite3')}\n")
        with open(os.path.join(self.conf, "jail.local"), "w") as f:
            f.write(F2B_JAIL)

    def start(self):
        out = open(os.path.join(self.world.work, "f2b.out"), "w")
        self.p = subprocess.Popen(["/usr/bin/python3", "/usr/bin/fail2ban-server", "-f", "-x", "-c", self.conf,
                                   "-s", self.sock, "-p", self.pidfile, "--logtarget", self.log],
                                  stdout=out, stderr=out)
        self.world.children.append(self.p)
        t = time.monotonic()
        while "Jail 'sshd' started" not in self.log_text():
            if self.p.poll() is not None or time.monotonic() - t > 60:
                raise RuntimeError("fail2ban-server did not start jail sshd; see " + self.log)
            time.sleep(0.1)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def ban_times(self):
        """{ip: time of its 'Ban' log line (ns)}: fail2ban logs it *before* running the
        ban action, so this is a lower bound for 'rule live'."""
        res = {}
        for m in re.finditer(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*\[sshd\] Ban (\S+)",
                             self.log_text(), re.M):
            t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            res.setdefault(m.group(2), int(t * 1e9))
        return res

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


# --- the run ----------------------------------------------------------------------------
BANJO_CONFIG = """# bench/daemon-latency.sh: one sshd jail, every failure bans a new address.
[daemon]
firewall = "iptables"

[defaults]
ignoreip = ["127.0.0.0/8", "::1"]
bantime_increment = false

[jail.sshd]
enabled = true
maxretry = 1
findtime = "10m"
bantime = "1h"
port = ["ssh"]

[jail.recidive]
enabled = false
"""


def cmd_run(a):
    if os.environ.get("BANJO_BENCH_NS") != "1":
        sys.exit("run me through bench/daemon-latency.sh (inside unshare --mount --net)")
    if a.firewall == "nftables" and not a.burst_only:
        sys.exit("FIREWALL=nftables measures the burst stage only: set BURST_ONLY=1 too")
    os.makedirs(a.work, exist_ok=True)
    global CONNECT
    CONNECT = not a.no_connect
    world = World(a.work)
    results = {"rate": a.rate, "secs": a.secs, "connect": CONNECT}
    try:
        run_all(a, world, results)
    finally:
        stage("cleanup: stopping daemons")
        world.cleanup()
        with open(os.path.join(a.work, "results.json"), "w") as f:
            json.dump(results, f)
    print_table(results, a)


def run_all(a, world, results):
    setname = "banjo-sshd-4"
    cap_ms = a.cap * 1000
    if a.burst_only:
        burst(a, world, results, setname)
        return

    stage("banjo: private journald, banjo run (one sshd jail, maxretry 1, firewall iptables+ipset)")
    world.fresh_journald()
    b = Banjo(world, a.banjo, "banjo", BANJO_CONFIG)
    b.start()
    note(f"banjo pid {b.p.pid} ready {(b.t_ready - b.t_start) / 1e6:.0f} ms after exec")

    stage("banjo: idle RSS and CPU (fresh, no bans)")
    results["banjo_idle"] = idle(b.p.pid, "banjo idle (fresh)")
    results["banjo_idle_noise"] = idle_with_noise(b.p.pid, "banjo idle, unrelated log traffic")
    results["banjo_idle_scans"] = idle_with_scans(b.p.pid, "banjo idle, port 22 scanned")

    if a.low_rate:
        stage(f"banjo: latency at a low rate, {a.low_rate}/s for {a.low_secs} s "
              "(each failure alone: the daemon is idle in between)")
        r = latency_run(world, b.p.pid, setname, "198.19.200.1", a.low_rate, a.low_secs, a.cap, "banjo-low",
                        True, b.ban_times)
        r["summary_log"] = summary("banjo, ban entry __REALTIME_TIMESTAMP - sent", r["lat_log_ms"], cap_ms)
        r["summary_kernel"] = summary("banjo, k-th address in the kernel set - sent", r["lat_kernel_ms"],
                                      cap_ms)
        results["banjo_low"] = r

    stage(f"banjo: latency, {a.rate}/s for {a.secs} s from distinct addresses "
          "(time = banjo's ban entry in the journal; no poller running)")
    r = latency_run(world, b.p.pid, setname, "198.18.0.1", a.rate, a.secs, a.cap, "banjo-log", False,
                    b.ban_times)
    r["summary_log"] = summary("banjo, ban entry __REALTIME_TIMESTAMP - sent", r["lat_log_ms"], cap_ms,
                               r["after_1s"])
    results["banjo_lat"] = r

    stage(f"banjo: latency again, fresh addresses, with a kernel poller "
          "(ipset list banjo-sshd-4 -t every ~2 ms)")
    r = latency_run(world, b.p.pid, setname, "198.18.64.1", a.rate, a.secs, a.cap, "banjo-poll", True,
                    b.ban_times)
    r["summary_log"] = summary("banjo, ban entry __REALTIME_TIMESTAMP - sent", r["lat_log_ms"], cap_ms,
                               r["after_1s"])
    r["summary_kernel"] = summary("banjo, k-th address in the kernel set - sent", r["lat_kernel_ms"], cap_ms,
                                  r["after_1s"])
    results["banjo_lat_poll"] = r
    st = b.status()
    note(f"banjo status sshd: currently_banned={st.get('currently_banned')} "
         f"total_failed={st.get('total_failed')}")

    stage(f"banjo: idle again, holding {st.get('currently_banned')} bans")
    results["banjo_idle_loaded"] = idle(b.p.pid, f"banjo idle ({st.get('currently_banned')} bans)")
    results["banjo_idle_loaded"]["bans"] = st.get("currently_banned")
    results["banjo_peak_rss_kib"] = proc_status(b.p.pid, "VmHWM")
    note(f"banjo peak RSS (VmHWM) so far: {results['banjo_peak_rss_kib'] / 1024:.1f} MiB")
    b.stop()

    if a.burst:
        burst(a, world, results, setname)

    if a.skip_fail2ban:
        return
    stage("fail2ban: private journald, fail2ban-server -f (backend=systemd, maxretry=1, "
          "banaction=iptables-ipset)")
    world.fresh_journald()
    f = Fail2ban(world)
    f.start()
    note(f"fail2ban-server pid {f.p.pid}")
    stage("fail2ban: idle RSS and CPU")
    results["f2b_idle"] = idle(f.p.pid, "fail2ban-server idle")
    if a.low_rate:
        stage(f"fail2ban: latency at a low rate, {a.low_rate}/s for {a.low_secs} s")
        r = latency_run(world, f.p.pid, "f2b-sshd", "198.19.200.1", a.low_rate, a.low_secs, a.cap,
                        "f2b-low", True, f.ban_times)
        r["summary_log"] = summary("fail2ban, 'Ban' log line - sent", r["lat_log_ms"], cap_ms)
        r["summary_kernel"] = summary("fail2ban, k-th address in the kernel set - sent",
                                      r["lat_kernel_ms"], cap_ms)
        results["f2b_low"] = r
    stage(f"fail2ban: latency, {a.rate}/s for {a.secs} s (time = its 'Ban' log line, written "
          f"before the ban action runs; plus the kernel poller on f2b-sshd); cap {a.cap} s")
    r = latency_run(world, f.p.pid, "f2b-sshd", "198.18.0.1", a.rate, a.secs, a.cap, "f2b", True,
                    f.ban_times)
    r["summary_log"] = summary("fail2ban, 'Ban' log line - sent", r["lat_log_ms"], cap_ms, r["after_1s"])
    r["summary_kernel"] = summary("fail2ban, k-th address in the kernel set - sent", r["lat_kernel_ms"],
                                  cap_ms, r["after_1s"])
    results["f2b_lat"] = r
    results["f2b_peak_rss_kib"] = proc_status(f.p.pid, "VmHWM")
    f.stop()


def burst(a, world, results, setname):
    stage(f"banjo: {a.burst} bans at once. Fresh journal and state; banjo starts "
          "(cursor saved at the tail) and stops; the failures are written while it is down")
    sh(f"{a.banjo} flush")
    world.fresh_journald()
    config = BANJO_CONFIG.replace('firewall = "iptables"', f'firewall = "{a.firewall}"')
    b2 = Banjo(world, a.banjo, "banjo-burst", config)
    count = burst_counter(a, setname, "198.18.0.1")
    b2.start()
    b2.stop()
    t = time.monotonic()
    p, out = world.sender("198.18.0.1", a.burst, 0, "burst")
    World.sender_done(p, out)
    # Let journald finish writing before banjo starts (journalctl sees them all).
    got = 0
    while time.monotonic() - t < 120:
        got = world.journal_count("_COMM=sshd")
        if got >= a.burst:
            break
        time.sleep(0.5)
    world.release(p)
    note(f"{got} failures in the journal after {time.monotonic() - t:.1f} s")
    jc0 = read_cpu_all(world.journald.pid)
    b2.start(wait_ready=False)
    t0 = b2.t_start
    perf = None
    if os.environ.get("BURST_PERF"):
        # The whole machine (banjo, its ipset children, journald), until all are in
        # the set: where the CPU goes during the burst.
        # BURST_PERF_DWARF=1: banjo alone, with DWARF call graphs (the release build
        # has no frame pointers).
        how = (["-p", str(b2.p.pid), "--call-graph", "dwarf,16384", "-F", "999"]
               if os.environ.get("BURST_PERF_DWARF") else ["-a", "-g", "-F", "499"])
        perf = subprocess.Popen(["perf", "record", *how, "-o", os.environ["BURST_PERF"]],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wchans = {}  # where banjo is when we look: a poor man's off-CPU profile
    t_all = None
    timeline = []  # (s since start, members in the set)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        c = count()
        if not timeline or c != timeline[-1][1]:
            timeline.append(((time.time_ns() - t0) / 1e9, c))
        if c >= a.burst:
            t_all = time.time_ns()
            # CPU split at the moment the last ban is live: less noisy than wall time
            # on a shared machine.
            cpu_all = read_cpu_all(b2.p.pid)
            jc_all = sum(x - y for x, y in zip(read_cpu_all(world.journald.pid), jc0))
            break
        try:
            with open(f"/proc/{b2.p.pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/{b2.p.pid}/wchan") as f:
                w = f.read() or "-"
            key = "running" if state == "R" else w
            wchans[key] = wchans.get(key, 0) + 1
        except OSError:
            pass
        time.sleep(0.005)
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait()
    b2.wait_ready()
    if a.firewall == "nftables" and t_all:
        note(f"nft set {setname} holds {nft_count(setname)} members (full listing, after the clock stopped)")
    jc = [x - y for x, y in zip(read_cpu_all(world.journald.pid), jc0)]
    cpu = read_cpu_all(b2.p.pid)
    # Every ban must still get its journal entry (history, recidive): wait for all of
    # them, and for the CPU this took in total.
    t_log = None
    while time.monotonic() < deadline + 60:
        if world.journal_count(f"MESSAGE_ID={MSGID_BAN}") >= a.burst:
            t_log = time.time_ns()
            break
        time.sleep(0.25)
    jc_log = sum(x - y for x, y in zip(read_cpu_all(world.journald.pid), jc0))
    cpu_log = read_cpu_all(b2.p.pid)
    # Settled: the backlog's entries are written; what the heap keeps per ban.
    time.sleep(1)
    anon_settled = proc_status(b2.p.pid, "RssAnon")
    st = b2.status()
    hwm = proc_status(b2.p.pid, "VmHWM")
    mem = {k: proc_status(b2.p.pid, k) for k in ("VmRSS", "RssAnon", "RssFile", "RssShmem")}
    note(f"at READY: VmRSS {mem['VmRSS'] / 1024:.1f} MiB (anon {mem['RssAnon'] / 1024:.1f}, file "
         f"{mem['RssFile'] / 1024:.1f}, shmem {mem['RssShmem'] / 1024:.1f} = journal on tmpfs); "
         f"unique {uss_kib(b2.p.pid) / 1024:.1f} MiB")
    first = next((t for t, c in timeline if c > 0), None)
    marks = [f"{p}%: {next((t for t, c in timeline if c >= a.burst * p / 100), float('nan')):.2f} s"
             for p in (10, 50, 90, 100)]
    note(f"first ban in the set {first:.2f} s after start; " + ", ".join(marks))
    note(f"banjo CPU until READY: {cpu[0]:.2f} s user, {cpu[1]:.2f} s system; its reaped children "
         f"(ipset, iptables or nft): {cpu[2]:.2f} s user, {cpu[3]:.2f} s system; journald meanwhile: "
         f"{jc[0] + jc[1]:.2f} s")
    if t_all:
        note(f"CPU until all were in the set: banjo {cpu_all[0] + cpu_all[1]:.2f} s "
             f"({cpu_all[0]:.2f} user, {cpu_all[1]:.2f} system), children "
             f"{cpu_all[2] + cpu_all[3]:.2f} s, journald {jc_all:.2f} s")
    if t_log:
        note(f"all {a.burst} ban entries in the journal {(t_log - t0) / 1e9:.2f} s after start "
             f"(checked every ~0.25 s with journalctl); CPU until then: banjo "
             f"{cpu_log[0] + cpu_log[1]:.2f} s, children {cpu_log[2] + cpu_log[3]:.2f} s, "
             f"journald {jc_log:.2f} s")
    else:
        note(f"NOT all {a.burst} ban entries in the journal")
    note(f"RssAnon 1 s after that: {anon_settled / 1024:.1f} MiB")
    tot = sum(wchans.values()) or 1
    note("banjo's state, sampled every ~5 ms until all were in the set: " + ", ".join(
        f"{k} {100 * v / tot:.0f}%" for k, v in sorted(wchans.items(), key=lambda kv: -kv[1])[:6]))
    rb = {"n": a.burst, "journal_entries": got,
          "secs_to_kernel": (t_all - t0) / 1e9 if t_all else None,
          "secs_to_ready": (b2.t_ready - t0) / 1e9, "status_banned": st.get("currently_banned"),
          "peak_rss_kib": hwm, "first_ban_secs": first, "timeline": timeline, "cpu": cpu,
          "journald_cpu": jc[0] + jc[1], "wchan": wchans, "mem_at_ready_kib": mem,
          "cpu_at_kernel": cpu_all if t_all else None, "journald_cpu_at_kernel": jc_all if t_all else None,
          "secs_to_journal": (t_log - t0) / 1e9 if t_log else None, "cpu_at_journal": cpu_log,
          "journald_cpu_at_journal": jc_log, "anon_settled_kib": anon_settled}
    results["burst"] = rb
    rb["firewall"] = a.firewall
    note(f"start -> {a.burst} in {setname} ({a.firewall}): "
         f"{rb['secs_to_kernel']:.2f} s" if t_all else f"NOT all {a.burst} in the set after 120 s")
    note(f"start -> READY=1 (journal drained): {rb['secs_to_ready']:.2f} s; banjo status: "
         f"{rb['status_banned'] if rb['status_banned'] is not None else 'no answer'} banned; "
         f"peak RSS {hwm / 1024:.1f} MiB")
    b2.stop()
    sh(f"{a.banjo} flush")
# --- idle memory (bench/idle-memory.sh) -------------------------------------------------
def quiet_sample(pid, after):
    """mem_snapshot `after` s from now, then CPU ticks and context switches over 10 s."""
    time.sleep(after)
    m = mem_snapshot(pid)
    c0, w0 = proc_cpu_ticks(pid), sum(ctxt_switches(pid).values())
    time.sleep(10)
    m["ticks"] = proc_cpu_ticks(pid) - c0
    m["wakeups"] = sum(ctxt_switches(pid).values()) - w0
    return m


def mem_snapshot(pid):
    st = {k: proc_status(pid, k) for k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM")}
    st["threads"] = sorted(open(f"/proc/{pid}/task/{t}/comm").read().strip()
                           for t in os.listdir(f"/proc/{pid}/task"))
    st["smaps"] = smaps_breakdown(pid)
    if os.environ.get("RESIDENT_CODE"):
        # Which of the binary's own pages are resident, by section and by crate.
        here = os.path.dirname(os.path.abspath(__file__))
        st["resident_code"] = sh(f"/usr/bin/python3 {here}/resident-code.py {pid}")
    return st


def fmt_mem(st):
    return (f"VmRSS {st['VmRSS'] / 1024:.2f} MiB (anon {st['RssAnon'] / 1024:.2f}, file "
            f"{st['RssFile'] / 1024:.2f}, shmem {st['RssShmem'] / 1024:.2f}); VmHWM "
            f"{st['VmHWM'] / 1024:.2f} MiB; threads: {', '.join(st['threads'])}")


METRICS_LISTEN = "127.0.0.1:9191"


def scrape():
    """GET /metrics as Prometheus would."""
    import urllib.request
    with urllib.request.urlopen(f"http://{METRICS_LISTEN}/metrics", timeout=5) as r:
        return r.read()


def scrape_cost(pid, n):
    """CPU ticks banjo spends on n scrapes back to back, and the wall time of each."""
    c0 = proc_cpu_ticks(pid)
    t0 = time.monotonic()
    size = 0
    for _ in range(n):
        size = len(scrape())
    wall = time.monotonic() - t0
    return {"n": n, "ticks": proc_cpu_ticks(pid) - c0, "ms_per_scrape": wall * 1000 / n, "bytes": size}


def cmd_idle(a):
    """banjo run on a config (default: the built-in one, sshd + recidive), in a fresh
    private journald each run: resident memory 5 s after READY=1, then after a small
    burst (BANS addresses, maxretry failures each: BANS bans, and their ban entries read
    back by recidive) and 5 s of quiet; idle CPU over 10 s after each."""
    if os.environ.get("BANJO_BENCH_NS") != "1":
        sys.exit("run me through bench/idle-memory.sh (inside unshare --mount --net)")
    os.makedirs(a.work, exist_ok=True)
    world = World(a.work)
    runs = []
    try:
        for i in range(a.runs):
            stage(f"run {i + 1}/{a.runs}: fresh journald, banjo run ({a.config or 'built-in config'})")
            world.fresh_journald(a.history)
            if a.history:
                files = sh("find /var/log/journal -name '*.journal' | wc -l").strip()
                size = sh("du -sh /var/log/journal").split()[0]
                note(f"journal history: {files} files, {size} in /var/log/journal")
            cfg = open(a.config).read() if a.config else "# built-in configuration only\n"
            if a.metrics:
                tdir = os.path.join(a.work, f"textfile-{i}")
                os.makedirs(tdir, exist_ok=True)
                cfg += (f'\n[metrics]\nlisten = "{METRICS_LISTEN}"\n'
                        f'textfile = "{tdir}/banjo.prom"\n')
            b = Banjo(world, a.banjo, f"idle-{i}", cfg)
            b.start()
            pid = b.p.pid
            if a.metrics:
                note(f"metrics on: scraped once, {len(scrape())} bytes of exposition")
            fresh = quiet_sample(pid, a.after)
            note(f"fresh, {a.after:g} s after READY: " + fmt_mem(fresh))
            note(f"  idle 10 s: {fresh['ticks']} ticks, {fresh['wakeups']} context switches")
            if i == 0 or a.verbose:
                for line in fmt_breakdown(fresh["smaps"]):
                    note("  " + line)
                for line in fresh.get("resident_code", "").splitlines():
                    note("  " + line)
            # The burst: each address fails maxretry times (one sender per round).
            first = "198.18.7.1"
            for r in range(a.maxretry):
                p, out = world.sender(first, a.bans, 0, f"idle-{i}-{r}")
                World.sender_done(p, out)
                world.release(p)
            if not wait_count("banjo-sshd-4", a.bans, time.monotonic() + 30):
                note(f"NOT all {a.bans} banned after 30 s ({ipset_count('banjo-sshd-4')} in the set)")
            burst = quiet_sample(pid, a.after)
            burst["in_set"] = ipset_count("banjo-sshd-4")
            note(f"after {burst['in_set']} bans and {a.after:g} s quiet: " + fmt_mem(burst))
            note(f"  idle 10 s: {burst['ticks']} ticks, {burst['wakeups']} context switches")
            if i == 0 or a.verbose:
                for line in fmt_breakdown(burst["smaps"]):
                    note("  " + line)
                for line in burst.get("resident_code", "").splitlines():
                    note("  " + line)
            if a.metrics:
                burst["scrape"] = scrape_cost(pid, 100)
                note(f"  100 scrapes: {burst['scrape']['ticks']} CPU ticks "
                     f"({burst['scrape']['ms_per_scrape']:.2f} ms wall each), "
                     f"{burst['scrape']['bytes']} bytes; textfile "
                     f"{os.path.getsize(os.path.join(a.work, f'textfile-{i}', 'banjo.prom'))} bytes")
                after = quiet_sample(pid, a.after)
                note(f"after the scrapes and {a.after:g} s quiet: " + fmt_mem(after))
                note(f"  idle 10 s: {after['ticks']} ticks, {after['wakeups']} context switches")
                burst["after_scrapes"] = after
            b.stop()
            sh(f"{a.banjo} flush")
            runs.append({"fresh": fresh, "burst": burst})
    finally:
        world.cleanup()
    stage("summary (MiB; RSS = anon + file + shmem)")
    print("| run | idle RSS | anon | file | shmem | after bans: RSS | anon | file | shmem | peak (VmHWM) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    m = lambda x: f"{x / 1024:.2f}"
    for i, r in enumerate(runs):
        f, b = r["fresh"], r["burst"]
        print(f"| {i + 1} | {m(f['VmRSS'])} | {m(f['RssAnon'])} | {m(f['RssFile'])} | {m(f['RssShmem'])} "
              f"| {m(b['VmRSS'])} | {m(b['RssAnon'])} | {m(b['RssFile'])} | {m(b['RssShmem'])} "
              f"| {m(b['VmHWM'])} |")
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump(runs, f)


def print_table(R, a):
    stage("summary")
    if a.burst_only:
        print("| measure | banjo | fail2ban-server | target |")
        print("|---|---|---|---|")
        print_burst(R)
        return
    rows = []

    def lat(name, s, how):
        if s:
            rows.append((name, how, f"{s['banned']}/{s['sent']}",
                         *(fmt_ms(s[k], a.cap * 1000) for k in ("p50", "p90", "p99", "max"))))
            st = s.get("steady")
            if st:
                rows.append((name, how + ", sent >= 1 s in", f"{st['sent']} sent",
                             *(fmt_ms(st[k], a.cap * 1000) for k in ("p50", "p90", "p99", "max"))))
    if "banjo_lat" in R:
        lat("banjo", R["banjo_lat"].get("summary_log"), "ban entry in journal")
    if "banjo_lat_poll" in R:
        lat("banjo (poller on)", R["banjo_lat_poll"].get("summary_log"), "ban entry in journal")
        lat("banjo (poller on)", R["banjo_lat_poll"].get("summary_kernel"), "kernel set (poll)")
    if "f2b_lat" in R:
        lat("fail2ban", R["f2b_lat"].get("summary_log"), "'Ban' log line")
        lat("fail2ban", R["f2b_lat"].get("summary_kernel"), "kernel set (poll)")
    print(f"Ban latency (ban live - failure sent), {a.rate:g} failures/s for {a.secs:g} s, "
          f"distinct addresses, capped at {a.cap:g} s, "
          f"{'each right after a connection to port 22' if R.get('connect') else 'no connections (CONNECT=0)'}:")
    print("| daemon | measured at | banned | p50 | p90 | p99 | max |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    rows.clear()
    if "banjo_low" in R:
        lat("banjo", R["banjo_low"].get("summary_log"), "ban entry in journal")
        lat("banjo", R["banjo_low"].get("summary_kernel"), "kernel set (poll)")
    if "f2b_low" in R:
        lat("fail2ban", R["f2b_low"].get("summary_log"), "'Ban' log line")
        lat("fail2ban", R["f2b_low"].get("summary_kernel"), "kernel set (poll)")
    if rows:
        print()
        print(f"Ban latency at a low rate, {a.low_rate:g} failures/s for {a.low_secs:g} s (daemon idle "
              "between failures):")
        print("| daemon | measured at | banned | p50 | p90 | p99 | max |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    s = (R.get("banjo_lat") or {}).get("summary_log", {})
    if s.get("p99") is not None:
        verdict = lambda p: "MET" if p < 20 else f"MISSED ({p:.1f} ms, {p / 20:.1f}x)"
        print(f"Target p99 < 20 ms (banjo, its journal entries, the run starting from idle): "
              f"{verdict(s['p99'])}" + (f"; over failures sent >= 1 s into the run: "
                                        f"{verdict(s['steady']['p99'])}" if s.get("steady") else ""))
    if "f2b_lat" in R:
        f = R["f2b_lat"]
        print(f"fail2ban: {f['in_set']}/{f['sent']} in its set {f['wall_secs']:.0f} s after the first "
              f"failure (sending took {f['send_secs']:.0f} s): "
              f"{f['in_set'] / f['wall_secs']:.0f} bans/s sustained vs {a.rate}/s offered; "
              f"CPU {f['daemon_cpu_secs']:.1f} s")
    for k, name in (("banjo_lat", "banjo"), ("banjo_lat_poll", "banjo (poller on)")):
        if k in R:
            b = R[k]
            print(f"{name}: CPU {b['daemon_cpu_secs']:.2f} s for {b['sent']} failures/bans "
                  f"({100 * b['daemon_cpu_secs'] / b['wall_secs']:.0f}% of a core over {b['wall_secs']:.1f} s); "
                  f"journald {b['journald_cpu_secs']:.2f} s")
    print()
    print("| measure | banjo | fail2ban-server | target |")
    print("|---|---|---|---|")
    bi, bl, fi = R.get("banjo_idle"), R.get("banjo_idle_loaded"), R.get("f2b_idle")
    mib = lambda d: (f"{d['rss_kib'] / 1024:.1f} MiB (anon {d['anon_kib'] / 1024:.1f}, "
                     f"file {d['file_kib'] / 1024:.1f}, shmem {d['shmem_kib'] / 1024:.1f}; "
                     f"unique {d['uss_kib'] / 1024:.1f})" if d else "-")
    print(f"| idle RSS (5 s after start) | {mib(bi)} | {mib(fi)} | < 10 MB |")
    if bl:
        print(f"| idle RSS holding {R['banjo_idle_loaded'].get('bans')} bans "
              f"| {mib(bl)} | | |")
    print("| (RSS parts: anon = heap; file = binary and libraries, shared; shmem = the journal files on "
          "this tmpfs that sd_journal maps; unique = pages no other process maps) | | | |")
    tk = lambda d: (f"{d['idle_ticks']} ticks, {d['wakeups']} context switches "
                    f"({d['threads']} threads) / {d['idle_secs']} s" if d else "-")
    print(f"| idle CPU (utime+stime) | {tk(bi)} | {tk(fi)} | ~0 |")
    if bl:
        print(f"| idle CPU holding bans | {tk(bl)} | | |")
    nz = R.get("banjo_idle_noise")
    if nz:
        print(f"| idle, one unrelated journal entry every {nz['every']:g} s | {nz['ticks']} ticks, "
              f"{nz['wakeups']} context switches / {nz['secs']} s | | |")
    sc = R.get("banjo_idle_scans")
    if sc:
        print(f"| idle, one connection to port 22 every {sc['every']:g} s (no failures) | {sc['ticks']} ticks, "
              f"{sc['wakeups']} context switches / {sc['secs']} s | | |")
    pk = R.get("banjo_peak_rss_kib")
    fpk = R.get("f2b_peak_rss_kib")
    print(f"| peak RSS (VmHWM) after the latency runs | {pk / 1024 if pk else 0:.1f} MiB | "
          f"{fpk / 1024 if fpk else 0:.1f} MiB | |")
    print_burst(R)


def print_burst(R):
    if "burst" in R:
        rb = R["burst"]
        k = f"{rb['secs_to_kernel']:.2f} s" if rb["secs_to_kernel"] else "not reached in 120 s"
        print(f"| {rb['n']} bans applied (start -> all in kernel set) | {k} | | < 2 s |")
        print(f"| {rb['n']} bans: start -> READY=1 | {rb['secs_to_ready']:.2f} s | | |")
        if rb.get("secs_to_journal"):
            print(f"| {rb['n']} bans: start -> all ban entries in the journal | "
                  f"{rb['secs_to_journal']:.2f} s | | |")
        print(f"| {rb['n']} bans: peak RSS | {rb['peak_rss_kib'] / 1024:.1f} MiB | | |")
        if rb["secs_to_kernel"]:
            print(f"Target {rb['n']} bans < 2 s: " + ("MET" if rb["secs_to_kernel"] < 2 else
                  f"MISSED ({rb['secs_to_kernel']:.2f} s, {rb['secs_to_kernel'] / 2:.1f}x)"))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--rate", type=float, required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--first", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--connect", action="store_true", help="connect to 127.0.0.1:22 before each failure")
    r = sub.add_parser("run")
    r.add_argument("--banjo", required=True)
    r.add_argument("--work", required=True)
    r.add_argument("--rate", type=float, default=1000)
    r.add_argument("--secs", type=float, default=10)
    r.add_argument("--cap", type=float, default=60)
    r.add_argument("--burst", type=int, default=100000)
    r.add_argument("--low-rate", type=float, default=5)
    r.add_argument("--low-secs", type=float, default=10)
    r.add_argument("--skip-fail2ban", action="store_true")
    r.add_argument("--burst-only", action="store_true")
    r.add_argument("--no-connect", action="store_true",
                   help="failures without a connection before each (no wake-up for banjo)")
    r.add_argument("--firewall", default="iptables", choices=["iptables", "nftables"],
                   help="banjo's backend for the burst stage (nftables needs --burst-only)")
    i = sub.add_parser("idle")
    i.add_argument("--banjo", required=True)
    i.add_argument("--work", required=True)
    i.add_argument("--config", default="", help="a banjo.toml (default: built-in configuration)")
    i.add_argument("--runs", type=int, default=3)
    i.add_argument("--after", type=float, default=5)
    i.add_argument("--bans", type=int, default=3)
    i.add_argument("--maxretry", type=int, default=5)
    i.add_argument("--verbose", action="store_true")
    i.add_argument("--metrics", action="store_true",
                   help=f"[metrics] listen = {METRICS_LISTEN} and a textfile; scrape once after READY, "
                        "100 times after the burst (their CPU cost), then measure idle again")
    i.add_argument("--history", help="a directory of journal files whose archived ones "
                   "become this world's persistent journal (a host with a history)")
    a = ap.parse_args()
    {"send": cmd_send, "run": cmd_run, "idle": cmd_idle}[a.cmd](a)


if __name__ == "__main__":
    main()

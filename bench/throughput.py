#!/usr/bin/env python3
"""Measurement half of bench/filter-throughput.sh (which prepares the data).

    bench/throughput.py --banjo BIN --bare BIN --journal DIR --text FILE
                        --small-journal DIR --small-text FILE
                        [--f2b-journal DIR --f2b-text FILE] [--runs 3] [--f2b-runs 3]
                        [--baseline BIN]

Runs every tool RUNS times on the same data, takes the median time, and prints one
table plus ratios and a correctness check against the generator's truth.json. With
--baseline, another banjo build (e.g. the last landed one) runs (a) and (d) too, each of
its runs right after the same run of --banjo, and the ratios of the two are printed.
Standard library only.
"""
import argparse
import ipaddress
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

F2B_REGEX = "/usr/bin/fail2ban-regex"
PY = "/usr/bin/python3"  # fail2ban needs Debian's python3 (python3-systemd), not a pyenv one


class PeakMem:
    """Samples /proc/PID/status of the measured process (the child of /usr/bin/time)
    every few ms: peak RssAnon (heap and stacks) and peak RssFile (mapped files: for a
    journal reader, the journal files it mmaps, shared with the page cache)."""

    def __init__(self, time_pid):
        self.time_pid, self.anon, self.file, self.stop = time_pid, 0, 0, False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        pid = None
        while not self.stop:
            try:
                if pid is None:
                    with open(f"/proc/{self.time_pid}/task/{self.time_pid}/children") as f:
                        kids = f.read().split()
                    pid = kids[0] if kids else None
                if pid:
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("RssAnon:"):
                                self.anon = max(self.anon, int(line.split()[1]))
                            elif line.startswith("RssFile:"):
                                self.file = max(self.file, int(line.split()[1]))
            except (OSError, IndexError, ValueError):
                pass
            time.sleep(0.003)

    def finish(self):
        self.stop = True
        self.t.join()


def timed(argv):
    """Run argv under /usr/bin/time -v; return (stdout, wall seconds, max RSS KiB,
    peak RssAnon KiB, peak RssFile KiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf, \
            tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-v", "-o", tf.name] + argv, stdout=out, stderr=err)
        mem = PeakMem(p.pid)
        rc = p.wait()
        wall = time.monotonic() - t0
        mem.finish()
        out.seek(0)
        err.seek(0)
        if rc != 0:
            sys.exit(f"failed ({rc}): {' '.join(argv)}\n{err.read().decode(errors='replace')[-3000:]}")
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", tf.read()).group(1))
        return out.read().decode(errors="replace"), wall, rss, mem.anon, mem.file


def banjo_run(banjo, args):
    out, wall, rss, anon, file = timed([banjo, "test-filter", "sshd"] + args + ["--json"])
    d = json.loads(out)
    return {"entries": d["entries"], "secs": d["elapsed_seconds"], "wall": wall, "rss": rss,
            "anon": anon, "file": file,
            "failures": d["failures"], "matched": d["matched"],
            "addresses": {a["address"]: a["failures"] for a in d["addresses"]}}


def f2b_run(source):
    out, wall, rss, anon, file = timed([PY, F2B_REGEX, source, "sshd"])
    m = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed", out, re.M)
    t = re.search(r"\[processed in ([0-9.]+) sec\]", out)
    if not m or not t:
        sys.exit(f"cannot parse fail2ban-regex output:\n{out[-2000:]}")
    return {"entries": int(m.group(1)), "secs": float(t.group(1)), "wall": wall, "rss": rss,
            "anon": anon, "file": file, "failures": int(m.group(3))}


def bare_run(bare, d):
    out, wall, rss, anon, file = timed([bare, d])
    kv = dict(x.split("=", 1) for x in out.split())
    return {"entries": int(kv["entries"]), "secs": float(kv["elapsed_seconds"]), "wall": wall,
            "rss": rss, "anon": anon, "file": file}


def median_of(label, fn, runs):
    rs = []
    for i in range(runs):
        r = fn()
        print(f"  {label} run {i + 1}/{runs}: {r['entries']} entries in {r['secs']:.3f} s "
              f"(wall {r['wall']:.2f} s, max RSS {r['rss'] / 1024:.1f} MiB: anon {r['anon'] / 1024:.1f}, "
              f"file {r['file'] / 1024:.1f})", flush=True)
        rs.append(r)
    rs.sort(key=lambda r: r["secs"])
    med = dict(rs[len(rs) // 2])
    for k in ("rss", "anon", "file"):
        med[k] = max(r[k] for r in rs)  # worst case over the runs
    med["runs"] = runs
    med["label"] = label
    return med


def rate(r):
    return r["entries"] / r["secs"] if r["secs"] > 0 else float("inf")


def truth_counts(journal_dir):
    t = json.load(open(os.path.join(journal_dir, "truth.json")))
    f = t["families"]["sshd"]
    # fail2ban's and banjo's normal mode treat the pam_unix line as a helper (NOFAIL):
    # evidence that is counted only together with a Failed line, not on its own.
    helper = {"pam-auth-failure", "inject-pam-rhost"}
    strict_hosts = {}
    for kind, k in f["kinds"].items():
        if k["failure"] and kind not in helper:
            for h, c in k["hosts"].items():
                strict_hosts[h] = strict_hosts.get(h, 0) + c
    return f["failures"], sum(strict_hosts.values()), strict_hosts, f["kinds"]


def main():
    ap = argparse.ArgumentParser()
    for a in ("banjo", "bare", "journal", "text", "small-journal", "small-text"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--f2b-journal")
    ap.add_argument("--f2b-text")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--f2b-runs", type=int, default=3)
    ap.add_argument("--flat-journal", help="a bigger journal: banjo's memory only, one run")
    ap.add_argument("--flat-text")
    ap.add_argument("--json-out")
    ap.add_argument("--baseline", help="another banjo binary: journal and text beside --banjo")
    a = ap.parse_args()
    R = a.runs

    rows = {}
    print("== (a) banjo, native journal", flush=True)
    rows["banjo-journal"] = median_of("banjo test-filter --journal-dir", lambda: banjo_run(
        a.banjo, ["--journal-dir", a.journal]), R)
    print("== (c) bare libsystemd loop (C), same journal, same matches", flush=True)
    rows["bare"] = median_of("bare-journal", lambda: bare_run(a.bare, a.journal), R)
    print("== (d) banjo, text file (journalctl -o short-iso of the same sshd entries)", flush=True)
    rows["banjo-text"] = median_of("banjo test-filter FILE", lambda: banjo_run(a.banjo, [a.text]), R)
    print("== (e) banjo on the small journal / text file (memory flatness)", flush=True)
    rows["banjo-journal-small"] = median_of("banjo test-filter --journal-dir (small)", lambda: banjo_run(
        a.banjo, ["--journal-dir", a.small_journal]), R)
    rows["banjo-text-small"] = median_of("banjo test-filter FILE (small)", lambda: banjo_run(
        a.banjo, [a.small_text]), R)
    if a.flat_journal:
        print("== (e) banjo on the biggest journal / text file (memory flatness, 1 run)", flush=True)
        rows["banjo-journal-flat"] = median_of("banjo test-filter --journal-dir (biggest)", lambda: banjo_run(
            a.banjo, ["--journal-dir", a.flat_journal]), 1)
        rows["banjo-text-flat"] = median_of("banjo test-filter FILE (biggest)", lambda: banjo_run(
            a.banjo, [a.flat_text]), 1)
    fj = a.f2b_journal or a.journal
    ft = a.f2b_text or a.text
    print(f"== (b) fail2ban-regex, journal {fj}", flush=True)
    rows["f2b-journal"] = median_of("fail2ban-regex systemd-journal", lambda: f2b_run(
        f"systemd-journal[journalpath={fj}]"), a.f2b_runs)
    print(f"== (d) fail2ban-regex, text file {ft}", flush=True)
    rows["f2b-text"] = median_of("fail2ban-regex FILE", lambda: f2b_run(ft), a.f2b_runs)

    # --- table -----------------------------------------------------------------------
    def line(name, src, r):
        return (f"| {name:<34} | {src:<13} | {r['entries']:>9} | {r['secs']:>8.3f} | {r['wall']:>7.2f} "
                f"| {rate(r):>12,.0f} | {r['rss'] / 1024:>8.1f} | {r['anon'] / 1024:>9.1f} "
                f"| {r['file'] / 1024:>9.1f} |")
    print()
    print("Median of runs; 'seconds' is each tool's own timer (banjo: elapsed_seconds in its JSON;")
    print("fail2ban-regex: 'processed in'; bare loop: open..close), 'wall' the whole process;")
    print("max RSS from /usr/bin/time -v (largest over the runs); anon/file: peak RssAnon (heap) and")
    print("RssFile (mapped files, for journal readers the mmapped journal) sampled from /proc every ~3 ms.")
    print()
    print(f"| {'tool':<34} | {'input':<13} | {'entries':>9} | {'seconds':>8} | {'wall s':>7} "
          f"| {'entries/s':>12} | {'RSS MiB':>8} | {'anon MiB':>9} | {'file MiB':>9} |")
    print(f"|{'-' * 36}|{'-' * 15}|{'-' * 11}:|{'-' * 9}:|{'-' * 8}:|{'-' * 13}:|{'-' * 9}:|{'-' * 10}:|"
          f"{'-' * 10}:|")
    big_n = json.load(open(os.path.join(a.journal, "truth.json")))["entries"]
    small_n = json.load(open(os.path.join(a.small_journal, "truth.json")))["entries"]
    f2b_n = json.load(open(os.path.join(fj, "truth.json")))["entries"]
    tag = lambda n, kind: f"{kind} {n // 1000}k" if n < 10**6 else f"{kind} {n / 1e6:g}M"
    print(line("banjo test-filter sshd (journal)", tag(big_n, "journal"), rows["banjo-journal"]))
    print(line("bare libsystemd loop (C)", tag(big_n, "journal"), rows["bare"]))
    print(line("fail2ban-regex sshd (journal)", tag(f2b_n, "journal"), rows["f2b-journal"]))
    print(line("banjo test-filter sshd (text)", tag(big_n, "text of"), rows["banjo-text"]))
    print(line("fail2ban-regex sshd (text)", tag(f2b_n, "text of") if a.f2b_text else tag(big_n, "text of"),
               rows["f2b-text"]))
    print(line("banjo test-filter sshd (journal)", tag(small_n, "journal"), rows["banjo-journal-small"]))
    print(line("banjo test-filter sshd (text)", tag(small_n, "text of"), rows["banjo-text-small"]))
    if a.flat_journal:
        flat_n = json.load(open(os.path.join(a.flat_journal, "truth.json")))["entries"]
        print(line("banjo test-filter sshd (journal)", tag(flat_n, "journal"), rows["banjo-journal-flat"]))
        print(line("banjo test-filter sshd (text)", tag(flat_n, "text of"), rows["banjo-text-flat"]))
    print()
    bj, bt = rows["banjo-journal"], rows["banjo-text"]
    print("Ratios (entries/s):")
    print(f"  banjo / fail2ban, journal : {rate(bj) / rate(rows['f2b-journal']):8.1f}x")
    print(f"  banjo / fail2ban, text    : {rate(bt) / rate(rows['f2b-text']):8.1f}x")
    print(f"  banjo / bare loop, journal: {rate(bj) / rate(rows['bare']):8.2f}")
    if fj != a.journal or a.f2b_text:
        print(f"  (fail2ban ran on the {f2b_n}-entry journal/text, not the {big_n}-entry one: "
              "rates compared, not totals)")
    print("Targets: journal >= 600,000 entries/s ->", "MET" if rate(bj) >= 600_000 else
          f"MISSED by {100 * (1 - rate(bj) / 600_000):.0f}%",
          f"({rate(bj):,.0f}); text >= 3,000,000 lines/s ->",
          "MET" if rate(bt) >= 3_000_000 else f"MISSED by {100 * (1 - rate(bt) / 3_000_000):.0f}%",
          f"({rate(bt):,.0f})")
    sj, st = rows["banjo-journal-small"], rows["banjo-text-small"]
    m = lambda r, k: f"{r[k] / 1024:.1f}"
    print(f"Memory flatness, banjo, {small_n:,} -> {big_n:,} entries (x{big_n / small_n:g} input):")
    print(f"  journal: max RSS {m(sj, 'rss')} -> {m(bj, 'rss')} MiB (x{bj['rss'] / sj['rss']:.2f}); "
          f"anon {m(sj, 'anon')} -> {m(bj, 'anon')} MiB; mapped files {m(sj, 'file')} -> {m(bj, 'file')} MiB "
          f"(bare C loop: {m(rows['bare'], 'rss')} MiB max RSS, {m(rows['bare'], 'file')} MiB mapped)")
    print(f"  text:    max RSS {m(st, 'rss')} -> {m(bt, 'rss')} MiB (x{bt['rss'] / st['rss']:.2f}); "
          f"anon {m(st, 'anon')} -> {m(bt, 'anon')} MiB; mapped files {m(st, 'file')} -> {m(bt, 'file')} MiB")
    if a.flat_journal:
        fjr, ftr = rows["banjo-journal-flat"], rows["banjo-text-flat"]
        print(f"  and at {flat_n:,} entries: journal anon {m(fjr, 'anon')} MiB (max RSS {m(fjr, 'rss')}), "
              f"text anon {m(ftr, 'anon')} MiB (max RSS {m(ftr, 'rss')})")

    if a.baseline:
        # Interleaved: each baseline run right after one of --banjo, so a change in the
        # machine's load touches both alike.
        print()
        print(f"Beside the baseline build {a.baseline} (medians of {R}, interleaved):")
        for key, args in (("journal", ["--journal-dir", a.journal]), ("text", [a.text])):
            ours, base = [], []
            for _ in range(R):
                ours.append(banjo_run(a.banjo, args))
                base.append(banjo_run(a.baseline, args))
            o = statistics.median(rate(r) for r in ours)
            b = statistics.median(rate(r) for r in base)
            same = all(r["failures"] == ours[0]["failures"] for r in ours + base)
            rows[f"baseline-{key}"] = {"entries_per_s": b, "ours_entries_per_s": o}
            print(f"  {key:<7}: this build {o:>12,.0f} entries/s, baseline {b:>12,.0f} -> "
                  f"{o / b:.2f}x; failures {'equal' if same else 'DIFFER'} ({ours[0]['failures']})")

    # --- correctness -----------------------------------------------------------------
    print()
    print("Correctness (sshd failures; truth = bench/gen-traffic.py's truth.json):")
    for name, jdir, key in ((tag(big_n, "journal"), a.journal, "banjo-journal"),
                            (tag(small_n, "journal"), a.small_journal, "banjo-journal-small")):
        total, strict, hosts, kinds = truth_counts(jdir)
        r = rows[key]
        same = sum(1 for h, c in hosts.items() if r["addresses"].get(h) == c)
        extra = [h for h in r["addresses"] if h not in hosts]
        print(f"  {name}: truth {total} failure lines, {strict} without the pam_unix helper lines "
              f"({kinds['pam-auth-failure']['entries']} pam-auth-failure, "
              f"{kinds['inject-pam-rhost']['entries']} inject-pam-rhost; NOFAIL in mode=normal)")
        decoy_net = ipaddress.ip_network(json.load(open(os.path.join(jdir, "truth.json")))["decoy_net"])
        decoys = [h for h in r["addresses"] if ipaddress.ip_address(h) in decoy_net]
        verdict = "= truth" if r["failures"] == strict else f"differs from truth by {r['failures'] - strict:+d}"
        print(f"    banjo journal: {r['failures']} failures ({verdict}), "
              f"{same}/{len(hosts)} hosts with exactly the true count, {len(extra)} addresses not in truth, "
              f"{len(decoys)} in the decoy net {decoy_net}")
        tk = "banjo-text" if key == "banjo-journal" else "banjo-text-small"
        print(f"    banjo text   : {rows[tk]['failures']} failures")
    total, strict, _, _ = truth_counts(fj)
    print(f"  fail2ban-regex on {tag(f2b_n, 'journal')}: {rows['f2b-journal']['failures']} matched lines "
          f"(truth there: {strict} without helpers, {total} with); text: {rows['f2b-text']['failures']}")
    print("    (stock fail2ban 1.0.2 does not match OpenSSH 8+ 'Disconnecting authenticating user … "
          "Too many authentication failures' and counts some lines differently; see RESULTS.md)")
    if a.json_out:
        for r in rows.values():
            r.pop("addresses", None)
        with open(a.json_out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

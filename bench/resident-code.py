#!/usr/bin/python3
"""Usage: bench/resident-code.py PID [BINARY]

Which parts of a running program's own binary are resident, and why: every resident
page of BINARY's mappings in PID (from /proc/PID/pagemap, root only) is attributed to
its ELF section, and pages of .text to the crates whose functions they hold (bytes of
each symbol on the page, from `nm`; the crate is the first path segment of the
demangled name). Prints KiB per section and per crate, largest first.

A resident page was touched, or was mapped by the kernel's fault-around (64 KB around
each touched page of a file mapping): so the crate list says which code sits near code
that ran, not only which code ran.
"""
import bisect
import os
import re
import struct
import subprocess
import sys
from collections import defaultdict

PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_offsets(pid, binary):
    """File offsets (page-aligned) of the binary's resident pages in pid."""
    real = os.path.realpath(binary)
    maps = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and os.path.realpath(parts[5].strip()) == real:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                maps.append((lo, hi, int(parts[2], 16)))
    out = set()
    with open(f"/proc/{pid}/pagemap", "rb") as pm:
        for lo, hi, off in maps:
            pm.seek(lo // PAGE * 8)
            data = pm.read((hi - lo) // PAGE * 8)
            for i in range(len(data) // 8):
                (entry,) = struct.unpack_from("<Q", data, i * 8)
                if entry >> 63:
                    out.add(off + i * PAGE)
    return out


def sections(binary):
    """[(file_offset, size, vaddr, name)] of allocated sections."""
    res = []
    text = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout
    for m in re.finditer(r"\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+\S+\s+(\S*A\S*)\s", text):
        name, kind, addr, off, size = m.group(1), m.group(2), int(m.group(3), 16), int(m.group(4), 16), int(m.group(5), 16)
        if kind != "NOBITS" and size:
            res.append((off, size, addr, name))
    return sorted(res)


def crate_of(name):
    name = name.lstrip("<&*")
    name = re.sub(r"^(dyn |mut |impl )", "", name)
    head = re.split(r"::|[ <>(\[,]", name, maxsplit=1)[0]
    return head or "?"


def symbols(binary):
    """Sorted [(vaddr, size, crate)] of function symbols."""
    text = subprocess.run(["nm", "-C", "-S", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    res = []
    for line in text.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2] in "tTwW":
            res.append((int(parts[0], 16), int(parts[1], 16), crate_of(parts[3])))
    res.sort()
    return res


def main():
    pid = int(sys.argv[1])
    binary = sys.argv[2] if len(sys.argv) > 2 else os.readlink(f"/proc/{pid}/exe")
    pages = resident_offsets(pid, binary)
    secs = sections(binary)
    syms = symbols(binary)
    starts = [s[0] for s in syms]
    by_section = defaultdict(int)
    by_crate = defaultdict(float)
    for off in sorted(pages):
        sec = next((s for s in secs if s[0] <= off < s[0] + s[1]), None)
        if sec is None:
            by_section["(headers, padding)"] += PAGE
            continue
        by_section[sec[3]] += PAGE
        if sec[3] != ".text":
            continue
        va_lo = sec[2] + (off - sec[0])
        va_hi = va_lo + PAGE
        i = max(bisect.bisect_right(starts, va_lo) - 1, 0)
        covered = 0
        while i < len(syms) and syms[i][0] < va_hi:
            a, n, crate = syms[i]
            both = min(a + n, va_hi) - max(a, va_lo)
            if both > 0:
                by_crate[crate] += both
                covered += both
            i += 1
        if covered < PAGE:
            by_crate["(no symbol)"] += PAGE - covered
    total = len(pages) * PAGE
    print(f"{binary}: {total // 1024} KiB resident in pid {pid}")
    print("by section (KiB):")
    for k, v in sorted(by_section.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<24} {v // 1024:>6}")
    print(".text by crate (KiB):")
    for k, v in sorted(by_crate.items(), key=lambda kv: -kv[1]):
        if v >= 4096:
            print(f"  {k:<24} {v / 1024:>6.0f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Log files for the file-path throughput bench (bench/filter-throughput.sh, stage f).

Usage: make-logfiles.py N OUTDIR [SEED]

Writes OUTDIR/auth.log (rsyslog's traditional format: sshd failures among the usual
sshd, CRON and systemd chatter) and OUTDIR/access.log (nginx combined: 404 probes for
phpMyAdmin among ordinary requests), N lines each, and OUTDIR/truth.json with the
failures each file holds. Times advance one second per 10 lines from 2026-12-07 00:00
UTC; addresses are TEST-NET.
"""
import json
import random
import sys
import time

n = int(sys.argv[1])
out = sys.argv[2]
rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
t0 = 1796601600  # 2026-12-07 00:00:00 UTC


def ip():
    return f"{rnd.choice(['192.0.2', '198.51.100', '203.0.113'])}.{rnd.randint(1, 254)}"


fails = 0
with open(f"{out}/auth.log", "w") as f:
    for i in range(n):
        t = time.gmtime(t0 + i // 10)
        stamp = time.strftime("%b %e %H:%M:%S", t)
        r = rnd.random()
        if r < 0.6:
            fails += 1
            line = f"sshd[{rnd.randint(1000, 99999)}]: Failed password for {rnd.choice(['root', 'admin', 'invalid user oracle'])} from {ip()} port {rnd.randint(1024, 65535)} ssh2"
        elif r < 0.8:
            line = f"sshd[{rnd.randint(1000, 99999)}]: Connection closed by {ip()} port {rnd.randint(1024, 65535)} [preauth]"
        elif r < 0.9:
            line = f"CRON[{rnd.randint(1000, 99999)}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
        else:
            line = "systemd[1]: Started session-%d.scope - Session %d of User root." % (i, i)
        f.write(f"{stamp} web1 {line}\n")
auth_fails = fails

fails = 0
with open(f"{out}/access.log", "w") as f:
    for i in range(n):
        t = time.gmtime(t0 + i // 10)
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", t)
        if rnd.random() < 0.3:
            fails += 1
            req, status = f"GET /{rnd.choice(['pma', 'phpmyadmin', 'wp-login.php', 'myadmin'])}/index.php HTTP/1.1", 404
        else:
            req, status = f"GET /static/{rnd.randint(1, 9999)}.css HTTP/2.0", 200
        f.write(f'{ip()} - - [{stamp}] "{req}" {status} {rnd.randint(100, 9999)} "-" "Mozilla/5.0 (X11; Linux x86_64)"\n')

with open(f"{out}/truth.json", "w") as f:
    json.dump({"lines": n, "auth_failures": auth_fails, "access_failures": fails}, f)

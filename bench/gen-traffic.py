#!/usr/bin/env python3
"""Synthetic host traffic in systemd journal export format, plus ground truth.

    bench/gen-traffic.py --entries N [--seed S] [--start EPOCH] [--rate PER_SEC]
                         --out FILE.export [--truth FILE.json]

Output is deterministic for a given (N, seed, start, rate). Convert it to a journal with
bench/make-journal.sh or `systemd-journal-remote --output=DIR/x.journal FILE.export`.

What it models (one host, one boot, all addresses from documentation ranges):
- ~60% sshd (OpenSSH 8/9 with UsePAM and LogLevel VERBOSE; one PID per connection),
  the rest postfix/smtpd, dovecot, nginx (error_log to syslog), kernel UFW blocks and
  background noise (systemd, cron, logind, sudo, snapd, a web app on stdout).
- Attackers: a few hundred addresses, heavy-tailed (Zipf) per service, ~15% IPv6; some
  IPv6 attackers rotate through one /64 (a fresh address per connection).
- Decoys: every address an attacker merely *mentions* (injected into a user name, a
  HELO, an unrelated service's message, a fake `logger -t sshd`) is in 198.51.100.64/28,
  and no real client ever comes from there: tests can assert none of them is banned.
- Readers' edge cases: a few non-UTF-8 and multi-line MESSAGEs (binary-safe export
  form) and two ~100 KB MESSAGEs.

Ground truth (--truth) counts every tracked line by filter family, kind and host; a
kind is a "failure" when it is evidence of a failed login/abuse attempt by that host
(see KINDS). Hosts are in canonical form (IPv6 compressed, even where the kernel
prints it expanded).
"""
import argparse
import base64
import bisect
import ipaddress
import json
import random
import struct
import sys
from datetime import datetime, timezone

# --- fixed identity of the simulated host -------------------------------------------
BOOT_ID = "5b1c0e0f7d2a4c3e9a8b6f4d2e1c0a97"
MACHINE_ID = "0d5f3a2c9e8b4f7a8c6d1e2f3a4b5c6d"
HOSTNAME = "web1"
SERVER4, SERVER6 = "192.0.2.1", "2001:db8::1"
DOMAIN = "example.com"

# Kinds per filter family: kind -> is it a genuine failure. Only these lines are counted
# in the truth file. Note where stock fail2ban (mode=normal) disagrees: it treats
# pam-auth-failure as a helper (NOFAIL) and does not match too-many-auth-failures in
# OpenSSH 8+ wording nor inject-pam-rhost.
KINDS = {
    "sshd": {
        "failed-password": True, "failed-password-invalid": True, "invalid-user": True,
        "pam-auth-failure": True, "max-auth-attempts": True, "too-many-auth-failures": True,
        "inject-invalid-user": True, "inject-failed-password": True, "inject-pam-rhost": True,
        "connection-from": False, "accepted": False, "closed-preauth": False,
        "disconnected-preauth": False, "bye-preauth": False, "pam-more-failures": False,
        "no-ident": False, "banner-invalid": False, "unable-negotiate": False,
        "maxstartups-drop": False,
    },
    "postfix-sasl": {"sasl-failed": True},
    "postfix": {"noqueue-reject": True, "inject-helo-reject": True},
    "dovecot": {"passwd-mismatch": True, "unknown-user": True, "login-auth-failed": True,
                "inject-user": True, "no-auth": False},
    "nginx-http-auth": {"user-not-found": True, "password-mismatch": True, "inject-user": True},
    "nginx-limit-req": {"limiting-requests": True},
    "ufw": {"block": True},
    # Lines that *look* like failures but are not from the service (or not the real
    # client): never a failure, every address in DECOY_NET.
    "decoy": {"myapp-sshd-lookalike": False, "logger-fake-sshd": False,
              "myapp-other-lookalike": False, "user-ufw-lookalike": False},
}
# Journal matches that select each family's genuine source on this host (Debian names:
# ssh.service, postfix@-.service; fail2ban's stock journalmatch uses other unit names).
MATCHES = {
    "sshd": "_COMM=sshd", "postfix-sasl": "_SYSTEMD_UNIT=postfix@-.service",
    "postfix": "_SYSTEMD_UNIT=postfix@-.service", "dovecot": "_SYSTEMD_UNIT=dovecot.service",
    "nginx-http-auth": "_SYSTEMD_UNIT=nginx.service + _COMM=nginx",
    "nginx-limit-req": "_SYSTEMD_UNIT=nginx.service + _COMM=nginx",
    "ufw": "_TRANSPORT=kernel", "decoy": None,
}
DECOY_NET = "198.51.100.64/28"

SYSLOG, NATIVE, KERNEL = 0, 1, 2  # how an entry's timestamps are filled in


class Gen:
    def __init__(self, seed, start_us, rate):
        self.rng = rng = random.Random(seed)
        self.mean_gap = 1e6 / rate
        # Booted ~3 days before the first entry; one boot for the whole file.
        self.boot = start_us - 3 * 86400 * 10**6 - rng.randrange(10**9)
        self.next_pid = 20000
        self.nginx_conn = 100000
        self.session_no = 400
        self.n_odd = 0
        self.counts = {}
        self.special_counts = {"non_utf8": 0, "multiline": 0, "huge": 0}
        self.ngx_sec, self.ngx_time = -1, ""
        self._make_hosts()
        self._make_procs()

    # --- addresses ---------------------------------------------------------------------
    def _make_hosts(self):
        rng = self.rng
        decoys = {str(a) for a in ipaddress.ip_network(DECOY_NET)}
        self.decoys = sorted(decoys - {"198.51.100.64", "198.51.100.65"},
                             key=lambda a: int(a.rsplit(".", 1)[1]))
        self.legit = ["192.0.2.10", "192.0.2.11", "192.0.2.12", "203.0.113.10",
                      "2001:db8:1::10", "2001:db8:1::11"]
        v4 = [f"192.0.2.{i}" for i in range(32, 255)]
        v4 += [f"198.51.100.{i}" for i in range(1, 255) if not 64 <= i < 80]
        v4 += [f"203.0.113.{i}" for i in range(32, 255)]
        v4 = rng.sample(v4, 340)
        v6 = set()
        while len(v6) < 50:  # fixed IPv6 attackers, each in its own /64 (not legit's or ours)
            v6.add(str(ipaddress.IPv6Address((0x20010db8 << 96) | (rng.randrange(2, 0xbad) << 80)
                                             | (rng.randrange(1 << 16) << 64) | rng.getrandbits(64))))
        v6 = sorted(v6)
        # Rotating attackers: the pool holds the /64 prefix; each pick draws a new address.
        self.rotating = [f"2001:db8:bad:{i:x}::" for i in range(1, 11)]
        # Heavy tail: each service ranks the attackers differently (Zipf, s=1.1), so some
        # hosts hit several services and a few dominate each. Ranks go to IPv6 whenever
        # that keeps IPv6 at or under 15% of the weight, with rotating /64s among the
        # first IPv6 ranks so they are busy enough to matter.
        self.pools = {}
        for fam in ("sshd", "postfix", "dovecot", "nginx", "ufw"):
            o4, o6, rot = v4[:], v6[:], self.rotating[:]
            rng.shuffle(o4)
            rng.shuffle(o6)
            rng.shuffle(rot)
            o6 = [rot[0], o6[0], rot[1], o6[1], o6[2], rot[2]] + o6[3:] + rot[3:]
            o6.reverse()
            o4.reverse()
            order, cum, acc, acc6 = [], [], 0.0, 0.0
            while o4 or o6:
                w = 1.0 / (len(order) + 1) ** 1.1
                six = o6 and (not o4 or acc6 + w <= 0.15 * (acc + w))
                order.append(o6.pop() if six else o4.pop())
                acc += w
                acc6 += w if six else 0.0
                cum.append(acc)
            self.pools[fam] = (order, cum, acc)
        self.rotating = set(self.rotating)

    def attacker(self, fam):
        order, cum, tot = self.pools[fam]
        a = order[bisect.bisect(cum, self.rng.random() * tot)]
        if a in self.rotating:
            a = str(ipaddress.IPv6Address(int(ipaddress.IPv6Address(a)) | self.rng.getrandbits(64)))
        return a

    def port(self):
        return 1024 + int(self.rng.random() * 64512)

    def pid(self):
        self.next_pid += 1 + int(self.rng.random() * 6)
        return self.next_pid

    def token(self, nbytes):
        return base64.b64encode(self.rng.getrandbits(nbytes * 8).to_bytes(nbytes, "little")).decode()

    # --- processes: the constant fields of one process, joined once -------------------
    def _make_procs(self):
        def inv():
            return "%032x" % self.rng.getrandbits(128)
        base = f"_BOOT_ID={BOOT_ID}\n_MACHINE_ID={MACHINE_ID}\n_HOSTNAME={HOSTNAME}\n"

        def proc(ident, comm, exe, cmdline, unit, facility, transport="syslog", uid=0,
                 gid=0, cgroup=None, slice_="system.slice", extra=""):
            cg = cgroup or f"/{slice_}/{unit}"
            s = (f"{base}_TRANSPORT={transport}\nSYSLOG_FACILITY={facility}\n"
                 f"SYSLOG_IDENTIFIER={ident}\n_COMM={comm}\n_PID=%d\n_UID={uid}\n_GID={gid}\n"
                 f"_EXE={exe}\n_CMDLINE={cmdline}\n_SYSTEMD_UNIT={unit}\n_SYSTEMD_CGROUP={cg}\n"
                 f"_SYSTEMD_SLICE={slice_}\n_SYSTEMD_INVOCATION_ID={inv()}\n")
            if transport == "syslog":
                s += "SYSLOG_PID=%d\n"
            elif transport == "stdout":
                s += f"_STREAM_ID={inv()}\n"
            s += extra
            kind = SYSLOG if transport == "syslog" else NATIVE
            return (s, kind, s.count("%d"))

        self.P = {
            "sshd": proc("sshd", "sshd", "/usr/sbin/sshd", "sshd: %s", "ssh.service", 4),
            "smtpd": proc("postfix/smtpd", "smtpd", "/usr/lib/postfix/sbin/smtpd",
                          "smtpd -n smtp -t inet -u -c -o stress= -s 2", "postfix@-.service", 2,
                          cgroup="/system.slice/system-postfix.slice/postfix@-.service",
                          slice_="system-postfix.slice"),
            # Dovecot's children log through its log process, which calls syslog().
            "dovecot": proc("dovecot", "log", "/usr/lib/dovecot/log", "dovecot/log",
                            "dovecot.service", 2),
            "nginx": proc("nginx", "nginx", "/usr/sbin/nginx", "nginx: worker process",
                          "nginx.service", 23, uid=33, gid=33),
            "cron": proc("CRON", "cron", "/usr/sbin/cron", "/usr/sbin/cron -f", "cron.service", 10),
            "logind": proc("systemd-logind", "systemd-logind", "/usr/lib/systemd/systemd-logind",
                           "/lib/systemd/systemd-logind", "systemd-logind.service", 4,
                           transport="journal"),
            "systemd": proc("systemd", "systemd", "/usr/lib/systemd/systemd", "/sbin/init",
                            "init.scope", 3, transport="journal"),
            "sudo": proc("sudo", "sudo", "/usr/bin/sudo", "sudo systemctl reload nginx",
                         "session-401.scope", 10, uid=1000, gid=1000,
                         cgroup="/user.slice/user-1000.slice/session-401.scope",
                         slice_="user-1000.slice"),
            "snapd": proc("snapd", "snapd", "/usr/lib/snapd/snapd", "/usr/lib/snapd/snapd",
                          "snapd.service", 3, transport="stdout"),
            "timesyncd": proc("systemd-timesyncd", "systemd-timesyn",
                              "/usr/lib/systemd/systemd-timesyncd",
                              "/lib/systemd/systemd-timesyncd", "systemd-timesyncd.service", 3,
                              transport="journal", uid=997, gid=997),
            "myweb": proc("myweb", "node", "/usr/bin/node", "node /srv/myweb/server.js",
                          "myweb.service", 3, transport="stdout", uid=1001, gid=1001),
            # Unrelated services whose text looks like other daemons' failures.
            "myapp": proc("myapp", "myapp", "/opt/myapp/bin/myapp", "/opt/myapp/bin/myapp --serve",
                          "myapp.service", 3, transport="journal", uid=1002, gid=1002),
            "logger": proc("sshd", "logger", "/usr/bin/logger", "logger -t sshd", "session-402.scope",
                           1, uid=1000, gid=1000,
                           cgroup="/user.slice/user-1000.slice/session-402.scope",
                           slice_="user-1000.slice"),
        }
        self.kernel_prefix = (f"{base}_TRANSPORT=kernel\nSYSLOG_FACILITY=0\n"
                              "SYSLOG_IDENTIFIER=kernel\n")
        # Long-lived processes: two nginx workers, dovecot's log process.
        self.nginx_p = (self.prefix("nginx", pid=1713), self.prefix("nginx", pid=1714))
        self.dovecot_p = self.prefix("dovecot", pid=1205)

    def prefix(self, name, pid=None, cmd=None):
        s, kind, n = self.P[name]
        if cmd is not None:
            s = s.replace("%s", cmd, 1)
        pid = pid or self.pid()
        return (s % ((pid,) * n) if n else s), kind

    # --- conversations: a list of (priority, message, family, kind, host) --------------
    def ssh(self):
        rng, r = self.rng, self.rng.random()
        legit = r < 0.03
        h = rng.choice(self.legit) if legit else self.attacker("sshd")
        p, us = self.port(), "2001:db8::1" if ":" in h else SERVER4
        hp = f"{h} port {p}"
        L = [(6, f'Connection from {hp} on {us} port 22 rdomain ""', "sshd", "connection-from", h)]
        if legit:
            user = rng.choice(("deploy", "alice", "bob"))
            if rng.random() < 0.1:  # a mistyped password before the key agent kicks in
                L += [(5, f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                          f"tty=ssh ruser= rhost={h}  user={user}", "sshd", "pam-auth-failure", h),
                      (6, f"Failed password for {user} from {hp} ssh2", "sshd", "failed-password", h)]
            L += [(6, f"Accepted publickey for {user} from {hp} ssh2: ED25519 SHA256:"
                      f"{self.token(32)[:43]}", "sshd", "accepted", h),
                  (6, f"pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)",
                   None, None, None),
                  (6, f"Received disconnect from {hp}:11: disconnected by user", None, None, None),
                  (6, f"Disconnected from user {user} {hp}", None, None, None),
                  (6, f"pam_unix(sshd:session): session closed for user {user}", None, None, None)]
            return self.prefix("sshd", cmd=f"{user} [priv]"), L
        if r < 0.40:  # password guessing against root, up to MaxAuthTries=6
            return self.prefix("sshd", cmd="root [priv]"), L + self.ssh_guess(h, hp, "root", False)
        if r < 0.72:
            user = rng.choice(USERS)
            L += [(6, f"Invalid user {user} from {hp}", "sshd", "invalid-user", h)]
            return self.prefix("sshd", cmd="unknown [priv]"), L + self.ssh_guess(h, hp, user, True)
        if r < 0.82:  # key-only probe: offers keys, none accepted, gives up
            L.append((6, f"Connection closed by authenticating user root {hp} [preauth]",
                      "sshd", "closed-preauth", h))
        elif r < 0.995:  # scanners and broken clients
            L += self.ssh_scan(h, hp)
        else:  # user name injection: only the last address is the client's
            u = "admin from 198.51.100.66 port 1"
            L += [(6, f"Invalid user {u} from {hp}", "sshd", "inject-invalid-user", h),
                  (5, f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh"
                      f" ruser= rhost={h}  user=root rhost=198.51.100.67", "sshd", "inject-pam-rhost", h),
                  (6, f"Failed password for invalid user {u} from {hp} ssh2", "sshd",
                   "inject-failed-password", h),
                  (6, f"Connection closed by invalid user {u} {hp} [preauth]", "sshd",
                   "closed-preauth", h)]
        return self.prefix("sshd", cmd="[accepted]"), L

    def ssh_guess(self, h, hp, user, invalid):
        rng, L = self.rng, []
        iu = "invalid user " if invalid else ""
        au = "invalid user" if invalid else "authenticating user"
        if invalid:
            L.append((5, "pam_unix(sshd:auth): check pass; user unknown", None, None, None))
        L.append((5, f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                     f"ruser= rhost={h}" + ("" if invalid else f"  user={user}"),
                  "sshd", "pam-auth-failure", h))
        tries = 6 if rng.random() < 0.15 else 1 + int(rng.random() ** 2 * 5)
        kind = "failed-password-invalid" if invalid else "failed-password"
        L += [(6, f"Failed password for {iu}{user} from {hp} ssh2", "sshd", kind, h)] * tries
        if tries == 6:
            L += [(3, f"error: maximum authentication attempts exceeded for {iu}{user} from {hp} "
                      "ssh2 [preauth]", "sshd", "max-auth-attempts", h),
                  (6, f"Disconnecting {au} {user} {hp}: Too many authentication failures [preauth]",
                   "sshd", "too-many-auth-failures", h)]
        elif rng.random() < 0.6:
            L += [(6, f"Received disconnect from {hp}:11: Bye Bye [preauth]", "sshd", "bye-preauth", h),
                  (6, f"Disconnected from {au} {user} {hp} [preauth]", "sshd", "disconnected-preauth", h)]
        else:
            L.append((6, f"Connection closed by {au} {user} {hp} [preauth]", "sshd", "closed-preauth", h))
        if tries > 1:
            L.append((5, f"PAM {tries - 1} more authentication failures; logname= uid=0 euid=0 "
                         f"tty=ssh ruser= rhost={h}" + ("" if invalid else f"  user={user}"),
                      "sshd", "pam-more-failures", h))
            if tries > 3:
                L.append((5, f"PAM service(sshd) ignoring max retries; {tries} > 3", None, None, None))
        return L

    def ssh_scan(self, h, hp):
        i = int(self.rng.random() * 5)
        if i == 0:
            return [(6, f"Did not receive identification string from {hp}", "sshd", "no-ident", h)]
        if i == 1:
            return [(6, f"banner exchange: Connection from {hp}: invalid format", "sshd",
                     "banner-invalid", h)]
        if i == 2:
            return [(3, "error: kex_exchange_identification: Connection closed by remote host",
                     None, None, None),
                    (6, f"Connection closed by {hp}", None, None, None)]
        if i == 3:
            return [(6, f"Unable to negotiate with {hp}: no matching host key type found. "
                        "Their offer: ssh-rsa,ssh-dss [preauth]", "sshd", "unable-negotiate", h)]
        port = hp.rsplit(" ", 1)[1]
        return [(6, f"drop connection #10 from [{h}]:{port} on [{SERVER4}]:22 past MaxStartups",
                 "sshd", "maxstartups-drop", h)]

    def postfix(self):
        rng, r = self.rng, self.rng.random()
        if r < 0.08:
            h = rng.choice(self.legit)
            c = f"mail.{DOMAIN}[{h}]"
            L = [(6, f"connect from {c}", None, None, None),
                 (6, f"{self.token(6)[:10].upper()}: client={c}", None, None, None),
                 (6, f"disconnect from {c} ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7",
                  None, None, None)]
            return self.prefix("smtpd"), L
        h = self.attacker("postfix")
        c = f"unknown[{h}]"
        L = [(6, f"connect from {c}", None, None, None)]
        if r < 0.70:
            n = 1 + int(rng.random() ** 3 * 3)
            mech = rng.choice(("LOGIN", "LOGIN", "PLAIN"))
            why = "UGFzc3dvcmQ6" if mech == "LOGIN" else "authentication failure"
            L += [(4, f"warning: {c}: SASL {mech} authentication failed: {why}",
                   "postfix-sasl", "sasl-failed", h)] * n
            L.append((6, f"lost connection after AUTH from {c}", None, None, None) if rng.random() < 0.5
                     else (6, f"disconnect from {c} ehlo=1 auth=0/{n} quit=1 commands=2/{n + 2}",
                           None, None, None))
        else:
            helo, kind = rng.choice((("WIN-3K9F2", "noqueue-reject"),
                                     ("[198.51.100.75]", "inject-helo-reject")))
            L += [(6, f"NOQUEUE: reject: RCPT from {c}: 554 5.7.1 <info@example.net>: Relay access "
                      f"denied; from=<spam@example.org> to=<info@example.net> proto=ESMTP helo=<{helo}>",
                   "postfix", kind, h),
                  (6, f"disconnect from {c} ehlo=1 mail=1 rcpt=0/1 rset=1 quit=1 commands=4/5",
                   None, None, None)]
        return self.prefix("smtpd"), L

    def dovecot(self):
        rng, r = self.rng, self.rng.random()
        lip = SERVER4
        sess = self.token(9)
        if r < 0.1:
            h, user = rng.choice(self.legit), f"alice@{DOMAIN}"
            mpid = self.pid()
            L = [(6, f"imap-login: Login: user=<{user}>, method=PLAIN, rip={h}, lip={lip}, "
                     f"mpid={mpid}, TLS, session=<{sess}>", None, None, None),
                 (6, f"imap({user})<{mpid}><{sess}>: Logged out in=312 out=2042 deleted=0 expunged=0 "
                     "trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0", None, None, None)]
            return self.dovecot_p, L
        h = self.attacker("dovecot")
        if ":" in h:
            lip = SERVER6
        svc = rng.choice(("imap-login", "imap-login", "pop3-login"))
        if r < 0.2:
            return self.dovecot_p, [
                (6, f"{svc}: Disconnected (no auth attempts in 0 secs): user=<>, rip={h}, "
                    f"lip={lip}, TLS handshaking: SSL_accept() failed: error:0A000102:SSL "
                    f"routines::unsupported protocol, session=<{sess}>", "dovecot", "no-auth", h)]
        if r < 0.97:
            user = rng.choice(USERS) + rng.choice(("", f"@{DOMAIN}"))
            kind, why = (("passwd-mismatch", "Password mismatch") if rng.random() < 0.5
                         else ("unknown-user", "unknown user"))
        else:  # user name injection: the real rip= comes after it
            user, kind, why = "user=<x> rip=198.51.100.68", "inject-user", "unknown user"
        n = 1 + int(rng.random() ** 3 * 3)
        L = [(6, f"auth: passwd-file({user},{h}): {why}", "dovecot", kind, h)] * n
        L.append((6, f"{svc}: Disconnected (auth failed, {n} attempts in {2 * n + 1} secs): "
                     f"user=<{user}>, method=PLAIN, rip={h}, lip={lip}, TLS, session=<{sess}>",
                  "dovecot", "login-auth-failed" if kind != "inject-user" else kind, h))
        return self.dovecot_p, L

    def nginx(self):
        rng, r = self.rng, self.rng.random()
        h, p = self.attacker("nginx"), rng.choice(self.nginx_p)
        self.nginx_conn += 1 + int(rng.random() * 40)
        c = self.nginx_conn
        tail = f', server: {DOMAIN}, request: "GET /admin/ HTTP/1.1", host: "{DOMAIN}"'
        nf = 'was not found in "/etc/nginx/.htpasswd"'
        # The nginx date prefix is filled in at emission time (%T is replaced).
        if r < 0.5:
            n = 1 + int(rng.random() ** 2 * 4)
            L = []
            for _ in range(n):
                if rng.random() < 0.02:
                    u, kind, how = ('x", client: 198.51.100.72, server: y, request: "GET / HTTP/1.1", '
                                    'host: "y', "inject-user", nf)
                elif rng.random() < 0.6:
                    u, kind, how = rng.choice(USERS), "user-not-found", nf
                else:
                    u, kind, how = "admin", "password-mismatch", "password mismatch"
                sep = ":" if kind == "password-mismatch" else ""
                L.append((4, f'%T [error] %W: *{c} user "{u}"{sep} {how}, client: {h}{tail}',
                          "nginx-http-auth", kind, h))
            return p, L
        if r < 0.92:
            n = 2 + int(rng.random() ** 2 * 20)
            return p, [(4, f'%T [error] %W: *{c + i} limiting requests, excess: {i + 1}.'
                           f'{int(rng.random() * 1000):03d} by zone "one", client: {h}, server: {DOMAIN}, '
                           f'request: "POST /login HTTP/1.1", host: "{DOMAIN}"',
                        "nginx-limit-req", "limiting-requests", h) for i in range(n)]
        return p, [(4, f'%T [error] %W: *{c} open() "/var/www/html/wp-login.php" failed (2: No such file '
                    f'or directory), client: {h}{tail}', None, None, None)]

    def ufw(self):
        rng = self.rng
        h = self.attacker("ufw")
        L = []
        for _ in range(1 + int(rng.random() ** 2 * 8)):
            dpt = rng.choice((23, 22, 3389, 445, 8080, 5900, 1433, 6379, 2375))
            if ":" in h:  # the kernel prints IPv6 addresses in full (%pI6)
                src = ipaddress.IPv6Address(h).exploded
                dst = ipaddress.IPv6Address(SERVER6).exploded
                m = (f"[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:00:00:5e:00:01:01:86:dd "
                     f"SRC={src} DST={dst} LEN=60 TC=0 HOPLIMIT=52 FLOWLBL=0 PROTO=TCP "
                     f"SPT={self.port()} DPT={dpt} WINDOW=64240 RES=0x00 SYN URGP=0 ")
            else:
                m = (f"[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:00:00:5e:00:01:01:08:00 "
                     f"SRC={h} DST={SERVER4} LEN=40 TOS=0x00 PREC=0x00 TTL={230 + int(rng.random() * 20)} "
                     f"ID={int(rng.random() * 65536)} PROTO=TCP SPT={self.port()} DPT={dpt} "
                     f"WINDOW=1024 RES=0x00 SYN URGP=0 ")
            L.append((4, m, "ufw", "block", h))
        return (self.kernel_prefix, KERNEL), L

    def noise(self):
        rng, r = self.rng, self.rng.random()
        if r < 0.25:
            u = rng.choice(TIMERS)
            return self.prefix("systemd", pid=1), [
                (6, f"Starting {u}...", None, None, None),
                (6, f"{u.split(' ')[0]}: Deactivated successfully.", None, None, None),
                (6, f"Finished {u}.", None, None, None)]
        if r < 0.45:
            cmd = rng.choice(("   cd / && run-parts --report /etc/cron.hourly",
                              "command -v debian-sa1 > /dev/null && debian-sa1 1 1",
                              "[ -x /usr/lib/php/sessionclean ] && /usr/lib/php/sessionclean"))
            return self.prefix("cron"), [
                (6, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
                 None, None, None),
                (6, f"(root) CMD ({cmd})", None, None, None),
                (6, "pam_unix(cron:session): session closed for user root", None, None, None)]
        if r < 0.55:
            self.session_no += 1
            s = self.session_no
            return self.prefix("logind", pid=612), [
                (6, f"New session {s} of user deploy.", None, None, None),
                (6, f"Session {s} logged out. Waiting for processes to exit.", None, None, None),
                (6, f"Removed session {s}.", None, None, None)]
        if r < 0.60:
            return self.prefix("sudo"), [
                (5, "   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl "
                    "reload nginx", None, None, None),
                (6, "pam_unix(sudo:session): session opened for user root(uid=0) by deploy(uid=1000)",
                 None, None, None),
                (6, "pam_unix(sudo:session): session closed for user root", None, None, None)]
        if r < 0.65:
            return self.prefix("snapd", pid=735), [
                (6, 'storehelpers.go:769: cannot refresh: snap has no updates available: "core22", '
                    '"lxd", "snapd"', None, None, None)]
        if r < 0.68:
            return self.prefix("timesyncd", pid=540), [
                (6, "Initial synchronization to time server [2001:db8::123]:123 (ntp.example.net).",
                 None, None, None)]
        if r < 0.78:
            return (self.kernel_prefix, KERNEL), [(6, rng.choice(KERNEL_NOISE), None, None, None)]
        return self.prefix("myweb", pid=901), [
            (6, f"{rng.choice(('GET /healthz 200', 'GET /api/v1/items 200', 'POST /api/v1/items 201'))} "
                f"{rng.random() * 20:.1f}ms", None, None, None) for _ in range(1 + int(rng.random() * 5))]

    def decoy(self, kind=None):
        rng = self.rng
        kind = kind or rng.choice(tuple(KINDS["decoy"]))
        d = rng.choice(self.decoys)
        if kind == "myapp-sshd-lookalike":
            m = rng.choice((f"Failed password for root from {d} port 22 ssh2",
                            f"Invalid user admin from {d} port 4242",
                            f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                            f"tty=ssh ruser= rhost={d}  user=root"))
            return self.prefix("myapp", pid=1400), [(4, m, "decoy", kind, d)]
        if kind == "logger-fake-sshd":  # `logger -t sshd` by an ordinary user
            return self.prefix("logger"), [(5, f"Failed password for root from {d} port 22 ssh2",
                                            "decoy", kind, d)]
        if kind == "myapp-other-lookalike":
            m = rng.choice((f"warning: unknown[{d}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
                            f"imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<a>, "
                            f"method=PLAIN, rip={d}, lip={SERVER4}, TLS, session=<{self.token(9)}>",
                            f'[error] 1#1: *1 user "admin" was not found in "/etc/nginx/.htpasswd", '
                            f'client: {d}, server: {DOMAIN}, request: "GET / HTTP/1.1", host: "{DOMAIN}"'))
            return self.prefix("myapp", pid=1400), [(4, m, "decoy", kind, d)]
        # A firewall line printed by a user process, not the kernel.
        return self.prefix("myapp", pid=1400), [
            (4, f"[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:00:00:5e:00:01:01:08:00 SRC={d} "
                f"DST={SERVER4} LEN=40 TOS=0x00 PREC=0x00 TTL=240 ID=1 PROTO=TCP SPT=4444 DPT=23 "
                "WINDOW=1024 RES=0x00 SYN URGP=0 ", "decoy", kind, d)]

    # --- odd entries for readers: placed at fixed positions --------------------------
    def special(self, what):
        d = self.rng.choice(self.decoys)
        if what == "non_utf8":
            self.n_odd += 1  # take turns, so every file has each variant
            if self.n_odd % 3 == 0:
                m = f"Failed password for \xff\xfe from {d} port 22 ssh2".encode("latin-1")
                return self.prefix("logger"), [(5, m, "decoy", "logger-fake-sshd", d)]
            m = (b"GET /\xff\xfe\xc3\x28 400 0.2ms", b"bad header \x80\x81 from client")[self.n_odd % 3 - 1]
            return self.prefix("myweb", pid=901), [(3, m, None, None, None)]
        if what == "multiline":
            m = ("Traceback (most recent call last):\n  File \"/opt/myapp/auth.py\", line 42, in login\n"
                 f"    raise AuthError(\"Failed password for root from {d} port 22 ssh2\")\n"
                 "AuthError: Failed password").encode()
            return self.prefix("myapp", pid=1400), [(3, m, "decoy", "myapp-sshd-lookalike", d)]
        if what == "huge_text":  # one 100 KB line
            m = '{"event":"dump","data":"' + "A" * 100_000 + '"}'
            return self.prefix("myapp", pid=1400), [(6, m, None, None, None)]
        if what == "huge_multiline":  # ~100 KB stack trace
            m = ("java.lang.OutOfMemoryError: Java heap space\n"
                 + "\tat com.example.Worker.run(Worker.java:123)\n" * 2300).encode()
            return self.prefix("myapp", pid=1400), [(3, m, None, None, None)]
        return self.decoy(what)


USERS = ("admin", "test", "user", "oracle", "postgres", "ubuntu", "guest", "ftpuser", "git", "pi",
         "support", "deploy1", "hadoop", "mysql", "www", "jenkins", "ansible", "minecraft",
         "steam", "nagios", "tomcat", "dev", "administrator", "server", "ts3", "sysadmin")
TIMERS = ("apt-daily.service - Daily apt download activities",
          "logrotate.service - Rotate log files",
          "phpsessionclean.service - Clean php session files",
          "man-db.service - Daily man-db regeneration",
          "systemd-tmpfiles-clean.service - Cleanup of Temporary Directories",
          "certbot.service - Certbot")
KERNEL_NOISE = (
    'audit: type=1400 audit(1763251200.512:431): apparmor="DENIED" operation="open" class="file" '
    'profile="snap.lxd.daemon" name="/proc/sys/kernel/keys/maxkeys" pid=1811 comm="lxd" '
    'requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    "perf: interrupt took too long (2510 > 2500), lowering kernel.perf_event_max_sample_rate to 79500",
    "TCP: request_sock_TCP: Possible SYN flooding on port 22. Sending cookies.  Check SNMP counters.",
    "EXT4-fs (vda1): resizing filesystem from 5242619 to 5242619 blocks",
)

# Share of entries per stream, and how many connections/jobs of each run at once.
FAMILIES = (("ssh", 0.600, 24), ("ufw", 0.070, 4), ("postfix", 0.070, 6), ("dovecot", 0.060, 4),
            ("nginx", 0.060, 4), ("noise", 0.136, 6), ("decoy", 0.004, 1))


def run(n, seed, start_us, rate, out):
    g = Gen(seed, start_us, rate)
    rng = g.rng
    names, cum, acc = [], [], 0.0
    for name, share, _ in FAMILIES:
        names.append(name)
        acc += share
        cum.append(acc)
    make = {name: getattr(g, name) for name in names}
    width = {name: w for name, _, w in FAMILIES}
    active = {name: [] for name in names}
    # Fixed positions for the rare entries, so even small files have every kind.
    specials = ["huge_text", "huge_multiline"] + ["non_utf8"] * max(3, n // 50000) \
        + ["multiline"] * max(2, n // 100000) + list(KINDS["decoy"])
    step = n // (len(specials) + 1)
    at = {step * (i + 1) + rng.randrange(step): s for i, s in enumerate(specials)} if step else {}
    counts, boot, gap = g.counts, g.boot, g.mean_gap
    expo = rng.expovariate
    buf, t = [], start_us
    for i in range(n):
        t += 1 + int(expo(1.0) * gap)  # Poisson arrivals, strictly increasing
        if i in at:
            what = at.pop(i)
            key = "huge" if what.startswith("huge") else what
            g.special_counts[key] = g.special_counts.get(key, 0) + 1
            (pre, tk), lines = g.special(what)
            prio, msg, fam, kind, host = lines[0]
        else:
            # Pick a stream, then one of its open connections (opening one if there is
            # room), so lines of concurrent connections interleave like the real thing.
            name = names[bisect.bisect(cum, rng.random() * acc)]
            pool = active[name]
            if len(pool) < width[name]:
                p, lines = make[name]()
                pool.append([p, lines, 0])
            k = int(rng.random() * len(pool))
            conv = pool[k]
            (pre, tk), lines, j = conv
            prio, msg, fam, kind, host = lines[j]
            if j + 1 == len(lines):
                pool[k] = pool[-1]
                pool.pop()
            else:
                conv[2] = j + 1
        if kind is not None:
            key = (fam, kind, host)
            counts[key] = counts.get(key, 0) + 1
        mono = t - boot
        if tk == SYSLOG:
            src = f"_SOURCE_REALTIME_TIMESTAMP={t - 300 - t % 4000}\n"
        elif tk == KERNEL:
            src = f"_SOURCE_MONOTONIC_TIMESTAMP={mono - 200 - t % 3000}\n"
        else:
            src = ""
        head = f"__REALTIME_TIMESTAMP={t}\n__MONOTONIC_TIMESTAMP={mono}\n{pre}PRIORITY={prio}\n{src}"
        if type(msg) is bytes:  # binary-safe form: name, LE64 length, raw bytes
            buf.append(head.encode() + b"MESSAGE\n" + struct.pack("<Q", len(msg)) + msg + b"\n\n")
            continue
        if msg[0] == "%":  # nginx prefixes its own local (here UTC) time and pid#tid
            sec = t // 1000000
            if sec != g.ngx_sec:
                g.ngx_sec = sec
                g.ngx_time = datetime.fromtimestamp(sec, timezone.utc).strftime("%Y/%m/%d %H:%M:%S")
            wp = pre.split("_PID=", 1)[1].split("\n", 1)[0]
            msg = msg.replace("%T", g.ngx_time, 1).replace("%W", f"{wp}#{wp}", 1)
        buf.append(f"{head}MESSAGE={msg}\n\n")
        if len(buf) >= 16384:
            flush(out, buf)
    flush(out, buf)
    return g


def flush(out, buf):
    out.write(b"".join(x if type(x) is bytes else x.encode() for x in buf))
    buf.clear()


def truth(g, args):
    fams = {}
    for fam, kinds in KINDS.items():
        fams[fam] = {"match": MATCHES[fam], "failures": 0, "hosts": {},
                     "kinds": {k: {"failure": f, "entries": 0, "hosts": {}} for k, f in kinds.items()}}
    for (fam, kind, host), c in sorted(g.counts.items()):
        host = str(ipaddress.ip_address(host))
        f, k = fams[fam], fams[fam]["kinds"][kind]
        k["entries"] += c
        k["hosts"][host] = k["hosts"].get(host, 0) + c
        if k["failure"]:
            f["failures"] += c
            f["hosts"][host] = f["hosts"].get(host, 0) + c
    for f in fams.values():  # most active first
        f["hosts"] = dict(sorted(f["hosts"].items(), key=lambda kv: (-kv[1], kv[0])))
    return {
        "entries": args.entries, "seed": args.seed, "start": args.start, "rate": args.rate,
        "boot_id": BOOT_ID, "hostname": HOSTNAME,
        "decoy_net": DECOY_NET, "decoys": g.decoys, "legit_hosts": g.legit,
        "rotating_v6_prefixes": sorted(p + "/64" for p in g.rotating),
        "specials": g.special_counts,
        "families": fams,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=1794787200, help="epoch seconds (2026-11-16 UTC)")
    ap.add_argument("--rate", type=float, default=200.0, help="mean entries per second")
    ap.add_argument("--out", required=True, help="export file, '-' for stdout")
    ap.add_argument("--truth", help="write ground truth JSON here")
    args = ap.parse_args()
    out = sys.stdout.buffer if args.out == "-" else open(args.out, "wb")
    with out:
        g = run(args.entries, args.seed, args.start * 10**6, args.rate, out)
    if args.truth:
        with open(args.truth, "w") as f:
            json.dump(truth(g, args), f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()

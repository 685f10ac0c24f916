//! Target `filter_injection`: the client's own text, fuzzed, in the places a real
//! service writes it (user names, HELO, URIs, banners, hostnames from reverse DNS),
//! inside otherwise genuine messages of the built-in filters, in every mode.
//!
//! Input: byte 0 picks the template, byte 1 the real client's address (IPv4 or IPv6
//! where the service writes both), the rest is NUL-separated slot texts: the first
//! fills every `{U}` of the template, the second every `{H}` (each slot keeps only the
//! bytes that service would write there, see [`Slot`]).
//!
//! The oracle (promise 2: nobody but the attacked service decides who is banned):
//! every failure is for the real client. sshd's templates run after a genuine
//! "Connection from" of the same process, so correlation is tried too.

use super::filter_builtin::compile_modes;
use banjo::filter::{Filter, Session};
use banjo::journal::Entry;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

/// What a service writes in a slot: control characters never (sshd, postfix, dovecot,
/// apache, nginx escape them or refuse the input), a DNS name's characters only for
/// a hostname from reverse DNS (postfix and proftpd check names before logging them).
#[derive(Clone, Copy)]
enum Slot {
    Printable,
    Hostname,
}

struct Template {
    filter: &'static str,
    text: &'static str,
    /// IPv6 clients are written the same way (apache's `[client A:port]` is not).
    v6: bool,
    /// Slot kinds for {U} and {H}.
    slots: [Slot; 2],
}

const fn t(filter: &'static str, text: &'static str, v6: bool, h: Slot) -> Template {
    Template {
        filter,
        text,
        v6,
        slots: [Slot::Printable, h],
    }
}

use Slot::{Hostname as HN, Printable as P};

const TEMPLATES: &[Template] = &[
    t("sshd", "Failed password for {U} from {A} port 50022 ssh2", true, P),
    t("sshd", "Failed password for invalid user {U} from {A} port 50022 ssh2", true, P),
    t("sshd", "Failed none for invalid user {U} from {A} port 50022 ssh2", true, P),
    t("sshd", "Failed publickey for invalid user {U} from {A} port 50022 ssh2: RSA SHA256:{H}", true, P),
    t("sshd", "Failed publickey for root from {A} port 50022 ssh2: ED25519-CERT SHA256:x ID {U} (serial 1) CA {H}", true, P),
    t("sshd", "Failed hostbased for {U} from {A} port 50022 ssh2: RSA SHA256:x, client user \"{U}\", client host \"{H}\"", true, P),
    t("sshd", "Invalid user {U} from {A} port 41234", true, P),
    t("sshd", "Invalid user {U} from {A}", true, P),
    t("sshd", "User {U} from {A} not allowed because not listed in AllowUsers", true, P),
    t("sshd", "error: maximum authentication attempts exceeded for invalid user {U} from {A} port 50022 ssh2 [preauth]", true, P),
    t("sshd", "Disconnecting invalid user {U} {A} port 50022: Too many authentication failures [preauth]", true, P),
    t("sshd", "Disconnecting: Too many authentication failures for invalid user {U} [preauth]", true, P),
    t("sshd", "Connection closed by invalid user {U} {A} port 50022 [preauth]", true, P),
    t("sshd", "Disconnected from authenticating user {U} {A} port 50022 [preauth]", true, P),
    t("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser={U} rhost={A}  user={H}", true, P),
    t("sshd", "Bad protocol version identification '{U}' from {A} port 50022", true, P),
    t("sshd", "Unable to negotiate with {A} port 50022: no matching cipher found. Their offer: {U} [preauth]", true, P),
    t("sshd", "error: kex_exchange_identification: client sent invalid protocol identifier \"{U}\"", true, P),
    t("sshd", "refused connect from {H} ({A})", true, HN),
    t("postfix", "NOQUEUE: reject: RCPT from {H}[{A}]: 554 5.7.1 <{U}>: Relay access denied; from=<{U}> to=<{U}> proto=ESMTP helo=<{U}>", true, HN),
    t("postfix", "NOQUEUE: reject: RCPT from {H}[{A}]:41234: 550 5.1.1 <{U}>: Recipient address rejected: User unknown in virtual mailbox table; from=<{U}> to=<{U}> proto=ESMTP helo=<{U}>", true, HN),
    t("postfix", "NOQUEUE: reject: RCPT from {H}[{A}]: 450 4.7.25 Client host rejected: cannot find your hostname, [{A}]; from=<{U}> to=<{U}> proto=ESMTP helo=<{U}>", true, HN),
    t("postfix", "lost connection after AUTH from {H}[{A}]", true, HN),
    t("postfix", "PREGREET 11 after 0 from [{A}]:52410: {U}", true, P),
    t("postfix", "warning: {H}[{A}]: SASL LOGIN authentication failed: {U}, sasl_username={U}", true, HN),
    t("postfix-sasl", "warning: {H}[{A}]: SASL LOGIN authentication failed: {U}", true, HN),
    t("postfix-sasl", "warning: {H}[{A}]: SASL PLAIN authentication failed: {U}, sasl_username={U}", true, HN),
    t("postfix-sasl", "warning: {H}[{A}]:50123: SASL LOGIN authentication failed: authentication failure, sasl_username={U}", true, HN),
    t("dovecot", "imap-login: Disconnected (auth failed, 1 attempts in 4 secs): user=<{U}>, method=PLAIN, rip={A}, lip=192.0.2.1, TLS, session=<{H}>", true, P),
    t("dovecot", "pop3-login: Aborted login (auth failed, 3 attempts in 12 secs): user=<{U}>, method=PLAIN, rip={A}, lip=192.0.2.1, TLS: {H}, session=<x>", true, P),
    t("dovecot", "auth: passwd-file({U},{A},<k3JcfjtZEtfAqQ7f>): Password mismatch", true, P),
    t("dovecot", "auth-worker(4711): pam({U},{A}): pam_authenticate() failed: Authentication failure (password mismatch?)", true, P),
    t("dovecot", "pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser={U} rhost={A}  user={H}", true, P),
    t("dovecot", "imap-login: Disconnected (no auth attempts in 0 secs): user=<{U}>, rip={A}, lip=192.0.2.1, TLS handshaking: {H}, session=<x>", true, P),
    t("proftpd", "ftp.example.org ({H}[{A}]) - USER {U} (Login failed): Incorrect password", true, HN),
    t("proftpd", "ftp.example.org ({H}[{A}]) - USER {U}: no such user found from {H} [{A}] to 192.0.2.1:21", true, HN),
    t("proftpd", "ftp.example.org ({H}[{A}]) - SECURITY VIOLATION: {U} login attempted", true, HN),
    t("proftpd", "ftp.example.org ({H}[{A}]) - Maximum login attempts (3) exceeded, connection refused", true, HN),
    t("apache-auth", "[auth_basic:error] [pid 4711:tid 139] [client {A}:51380] AH01617: user {U}: authentication failure for \"{H}\": Password Mismatch", false, P),
    t("apache-auth", "[auth_basic:error] [pid 4711:tid 139] [client {A}:51380] AH01618: user {U} not found: {H}", false, P),
    t("apache-auth", "[authz_core:error] [pid 4711] [client {A}:58585] AH01630: client denied by server configuration: {U}", false, P),
    t("apache-auth", "[auth_digest:error] [pid 10691] [client {A}:44271] AH01792: user {U}: password mismatch: {H}", false, P),
    t("apache-auth", "[error] [client {A}] user {U} not found: {H}", false, P),
    t("apache-auth", "[ssl:error] [pid 6586] [client {A}:58028] AH02033: No hostname was provided via SNI for a name based virtual host{U}", false, P),
    t("nginx-http-auth", "2024/01/01 10:00:00 [error] 2865#2865: *66647 user \"{U}\" was not found in \"/etc/nginx/.htpasswd\", client: {A}, server: www.example.org, request: \"{H}\", host: \"www.example.org\"", true, P),
    t("nginx-http-auth", "2024/01/01 10:00:01 [error] 2865#2865: *66648 user \"{U}\": password mismatch, client: {A}, server: www.example.org, request: \"GET /admin HTTP/2.0\", host: \"{H}\", referrer: \"{U}\"", true, P),
    t("nginx-limit-req", "2024/01/01 10:00:00 [error] 256554#256554: *99927 limiting requests, excess: 1.852 by zone \"one\", client: {A}, server: example.org, request: \"{U}\", host: \"{H}\"", true, P),
    t("nginx-limit-req", "2024/01/01 10:00:00 [error] 1#1: *1 limiting requests, excess: 0.500 by zone \"one\", client: {A}, server: example.org, request: \"GET / HTTP/1.1\", host: \"{H}\", referrer: \"{U}\"", true, P),
];

const REAL_V4: &str = "203.0.113.5";
const REAL_V6: &str = "2001:db8:113::5";

/// Compile the filters before the first input (see `filter_builtin::init`).
pub fn init() {
    for t in TEMPLATES {
        compiled(t.filter);
    }
}

/// A filter's name and the filter in every mode.
type Modes = (&'static str, Vec<Arc<Filter>>);

/// Each template's filter in every mode, compiled once per process.
fn compiled(filter: &str) -> &'static [Arc<Filter>] {
    static ALL: OnceLock<Vec<Modes>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        let mut names: Vec<&'static str> = TEMPLATES.iter().map(|t| t.filter).collect();
        names.dedup();
        names.into_iter().map(|n| (n, compile_modes(n))).collect()
    });
    &all.iter().find(|(n, _)| *n == filter).expect("compiled").1
}

pub fn run(data: &[u8]) {
    let [which, family, rest @ ..] = data else {
        return;
    };
    let tpl = &TEMPLATES[usize::from(*which) % TEMPLATES.len()];
    let real = if tpl.v6 && family & 1 == 1 {
        REAL_V6
    } else {
        REAL_V4
    };
    let slots = super::parts(rest, 2);
    let u = keep(slots[0], tpl.slots[0]);
    let h = keep(slots.get(1).copied().unwrap_or(b"x"), tpl.slots[1]);
    let msg = fill(tpl.text, real, &u, &h);
    let real_ip: IpAddr = real.parse().expect("real address");
    for filter in compiled(tpl.filter) {
        let mut session = Session::new(filter.clone());
        let mut e = Entry::default();
        e.fields.set("_PID", b"4711");
        if tpl.filter == "sshd" {
            e.time_us = 1_700_000_000_000_000;
            let hello = format!("Connection from {real} port 50022 on 192.0.2.1 port 22");
            e.set_message(hello.as_bytes());
            session.process(&e);
        }
        e.time_us = 1_700_000_001_000_000;
        e.set_message(&msg);
        let (_, failure) = session.process(&e);
        if let Some(f) = failure {
            assert_eq!(
                f.ip,
                real_ip,
                "injection: {} ({}) banned {} for {:?}",
                tpl.filter,
                filter.mode,
                f.ip,
                String::from_utf8_lossy(&msg)
            );
        }
    }
}

/// The bytes of `b` a service writes in a slot of kind `k`.
fn keep(b: &[u8], k: Slot) -> Vec<u8> {
    b.iter()
        .copied()
        .filter(|&c| match k {
            Slot::Printable => (0x20..0x7f).contains(&c),
            Slot::Hostname => c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'),
        })
        .collect()
}

fn fill(text: &str, real: &str, u: &[u8], h: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2 * u.len() + h.len());
    let mut rest = text.as_bytes();
    while let Some(at) = rest.iter().position(|&b| b == b'{') {
        out.extend_from_slice(&rest[..at]);
        let tail = &rest[at..];
        let (with, skip): (&[u8], usize) = match tail.get(..3) {
            Some(b"{U}") => (u, 3),
            Some(b"{H}") => (h, 3),
            Some(b"{A}") => (real.as_bytes(), 3),
            _ => (b"{", 1),
        };
        out.extend_from_slice(with);
        rest = &tail[skip..];
    }
    out.extend_from_slice(rest);
    out
}

//! Log injection against every built-in filter.
//!
//! A filter reads the address to ban from a log line that also holds text the client
//! chose: user names, HELO names, URIs, headers, addresses, protocol banners. If that
//! text can stand where a pattern reads the address, anyone can get any address banned.
//! Each case below puts decoy addresses (198.51.100.64/28, 2001:db8:dec0::/48) into the
//! client-controlled parts of a realistic message whose real client is in 203.0.113.0/24
//! or 2001:db8:113::/112, runs it through every mode of the filter, and requires either no
//! failure or a failure for the real client. Genuine messages check that the filters do
//! match what they are for.
//!
//! The list of filters comes from `builtin::names()`: a new built-in without cases here
//! fails `every_builtin_has_cases`.

use banjo::filter::{builtin, spec::FilterSpec, Filter, Outcome, Session};
use banjo::journal::Entry;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

/// One journal entry: MESSAGE plus fields (`_PID` is always set to the same value, so
/// correlation by process is exercised across a filter's cases).
struct Msg {
    text: &'static str,
    fields: &'static [(&'static str, &'static str)],
}

const fn m(text: &'static str) -> Msg {
    Msg { text, fields: &[] }
}

/// A genuine message: run in `mode` ("" = the filter's default), must fail for `ip`.
struct Genuine {
    mode: &'static str,
    msg: Msg,
    ip: &'static str,
}

const fn g(mode: &'static str, text: &'static str, ip: &'static str) -> Genuine {
    Genuine {
        mode,
        msg: m(text),
        ip,
    }
}

struct Cases {
    filter: &'static str,
    injections: Vec<Msg>,
    genuine: Vec<Genuine>,
}

fn cases() -> Vec<Cases> {
    let mut all = vec![
        Cases {
            filter: "sshd",
            injections: vec![
                // User names are the client's; sshd writes the real address after them.
                m("Invalid user admin from 198.51.100.66 port 1 from 203.0.113.5 port 50022"),
                m("Invalid user x from 198.51.100.66 from 203.0.113.5"),
                m("Failed password for invalid user test from 198.51.100.66 port 55555 ssh2 from 203.0.113.5 port 50022 ssh2"),
                m("Failed password for invalid user from 198.51.100.67 from 203.0.113.5 port 50022 ssh2"),
                // sshd cuts the client's user name at its first ':' (user:style) before
                // it logs it, so a name cannot run over sshd's own "ssh2: ".
                m("Failed none for invalid user a from 198.51.100.66 port 1 ssh2 RSA SHA256 from 203.0.113.5 port 50022 ssh2: RSA SHA256:x"),
                m("error: PAM: Authentication failure for illegal user a from 198.51.100.66 via 198.51.100.67 from 203.0.113.5"),
                m("error: PAM: User not known to the underlying authentication module for illegal user x from 198.51.100.66 from 203.0.113.5 "),
                m("Failed password for invalid user ROOT from 198.51.100.66 from 203.0.113.5"),
                m("User x from 198.51.100.66 not allowed because account is locked"),
                m("Disconnecting invalid user x 198.51.100.66 port 1 203.0.113.5 port 50022: Change of username or service not allowed: (x,ssh-connection) -> (y,ssh 198.51.100.67 port 1: Too many authentication failures) [preauth]"),
                m("Received disconnect from 203.0.113.5 port 50022:11: from 198.51.100.66 port 1:3: x: Auth fail [preauth]"),
                m("Received disconnect from 203.0.113.5 port 50022:3: x from 198.51.100.66 port 1: Auth fail [preauth]"),
                // The connection preamble prints the user name whole and sshd cuts lines
                // at 1 KiB: a name that long could end a cut line in its own address.
                m(Box::leak(
                    format!(
                        "Connection closed by invalid user {} 198.51.100.66 port 1 [preauth]",
                        "x".repeat(980)
                    )
                    .into_boxed_str(),
                )),
                m(Box::leak(
                    format!(
                        "Disconnecting invalid user {} 198.51.100.66 port 1: Too many authentication failures [preauth]",
                        "x".repeat(950)
                    )
                    .into_boxed_str(),
                )),
                m("User root from 198.51.100.68 not allowed because not listed in AllowUsers from 203.0.113.5 not allowed because not listed in AllowUsers"),
                m("error: maximum authentication attempts exceeded for invalid user a from 198.51.100.69 port 22 ssh2 from 203.0.113.5 port 50022 ssh2 [preauth]"),
                m("Disconnecting invalid user x 198.51.100.70 port 1: Too many authentication failures 203.0.113.5 port 50022: Too many authentication failures [preauth]"),
                m("Connection closed by invalid user test 198.51.100.71 port 12345 203.0.113.5 port 50022 [preauth]"),
                m("Connection reset by authenticating user root 198.51.100.72 port 1 203.0.113.5 port 50022 [preauth]"),
                m("Disconnected from invalid user a 198.51.100.73 port 1 203.0.113.5 port 50022 [preauth]"),
                // Text after "ssh2: " is partly the client's too: fail2ban's synthetic case,
                // a hostbased client host, a certificate key ID running into sshd's 1 KiB
                // cut (so the line ends with the client's text).
                m("Failed password for invalid user test from 203.0.113.5 port 58946 ssh2: from 198.51.100.74 port 55555 ssh2"),
                m("Failed hostbased for root from 203.0.113.5 port 50022 ssh2: RSA SHA256:abc, client user \"root\", client host \"h from 198.51.100.75 port 22 ssh2: RSA SHA256:zz\""),
                m("Failed publickey for root from 203.0.113.5 port 50022 ssh2: ED25519-CERT SHA256:Hr2ubp1ChEd3sFbI2BQXkI5ykWwmgvxGRBm48O4FbTM ID xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx from 198.51.100.76 port 22 ssh2"),
                m("Failed password for root from 203.0.113.5 port 50022 ssh2: RSA from 198.51.100.76 port 22 ssh2"),
                // PAM's user= and ruser= are the client's name. Two names on one
                // connection make its PAM lines count: still with PAM's rhost.
                m("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=a rhost=203.0.113.5 user=198.51.100.66"),
                m("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=198.51.100.66 rhost=203.0.113.5"),
                m("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=x rhost=198.51.100.77"),
                m("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=x rhost=198.51.100.77  user=y"),
                // Banners and protocol junk (ddos mode).
                m("Bad protocol version identification 'SSH-2.0 from 198.51.100.78 port 1' from 203.0.113.5 port 50022"),
                m("Bad protocol version identification 'x' from 198.51.100.78' from 203.0.113.5 port 50022"),
                m("Unable to negotiate with 203.0.113.5 port 50022: no matching cipher found. Their offer: aes128-cbc,from 198.51.100.79 port 1 [preauth]"),
                m("banner exchange: Connection from 203.0.113.5 port 50022: invalid format"),
                m("ssh_dispatch_run_fatal: Connection from invalid user x 198.51.100.66 port 1 203.0.113.5 port 50022: Broken pipe [preauth]"),
                m("error: kex_exchange_identification: client sent invalid protocol identifier \"from 198.51.100.66 port 1\""),
                // A connection whose address was remembered: a later line's client text
                // must not replace it.
                m("Disconnecting: Too many authentication failures for invalid user x from 198.51.100.66 port 1 [preauth]"),
            ],
            genuine: vec![
                g("", "Failed password for root from 203.0.113.5 port 50022 ssh2", "203.0.113.5"),
                g("", "Failed password for invalid user admin from 2001:db8:113::5 port 50022 ssh2", "2001:db8:113::5"),
                g("", "Invalid user oracle from 203.0.113.6 port 41234", "203.0.113.6"),
                g("", "error: maximum authentication attempts exceeded for root from 203.0.113.7 port 50022 ssh2 [preauth]", "203.0.113.7"),
                g("", "Failed publickey for invalid user git from 203.0.113.8 port 50022 ssh2: RSA SHA256:v3dpapGleDaUKf4V1vKyR9ZyUgjaJAmoCTcb2PLljI", "203.0.113.8"),
                g("aggressive", "Connection closed by authenticating user root 2001:db8:113::9 port 50022 [preauth]", "2001:db8:113::9"),
                g("", "error: PAM: Authentication failure for illegal user a from 2001:db8:113::10", "2001:db8:113::10"),
                g("", "ROOT LOGIN REFUSED FROM 203.0.113.11 port 50022 [preauth]", "203.0.113.11"),
                g("", "Failed hostbased for dan from 203.0.113.12 port 45785 ssh2: RSA SHA256:abc, client user \"dan\", client host \"h\"", "203.0.113.12"),
                g("ddos", "Disconnected from 203.0.113.13 port 36985 [preauth]", "203.0.113.13"),
                g("extra", "Disconnected from authenticating user root 203.0.113.14 port 33553 [preauth]", "203.0.113.14"),
                g("ddos", "drop connection #10 from [2001:db8:113::15]:50022 on [2001:db8::1]:22 past MaxStartups", "2001:db8:113::15"),
                g("ddos", "ssh_dispatch_run_fatal: Connection from authenticating user root 203.0.113.16 port 50022: Broken pipe [preauth]", "203.0.113.16"),
                g("extra", "Unable to negotiate with invalid user x 203.0.113.17 port 50022: no matching host key type found. Their offer: ssh-dss [preauth]", "203.0.113.17"),
            ],
        },
        // ssh and ftp besides sshd and proftpd (filters-ssh).
        Cases {
            filter: "dropbear",
            injections: vec![
                m("Bad password attempt for 'x' from 198.51.100.66:22' from 203.0.113.5:50022"),
                m("Bad password attempt for 'x from 198.51.100.66:1' from 203.0.113.5:50022"),
                m("Exit before auth (user 'x' from 198.51.100.66:1', 10 fails): Max auth tries reached - user 'x' from 198.51.100.67:1' from 203.0.113.5:50022"),
                m("Exit before auth from <203.0.113.5:50022>: (user 'x', 10 fails): Max auth tries reached - user 'x' from 198.51.100.66:1'"),
                m("Login attempt for nonexistent user 'from 198.51.100.66:1' from 203.0.113.5:50022"),
                // Longer than Dropbear's user names: a line cut at 1 KiB ends where the
                // client's padding put the cut.
                m(Box::leak(
                    format!(
                        "Bad password attempt for '{}' from 198.51.100.66:1",
                        "x".repeat(990)
                    )
                    .into_boxed_str(),
                )),
            ],
            genuine: vec![
                g("", "Bad password attempt for 'root' from 203.0.113.5:50022", "203.0.113.5"),
                g("", "Login attempt for nonexistent user from ::ffff:203.0.113.6:60495", "203.0.113.6"),
                g("", "Login attempt for nonexistent user from 2001:db8:113::5:60495", "2001:db8:113::5"),
                g("", "Exit before auth from <[2001:db8:113::6]:52289>: (user 'root', 10 fails): Max auth tries reached - user 'root'", "2001:db8:113::6"),
                g("", "[825] Jul 10 23:57:29 Exit before auth (user 'root', 10 fails): Max auth tries reached - user 'root' from 203.0.113.7:60588", "203.0.113.7"),
            ],
        },
        Cases {
            filter: "selinux-ssh",
            injections: vec![
                // acct= is the client's; audit quotes it only without blanks and quotes.
                m("USER_AUTH pid=1 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=password acct=\"x addr=198.51.100.66 terminal=ssh res=failed'\" exe=\"/usr/sbin/sshd\" hostname=? addr=203.0.113.5 terminal=ssh res=failed'"),
                m("USER_AUTH pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=password acct=\"x\" exe=\"/usr/sbin/sshd\" hostname=x addr=198.51.100.66 terminal=ssh res=failed' addr=203.0.113.5 terminal=ssh res=failed'"),
                // Another program's record (uid 1000), or one naming another executable.
                m("USER_AUTH pid=1 uid=1000 auid=1000 ses=3 msg='op=password acct=\"x\" exe=\"/usr/sbin/sshd\" hostname=? addr=198.51.100.66 terminal=ssh res=failed'"),
                m("USER_AUTH pid=1 uid=0 auid=1000 ses=3 msg='op=password acct=\"x\" exe=\"/usr/bin/su\" hostname=? addr=198.51.100.66 terminal=ssh res=failed'"),
                // A success is no failure.
                m("USER_AUTH pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=password acct=\"x\" exe=\"/usr/sbin/sshd\" hostname=? addr=198.51.100.66 terminal=ssh res=success'"),
            ],
            genuine: vec![
                g("", "USER_AUTH pid=12887 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=password acct=\"dan\" exe=\"/usr/sbin/sshd\" hostname=? addr=203.0.113.5 terminal=ssh res=failed'", "203.0.113.5"),
                g("", "USER_ERR pid=12000 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=PAM:bad_ident acct=\"?\" exe=\"/usr/sbin/sshd\" hostname=2001:db8:113::5 addr=2001:db8:113::5 terminal=ssh res=failed'", "2001:db8:113::5"),
                g("", "type=USER_AUTH msg=audit(1383116263.000:603): pid=12887 uid=0 auid=4294967295 ses=4294967295 msg='op=password acct=28696E76616C6964207573657229 exe=\"/usr/sbin/sshd\" hostname=? addr=203.0.113.6 terminal=ssh res=failed'", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "vsftpd",
            injections: vec![
                m("[pid 1] [x] FAIL LOGIN: Client \"198.51.100.66\"] FAIL LOGIN: Client \"203.0.113.5\""),
                m("[pid 1] [x] FAIL LOGIN: Client \"198.51.100.66\", \"] FAIL LOGIN: Client \"203.0.113.5\""),
                m("[pid 1] [x] FAIL LOGIN: Client \"198.51.100.66\"] FAIL LOGIN: Client \"203.0.113.5\", \"User is not in the allow user list.\""),
                m("pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=x rhost=198.51.100.66 rhost=203.0.113.5"),
                m("pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser= rhost=203.0.113.5 user=x rhost=198.51.100.66"),
            ],
            genuine: vec![
                g("", "pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=test rhost=203.0.113.5", "203.0.113.5"),
                g("", "[pid 27202] [anonymous] FAIL LOGIN: Client \"2001:db8:113::5\"", "2001:db8:113::5"),
                g("", "[pid 15019] [guest] FAIL LOGIN: Client \"::ffff:203.0.113.6\", \"User is not in the allow user list.\"", "203.0.113.6"),
                g("", "Fri Jan 19 12:20:33 2007 [pid 27202] [a] b] FAIL LOGIN: Client \"203.0.113.7\"", "203.0.113.7"),
            ],
        },
        Cases {
            filter: "pure-ftpd",
            injections: vec![
                m("(?@203.0.113.5) [WARNING] Authentication failed for user [x] (?@198.51.100.66) [WARNING] Authentication failed for user [y]"),
                // A logged-in session's account is the client's name: not read.
                m("(x@198.51.100.66) [WARNING] Authentication failed for user [y]"),
                m("(?@client.example.net) [WARNING] Authentication failed for user [x@198.51.100.66]"),
            ],
            genuine: vec![
                g("", "(?@203.0.113.5) [WARNING] Authentication failed for user [Administrator]", "203.0.113.5"),
                g("", "(?@2001:db8:113::5) [WARNING] Authentication failed for user [root]", "2001:db8:113::5"),
                g("", "(?@203.0.113.6) [WARNING] Authentication failed for user [a] b [c]", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "recidive",
            injections: vec![
                // The address comes from banjo's own BANJO_IP field, never from MESSAGE.
                Msg {
                    text: "Ban 198.51.100.66 (jail sshd, from 198.51.100.67)",
                    fields: &[("BANJO_IP", "203.0.113.5"), ("BANJO_JAIL", "sshd")],
                },
                Msg {
                    text: "Ban 198.51.100.68",
                    fields: &[("BANJO_JAIL", "sshd")],
                },
                Msg {
                    text: "Ban 203.0.113.5",
                    fields: &[("BANJO_IP", "198.51.100.69 203.0.113.5")],
                },
            ],
            genuine: vec![
                Genuine {
                    mode: "",
                    msg: Msg {
                        text: "sshd: ban 203.0.113.5 for 1h",
                        fields: &[("BANJO_IP", "203.0.113.5"), ("BANJO_JAIL", "sshd")],
                    },
                    ip: "203.0.113.5",
                },
                Genuine {
                    mode: "",
                    msg: Msg {
                        text: "postfix: ban 2001:db8:113::5 for 1h",
                        fields: &[("BANJO_IP", "2001:db8:113::5"), ("BANJO_JAIL", "postfix")],
                    },
                    ip: "2001:db8:113::5",
                },
                Genuine {
                    mode: "",
                    msg: Msg {
                        text: "dovecot: ban 203.0.113.6",
                        fields: &[("BANJO_IP", "203.0.113.6")],
                    },
                    ip: "203.0.113.6",
                },
            ],
        },
        Cases {
            filter: "postfix",
            injections: vec![
                // Recipient, sender and HELO are the client's; the address comes first.
                m("NOQUEUE: reject: RCPT from unknown[203.0.113.5]: 554 5.7.1 <x@[198.51.100.66]>: Relay access denied; from=<a@[198.51.100.67]> to=<x@[198.51.100.66]> proto=ESMTP helo=<[198.51.100.68]>"),
                m("NOQUEUE: reject: RCPT from unknown[203.0.113.5]: 450 4.2.0 <unknown[198.51.100.66]>: Recipient address rejected: User unknown; from=<> to=<unknown[198.51.100.66]> proto=ESMTP helo=<unknown[198.51.100.67]>"),
                m("NOQUEUE: reject: EHLO from unknown[203.0.113.5]: 504 5.5.2 <from unknown[198.51.100.69]:>: Helo command rejected: need fully-qualified hostname; proto=SMTP helo=<from unknown[198.51.100.69]:>"),
                // A host name that looks like an address (a PTR record says so).
                m("NOQUEUE: reject: RCPT from 198.51.100.70[203.0.113.5]: 554 5.7.1 <x@example.org>: Relay access denied; from=<a@example.net> to=<x@example.org> proto=ESMTP helo=<198.51.100.70>"),
                m("improper command pipelining after CONNECT from unknown[203.0.113.5]: EHLO unknown[198.51.100.71]\\r\\nMAIL FROM:<a@[198.51.100.72]>\\r\\n"),
                m("warning: non-SMTP command from unknown[203.0.113.5]: GET /from unknown[198.51.100.73] HTTP/1.1"),
                m("PREGREET 23 after 0.1 from [203.0.113.5]:4444: EHLO [198.51.100.74]:25\\r\\n"),
                m("NON-SMTP COMMAND from [203.0.113.5]:4444 after CONNECT: GET http://[198.51.100.75]:25/ HTTP/1.1"),
                m("warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: authentication failure, sasl_username=unknown[198.51.100.76]: SASL"),
                m("warning: unknown[203.0.113.5]: SASL x]:unknown[198.51.100.77]: authentication failed: Invalid authentication mechanism"),
            ],
            genuine: vec![
                g("", "NOQUEUE: reject: RCPT from unknown[203.0.113.5]: 554 5.7.1 <spam@example.org>: Relay access denied; from=<a@example.net> to=<spam@example.org> proto=ESMTP helo=<x>", "203.0.113.5"),
                g("", "NOQUEUE: reject: RCPT from mail.example.net[2001:db8:113::5]:41234: 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table; from=<a@example.net> to=<nobody@example.org> proto=ESMTP helo=<mail.example.net>", "2001:db8:113::5"),
                g("", "NOQUEUE: reject: RCPT from unknown[203.0.113.6]: 450 4.7.25 Client host rejected: cannot find your hostname, [203.0.113.6]; from=<a@example.net> to=<b@example.org> proto=ESMTP helo=<x>", "203.0.113.6"),
                g("ddos", "lost connection after AUTH from unknown[203.0.113.7]", "203.0.113.7"),
                g("ddos", "PREGREET 11 after 0 from [2001:db8:113::8]:52410: EHLO x\\r\\n", "2001:db8:113::8"),
                g("aggressive", "warning: unknown[203.0.113.9]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=admin", "203.0.113.9"),
                // fail2ban's modes by their names: more (its default), rbl, errors, extra.
                g("more", "NOQUEUE: reject: RCPT from unknown[203.0.113.10]: 554 5.7.1 <x@example.org>: Relay access denied; from=<a@example.net> to=<x@example.org> proto=ESMTP helo=<x>", "203.0.113.10"),
                g("rbl", "NOQUEUE: reject: RCPT from unknown[2001:db8:113::11]: 554 5.7.1 Service unavailable; Client host [2001:db8:113::11] blocked using zen.spamhaus.org; from=<a@example.net> to=<b@example.org> proto=ESMTP helo=<x>", "2001:db8:113::11"),
                g("errors", "too many errors after RCPT from unknown[203.0.113.12]", "203.0.113.12"),
                g("extra", "warning: unknown[203.0.113.13]: SASL PLAIN authentication failed: ", "203.0.113.13"),
            ],
        },
        Cases {
            filter: "postfix-sasl",
            injections: vec![
                m("warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=unknown[198.51.100.66]: SASL LOGIN authentication failed:"),
                m("warning: 198.51.100.67[203.0.113.5]: SASL PLAIN authentication failed: , sasl_username=x@[198.51.100.67]"),
                m("warning: unknown[203.0.113.5]:4444: SASL [198.51.100.68]:1: authentication failed: Invalid authentication mechanism"),
                m("warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: authentication failure, sasl_username=Connection lost to authentication server"),
            ],
            genuine: vec![
                g("", "warning: unknown[203.0.113.5]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", "203.0.113.5"),
                g("", "warning: mail.example.net[2001:db8:113::5]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=info@example.org", "2001:db8:113::5"),
                g("", "warning: unknown[203.0.113.6]:50123: SASL LOGIN authentication failed: authentication failure", "203.0.113.6"),
                g("aggressive", "warning: unknown[203.0.113.7]: SASL CRAM-MD5 authentication failed: Invalid authentication mechanism", "203.0.113.7"),
                g("auth", "warning: unknown[203.0.113.8]: SASL LOGIN authentication failed: authentication failure", "203.0.113.8"),
            ],
        },
        Cases {
            filter: "dovecot",
            injections: vec![
                // The user name the client typed, with Dovecot's fields spelled inside.
                m("imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, rip=198.51.100.66, lip=192.0.2.1>, method=PLAIN, rip=203.0.113.5, lip=192.0.2.1, TLS, session=<abcdEFGH>"),
                m("imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, rip=198.51.100.66>, method=PLAIN, rip=203.0.113.5, lip=192.0.2.1, TLS, session=<abcdEFGH>"),
                // A reason this filter does not count, and a counted one inside the name.
                m("imap-login: Disconnected (disconnected while authenticating, waited 0 secs): user=<x> (auth failed, 1 attempts): rip=198.51.100.67, lip=1.1.1.1>, method=PLAIN, rip=203.0.113.5, lip=192.0.2.1, session=<abcdEFGH>"),
                m("pop3-login: Aborted login (user disabled): user=<a (auth failed, 2 attempts in 3 secs): rip=198.51.100.67, x>, method=PLAIN, rip=203.0.113.5, lip=192.0.2.1"),
                m("imap-login: Login aborted: Connection closed (auth failed, 1 attempts in 2 secs) (auth_failed): user=<a>, rip=198.51.100.68>, method=PLAIN, rip=203.0.113.5, lip=192.0.2.1, session=<abcdEFGH>"),
                // The auth process: name before the address, password after it.
                m("auth: passwd-file(x,198.51.100.69,203.0.113.5,<abcdEFGH>): unknown user"),
                m("auth: passwd-file(x,198.51.100.69,master,203.0.113.5): Password mismatch"),
                m("auth: passwd-file(a,198.51.100.70): unknown user (given password: x),203.0.113.5): Password mismatch (given password: y)"),
                m("auth: passwd-file(a,203.0.113.5): Password mismatch (given password: ,198.51.100.70): unknown user)"),
                m("auth: passwd-file(a,203.0.113.5): Password mismatch (given password: ,198.51.100.70): unknown user (given password: z)"),
                m("auth-worker(123): pam(a,198.51.100.71): unknown user - trying the next passdb,203.0.113.5): pam_authenticate() failed: Authentication failure (password mismatch?)"),
                m("auth: login(?,203.0.113.5): Username character disallowed by auth_username_chars: 0x20 (username: x,198.51.100.72)"),
                // PAM names the user twice, around the address.
                m("pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=a rhost=198.51.100.73 rhost=203.0.113.5  user=a rhost=198.51.100.73"),
                m("pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=rhost=198.51.100.74 rhost=203.0.113.5  user=rhost=198.51.100.74"),
                m("pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=a rhost=198.51.100.75  user= rhost=203.0.113.5  user=a rhost=198.51.100.75  user="),
                // Lines a logger cut (rsyslog: 8 KiB) right after a forged rip= or rhost=.
                m(leak(cut_after(8191, |pad| format!("imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, rip=198.51.100.76, lip=192.0.2.1, session=<{pad}"), ">, method=PLAIN, rip=203.0.113.5, lip=192.0.2.1, TLS, session=<abcdEFGH>"))),
                m(leak(cut_after(8191, |pad| format!("imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<{pad}>, method=PLAIN, rip=198.51.100.76"), ">, method=PLAIN, rip=203.0.113.5, lip=192.0.2.1, TLS, session=<abcdEFGH>"))),
                m(leak(cut_after(8191, |pad| format!("pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser={pad} rhost=198.51.100.77"), " rhost=203.0.113.5  user=x"))),
            ],
            genuine: vec![
                g("", "imap-login: Disconnected (auth failed, 1 attempts in 4 secs): user=<info@example.org>, method=PLAIN, rip=203.0.113.5, lip=192.0.2.1, TLS, session=<3nxUhjtZ5o/LqQ7f>", "203.0.113.5"),
                g("", "pop3-login: Aborted login (auth failed, 3 attempts in 12 secs): user=<admin>, method=PLAIN, rip=2001:db8:113::5, lip=2001:db8::1, TLS, session=<x>", "2001:db8:113::5"),
                g("", "auth: passwd-file(admin@example.org,203.0.113.6,<k3JcfjtZEtfAqQ7f>): Password mismatch", "203.0.113.6"),
                g("", "auth-worker(4711): pam(root,203.0.113.7): pam_authenticate() failed: Authentication failure (password mismatch?)", "203.0.113.7"),
                g("", "pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=root rhost=203.0.113.8  user=root", "203.0.113.8"),
                // Seed 000's lines, in the default mode (what its author's jail used).
                g("", "auth: passwd-file(aaa@example.com,203.0.113.10): Password mismatch (given password: aaa)", "203.0.113.10"),
                g("", "auth: login(?,203.0.113.11): Username character disallowed by auth_username_chars: 0x13 (username: ?)", "203.0.113.11"),
                g("aggressive", "imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=2001:db8:113::9, lip=2001:db8::1, TLS handshaking: SSL_accept() failed: error:0A00010B:SSL routines::wrong version number, session=<x>", "2001:db8:113::9"),
            ],
        },
        Cases {
            filter: "proftpd",
            injections: vec![
                m("ftp.example.org (unknown[203.0.113.5]) - USER x (unknown[198.51.100.66]) (Login failed): Incorrect password"),
                m("ftp.example.org (unknown[203.0.113.5]) - USER ftp.example.org (hihoinjection[198.51.100.67]): no such user found from unknown [203.0.113.5] to 192.0.2.1:21"),
                m("ftp.example.org (unknown[203.0.113.5]) - USER a: no such user found from unknown [198.51.100.68] to 192.0.2.1:21: no such user found from unknown [203.0.113.5] to 192.0.2.1:21"),
                m("ftp.example.org (unknown[203.0.113.5]) - SECURITY VIOLATION: root login attempted (x[198.51.100.69])."),
                m("ftp.example.org (unknown[203.0.113.5]) - USER x (unknown[198.51.100.66]) - USER y (Login failed): Incorrect password"),
                m("ftp.example.org (unknown[203.0.113.5]) - USER x (unknown[198.51.100.66]): USER y: no such user found from unknown [203.0.113.5] to 192.0.2.1:21"),
            ],
            genuine: vec![
                g("", "ftp.example.org (client.example.net[203.0.113.5]) - USER admin (Login failed): Incorrect password", "203.0.113.5"),
                g("", "ftp.example.org (2001:db8:113::5[2001:db8:113::5]) - USER nobody: no such user found from 2001:db8:113::5 [2001:db8:113::5] to 2001:db8::1:21", "2001:db8:113::5"),
                g("", "ftp.example.org (::ffff:203.0.113.6[::ffff:203.0.113.6]) - SECURITY VIOLATION: root login attempted", "203.0.113.6"),
                g("", "ftp.example.org (unknown[203.0.113.7]) - Maximum login attempts (3) exceeded, connection refused", "203.0.113.7"),
            ],
        },
        Cases {
            filter: "apache-auth",
            injections: vec![
                m("[auth_basic:error] [pid 1234:tid 5678] [client 203.0.113.5:41234] AH01618: user [client 198.51.100.66:1] not found: /[client 198.51.100.67:2]"),
                m("[auth_basic:error] [pid 1234:tid 5678] [client 203.0.113.5:41234] AH01617: user [client 198.51.100.66:1] AH01617: x: authentication failure for \"/[client 198.51.100.67:2]\": Password Mismatch"),
                m("[authz_core:error] [pid 1234] [client 203.0.113.5:41234] AH01630: client denied by server configuration: /admin, referer: http://x/ [client 198.51.100.68:3]"),
                m("[auth_digest:error] [pid 1234] [client 203.0.113.5:41234] AH01790: user `[client 198.51.100.69:1] AH01618: user a not found: /' in realm `r' not found: /"),
                // Apache 2.2's known DoS vector: a URI holding a second [client ...].
                m("[error] [client 203.0.113.5] File does not exist: /srv/http/site/[client 198.51.100.70] user root not found"),
                m("[Sat Jul 20 21:39:11.978080 2013] [core:error] [pid 1] [client 203.0.113.5:41234] AH00126: Invalid URI in request GET /[client 198.51.100.71:1] AH01618: user a not found: / HTTP/1.1"),
                // An IPv6 client: the port must not become part of the address.
                m("[auth_basic:error] [pid 1234:tid 5678] [client 2001:db8:113::5:8080] AH01618: user x not found: /"),
                m("[error] [client 2001:db8:113::5:8080] user x not found: /"),
                // The SNI names are the client's, after the header.
                m("[ssl:error] [pid 6586] [client 203.0.113.5:58028] AH02031: Hostname [client_198.51.100.72:1] provided via SNI, but no hostname provided in HTTP request"),
            ],
            genuine: vec![
                g("", "[auth_basic:error] [pid 4711:tid 139] [client 203.0.113.5:51380] AH01617: user admin: authentication failure for \"/private\": Password Mismatch", "203.0.113.5"),
                g("", "[auth_basic:error] [pid 4711:tid 139] [client 2001:db8:113::5:51380] AH01618: user nobody not found: /private", "2001:db8:113::5"),
                g("", "[authz_core:error] [pid 4711] [client 203.0.113.6:58585] AH01630: client denied by server configuration: /srv/www/.git/config", "203.0.113.6"),
                g("", "[Sun Sep 14 21:44:43.008606 2014] [auth_digest:error] [pid 10691] [client [2001:db8:113::7]:44271] AH01792: user admin: password mismatch: /digest/", "2001:db8:113::7"),
                g("", "[error] [client 203.0.113.8] user wrongusername not found: /basic/file", "203.0.113.8"),
                // Unbracketed IPv6 with the port after the last colon (Apache 2.4's own form).
                g("", "[auth_basic:error] [pid 1234:tid 5678] [client 2001:db8:113::5:6:8080] AH01617: user x: authentication failure for \"/\": Password Mismatch", "2001:db8:113::5:6"),
                g("", "[ssl:error] [pid 6586] [client 203.0.113.9:58028] AH02033: No hostname was provided via SNI for a name based virtual host", "203.0.113.9"),
                g("aggressive", "[ssl:error] [pid 6586] [client 2001:db8:113::9:58028] AH02032: Hostname a.example provided via SNI and hostname b.example provided via HTTP have no compatible SSL setup", "2001:db8:113::9"),
                // From the file with the date cut, and a custom ErrorLogFormat with a port.
                g("", "[] [auth_basic:error] [pid 1] [client 203.0.113.10:1] AH01618: user x not found: /", "203.0.113.10"),
                g("", " [error] [client 203.0.113.11] user x not found: /", "203.0.113.11"),
                g("", "[error] [client 2001:db8:113::12:4444] client denied by server configuration: /x", "2001:db8:113::12"),
            ],
        },
        Cases {
            filter: "nginx-http-auth",
            injections: vec![
                // The brief's example (impossible in nginx, whose user names hold no ':').
                m("2024/01/01 00:00:00 [error] 12#12: *3 user \"x, client: 198.51.100.66, server\" was not found in \"/etc/nginx/.htpasswd\", client: 203.0.113.5, server: example.org, request: \"GET / HTTP/1.1\", host: \"example.org\""),
                // Request line, Host and Referer after the address.
                m("2024/01/01 00:00:00 [error] 12#12: *3 user \"admin\": password mismatch, client: 203.0.113.5, server: example.org, request: \"GET /, client: 198.51.100.67, server: x HTTP/1.1\", host: \"a, client: 198.51.100.68, server: b\", referrer: \"x\\\", client: 198.51.100.69, server: y\""),
                m("2024/01/01 00:00:00 [error] 12#12: *3 user \"admin\": password mismatch, client: 203.0.113.5, server: example.org, request: \"GET / HTTP/1.1\", host: \"example.org\", referrer: \"x\": password mismatch, client: 198.51.100.69, server: y\""),
                // A user name with quotes (nginx does not escape them) and no colon.
                m("2024/01/01 00:00:00 [error] 12#12: *3 user \"a\" was not found in \"/x\", client 198.51.100.70, server \" was not found in \"/etc/nginx/.htpasswd\", client: 203.0.113.5, server: example.org, request: \"GET / HTTP/1.1\", host: \"example.org\""),
                // A NUL in the name cut the syslog message short: all after `user "` is the
                // client's, and without a colon it cannot spell nginx's words.
                m("2024/01/01 00:00:00 [error] 12#12: *3 user \"x\" was not found in \"/etc/nginx/.htpasswd\", client 198.51.100.71, server x, request \"GET / HTTP/1.1\""),
                // A newline in the name (stderr logging) starts a line of the client's own.
                m("2024/01/01 00:00:00 [error] 12#12: *3 user \"x\": password mismatch, client 198.51.100.72, server \": password mismatch, client: 203.0.113.5, server: example.org, request: \"GET / HTTP/1.1\""),
                m("user \"x\": password mismatch, client: 198.51.100.73, server: y\": password mismatch, client: 203.0.113.5, server: example.org, request: \"GET / HTTP/1.1\""),
                // fail2ban's "trying injection on user name" sample, with our addresses: the
                // first client is the one nginx would have written for a user "test" (were
                // its Host header to hold quotes, which nginx refuses); the line goes on after
                // the Host in a way nginx never writes, so it is not read at all.
                m(r#"2014/04/03 22:20:40 [error] 30708#0: *3 user "test": password mismatch, client: 198.51.100.74, server: test, request: "GET / HTTP/1.1", host: "localhost:8443"": was not found in "/etc/nginx/.htpasswd", client: 203.0.113.5, server: , request: "GET / HTTP/1.1", host: "localhost:8443""#),
                m(r#" [error] 30708#0: *3 user "test": password mismatch, client: 198.51.100.75, server: test, request: "GET / HTTP/1.1", host: "localhost:8443"": was not found in "/etc/nginx/.htpasswd", client: 203.0.113.5, server: , request: "GET / HTTP/1.1", host: "localhost:8443""#),
                // The fallback mode's TLS line carries no client text; a look-alike with the
                // address moved into the OpenSSL text must not be read.
                m(r#"2020/11/25 14:42:16 [crit] 76952#76952: *2454307 SSL_do_handshake() failed (SSL: error:1408F0C6:SSL routines:ssl3_get_record:packet length too long, client: 198.51.100.76) while SSL handshaking, client: 203.0.113.5, server: 0.0.0.0:443"#),
            ],
            genuine: vec![
                g("", "2024/01/01 10:00:00 [error] 2865#2865: *66647 user \"xyz\" was not found in \"/etc/nginx/.htpasswd\", client: 203.0.113.5, server: www.example.org, request: \"GET / HTTP/1.1\", host: \"www.example.org\"", "203.0.113.5"),
                g("", "2024/01/01 10:00:01 [error] 2865#2865: *66648 user \"admin\": password mismatch, client: 2001:db8:113::5, server: www.example.org, request: \"GET /admin HTTP/2.0\", host: \"www.example.org\", referrer: \"https://www.example.org/\"", "2001:db8:113::5"),
                g("", "2024/01/01 10:00:02 [error] 2865#2865: *3 user \"scriben dio\": password mismatch, client: 203.0.113.6, server: , request: \"GET / HTTP/1.1\", host: \"localhost:8443\"", "203.0.113.6"),
                // From the file, once banjo reads log files: the date cut.
                g("", r#" [error] 2865#2865: *9 user "admin" was not found in "/etc/nginx/.htpasswd", client: 203.0.113.7, server: www.example.org, request: "GET /admin HTTP/1.1", host: "www.example.org", referrer: "https://x/\"quoted\" \", client: 198.51.100.77""#, "203.0.113.7"),
                g("fallback", "2020/11/25 14:42:16 [crit] 76952#76952: *2454307 SSL_do_handshake() failed (SSL: error:1408F0C6:SSL routines:ssl3_get_record:packet length too long) while SSL handshaking, client: 203.0.113.8, server: 0.0.0.0:443", "203.0.113.8"),
                g("aggressive", "2024/01/01 10:00:00 [crit] 1#1: *9 SSL_do_handshake() failed (SSL: error:0A0000C6:SSL routines::packet length too long) while SSL handshaking, client: 2001:db8:113::9, server: [::]:443", "2001:db8:113::9"),
            ],
        },
        Cases {
            filter: "nginx-limit-req",
            injections: vec![
                m("2024/01/01 00:00:00 [error] 12#12: *99 limiting requests, excess: 1.852 by zone \"one\", client: 203.0.113.5, server: example.org, request: \"GET /, client: 198.51.100.66, server: x HTTP/1.1\", host: \"client: 198.51.100.67\", referrer: \", client: 198.51.100.68, server: y\""),
                m("2024/01/01 00:00:00 [error] 12#12: *99 limiting requests, excess: 1.852 by zone \"one\", client: 203.0.113.5, server: limiting requests, excess: 1 by zone \"x\", client: 198.51.100.69, server: y"),
            ],
            genuine: vec![
                g("", "2024/01/01 10:00:00 [error] 256554#256554: *99927 limiting requests, excess: 1.852 by zone \"one\", client: 203.0.113.5, server: example.org, request: \"POST /login HTTP/1.1\", host: \"example.org\"", "203.0.113.5"),
                g("", "2024/01/01 10:00:00 [warn] 256554#256554: *99928 limiting requests, excess: 15.243 by zone \"api\", client: 2001:db8:113::5, server: example.org, request: \"GET / HTTP/2.0\", host: \"example.org\"", "2001:db8:113::5"),
                g("", "2024/01/01 10:00:00 [error] 1#1: *1 limiting requests, excess: 0.500 by zone \"one\", client: 203.0.113.6, server: example.org, request: \"GET / HTTP/1.1\", host: \"example.org\", referrer: \"https://example.org\"", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "apache-noscript",
            injections: vec![
                // The path and the Referer are the client's; the header's client comes first.
                m("[cgi:error] [pid 27550:tid 1401] [client 203.0.113.5:18071] AH02811: script not found or unable to stat: /usr/lib/cgi-bin/[client 198.51.100.66:1] x"),
                m("[error] [client 203.0.113.5] File does not exist: /var/www/[client 198.51.100.67] a.php, referer: [client 198.51.100.68]"),
                m("[php7:error] [pid 1] [client 203.0.113.5:1] script '/var/www/[client 198.51.100.69:1] x.php' not found or unable to stat"),
                // A CGI script's stderr goes out under Apache's header for the real client.
                m("[cgi:error] [pid 1] [client 203.0.113.5:4444] AH01215: [client 198.51.100.70:1] AH02811: script not found or unable to stat: /x"),
                // An embedded newline does not start a line of the client's.
                m("[cgi:error] [pid 1] [client 203.0.113.5:4444] AH01215: x\n[cgi:error] [pid 1] [client 198.51.100.71:1] AH02811: script not found or unable to stat: /x"),
                // IPv6 without brackets: the port is not part of the address.
                m("[cgi:error] [pid 1] [client 2001:db8:113::5:8080] AH02811: script not found or unable to stat: /usr/lib/cgi-bin/x"),
                // A portless IPv6 client (custom ErrorLogFormat) is not read at all.
                m("[cgi:error] [pid 1] [client 2001:db8:dec0::1] AH02811: script not found or unable to stat: /usr/lib/cgi-bin/x"),
            ],
            genuine: vec![
                // Seed 004's probe.
                g("", "[Mon Nov 22 12:43:22.745282 2021] [cgi:error] [pid 9067] [client 203.0.113.5:25819] AH02811: script not found or unable to stat: /usr/lib/cgi-bin/kerbynet", "203.0.113.5"),
                g("", "[proxy_fcgi:error] [pid 742:tid 1401] [client 2001:db8:113::6:50900] AH01071: Got error 'Primary script unknown'", "2001:db8:113::6"),
                g("", "[] [error] [client 203.0.113.7] File does not exist: /home/site/public_html/azenv.php", "203.0.113.7"),
                g("", " [:error] [pid 3790] [client 203.0.113.8:46301] script '/var/www/timthumb.php' not found or unable to stat", "203.0.113.8"),
            ],
        },
        Cases {
            filter: "apache-overflows",
            injections: vec![
                m("[core:error] [pid 1] [client 203.0.113.5:55280] AH00126: Invalid URI in request GET /[client 198.51.100.66:1] HTTP/1.1"),
                m("[error] [client 203.0.113.5] Invalid method in request [client 198.51.100.67] x"),
                m("[core:error] [pid 1] [client 203.0.113.5:1] AH00124: Request exceeded the limit of 10 internal redirects due to probable configuration error. Use 'LogLevel debug' to get a backtrace., referer: [client 198.51.100.68:1] AH00126: Invalid URI in request x"),
                m("[core:error] [pid 1] [client 2001:db8:113::5:443] AH10244: invalid URI path (/cgi-bin/.%2e/[client 198.51.100.69:1])"),
            ],
            genuine: vec![
                // Seed 004's probes.
                g("", "[Mon Nov 22 15:59:06.241391 2021] [core:error] [pid 10242] [client 203.0.113.5:50236] AH00126: Invalid URI in request POST /cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh HTTP/1.1", "203.0.113.5"),
                g("aggressive", "[Mon Nov 22 20:31:31.459828 2021] [core:error] [pid 12850] [client 203.0.113.6:57390] AH00124: Request exceeded the limit of 10 internal redirects due to probable configuration error. Use 'LimitInternalRecursion' to increase the limit if necessary. Use 'LogLevel debug' to get a backtrace., referer: rohhie.net", "203.0.113.6"),
                g("", "[core:error] [pid 1] [client 2001:db8:113::7:51000] AH10244: invalid URI path (/cgi-bin/.%2e/.%2e/bin/sh)", "2001:db8:113::7"),
                g("", "[core:error] [pid 1] [client 203.0.113.8:1] AH00134: Invalid method in request \\x16\\x03\\x01 - possible attempt to establish SSL connection on non-SSL port", "203.0.113.8"),
            ],
        },
        Cases {
            filter: "apache-nohome",
            injections: vec![
                m("[core:info] [pid 1] [client 203.0.113.5:46652] AH00128: File does not exist: /var/www/~[client 198.51.100.66:1]"),
                m("[error] [client 203.0.113.5] File does not exist: /xxx/~x, referer: http://x/[client 198.51.100.67]"),
            ],
            genuine: vec![
                g("", "[core:info] [pid 4101:tid 2992] [client 203.0.113.5:46652] AH00128: File does not exist: /xxx/~", "203.0.113.5"),
                g("", "[core:info] [pid 4101] [client 2001:db8:113::5:46652] AH00128: File does not exist: /var/www/html/~root", "2001:db8:113::5"),
                g("", "[Sat Jun 01 11:23:08 2013] [error] [client 203.0.113.6] File does not exist: /xxx/~", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "apache-botsearch",
            injections: vec![
                m("[core:info] [pid 1] [client 203.0.113.5:1] AH00128: File does not exist: /var/www/phpmyadmin/[client 198.51.100.66:2]/x, referer: [client 198.51.100.67:1]"),
                m("[error] [client 203.0.113.5] script '/var/www/wp-login.php[client 198.51.100.68]' not found or unable to stat"),
            ],
            genuine: vec![
                g("", "[error] [client 203.0.113.5] File does not exist: /var/www/phpmyadmin", "203.0.113.5"),
                g("", "[core:info] [pid 1] [client 2001:db8:113::5:1234] AH00128: File does not exist: /var/www/html/wp-login.php", "2001:db8:113::5"),
                g("", "[cgi:error] [pid 1] [client 203.0.113.6:1] AH02811: script not found or unable to stat: /var/www/cgi-bin/test.cgi", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "apache-shellshock",
            injections: vec![
                m("[cgi:error] [pid 16860] [client 203.0.113.5:59635] AH01215: /bin/bash: warning: HTTP_[client_198.51.100.66]: ignoring function definition attempt"),
                m("[cgi:error] [pid 16860] [client 203.0.113.5:59635] AH01215: [client 198.51.100.67:1] AH01215: /bin/bash: error importing function definition for `HTTP_X'"),
            ],
            genuine: vec![
                g("", "[cgi:error] [pid 16860] [client 203.0.113.5:59635] AH01215: /bin/bash: warning: HTTP_TEST: ignoring function definition attempt", "203.0.113.5"),
                g("", "[cgi:error] [pid 16864] [client 2001:db8:113::5:41273] AH01215: /bin/bash: error importing function definition for `HTTP_TEST'", "2001:db8:113::5"),
                g("", "[error] [client 203.0.113.6] /bin/bash: warning: HTTP_USER_AGENT: ignoring function definition attempt, referer: http://x/", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "apache-modsecurity",
            injections: vec![
                // ModSecurity's own [client], its matched data and the URI all come after
                // Apache's header.
                m(r#"[security2:error] [pid 1] [client 203.0.113.5:1] [client 198.51.100.66] ModSecurity: Access denied with code 403 (phase 2). Matched "x" [data "[client 198.51.100.67:1]"] [uri "/[client 198.51.100.68]"]"#),
                m(r#"[error] [client 203.0.113.5] ModSecurity: [data "\" Access denied with code 403 [client 198.51.100.69]"] Warning. Pattern match"#),
            ],
            genuine: vec![
                g("", r#"[Sat May 09 00:35:52.389262 2020] [:error] [pid 22406:tid 1399] [client 203.0.113.5:47762] [client 203.0.113.5] ModSecurity: Access denied with code 401 (phase 2). Operator EQ matched 1 at IP:blocked. [file "/etc/httpd/modsecurity.d/activated_rules/modsecurity_wp_login.conf"] [line "14"] [id "500000"]"#, "203.0.113.5"),
                g("", r#"[security2:error] [pid 1] [client 2001:db8:113::5:443] ModSecurity: [file "/x.conf"] [line "1"] [id "2"] [msg "scanner"] [severity "CRITICAL"] Access denied with code 403 (phase 2). Pattern match "nikto" at REQUEST_HEADERS:User-Agent."#, "2001:db8:113::5"),
                g("", r#"[error] [client 203.0.113.6] ModSecurity:  [id "960015"] [tag "A"][tag "B"] Access denied with code 400 (phase 2). Operator EQ matched 0 at REQUEST_HEADERS."#, "203.0.113.6"),
            ],
        },
        Cases {
            filter: "apache-badbots",
            injections: vec![
                // The access log starts with the client; what follows is the client's text,
                // with quotes escaped.
                m(r#"203.0.113.5 - 198.51.100.66 [05/Mar/2007:14:39:21 +0100] "GET /198.51.100.67 HTTP/1.0" 200 1 "198.51.100.68" "EmailCollector 198.51.100.69""#),
                m(r#"203.0.113.5 - - [05/Mar/2007:14:39:21 +0100] "GET /\" 200 1 \"-\" \"EmailSiphon\" \n198.51.100.70 - - [x] \"GET / HTTP/1.0\" 200 1 \"-\" \"EmailSiphon HTTP/1.1" 404 1 "-" "EmailSiphon""#),
                // vhost_combined: our ServerName and port first.
                m(r#"198.51.100.71:80 203.0.113.5 - - [05/Mar/2007:14:39:21 +0100] "GET / HTTP/1.1" 200 1 "-" "EmailWolf 1.00""#),
                m(r#"2001:db8:113::5 - - [] "GET / HTTP/1.1" 200 1 "-" "Mozilla/5.0 (compatible; Nmap Scripting Engine) 198.51.100.72""#),
            ],
            genuine: vec![
                g("", r#"203.0.113.5 - - [05/Mar/2007:14:39:21 +0100] "POST /123.html/trackback/ HTTP/1.0" 301 459 "http://www.example.org/123.html/trackback" "TrackBack/1.02""#, "203.0.113.5"),
                g("", r#"example.org:443 2001:db8:113::6 - - [05/Mar/2007:14:39:21 +0100] "GET / HTTP/1.1" 200 5 "-" "EmailSiphon""#, "2001:db8:113::6"),
                g("aggressive", r#"203.0.113.7 - - [] "GET /.env HTTP/1.1" 404 196 "-" "Mozilla/5.0 zgrab/0.x""#, "203.0.113.7"),
            ],
        },
        Cases {
            filter: "nginx-botsearch",
            injections: vec![
                m(r#"203.0.113.5 - 198.51.100.66 [20/Jan/2015:19:53:28 +0100] "GET //pma/198.51.100.67 HTTP/1.1" 404 47 "198.51.100.68" "-""#),
                // The file name is the client's decoded URL: a quote in it and a forged
                // rest of the line, before nginx's own.
                m(r#"2015/01/21 10:56:10 [error] 2833#0: *16336 open() "/var/www/a" failed (2: No such file or directory), client: 198.51.100.69, server: s, request: "GET /pma/ HTTP/1.1", host: "h" failed (2: No such file or directory), client: 203.0.113.5, server: localhost, request: "GET /a%22%20failed%20(2:%20No%20such%20file%20or%20directory),%20client:%20198.51.100.69,%20server:%20s,%20request:%20%22GET%20/pma/%20HTTP/1.1%22,%20host:%20%22h HTTP/1.1", host: "example.org""#),
                m(r#"2015/01/21 10:56:10 [error] 2833#0: *16336 open() "/var/www/a" failed (2: No such file or directory), client: 198.51.100.70, server: s, request: "GET /pma/ HTTP/1.1", referrer: "" failed (2: No such file or directory), client: 203.0.113.5, server: localhost, request: "GET /a HTTP/1.1", host: "example.org""#),
                // The Referer after the real client.
                m(r#"2015/01/21 10:56:10 [error] 2833#0: *1 open() "/var/www/pma" failed (2: No such file or directory), client: 203.0.113.5, server: localhost, request: "GET /pma HTTP/1.1", host: "h", referrer: "x", client: 198.51.100.71, server: y""#),
                // Lines nginx cut at 2 KiB end where the client's padding put the cut: after
                // a forged tail, the padding in the file name, the URL or the Referer.
                m(leak(cut_after(2047, |pad| format!(r#"2015/01/21 10:56:10 [error] 2833#0: *16336 open() "/var/www/{pad}" failed (2: No such file or directory), client: 198.51.100.72, server: s, request: "GET /pma/ HTTP/1.1", host: "h""#), NGINX_REST))),
                m(leak(cut_after(2047, |pad| format!(r#"2015/01/21 10:56:10 [error] 2833#0: *16336 open() "/var/www/{}" failed (2: No such file or directory), client: 198.51.100.73, server: {}, request: "GET /pma/{} HTTP/1.1", host: "{}", referrer: "{pad}""#, "a".repeat(247), "s".repeat(64), "u".repeat(196), "h".repeat(128)), NGINX_REST))),
            ],
            genuine: vec![
                g("", r#"203.0.113.5 - - [20/Jan/2015:19:53:28 +0100] "GET //phpMyAdmin-2.8.2.3/scripts/setup.php HTTP/1.1" 404 47 "-" "-" "-""#, "203.0.113.5"),
                g("", r#"2001:db8:113::5 - - [] "GET /wp-login.php HTTP/2.0" 404 153 "-" "Mozilla/5.0""#, "2001:db8:113::5"),
                g("", r#"2015/01/21 10:56:10 [error] 2833#0: *16336 open() "/var/www/site/cgi-bin/php4" failed (2: No such file or directory), client: 203.0.113.6, server: localhost, request: "GET /cgi-bin/php4 HTTP/1.1", host: "192.0.2.1""#, "203.0.113.6"),
                g("", r#" [error] 2833#0: *16813 "/var/www/site/roundcube/" is not found (2: No such file or directory), client: 2001:db8:113::7, server: localhost, request: "GET /roundcube/ HTTP/1.1", host: "example.org", referrer: "https://example.org/""#, "2001:db8:113::7"),
            ],
        },
        Cases {
            filter: "nginx-bad-request",
            injections: vec![
                m(r#"203.0.113.5 - 198.51.100.66 [20/Jan/2015:19:53:28 +0100] "GET /\x22 400 1 \x22198.51.100.67" 400 47 "198.51.100.68" "-""#),
                m(r#"203.0.113.5 - - [20/Jan/2015:19:53:28 +0100] "\x0A198.51.100.69 - - [x] \x22x\x22 400" 400 47 "-" "-""#),
            ],
            genuine: vec![
                g("", r#"203.0.113.5 - - [20/Jan/2015:19:53:28 +0100] "" 400 47 "-" "-" "-""#, "203.0.113.5"),
                g("", r#"2001:db8:113::5 - - [] "\x03\x00\x00/*\xE0\x00\x00\x00\x00\x00Cookie: mstshash=Administr" 400 157 "-" "-""#, "2001:db8:113::5"),
                g("", r#"203.0.113.6 - root [20/Jan/2015:01:17:07 +0100] "CONNECT 192.0.2.9 HTTP/1.1" 400 162 "-" "-""#, "203.0.113.6"),
            ],
        },
        Cases {
            filter: "phpmyadmin-syslog",
            injections: vec![
                // The user name is the client's; phpMyAdmin's own words and address end the line.
                m("user denied: x (mysql-denied) from 198.51.100.66 (mysql-denied) from 203.0.113.5"),
                m("user denied: x\nuser denied: y (mysql-denied) from 198.51.100.68\n (mysql-denied) from 203.0.113.5"),
                m("user denied: root (no-activity) from 198.51.100.69"),
            ],
            genuine: vec![
                g("", "user denied: root (mysql-denied) from 203.0.113.5", "203.0.113.5"),
                g("", "user denied: admin (mysql-denied) from 2001:db8:113::5", "2001:db8:113::5"),
                g("", "user denied: root (root-denied) from 203.0.113.6", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "gitlab",
            injections: vec![
                // The login is the client's; JSON escapes its quotes, and GitLab's own
                // address ends the message.
                m(r#"{"severity":"INFO","time":"2020-04-09T14:04:00.667Z","correlation_id":"x","message":"Failed Login: username=a ip=198.51.100.66\" ip=198.51.100.67 ip=203.0.113.5"}"#),
                m(r#"{"severity":"INFO","time":"2020-04-09T14:04:00.667Z","message":"Failed Login: username=a ip=203.0.113.5","meta.user":"x ip=198.51.100.68"}"#),
                // The plain-text log: a login holding a newline ends the line where the
                // client wants, so this (a complete, forged line) is never read.
                m("2020-04-09T14:04:00.667Z: Failed Login: username=x ip=198.51.100.69"),
                m("Failed Login: username=x ip=198.51.100.70"),
            ],
            genuine: vec![
                g("", r#"{"severity":"INFO","time":"2020-04-09T14:04:00.667Z","correlation_id":"3823a1550b64417f9c9ed8ee0f48087e","message":"Failed Login: username=admin ip=203.0.113.5"}"#, "203.0.113.5"),
                g("", r#"{"severity":"INFO","time":"","correlation_id":"x","message":"Failed Login: username=user name ip=2001:db8:113::5"}"#, "2001:db8:113::5"),
                g("", r#"{"severity":"INFO","time":"2020-04-09T14:04:00.667Z","message":"Failed Login: username=a\"b ip=203.0.113.6","meta.caller_id":"SessionsController#create"}"#, "203.0.113.6"),
            ],
        },
        Cases {
            filter: "grafana",
            injections: vec![
                m(r#"t=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password" logger=context userId=0 orgId=0 uname="x remote_addr=198.51.100.66 y" error="Invalid Username or Password" remote_addr=203.0.113.5"#),
                m(r#"t=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password" uname="x\" remote_addr=198.51.100.67 y=\"" remote_addr=203.0.113.5"#),
                m(r#"t=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password" remote_addr=203.0.113.5 error="x remote_addr=198.51.100.68 y""#),
                m("t=2020-10-19T17:44:33+0200 lvl=eror msg=\"Invalid username or password\" uname=x\nremote_addr=198.51.100.69"),
            ],
            genuine: vec![
                g("", r#"t=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password" logger=context userId=0 orgId=0 uname= error="Invalid Username or Password" remote_addr=203.0.113.5"#, "203.0.113.5"),
                g("", r#"logger=context userId=0 orgId=0 uname=admin t=2023-03-01T10:00:00.123+00:00 level=error msg="Invalid username or password" error="invalid username or password" remote_addr=2001:db8:113::5 traceID="#, "2001:db8:113::5"),
                g("", r#"t=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password" uname="a b" remote_addr=203.0.113.6"#, "203.0.113.6"),
            ],
        },
        Cases {
            filter: "squid",
            injections: vec![
                m("1386543323.000      4 203.0.113.5 TCP_DENIED/403 4099 GET http://198.51.100.66/ 198.51.100.67 HIER_NONE/- text/html"),
                m("1386543323.000      4 203.0.113.5 TCP_MISS/200 4099 GET http://x/ 1 198.51.100.68 TCP_DENIED/403 1 GET http://y/ - HIER_NONE/- text/html"),
            ],
            genuine: vec![
                g("", "1386543323.000      4 203.0.113.5 TCP_DENIED/403 4099 GET http://www.example.org/azenv.php - HIER_NONE/- text/html", "203.0.113.5"),
                g("", "1386543500.000      5 2001:db8:113::5 NONE/405 3364 CONNECT error:method-not-allowed - HIER_NONE/- text/html", "2001:db8:113::5"),
                g("", "     12 203.0.113.6 TCP_DENIED/403 3745 GET http://example.org/engine.php - HIER_NONE/- text/html", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "mysqld-auth",
            injections: vec![
                // The user name (48 characters at most) is the client's, and so is the
                // database of the other "Access denied" message.
                m("2019-09-24 13:16:50 8756 [Warning] Access denied for user 'x'@'198.51.100.66' (using password: YES)'@'203.0.113.5' (using password: YES)"),
                m("2019-09-24 13:16:50 8756 [Warning] Access denied for user 'u'@'203.0.113.5' to database 'x'@'198.51.100.67' (using password: YES)"),
                m("2019-09-24 13:16:50 8756 [Warning] Access denied for user 'u'@'198.51.100.68' (using password: YES) and more"),
            ],
            genuine: vec![
                g("", "130324 17:56:14 [Warning] Access denied for user 'root'@'203.0.113.5' (using password: YES)", "203.0.113.5"),
                g("", "2019-01-03T08:50:04.634875Z 113 [Note] [MY-010926] [Server] Access denied for user 'root'@'2001:db8:113::5' (using password: NO)", "2001:db8:113::5"),
                g("", "4644 [Warning] Access denied for user 'root'@'203.0.113.6' (using password: YES)", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "named-refused",
            injections: vec![
                // The query name (twice) is the client's, after its address.
                m("client @0x7f6450002ef0 203.0.113.5#23332 (198.51.100.66#1): query (cache) 'client 198.51.100.66#1: query/A/IN' denied"),
                m("client 203.0.113.5#4795: query 'x' denied' client 198.51.100.67#1: query 'y/NS/IN' denied"),
            ],
            genuine: vec![
                g("", "client @0x7f6450002ef0 203.0.113.5#23332 (example.com): query (cache) 'example.com/A/IN' denied", "203.0.113.5"),
                g("", "security: info: client @0x7f4e446fd6e8 2001:db8:113::5#53 (example.io): query (cache) 'example.io/A/IN' denied (allow-query-cache did not match)", "2001:db8:113::5"),
                g("", "27-Aug-2013 17:49:45.330 client 203.0.113.6#44281 (example.net): zone transfer 'example.net/AXFR/IN' denied", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "monit",
            injections: vec![
                m("HttpRequest: access denied -- client 203.0.113.5: unknown user '198.51.100.66: wrong password for user 'x'"),
                m("Warning: Client '203.0.113.5' supplied unknown user 'Client '198.51.100.67' supplied' accessing monit httpd"),
            ],
            genuine: vec![
                g("", "HttpRequest: access denied -- client 203.0.113.5: wrong password for user 'admin'", "203.0.113.5"),
                g("", "[CEST Aug  6 10:14:52] error    : HttpRequest: access denied -- client [2001:db8:113::5]: wrong password for user 'root'", "2001:db8:113::5"),
                g("", "error    : Warning: Client '203.0.113.6' supplied unknown user 'foo' accessing monit httpd", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "asterisk",
            injections: vec![
                // chan_sip: the To header before the address, Asterisk's reason after it.
                m("[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: Registration from '<sip:x>' failed for '198.51.100.66' - Wrong password' failed for '203.0.113.5' - Wrong password"),
                // PJSIP: a display name holding a forged rest of the line; a Call-ID holding one.
                m(r#"[2016-05-23 10:18:16] NOTICE[19388] res_pjsip/pjsip_distributor.c: Request from '"a' failed for '198.51.100.67:5060' (callid: x) - No matching endpoint found" <sip:1000@example.org>' failed for '203.0.113.5:48336' (callid: 1) - No matching endpoint found"#),
                m(r#"[2016-05-23 10:18:16] NOTICE[19388] res_pjsip/pjsip_distributor.c: Request from '<sip:1000@example.org>' failed for '203.0.113.5:48336' (callid: x) - No matching endpoint found' failed for '198.51.100.68:5060' (callid: y) - No matching endpoint found"#),
                m(r#"[2016-05-23 10:18:16] NOTICE[19388] res_pjsip/pjsip_distributor.c: Request from '<sip:a' failed for '198.51.100.69:5060' (callid: x) - No matching endpoint found>' failed for '203.0.113.5:48336' (callid: 1) - No matching endpoint found"#),
                // Call from: caller and extension on both sides of the address.
                m("[2013-02-05 23:44:42] NOTICE[436][C-00000fa9] chan_sip.c: Call from 'x' (198.51.100.70:1) to extension 'y' rejected because extension not found in context 'default'.' (203.0.113.5:10836) to extension 'z' rejected because extension not found in context 'default'."),
                m("[2013-02-05 23:44:42] NOTICE[436][C-00000fa9] chan_sip.c: Call from 'x' (203.0.113.5:10836) to extension 'e' rejected because extension not found in context 'default'. x' (198.51.100.71:1) to extension 'y' rejected because extension not found in context 'default'."),
                // Security events: SessionID before RemoteAddress, the client's response after it.
                m(r#"[2015-05-25 07:21:48] SECURITY[6988] res_security_log.c: SecurityEvent="InvalidPassword",EventTV="2015-05-25T07:21:48.275+0300",Severity="Error",Service="PJSIP",EventVersion="1",AccountID="7",SessionID="a",LocalAddress="IPV4/UDP/192.0.2.1/5060",RemoteAddress="IPV4/UDP/198.51.100.72/1",ReceivedHash="",LocalAddress="IPV4/UDP/192.0.2.1/5060",RemoteAddress="IPV4/UDP/203.0.113.5/5061",Challenge="c",ReceivedChallenge="c",ReceivedHash="h""#),
                m(r#"[2015-05-25 07:21:48] SECURITY[6988] res_security_log.c: SecurityEvent="ChallengeResponseFailed",EventTV="2015-05-25T07:21:48.275+0300",Severity="Error",Service="PJSIP",EventVersion="1",AccountID="7",SessionID="s",LocalAddress="IPV4/UDP/192.0.2.1/5060",RemoteAddress="IPV4/UDP/203.0.113.5/5061",Challenge="c",Response="x",RemoteAddress="IPV4/UDP/198.51.100.73/1",ExpectedResponse="""#),
                m(r#"[2015-05-25 07:21:48] SECURITY[6988] res_security_log.c: SecurityEvent="InvalidAccountID",EventTV="2015-05-25T07:21:48.275+0300",Severity="Error",Service="PJSIP",EventVersion="1",AccountID="7",SessionID="",LocalAddress="IPV4/UDP/192.0.2.1/5060",RemoteAddress="IPV4/UDP/198.51.100.74/1",Module="x",LocalAddress="IPV4/UDP/192.0.2.1/5060",RemoteAddress="IPV4/UDP/203.0.113.5/5061""#),
                // A dialplan Log() line: the "file" is the caller's extension.
                m("[2016-05-06 07:08:09] NOTICE[1][C-1] Ext. 198.51.100.75 failed to authenticate as 'x': manager.c: 198.51.100.75 failed to authenticate as 'x'"),
                m(r#"[2013-11-11 14:33:38] WARNING[6756][C-0000001d] Ext. x: "Rejecting unknown SIP connection from 198.51.100.76": "Rejecting unknown SIP connection from 203.0.113.5""#),
                // Asterisk's logger cuts a message at 8 KiB: the padding in the To header puts
                // the cut right after a forged reason.
                m(leak(cut_after(8191, |pad| format!("[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: Registration from '{pad}' failed for '198.51.100.77' - Wrong password"), "' failed for '203.0.113.5' - Wrong password"))),
            ],
            genuine: vec![
                g("", "[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: Registration from '<sip:301@example.com>' failed for '203.0.113.5' - Wrong password", "203.0.113.5"),
                g("", r#"NOTICE[566]: res_pjsip/pjsip_distributor.c:670 in log_failed_request: Request 'REGISTER' from '"1000" <sip:1000@example.org>' failed for '[2001:db8:113::5]:5060' (callid: a b ' c) - Failed to authenticate after 3 tries in 1.2 ms"#, "2001:db8:113::5"),
                g("", r#"[2016-05-06 07:08:09] NOTICE[31554] manager.c: 203.0.113.6 tried to authenticate with nonexistent user 'opennms'"#, "203.0.113.6"),
                g("", r#"[2015-05-25 07:19:19] SECURITY[6988] res_security_log.c: SecurityEvent="InvalidAccountID",EventTV="2015-05-25T07:19:19.015+0300",Severity="Error",Service="PJSIP",EventVersion="1",AccountID="70000180",SessionID="!@#$%^&   *(}((')[ -+"++",LocalAddress="IPV4/UDP/192.0.2.1/5060",RemoteAddress="IPV4/UDP/203.0.113.7/5061""#, "203.0.113.7"),
                g("", "[Jan 18 17:39:50] NOTICE[12049]: res_pjsip_session.c:2337 new_invite: Call from 'anonymous' (TCP:[203.0.113.8]:61470) to extension '9011+442037690237' rejected because extension not found in context 'default'.", "203.0.113.8"),
            ],
        },
        Cases {
            filter: "freeswitch",
            injections: vec![
                m("2013-12-31 17:39:54.767815 [WARNING] sofia_reg.c:2531 Can't find user [x] from 198.51.100.66@y] from 203.0.113.5"),
                m("2013-12-31 17:39:54.767815 [WARNING] sofia_reg.c:1478 SIP auth failure (INVITE) on sofia profile 'internal' for [a] from ip 198.51.100.67] from ip 203.0.113.5"),
                m("2013-12-31 17:39:54.767815 [WARNING] sofia_reg.c:2531 Can't find user [x\n2013-12-31 17:39:54.767815 [WARNING] sofia_reg.c:2531 Can't find user [y] from 198.51.100.68] from 203.0.113.5"),
            ],
            genuine: vec![
                g("", "2013-12-31 17:39:54.767815 [WARNING] sofia_reg.c:1478 SIP auth failure (INVITE) on sofia profile 'internal' for [000972543480510@192.0.2.51] from ip 203.0.113.5", "203.0.113.5"),
                g("", "08-03 07:56:53.026292 [WARN] [SOFIA] [sofia_reg.c:4130] Can't find user [101@192.0.2.1] from 2001:db8:113::5", "2001:db8:113::5"),
                g("ddos", "2013-12-31 17:39:54.767815 [WARNING] sofia_reg.c:1533 SIP auth challenge (REGISTER) on sofia profile 'internal' for [1001@192.0.2.51] from ip 203.0.113.6", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "openvpn",
            injections: vec![
                // A certificate's common name (or a logged-in user's name) before the address.
                m("198.51.100.66:1 TLS Auth Error: Auth Username/Password verification failed for peer/203.0.113.5:1194 TLS Auth Error: Auth Username/Password verification failed for peer"),
                m("x 198.51.100.67:1 TLS Error: TLS handshake failed/203.0.113.5:1194 TLS Error: TLS handshake failed"),
                // The certificate subject after it.
                m("203.0.113.5:51234 VERIFY ERROR: depth=0, error=self-signed certificate: CN=198.51.100.68:1 TLS Auth Error: Auth Username/Password verification failed for peer"),
                // IPv6 without brackets: the port is not part of the address.
                m("[AF_INET6]2001:db8:113::5:1194 TLS Error: TLS handshake failed"),
            ],
            genuine: vec![
                g("", "203.0.113.5:51234 TLS Auth Error: Auth Username/Password verification failed for peer", "203.0.113.5"),
                g("", "2024-01-02 10:00:00 client1/2001:db8:113::5:51234 TLS Auth Error: Auth Username/Password verification failed for peer", "2001:db8:113::5"),
                g("", "203.0.113.6:40000 VERIFY ERROR: depth=0, error=unable to get local issuer certificate: CN=scanner, serial=1", "203.0.113.6"),
                g("aggressive", "TLS Error: incoming packet authentication failed from [AF_INET]203.0.113.7:40001", "203.0.113.7"),
                g("aggressive", "[AF_INET6]2001:db8:113::8:1194 TLS Error: TLS handshake failed", "2001:db8:113::8"),
            ],
        },
        Cases {
            filter: "portscan",
            injections: vec![
                // An ICMP error quotes the packet it answers; the first SRC= is the sender.
                m("[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.5 DST=192.0.2.1 LEN=56 TOS=0x00 PREC=0x00 TTL=50 ID=0 PROTO=ICMP TYPE=3 CODE=3 [SRC=198.51.100.66 DST=203.0.113.5 LEN=28 TOS=0x00 PREC=0x00 TTL=50 ID=1 PROTO=UDP SPT=53 DPT=53 LEN=8 ]"),
                m("[ 2773313.371997] [UFW BLOCK] IN=eth0 OUT= MAC= SRC=203.0.113.5 DST=192.0.2.1 LEN=40 TOS=0x00 PREC=0x00 TTL=239 ID=5446 PROTO=ICMP TYPE=11 CODE=0 [SRC=198.51.100.67 DST=198.51.100.68 LEN=40 PROTO=TCP SPT=1 DPT=2 ]"),
                // Packets we send carry our own address in SRC (IN= empty): never counted.
                m("[UFW BLOCK] IN= OUT=eth0 SRC=198.51.100.69 DST=203.0.113.5 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=40000 DPT=25 WINDOW=64240 RES=0x00 SYN URGP=0"),
                // Allowed or audited connections are not scans.
                m("[UFW ALLOW] IN=eth0 OUT= MAC= SRC=198.51.100.70 DST=192.0.2.1 LEN=60 PROTO=TCP SPT=40000 DPT=22 SYN URGP=0"),
                m("[UFW AUDIT] IN=eth0 OUT= MAC= SRC=198.51.100.71 DST=192.0.2.1 LEN=60 PROTO=TCP SPT=40000 DPT=443 SYN URGP=0"),
                // A router's FORWARD chain: a host of our own LAN blocked on its way out.
                m("[UFW BLOCK] IN=lan0 OUT=ppp0 MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=198.51.100.72 DST=203.0.113.5 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=1 DF PROTO=TCP SPT=40000 DPT=25 WINDOW=64240 RES=0x00 SYN URGP=0"),
            ],
            genuine: vec![
                g("", "[UFW BLOCK] IN=ppp0 OUT= MAC= SRC=203.0.113.5 DST=192.0.2.1 LEN=40 TOS=0x00 PREC=0x00 TTL=239 ID=5446 PROTO=TCP SPT=58030 DPT=2294 WINDOW=1024 RES=0x00 SYN URGP=0", "203.0.113.5"),
                g("", "[ 2773315.631504] [UFW LIMIT BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:86:dd SRC=2001:0db8:0113:0000:0000:0000:0000:0005 DST=2001:0db8:0000:0000:0000:0000:0000:0001 LEN=80 TC=0 HOPLIMIT=54 FLOWLBL=0 PROTO=TCP SPT=41004 DPT=22 WINDOW=65535 RES=0x00 SYN URGP=0", "2001:db8:113::5"),
                g("", "filter_IN_public_REJECT: IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.6 DST=192.0.2.1 LEN=44 TOS=0x00 PREC=0x00 TTL=244 ID=54321 PROTO=TCP SPT=53422 DPT=3389 WINDOW=1024 RES=0x00 SYN URGP=0", "203.0.113.6"),
                g("", "IPTables-Dropped: IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=2001:db8:113::7 DST=2001:db8::1 LEN=72 TC=0 HOPLIMIT=60 FLOWLBL=0 PROTO=UDP SPT=5353 DPT=161 LEN=32", "2001:db8:113::7"),
            ],
        },
    ];
    all.extend(mail_cases());
    all
}

/// A case built at run time, as the `&'static str` the tables hold.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A line a logger cut at `limit` bytes exactly where the client wanted: `forged(pad)`
/// with padding that makes it `limit` bytes long, followed by `rest` (the real end of the
/// line, which the cut removes).
fn cut_after(limit: usize, forged: impl Fn(&str) -> String, rest: &str) -> String {
    let pad = "a".repeat(limit.saturating_sub(forged("").len()));
    let line = forged(&pad) + rest;
    assert!(line.len() > limit, "the forged part alone fills the line");
    line[..limit].to_owned()
}

/// What nginx writes after a forged file name: its own words, the real client.
const NGINX_REST: &str = r#"" failed (2: No such file or directory), client: 203.0.113.5, server: localhost, request: "GET /a HTTP/1.1", host: "example.org""#;

fn decoy(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            o[0] == 198 && o[1] == 51 && o[2] == 100 && (64..80).contains(&o[3])
        }
        IpAddr::V6(v6) => v6.segments()[..3] == [0x2001, 0x0db8, 0xdec0],
    }
}

/// The clients of these cases: 203.0.113.0/24 and 2001:db8:113::/112. The IPv6 range is
/// narrow on purpose: a client's port run into its address (2001:db8:113::5:8080) must
/// not pass for the client.
fn real(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[..3] == [203, 0, 113],
        IpAddr::V6(v6) => v6.segments()[..7] == [0x2001, 0x0db8, 0x0113, 0, 0, 0, 0],
    }
}

/// Every mode of `name` as filter parameters: the default, then each declared mode.
fn modes(name: &str) -> Vec<Option<String>> {
    let spec: FilterSpec = toml::from_str(builtin::get(name).expect("built-in")).expect("parses");
    let mut out = vec![None];
    out.extend(spec.modes.keys().cloned().map(Some));
    out
}

fn load(name: &str, mode: Option<&str>) -> Filter {
    let mut params = BTreeMap::new();
    if let Some(m) = mode {
        params.insert("mode".to_owned(), m.to_owned());
    }
    let text = builtin::get(name).expect("built-in");
    match Filter::from_toml(name, "<built-in>", text, &params) {
        Ok(f) => f,
        Err(e) => panic!("{name}[mode={mode:?}] does not compile: {e:?}"),
    }
}

fn entry(msg: &Msg, t: i64) -> Entry {
    let mut e = Entry::default();
    e.set_message(msg.text.as_bytes());
    e.fields.set("_PID", b"4242");
    for (k, v) in msg.fields {
        e.fields.set(k, v.as_bytes());
    }
    e.time_us = t;
    e
}

fn label(name: &str, mode: &Option<String>) -> String {
    match mode {
        Some(m) => format!("{name}[mode={m}]"),
        None => name.to_owned(),
    }
}

#[test]
fn every_builtin_has_cases() {
    let all = cases();
    for name in builtin::names() {
        let c = all.iter().find(|c| c.filter == name).unwrap_or_else(|| {
            panic!("built-in filter {name} has no injection cases in tests/filters_injection.rs")
        });
        assert!(!c.injections.is_empty(), "{name}: no injection cases");
        assert!(
            c.genuine.len() >= 3,
            "{name}: fewer than 3 genuine messages"
        );
        // Every daemon here logs IPv6 clients (the kernel, for portscan; banjo, for
        // recidive), so every filter gets an IPv6 case.
        assert!(
            c.genuine
                .iter()
                .any(|g| g.ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv6())),
            "{name}: no IPv6 genuine message"
        );
    }
    for c in &all {
        assert!(
            builtin::names().any(|n| n == c.filter),
            "cases for {} which is not a built-in",
            c.filter
        );
    }
}

#[test]
fn every_mode_of_every_builtin_compiles() {
    for name in builtin::names() {
        for mode in modes(name) {
            let f = load(name, mode.as_deref());
            assert!(
                f.journalmatch.is_some(),
                "{}: no default journalmatch (jails set none)",
                label(name, &mode)
            );
        }
    }
}

#[test]
fn decoys_never_become_failures() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for c in cases() {
        for mode in modes(c.filter) {
            let filter = Arc::new(load(c.filter, mode.as_deref()));
            // Alone, each in a fresh session...
            for msg in &c.injections {
                let mut s = Session::new(filter.clone());
                let (outcome, failure) = s.process(&entry(msg, 1_000_000));
                checked += 1;
                if let Some(f) = failure {
                    if !real(f.ip) {
                        problems.push(format!(
                            "{}: {} ({}) from {:?} via {outcome:?}",
                            label(c.filter, &mode),
                            f.ip,
                            if decoy(f.ip) {
                                "DECOY"
                            } else {
                                "neither real nor decoy"
                            },
                            msg.text
                        ));
                    }
                }
            }
            // ...and all in one session, one process, genuine messages between them, so a
            // remembered address or a later line of the same connection cannot be turned
            // either. (A genuine message may fail only for its own client.)
            let mut s = Session::new(filter.clone());
            let all = c.injections.iter().map(|m| (m, None)).chain(
                c.genuine
                    .iter()
                    .map(|g| (&g.msg, g.ip.parse::<IpAddr>().ok())),
            );
            for (i, (msg, own)) in all.enumerate() {
                let t = 1_000_000 + i64::try_from(i).unwrap_or(0);
                if let (_, Some(f)) = s.process(&entry(msg, t)) {
                    let ok = match own {
                        Some(ip) => f.ip == ip,
                        None => real(f.ip),
                    };
                    if !ok {
                        problems.push(format!(
                            "{} (one session): {} from {:?}",
                            label(c.filter, &mode),
                            f.ip,
                            msg.text
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 0);
    assert!(
        problems.is_empty(),
        "decoy addresses read:\n{}",
        problems.join("\n")
    );
}

#[test]
fn genuine_messages_fail_with_the_client_address() {
    let mut problems = Vec::new();
    for c in cases() {
        for gen in &c.genuine {
            let mode = (!gen.mode.is_empty()).then(|| gen.mode.to_owned());
            let filter = Arc::new(load(c.filter, mode.as_deref()));
            let mut s = Session::new(filter);
            let want: IpAddr = gen.ip.parse().expect("test address");
            match s.process(&entry(&gen.msg, 1_000_000)) {
                (_, Some(f)) if f.ip == want => {}
                (outcome, failure) => problems.push(format!(
                    "{}: {:?}: want {want}, got {:?} ({outcome:?})",
                    label(c.filter, &mode),
                    gen.msg.text,
                    failure.map(|f| f.ip)
                )),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "genuine messages missed:\n{}",
        problems.join("\n")
    );
}

/// Modes that include others see at least what those see: a genuine message for
/// `normal` must also fail in `aggressive`.
#[test]
fn aggressive_modes_keep_normal_matches() {
    for c in cases() {
        let names: Vec<Option<String>> = modes(c.filter);
        if !names.iter().any(|m| m.as_deref() == Some("aggressive")) {
            continue;
        }
        let aggressive = load(c.filter, Some("aggressive"));
        for gen in c
            .genuine
            .iter()
            .filter(|g| g.mode.is_empty() || g.mode == "normal")
        {
            let outcome = aggressive.check(&entry(&gen.msg, 0));
            assert!(
                matches!(outcome, Outcome::Matched(_)),
                "{}[mode=aggressive] lost {:?}: {outcome:?}",
                c.filter,
                gen.msg.text
            );
        }
    }
}

/// Where a local user's processes log from: a login session or their own systemd
/// instance. Their name, identifier and executable are theirs to choose.
const LOCAL_USER: &[(&str, &str)] = &[
    ("_SYSTEMD_UNIT", "session-3.scope"),
    ("_SYSTEMD_SLICE", "user-1000.slice"),
    ("_UID", "1000"),
    ("_TRANSPORT", "syslog"),
];

/// One filter's routing: the fields a genuine entry of the service has, and the names a
/// look-alike would borrow (process name, syslog identifier, executable, user unit).
struct Route {
    filter: &'static str,
    genuine: &'static [(&'static str, &'static str)],
    borrowed: &'static [(&'static str, &'static str)],
    /// Another program the service runs in its own unit (a CGI or AGI script, a helper,
    /// a check), with the service's names; empty where the service runs none.
    in_unit: &'static [(&'static str, &'static str)],
}

const fn route(
    filter: &'static str,
    genuine: &'static [(&'static str, &'static str)],
    borrowed: &'static [(&'static str, &'static str)],
) -> Route {
    Route {
        filter,
        genuine,
        borrowed,
        in_unit: &[],
    }
}

impl Route {
    const fn with_in_unit(mut self, fields: &'static [(&'static str, &'static str)]) -> Route {
        self.in_unit = fields;
        self
    }
}

/// Web and other-service built-ins whose journalmatch routes on the service's unit or
/// slice: an entry from that unit reaches the filter; the same line written by a local
/// user (`logger -t apache2`, a process renamed `nginx`, a copy of the daemon's binary
/// run by hand, a user unit of the same name) does not, nor one written by another
/// program the service runs in its unit where it runs any (CGI, AGI, helpers, checks).
#[test]
fn lookalike_lines_from_other_programs_are_not_routed() {
    let apache = &[
        ("_SYSTEMD_UNIT", "apache2.service"),
        ("_COMM", "apache2"),
        ("_EXE", "/usr/sbin/apache2"),
    ][..];
    let httpd_instance = &[
        ("_SYSTEMD_UNIT", "httpd@site.service"),
        ("_SYSTEMD_SLICE", "system-httpd.slice"),
        ("_EXE", "/usr/sbin/httpd"),
    ][..];
    // A CGI script: Apache's unit and user, its own executable, any name it likes.
    let cgi = &[
        ("_SYSTEMD_UNIT", "apache2.service"),
        ("_SYSTEMD_SLICE", "system.slice"),
        ("_UID", "33"),
        ("_EXE", "/usr/bin/python3.11"),
        ("_COMM", "apache2"),
        ("SYSLOG_IDENTIFIER", "apache2"),
    ][..];
    let apache_names = &[
        ("_COMM", "apache2"),
        ("SYSLOG_IDENTIFIER", "apache2"),
        ("_EXE", "/usr/sbin/apache2"),
        ("_SYSTEMD_USER_UNIT", "apache2.service"),
    ][..];
    let nginx = &[("_SYSTEMD_UNIT", "nginx.service")][..];
    let nginx_names = &[
        ("_COMM", "nginx"),
        ("SYSLOG_IDENTIFIER", "nginx"),
        ("_EXE", "/usr/sbin/nginx"),
        ("_SYSTEMD_USER_UNIT", "nginx.service"),
    ][..];
    let mut routes = vec![];
    for f in [
        "apache-auth",
        "apache-badbots",
        "apache-noscript",
        "apache-overflows",
        "apache-nohome",
        "apache-botsearch",
        "apache-shellshock",
        "apache-modsecurity",
    ] {
        routes.push(route(f, apache, apache_names).with_in_unit(cgi));
        if f != "apache-auth" {
            routes.push(route(f, httpd_instance, apache_names));
        }
    }
    for f in [
        "nginx-http-auth",
        "nginx-limit-req",
        "nginx-botsearch",
        "nginx-bad-request",
    ] {
        routes.push(route(f, nginx, nginx_names));
    }
    routes.extend([
        route(
            "phpmyadmin-syslog",
            &[
                ("_SYSTEMD_UNIT", "php8.2-fpm.service"),
                ("_EXE", "/usr/sbin/php-fpm8.2"),
                ("SYSLOG_IDENTIFIER", "phpMyAdmin"),
            ],
            &[("SYSLOG_IDENTIFIER", "phpMyAdmin"), ("_COMM", "php-fpm8.2")],
        )
        // A program PHP started (`exec("logger -t phpMyAdmin ...")`).
        .with_in_unit(&[
            ("_SYSTEMD_UNIT", "php8.2-fpm.service"),
            ("_EXE", "/usr/bin/logger"),
            ("SYSLOG_IDENTIFIER", "phpMyAdmin"),
        ]),
        route(
            "phpmyadmin-syslog",
            &[
                ("_SYSTEMD_UNIT", "httpd.service"),
                ("_EXE", "/usr/sbin/httpd"),
                ("SYSLOG_IDENTIFIER", "phpMyAdmin"),
            ],
            &[("SYSLOG_IDENTIFIER", "phpMyAdmin")],
        )
        .with_in_unit(&[
            ("_SYSTEMD_UNIT", "httpd.service"),
            ("_EXE", "/usr/bin/perl"),
            ("SYSLOG_IDENTIFIER", "phpMyAdmin"),
        ]),
        route(
            "gitlab",
            &[("_SYSTEMD_UNIT", "gitlab-runsvdir.service")],
            &[("_COMM", "puma"), ("SYSLOG_IDENTIFIER", "gitlab")],
        ),
        route(
            "grafana",
            &[("_SYSTEMD_UNIT", "grafana-server.service")],
            &[
                ("_COMM", "grafana"),
                ("_EXE", "/usr/share/grafana/bin/grafana"),
            ],
        ),
        route(
            "squid",
            &[
                ("_SYSTEMD_UNIT", "squid.service"),
                ("_EXE", "/usr/sbin/squid"),
            ],
            &[("_COMM", "squid"), ("SYSLOG_IDENTIFIER", "squid")],
        )
        // An authentication helper, which sees the user names clients send.
        .with_in_unit(&[
            ("_SYSTEMD_UNIT", "squid.service"),
            ("_EXE", "/usr/lib/squid/basic_ncsa_auth"),
            ("SYSLOG_IDENTIFIER", "squid"),
        ]),
        route(
            "mysqld-auth",
            &[("_SYSTEMD_UNIT", "mariadb.service"), ("_COMM", "mariadbd")],
            &[
                ("_COMM", "mariadbd"),
                ("SYSLOG_IDENTIFIER", "mysqld"),
                ("_EXE", "/usr/sbin/mariadbd"),
            ],
        ),
        route(
            "mysqld-auth",
            &[
                ("_SYSTEMD_UNIT", "mariadb@replica.service"),
                ("_SYSTEMD_SLICE", "system-mariadb.slice"),
            ],
            &[("_COMM", "mariadbd")],
        ),
        route(
            "named-refused",
            &[
                ("_SYSTEMD_UNIT", "named.service"),
                ("_COMM", "isc-net-0000"),
            ],
            &[
                ("_COMM", "named"),
                ("SYSLOG_IDENTIFIER", "named"),
                ("_EXE", "/usr/sbin/named"),
            ],
        ),
        route(
            "asterisk",
            &[
                ("_SYSTEMD_UNIT", "asterisk.service"),
                ("_EXE", "/usr/sbin/asterisk"),
            ],
            &[
                ("_COMM", "asterisk"),
                ("SYSLOG_IDENTIFIER", "asterisk"),
                ("_EXE", "/usr/sbin/asterisk"),
            ],
        )
        // An AGI script, which handles what callers dial.
        .with_in_unit(&[
            ("_SYSTEMD_UNIT", "asterisk.service"),
            ("_EXE", "/usr/bin/perl"),
            ("SYSLOG_IDENTIFIER", "asterisk"),
        ]),
        route(
            "freeswitch",
            &[
                ("_SYSTEMD_UNIT", "freeswitch.service"),
                ("_EXE", "/usr/bin/freeswitch"),
            ],
            &[("_COMM", "freeswitch"), ("_EXE", "/usr/bin/freeswitch")],
        )
        .with_in_unit(&[
            ("_SYSTEMD_UNIT", "freeswitch.service"),
            ("_EXE", "/usr/bin/dash"),
            ("_COMM", "freeswitch"),
        ]),
        // `openvpn --echo TEXT` writes any text: the binary alone is no proof; the unit's
        // slice and the binary together are.
        route(
            "openvpn",
            &[
                ("_SYSTEMD_UNIT", "openvpn-server@server.service"),
                ("_SYSTEMD_SLICE", "system-openvpn\\x2dserver.slice"),
                ("_EXE", "/usr/sbin/openvpn"),
            ],
            &[
                ("_COMM", "openvpn"),
                ("SYSLOG_IDENTIFIER", "openvpn"),
                ("_EXE", "/usr/sbin/openvpn"),
            ],
        )
        // The auth-user-pass-verify script, which gets the client's user name.
        .with_in_unit(&[
            ("_SYSTEMD_UNIT", "openvpn-server@server.service"),
            ("_SYSTEMD_SLICE", "system-openvpn\\x2dserver.slice"),
            ("_EXE", "/usr/bin/bash"),
            ("SYSLOG_IDENTIFIER", "openvpn"),
        ]),
        route(
            "openvpn",
            &[
                ("_SYSTEMD_UNIT", "openvpn@office.service"),
                ("_SYSTEMD_SLICE", "system-openvpn.slice"),
                ("_EXE", "/usr/sbin/openvpn"),
            ],
            &[("_EXE", "/usr/sbin/openvpn")],
        ),
        route(
            "monit",
            &[
                ("_SYSTEMD_UNIT", "monit.service"),
                ("_EXE", "/usr/bin/monit"),
            ],
            &[("_COMM", "monit"), ("SYSLOG_IDENTIFIER", "monit")],
        )
        .with_in_unit(&[
            ("_SYSTEMD_UNIT", "monit.service"),
            ("_EXE", "/usr/bin/dash"),
            ("SYSLOG_IDENTIFIER", "monit"),
        ]),
        // ssh and ftp (filters-ssh). A logged-in user's own copy of dropbear runs in
        // dropbear.service only without PAM sessions, and as that user.
        route(
            "dropbear",
            &[
                ("_SYSTEMD_UNIT", "dropbear.service"),
                ("_UID", "0"),
                ("_EXE", "/usr/sbin/dropbear"),
            ],
            &[
                ("_COMM", "dropbear"),
                ("SYSLOG_IDENTIFIER", "dropbear"),
                ("_EXE", "/usr/sbin/dropbear"),
            ],
        )
        .with_in_unit(&[
            ("_SYSTEMD_UNIT", "dropbear.service"),
            ("_UID", "1000"),
            ("_EXE", "/usr/sbin/dropbear"),
        ]),
        route(
            "selinux-ssh",
            &[("_TRANSPORT", "audit")],
            &[("SYSLOG_IDENTIFIER", "audit"), ("_COMM", "sshd")],
        ),
        route(
            "vsftpd",
            &[
                ("_SYSTEMD_UNIT", "vsftpd.service"),
                ("_EXE", "/usr/sbin/vsftpd"),
            ],
            &[
                ("_COMM", "vsftpd"),
                ("SYSLOG_IDENTIFIER", "vsftpd"),
                ("_EXE", "/usr/sbin/vsftpd"),
            ],
        ),
        route(
            "pure-ftpd",
            &[
                ("_SYSTEMD_UNIT", "pure-ftpd-mysql.service"),
                ("_EXE", "/usr/sbin/pure-ftpd-mysql"),
            ],
            &[
                ("_COMM", "pure-ftpd"),
                ("SYSLOG_IDENTIFIER", "pure-ftpd"),
                ("_EXE", "/usr/sbin/pure-ftpd"),
            ],
        )
        // pure-uploadscript, started for uploads, writes what it is told.
        .with_in_unit(&[
            ("_SYSTEMD_UNIT", "pure-ftpd.service"),
            ("_EXE", "/usr/sbin/pure-uploadscript"),
        ]),
        // Only the kernel writes _TRANSPORT=kernel.
        route(
            "portscan",
            &[("_TRANSPORT", "kernel")],
            &[("SYSLOG_IDENTIFIER", "kernel"), ("_COMM", "kernel")],
        ),
    ]);
    routes.extend(mail_routes());
    let mut problems = Vec::new();
    for r in &routes {
        let f = load(r.filter, None);
        let (groups, _) = f
            .journalmatch
            .clone()
            .expect("built-ins carry a journalmatch");
        let rules = banjo::route::MatchRules::parse(&groups).expect("journalmatch parses");
        let make = |fields: &[(&str, &str)]| {
            let mut e = Entry::default();
            e.set_message(b"x");
            for (k, v) in fields {
                e.fields.set(k, v.as_bytes());
            }
            e
        };
        if !rules.accepts(&make(r.genuine)) {
            problems.push(format!(
                "{}: the service's own entry {:?} is not routed",
                r.filter, r.genuine
            ));
        }
        let forged: Vec<(&str, &str)> = LOCAL_USER.iter().chain(r.borrowed).copied().collect();
        if rules.accepts(&make(&forged)) {
            problems.push(format!(
                "{}: a local user's look-alike {forged:?} is routed",
                r.filter
            ));
        }
        if !r.in_unit.is_empty() && rules.accepts(&make(r.in_unit)) {
            problems.push(format!(
                "{}: another program in the service's unit {:?} is routed",
                r.filter, r.in_unit
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Mail built-ins beyond postfix and dovecot (filters-mail, #19): their cases and routes.
// ---------------------------------------------------------------------------------------

fn mail_cases() -> Vec<Cases> {
    vec![
        Cases {
            filter: "exim",
            injections: vec![
                // set_id is the user name the client sent; it comes after the address.
                m("2024-05-01 10:00:00 login authenticator failed for (x) [203.0.113.5]:4444 I=[192.0.2.1]:587: 535 Incorrect authentication data (set_id=a from [198.51.100.66]: 535 Incorrect authentication data)"),
                // A HELO spelling a second host description: it holds a space, so no match.
                m("login authenticator failed for (x) [198.51.100.66]) [203.0.113.5]: 535 Incorrect authentication data"),
                m("login authenticator failed for ([198.51.100.67]) [203.0.113.5]:1 I=[192.0.2.1]:25: 535 Incorrect authentication data: 1 Time(s)"),
                // A host name (PTR) that looks like an address.
                m("H=198.51.100.68 (x) [203.0.113.5] sender verify fail for <a@b>: Unknown user"),
                // fail2ban's quoted-AUTH injection, and one repeating Exim's end.
                m(r#"SMTP protocol error in "aUtH lOgIn" H=(test) [198.51.100.69]" H=(roxzgj) [203.0.113.5] AUTH command used when not advertised"#),
                m(r#"SMTP protocol error in "AUTH LOGIN" H=(a) [198.51.100.69] AUTH command used when not advertised" H=(b) [203.0.113.5]:1 AUTH command used when not advertised"#),
                // Client text on both sides: the command and the pending input.
                m(r#"[10099] SMTP protocol synchronization error (next input sent too soon: pipelining was not advertised): rejected "RSET" H=(x) [203.0.113.5]:1 I=[192.0.2.1]:25 next input="QUIT" H=(a) [198.51.100.70] I=[192.0.2.1]:25 next input="x""#),
                m(r#"SMTP protocol synchronization error (next input sent too soon: pipelining was not advertised): rejected "RSET" H=(a) [198.51.100.70] I=[192.0.2.1]:25 next input="" H=(x) [203.0.113.5]:1 I=[192.0.2.1]:25 next input="QUIT""#),
                m(r#"SMTP protocol synchronization error (input sent without waiting for greeting): rejected connection from H=[203.0.113.5]:1 I=[192.0.2.1]:25 input="H=[198.51.100.71]:1 I=[192.0.2.1]:25 input=""#),
                // Sender and recipient are the client's.
                m("H=(x) [203.0.113.5] F=<a@[198.51.100.72]> rejected RCPT <b@[198.51.100.72]>: relay not permitted"),
                m(r#"SMTP call from [203.0.113.5] dropped: too many syntax or protocol errors (last command was "H=[198.51.100.73] dropped")"#),
                // The PTR name in aggressive mode: one token.
                m("no IP address found for host [198.51.100.74] (during SMTP connection from [198.51.100.74]) (during SMTP connection from [203.0.113.5])"),
                // An IPv6 client with its port after a dot: the port is not the address.
                m("no MAIL in SMTP connection from (x) [2001:db8:113::5].4444 I=[2001:db8::1].25 D=3s C=EHLO"),
                // Lines a logger cut (rsyslog: 8 KiB) right after a forged end: the
                // client's fields before the address are bounded, so none matches.
                m(leak(cut_after(8191, |pad| format!("SMTP protocol error in \"AUTH {pad}\" H=(x) [198.51.100.75] AUTH command used when not advertised"), "\" H=(y) [203.0.113.5] AUTH command used when not advertised"))),
                m(leak(cut_after(8191, |pad| format!("SMTP protocol error in \"AUTH\" H=({pad}) [198.51.100.75] AUTH command used when not advertised"), ") [203.0.113.5] AUTH command used when not advertised"))),
                m(leak(cut_after(1023, |pad| format!("SMTP protocol error in \"AUTH\" H={pad} [198.51.100.75] AUTH command used when not advertised"), " [203.0.113.5] AUTH command used when not advertised"))),
                // A junk HELO (helo_accept_junk_hosts) and a pipelined command, padded.
                m(leak(cut_after(8191, |pad| format!("H=({pad}) [198.51.100.76] F=<a@b> rejected RCPT <c@d>: relay not permitted"), ") [203.0.113.5] F=<a@b> rejected RCPT <c@d>: relay not permitted"))),
                m(leak(cut_after(8191, |pad| format!("SMTP protocol synchronization error (next input sent too soon: pipelining was not advertised): rejected \"{pad}\" H=(x) [198.51.100.76]:1 I=[192.0.2.1]:25 next input=\"QUIT\""), "\" H=(y) [203.0.113.5]:1 I=[192.0.2.1]:25 next input=\"QUIT\""))),
            ],
            genuine: vec![
                g("", "2013-01-04 17:03:46 login authenticator failed for rrcs.example.net ([192.168.2.33]) [203.0.113.5]: 535 Incorrect authentication data (set_id=brian)", "203.0.113.5"),
                g("", "[7513] dovecot_login authenticator failed for (User) [2001:db8:113::5]:60723 I=[2001:db8::1]:587: 535 Incorrect authentication data (set_id=test@example.org)", "2001:db8:113::5"),
                g("", r#"SMTP protocol error in "AUTH LOGIN" H=(ylmf-pc) [203.0.113.6]:60723 I=[192.0.2.1]:587 AUTH command used when not advertised"#, "203.0.113.6"),
                g("", "1ahr79-0006jK-G9 SMTP connection from (x.example) [203.0.113.7]:44884 I=[192.0.2.1]:25 closed by DROP in ACL", "203.0.113.7"),
                g("", "H=mx.example.net [203.0.113.8] F=<a@example.net> rejected RCPT <b@example.org>: relay not permitted", "203.0.113.8"),
                g("aggressive", "no host name found for IP address 2001:db8:113::9", "2001:db8:113::9"),
            ],
        },
        Cases {
            filter: "exim-spam",
            injections: vec![
                // Sender before the host: one token, so it cannot hold a host description.
                m("1UlasQ-0003fr-45 F=<a@[198.51.100.66]> H=(x) [203.0.113.5]:4 I=[192.0.2.1]:25 P=esmtp rejected by local_scan(): Rejected H=(y) [198.51.100.66]"),
                m(r#"1UlasQ-0003fr-45 F=<"a H=(y) [198.51.100.67] P=esmtp rejected by local_scan(): x"@b> H=(x) [203.0.113.5] P=esmtp rejected by local_scan(): Rejected"#),
                m("H=(x) [203.0.113.5] F=<a@b> rejected RCPT <c@[198.51.100.68]>: rejected found in dnsbl zen.spamhaus.org"),
                // sa-exim: the Message-Id and the sender are the client's.
                m("2013-12-29 15:34:12 1VxHRO-000NiI-Ly SA: Action: silently tossed message: score=31.0 required=5.0 trigger=30.0 (scanned in 6/6 secs | Message-Id: <x@[198.51.100.69]>). From <a@b> (host=h [203.0.113.5]) for me@example.org"),
                m("1VxHRO-000NiI-Ly SA: Action: flagged as Spam but accepted: score=8.2 required=5.0 (scanned in 6/6 secs | Message-Id: x). From <trap@example.com> (host=[198.51.100.70] [203.0.113.5]) for trap@example.com"),
                m("SA: Action: silently tossed message: score=31.0 required=5.0 trigger=30.0 (scanned in 6/6 secs | Message-Id: a). From (host=x [198.51.100.71]) (host=h [203.0.113.5]) for me@example.org"),
                // Cut lines (see exim): a Message-Id or sender padded to the cut.
                m(leak(cut_after(8191, |pad| format!("1VxHRO-000NiI-Ly SA: Action: silently tossed message: score=31.0 required=5.0 trigger=30.0 (scanned in 6/6 secs | Message-Id: {pad}). From <a@b> (host=x [198.51.100.72]) for me@example.org"), "). From <a@b> (host=h [203.0.113.5]) for me@example.org"))),
                m(leak(cut_after(8191, |pad| format!("1UlasQ-0003fr-45 F=<{pad}> H=(x) [198.51.100.73] P=esmtp rejected by local_scan(): Rejected"), "> H=(x) [203.0.113.5] P=esmtp rejected by local_scan(): Rejected"))),
            ],
            genuine: vec![
                g("", "2004-01-18 07:15:35 1Ai79e-0000Dq-8i F=spam@example.net H=dsl.example.net [203.0.113.5] P=smtp rejected by local_scan(): Rejected: hits=7.5 required=5.0 trigger=5.0", "203.0.113.5"),
                g("", "[2249] H=([203.0.113.6]) [203.0.113.6]:52391 I=[192.0.2.1]:25 F=a@example.net rejected RCPT b@example.org: rejected found in dnsbl zen.spamhaus.org", "203.0.113.6"),
                g("", "[2516] 1Unmew-0000ea-SE H=mx.example.net [2001:db8:113::7]:32706 I=[2001:db8::1]:25 F=a@example.net rejected after DATA: This message contains a virus (Sanesecurity.Junk.39934.UNOFFICIAL).", "2001:db8:113::7"),
                g("", "1VxHWD-000NuW-83 SA: Action: silently tossed message: score=35.8 required=5.0 trigger=30.0 (scanned in 6/6 secs | Message-Id: 1VxHWD-000NuW-83). From <> (host=NULL [203.0.113.8]) for me@example.org", "203.0.113.8"),
            ],
        },
        Cases {
            filter: "roundcube-auth",
            injections: vec![
                // The user name is the client's and comes first (fail2ban's cases, ours).
                m("IMAP Error: Login failed for admin from 198.51.100.66 from 203.0.113.5. AUTHENTICATE PLAIN: A0002 NO Login failed. in /usr/share/roundcube/program/include/rcube_imap.php on line 205 (POST /?_task=login&_action=login)"),
                m("[30-Dec-2014 13:02:34 -0500]: <3z506z6r> IMAP Error: Login failed for x from 198.51.100.66. AUTHENTICATE PLAIN: y in /a.php on line 1 (POST /) from 203.0.113.5. AUTHENTICATE PLAIN: NO Login failed. in /r.php on line 2 (POST /?_task=login)"),
                m("Failed login for x from 198.51.100.67 in session abc (error: 0) from 203.0.113.5 in session def (error: 0)"),
                // X-Forwarded-For is the client's header, after the address.
                m("IMAP Error: Login failed for a from 203.0.113.5(X-Real-IP: 203.0.113.5,X-Forwarded-For: b from 198.51.100.68. AUTHENTICATE P: x). AUTHENTICATE PLAIN: NO in /r.php on line 1 (POST /u)"),
                m("IMAP Error: Login failed for a from 203.0.113.5(X-Forwarded-For: 198.51.100.69). AUTHENTICATE PLAIN: Authentication failed. in /r.php on line 1 (POST /u)"),
                // The request URI is the client's: one token.
                m("IMAP Error: Login failed for a from 203.0.113.5. AUTHENTICATE PLAIN: NO in /r.php on line 1 (POST /?from=198.51.100.70.)"),
                // The third-party plugin's line (X-Forwarded-For as the address): not read.
                m("[22-Jan-2013 22:28:21 +0200]: FAILED login for user1 from 198.51.100.71"),
                // Cut lines: a name, response or request padded to a logger's cut.
                m(leak(cut_after(8191, |pad| format!("IMAP Error: Login failed for x from 198.51.100.72. AUTHENTICATE PLAIN: {pad} in /r.php on line 1 (POST /u)"), " from 203.0.113.5. AUTHENTICATE PLAIN: NO in /r.php on line 2 (POST /u)"))),
                m(leak(cut_after(2047, |pad| format!("IMAP Error: Login failed for x from 198.51.100.72. AUTHENTICATE PLAIN: NO in /r.php on line 1 (POST /{pad})"), " from 203.0.113.5. AUTHENTICATE PLAIN: NO in /r.php on line 2 (POST /u)"))),
                m(leak(cut_after(1023, |pad| format!("Failed login for {pad} from 198.51.100.73 in session abc (error: 0)"), " from 203.0.113.5 in session def (error: 0)"))),
            ],
            genuine: vec![
                g("", "IMAP Error: Login failed for sales@example.com from 203.0.113.5", "203.0.113.5"),
                g("", "<crk9n97i> IMAP Error: Login failed for test from 2001:db8:113::5. AUTHENTICATE PLAIN: Authentication failed. in /usr/share/php/Roundcube/rcube_imap.php on line 193 (POST /mail/?_task=login&_action=login)", "2001:db8:113::5"),
                g("", "[17-Jan-2016 11:09:06 +0200]: <j2pncet8> IMAP Error: Login failed for user@example.com against imap.example.com from 203.0.113.6(X-Real-IP: 203.0.113.6,X-Forwarded-For: 192.0.2.4). AUTHENTICATE PLAIN: Authentication failed. in /usr/share/roundcubemail/program/lib/Roundcube/rcube_imap.php on line 197 (POST /?_task=login&_action=login)", "203.0.113.6"),
                g("", "[10-May-2015 13:02:52 -0400]: <4z506z6r> Failed login for admin@example.com from 203.0.113.7 in session 4z506z6rvddstv6k7jz08hxo27 (error: 0)", "203.0.113.7"),
            ],
        },
        Cases {
            filter: "courier-auth",
            injections: vec![
                // The user name comes before the address; Courier's fields end the line.
                m("LOGIN FAILED, user=x, ip=[::ffff:198.51.100.66], ip=[::ffff:203.0.113.5]"),
                m("LOGIN FAILED, user=x, ip=[::ffff:198.51.100.66], port=[1], ip=[::ffff:203.0.113.5], port=[2]"),
                m("LOGIN FAILED, method=x, ip=[198.51.100.67], user=y, ip=[::ffff:203.0.113.5]"),
                m("LOGIN FAILED, user=, ip=[2001:db8:dec0::1], ip=[2001:db8:113::5]"),
                // A user name padded so that a logger's cut ends the line on a forged ip=.
                m(leak(cut_after(1023, |pad| format!("LOGIN FAILED, user={pad}, ip=[::ffff:198.51.100.72]"), ", ip=[::ffff:203.0.113.5]"))),
                m(leak(cut_after(1023, |pad| format!("LOGIN FAILED, user=x, ip=[::ffff:198.51.100.73], port=[{pad}]"), "], ip=[::ffff:203.0.113.5]"))),
            ],
            genuine: vec![
                g("", "LOGIN FAILED, user=info@example.org, ip=[::ffff:203.0.113.5]", "203.0.113.5"),
                g("", "LOGIN FAILED, user=tester, ip=[2001:db8:113::5], port=[4444]", "2001:db8:113::5"),
                g("", "LOGIN FAILED, method=PLAIN, ip=[::ffff:203.0.113.6]", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "courier-smtp",
            injections: vec![
                // Courier's relay= comes first; ident, sender and recipient after it.
                m("error,relay=::ffff:203.0.113.5,ident=x,relay=::ffff:198.51.100.66,from=<a>,to=<b>: 550 User unknown."),
                m("error,relay=::ffff:203.0.113.5,from=<error,relay=198.51.100.67,>,to=<b>: 550 User unknown."),
                m(r#"error,relay=::ffff:203.0.113.5,msg="535 Authentication failed.",cmd: AUTH PLAIN error,relay=198.51.100.68,msg="535 Authentication failed.",cmd: x"#),
            ],
            genuine: vec![
                g("", "error,relay=::ffff:203.0.113.5,ident=tmf,from=<tmf@example.com>,to=<nobody@example.org>: 550 User unknown.", "203.0.113.5"),
                g("", r#"error,relay=2001:db8:113::5,port=43632,msg="535 Authentication failed.",cmd: AUTH LOGIN x@example.com"#, "2001:db8:113::5"),
                g("", "error,relay=::ffff:203.0.113.6,from=<a@example.net>,to=<b@example.org>: 550 User <b> unknown", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "cyrus-imap",
            injections: vec![
                // The host comes first; mechanism, user and SASL's text after it.
                m("badlogin: x.example [203.0.113.5] plaintext a [198.51.100.66] SASL(-13): authentication failure: checkpass failed"),
                m("badlogin: [203.0.113.5] PLAIN [SASL(-13): authentication failure: x [198.51.100.67]]"),
                m("badlogin: 198.51.100.68 [203.0.113.5] plaintext u SASL(-13): authentication failure: checkpass failed"),
            ],
            genuine: vec![
                g("", "badlogin: localhost.localdomain [203.0.113.5] plaintext cyrus@localdomain SASL(-13): authentication failure: checkpass failed", "203.0.113.5"),
                g("", "badlogin: host.example [2001:db8:113::5] PLAIN [SASL(-13): authentication failure: Password verification failed]", "2001:db8:113::5"),
                g("", "badlogin: local-somehost[203.0.113.6] OTP [SASL(-13): authentication failure: External SSF not good enough]", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "sieve",
            injections: vec![
                m("badlogin: [203.0.113.5] PLAIN [198.51.100.66] authentication failure"),
                m("badlogin: 198.51.100.67[203.0.113.5] PLAIN authentication failure"),
            ],
            genuine: vec![
                g("", "badlogin: example.com[203.0.113.5] PLAIN authentication failure", "203.0.113.5"),
                g("", "badlogin: web4[2001:db8:113::5] OTP authentication failure", "2001:db8:113::5"),
                g("", "badlogin: [203.0.113.6] LOGIN authentication failure", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "sendmail-auth",
            injections: vec![
                // The user name (and SASL's text quoting it) comes before relay=, the end.
                m("06I02CNi016765: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=criminal, relay=[198.51.100.66], relay=[203.0.113.5] (may be forged)"),
                m("14NNx65Q065815: AUTH failure (CRAM-MD5): user not found (-20) SASL(-13): user not found: user: x, relay=[198.51.100.67] property: userPassword not found in sasldb /etc/sasldb2, user=x, relay=[198.51.100.67], relay=[203.0.113.5]"),
                m("s1GNXHYB005133: 198.51.100.68 [203.0.113.5]: possible SMTP attack: command=AUTH, count=5"),
                m("AUTH failure (PLAIN): authentication failure (-13) SASL(-13): authentication failure: x, user=a, relay=[IPv6:2001:db8:dec0::1], relay=[IPv6:2001:db8:113::5]"),
                // Padded to sendmail's split or a logger's cut, ending on a forged relay=.
                m(leak(cut_after(1023, |pad| format!("AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user={pad}, relay=[198.51.100.74]"), ", relay=[203.0.113.5]"))),
                m(leak(cut_after(1023, |pad| format!("AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=x, relay={pad} [198.51.100.74]"), ", relay=[203.0.113.5]"))),
            ],
            genuine: vec![
                g("", "s1GNXHYB005133: [203.0.113.5]: possible SMTP attack: command=AUTH, count=5", "203.0.113.5"),
                g("", "xA32R2PQ3529566: mail.example.net [IPv6:2001:db8:113::5] (may be forged): possible SMTP attack: command=AUTH, count=6", "2001:db8:113::5"),
                g("", "09DJDgOM005976: AUTH failure (PLAIN): authentication failure (-13) SASL(-13): authentication failure: Password verification failed, user=test, relay=host.example.com [203.0.113.6]", "203.0.113.6"),
            ],
        },
        Cases {
            filter: "sendmail-reject",
            injections: vec![
                // arg1 (the recipient) comes before relay=: it may hold no comma or space.
                m("s1P819mk027713: ruleset=check_rcpt, arg1=<a, relay=[198.51.100.66], reject=550 5.7.1 x>, relay=[203.0.113.5], reject=550 5.7.1 <a>... Relaying denied. Proper authentication required."),
                m("s1P819mk027713: ruleset=check_rcpt, arg1=<x@[198.51.100.67]>, relay=host [203.0.113.5], reject=550 5.7.1 <x@[198.51.100.67]>... Relaying denied. IP name possibly forged [198.51.100.67]"),
                m("s1NKIkZa093301: [203.0.113.5]: EXPN [198.51.100.68]: EXPN root [rejected] [rejected]"),
                m("ruleset=check_relay, arg1=[198.51.100.69], arg2=198.51.100.69, relay=[203.0.113.5], reject=421 4.3.2 Connection rate limit exceeded."),
                // Multi-line "No such user here" lines carry no address: nothing counted.
                m("rA37ZTSC026254: <x@[198.51.100.70]>... No such user here"),
                // A quoted recipient padded to sendmail's split or a logger's cut.
                m(leak(cut_after(1023, |pad| format!("s1P819mk027713: ruleset=check_rcpt, arg1=<\"{pad}>, relay=[198.51.100.71], reject=550 5.7.1 x... Relaying denied. Proper authentication required."), "\"@example.org>, relay=[203.0.113.5], reject=550 5.7.1 <x>... Relaying denied."))),
            ],
            genuine: vec![
                g("", "s1N706jo003992: ruleset=check_rcpt, arg1=<joe@example.org>, relay=[203.0.113.5], reject=550 5.7.1 <joe@example.org>... Rejected: 203.0.113.5 listed at zen.spamhaus.org", "203.0.113.5"),
                g("", "s1R9r60D044307: rejecting commands from  [203.0.113.6] due to pre-greeting traffic after 0 seconds", "203.0.113.6"),
                g("", "s1REn1un088377: ruleset=check_rcpt, arg1=<nobody@example.org>, relay=dsl.example.net [IPv6:2001:db8:113::5], reject=550 5.1.1 <nobody@example.org>... User unknown", "2001:db8:113::5"),
                g("extra", "06QDQnNf050438: example.com [IPv6:2001:db8:113::7] did not issue MAIL/EXPN/VRFY/ETRN during connection to IPv6", "2001:db8:113::7"),
            ],
        },
    ]
}

/// Routes of the mail built-ins: the daemon's unit *and* executable where the unit also
/// runs users' commands (Exim's pipe transports and .forward files).
fn mail_routes() -> Vec<Route> {
    let exim_names = &[
        ("_COMM", "exim4"),
        ("SYSLOG_IDENTIFIER", "exim"),
        ("_EXE", "/usr/sbin/exim4"),
        ("_SYSTEMD_USER_UNIT", "exim4.service"),
    ][..];
    // A user's .forward pipe inside Exim's unit, naming itself exim.
    let exim_pipe = &[
        ("_SYSTEMD_UNIT", "exim4.service"),
        ("_UID", "1000"),
        ("_EXE", "/usr/bin/python3.11"),
        ("_COMM", "exim4"),
        ("SYSLOG_IDENTIFIER", "exim"),
    ][..];
    let mut routes = Vec::new();
    for f in ["exim", "exim-spam"] {
        routes.push(
            route(
                f,
                &[
                    ("_SYSTEMD_UNIT", "exim4.service"),
                    ("_EXE", "/usr/sbin/exim4"),
                ],
                exim_names,
            )
            .with_in_unit(exim_pipe),
        );
        routes.push(route(
            f,
            &[
                ("_SYSTEMD_UNIT", "exim.service"),
                ("_EXE", "/usr/sbin/exim"),
            ],
            exim_names,
        ));
    }
    // Roundcube: the PHP that runs it; a program PHP started does not count.
    routes.push(
        route(
            "roundcube-auth",
            &[
                ("_SYSTEMD_UNIT", "php8.2-fpm.service"),
                ("_EXE", "/usr/sbin/php-fpm8.2"),
                ("SYSLOG_IDENTIFIER", "roundcube"),
            ],
            &[("SYSLOG_IDENTIFIER", "roundcube"), ("_COMM", "php-fpm8.2")],
        )
        .with_in_unit(&[
            ("_SYSTEMD_UNIT", "php8.2-fpm.service"),
            ("_EXE", "/usr/bin/logger"),
            ("SYSLOG_IDENTIFIER", "roundcube"),
        ]),
    );
    // Courier: courierlogger in the IMAP/POP3 or ESMTP units; a user running
    // courierlogger in their own session does not count.
    let courier_names = &[
        ("_COMM", "courierlogger"),
        ("_EXE", "/usr/sbin/courierlogger"),
        ("SYSLOG_IDENTIFIER", "imapd"),
    ][..];
    routes.push(route(
        "courier-auth",
        &[
            ("_SYSTEMD_UNIT", "courier-imap.service"),
            ("_EXE", "/usr/sbin/courierlogger"),
            ("SYSLOG_IDENTIFIER", "imapd"),
        ],
        courier_names,
    ));
    routes.push(
        route(
            "courier-smtp",
            &[
                ("_SYSTEMD_UNIT", "courier-mta.service"),
                ("_EXE", "/usr/sbin/courierlogger"),
                ("SYSLOG_IDENTIFIER", "courieresmtpd"),
            ],
            courier_names,
        )
        // courieresmtpd itself (stderr is the logger's to write).
        .with_in_unit(&[
            ("_SYSTEMD_UNIT", "courier-mta.service"),
            ("_EXE", "/usr/lib/courier/courier/courieresmtpd"),
            ("SYSLOG_IDENTIFIER", "courieresmtpd"),
        ]),
    );
    for (f, exe) in [
        ("cyrus-imap", "/usr/lib/cyrus/bin/imapd"),
        ("cyrus-imap", "/usr/libexec/cyrus-imapd/pop3d"),
        ("sieve", "/usr/lib/cyrus/bin/timsieved"),
    ] {
        let genuine: &'static [(&str, &str)] = Box::leak(Box::new([
            ("_SYSTEMD_UNIT", "cyrus-imapd.service"),
            ("_EXE", exe),
        ]));
        let borrowed: &'static [(&str, &str)] = Box::leak(Box::new([
            ("_COMM", "imapd"),
            ("SYSLOG_IDENTIFIER", "cyrus/imap"),
            ("_EXE", exe),
        ]));
        routes.push(
            route(f, genuine, borrowed)
                // Cyrus' notify helper in the unit: not an executable that logs logins.
                .with_in_unit(&[
                    ("_SYSTEMD_UNIT", "cyrus-imapd.service"),
                    ("_EXE", "/usr/lib/cyrus/bin/notifyd"),
                    ("SYSLOG_IDENTIFIER", "cyrus/imap"),
                ]),
        );
    }
    // Sendmail: its unit runs .forward pipes and procmail as the recipients.
    let procmail = &[
        ("_SYSTEMD_UNIT", "sendmail.service"),
        ("_UID", "1000"),
        ("_EXE", "/usr/bin/procmail"),
        ("SYSLOG_IDENTIFIER", "sm-mta"),
    ][..];
    for f in ["sendmail-auth", "sendmail-reject"] {
        routes.push(
            route(
                f,
                &[
                    ("_SYSTEMD_UNIT", "sendmail.service"),
                    ("_EXE", "/usr/lib/sm.bin/sendmail"),
                    ("SYSLOG_IDENTIFIER", "sm-mta"),
                ],
                &[
                    ("_COMM", "sendmail"),
                    ("SYSLOG_IDENTIFIER", "sm-mta"),
                    ("_EXE", "/usr/lib/sm.bin/sendmail"),
                ],
            )
            .with_in_unit(procmail),
        );
        routes.push(route(
            f,
            &[
                ("_SYSTEMD_UNIT", "sendmail.service"),
                ("_EXE", "/usr/sbin/sendmail.sendmail"),
            ],
            &[("_EXE", "/usr/sbin/sendmail.sendmail")],
        ));
    }
    routes
}

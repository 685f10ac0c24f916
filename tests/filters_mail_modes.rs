//! Every mode fail2ban's mail filters have, banjo's built-in of the same name has too, so
//! a jail carried over from jail.local (`filter = postfix[mode=more]`) keeps working.
//!
//! The mode names are read from the installed fail2ban filter files at test time: a
//! filter's modes are its `mdpr-NAME` keys (postfix, whose `mdre-auth2` is an internal
//! helper, not a mode), or else its `mdre-NAME` keys (dovecot, exim, sendmail-reject).

mod common;
use common::*;
use std::collections::BTreeSet;

const FILTER_D: &str = "/etc/fail2ban/filter.d";

/// Mail filters that fail2ban gives modes, and the banjo built-in of each.
const WITH_MODES: &[(&str, &str)] = &[
    ("postfix", "postfix"),
    ("dovecot", "dovecot"),
    ("exim", "exim"),
    ("sendmail-reject", "sendmail-reject"),
];

fn fail2ban_modes(conf: &str) -> BTreeSet<String> {
    let path = format!("{FILTER_D}/{conf}.conf");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (install the fail2ban package)"));
    let keys = |prefix: &str| -> BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|rest| {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let after = rest[name.len()..].trim_start();
                (!name.is_empty() && after.starts_with('=')).then_some(name)
            })
            .collect()
    };
    let pr = keys("mdpr-");
    if pr.is_empty() {
        keys("mdre-")
    } else {
        pr
    }
}

fn banjo_modes(name: &str) -> BTreeSet<String> {
    let spec: banjo::filter::spec::FilterSpec =
        toml::from_str(banjo::filter::builtin::get(name).expect("built-in")).expect("parses");
    spec.modes.keys().cloned().collect()
}

#[test]
fn every_fail2ban_mail_mode_exists_in_banjos_builtin() {
    let mut problems = Vec::new();
    for (conf, ours) in WITH_MODES {
        let theirs = fail2ban_modes(conf);
        assert!(!theirs.is_empty(), "{conf}: no modes read");
        let have = banjo_modes(ours);
        for m in theirs.difference(&have) {
            problems.push(format!("{ours}: no mode {m:?} (fail2ban's {conf} has it)"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_jail_picking_postfix_more_and_postfix_sasl_auth_loads_and_runs() {
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(
        d.path(),
        &[(
            "banjo.toml",
            "[jail.postfix]\nenabled = true\nfilter = \"postfix[mode=more]\"\n\n\
             [jail.postfix-sasl]\nenabled = true\nfilter = \"postfix-sasl[mode=auth]\"\n\n\
             [jail.postfix-errors]\nenabled = true\nfilter = \"postfix[mode=errors]\"\nmaxretry = 1\nport = [\"smtp\"]\n",
        )],
    );
    let out = run(&["check", "-c", cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{}\n{}", text(&out), stderr(&out));
    // And the modes read what they are for, through the binary.
    for (filter, line, ip) in [
        (
            "postfix[mode=more]",
            "NOQUEUE: reject: RCPT from unknown[203.0.113.50]: 554 5.7.1 Service unavailable; Client host [203.0.113.50] blocked using zen.spamhaus.org; from=<a@example.net> to=<b@example.org> proto=ESMTP helo=<x>",
            "203.0.113.50",
        ),
        (
            "postfix-sasl[mode=auth]",
            "warning: unknown[203.0.113.51]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            "203.0.113.51",
        ),
        (
            "postfix[mode=errors]",
            "too many errors after RCPT from unknown[203.0.113.52]",
            "203.0.113.52",
        ),
    ] {
        let j = json(&run(&["test-filter", filter, line, "--json"]));
        assert_eq!(j["addresses"][0]["address"], ip, "{filter}: {j}");
    }
}

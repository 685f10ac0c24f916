//! The configurations in examples/ (the README's walk-throughs of the seeds' setups)
//! must pass `banjo check`, and their custom filters must do what the README says.

mod common;
use common::*;

fn check(dir: &str) -> serde_json::Value {
    let path = format!("{}/examples/{dir}", env!("CARGO_MANIFEST_DIR"));
    let out = run(&["check", "--config", &path, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{dir}: {}", stderr(&out));
    json(&out)
}

fn enabled(j: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = j["jails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["enabled"] == true)
        .map(|x| x["name"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn centos7_mail() {
    let j = check("centos7-mail");
    assert_eq!(
        enabled(&j),
        [
            "dovecot",
            "postfix",
            "postfix-sasl",
            "proftpd",
            "recidive",
            "sshd"
        ]
    );
    assert_eq!(j["warnings"], 0);
}

#[test]
fn ubuntu_web_with_custom_apache_filter() {
    let j = check("ubuntu-web");
    assert_eq!(
        enabled(&j),
        ["apache-origin", "portscan", "recidive", "sshd"]
    );
    let filter = format!(
        "{}/examples/ubuntu-web/filter.d/apache-origin.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let hit = "Nov 22 12:43:22 web apache2[99]: [cgi:error] [pid 1234:tid 5678] [client 203.0.113.9:51234] AH02811: script not found or unable to stat: /usr/lib/cgi-bin/x";
    let r = json(&run(&["test-filter", &filter, hit, "--json"]));
    assert_eq!(r["addresses"][0]["address"], "203.0.113.9");
    let v6 = "Nov 22 12:43:22 web apache2[99]: [authz_core:error] [pid 1:tid 2] [client 2001:db8::9:51548] AH01630: client denied by server configuration: /srv/x";
    let r = json(&run(&["test-filter", &filter, v6, "--json"]));
    assert_eq!(r["addresses"][0]["address"], "2001:db8::9");
    // A path chosen by the client cannot supply the address.
    let inj = "Nov 22 12:43:22 web apache2[99]: [cgi:error] [pid 1] [client 203.0.113.10:5] AH02811: script not found or unable to stat: /x [client 198.51.100.66:1] AH02811: ";
    let r = json(&run(&["test-filter", &filter, inj, "--json"]));
    assert_eq!(r["addresses"][0]["address"], "203.0.113.10");
}

#[test]
fn debian_qpopper_custom_filter() {
    let j = check("debian-qpopper");
    assert_eq!(enabled(&j), ["dovecot", "qpopper", "recidive", "sshd"]);
    let filter = format!(
        "{}/examples/debian-qpopper/filter.d/qpopper.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let line = "Apr 18 09:02:07 mail popper[4242]: bob at mail.example.org (203.0.113.20): -ERR [AUTH] Password supplied for \"bob\" is incorrect.";
    let r = json(&run(&["test-filter", &filter, line, "--json"]));
    assert_eq!(r["addresses"][0]["address"], "203.0.113.20");
}

//! docs/JSON.md documents the `--json` output of every command; this test keeps it
//! true. Each command runs for real (offline ones on a journal made here, the daemon's
//! verbs against `banjo run` in a private namespace with a real journald and
//! firewall), its output is flattened into paths (`jails[].name`), and:
//! - every path the command printed is documented under that command's heading;
//! - every documented top-level field was printed (nothing documented that is gone).
//!
//! A field added to a command's JSON fails here, naming the path, until JSON.md
//! says what it is.

mod common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The documented paths per command heading (`## \`banjo replay --json\``).
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/JSON.md"))
        .expect("docs/JSON.md");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## `") {
            current = h.split('`').next().map(str::to_owned);
            out.entry(current.clone().unwrap()).or_default();
        } else if let (Some(c), Some(row)) = (&current, line.strip_prefix("| `")) {
            let path = row.split('`').next().unwrap().to_owned();
            out.get_mut(c).unwrap().insert(path);
        }
    }
    out
}

fn paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                paths(x, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                paths(x, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// Check one command's output against its section.
fn check(docs: &BTreeMap<String, BTreeSet<String>>, command: &str, v: &Value) {
    let Some(doc) = docs.get(command) else {
        panic!("docs/JSON.md has no section \"## `{command}`\"");
    };
    let mut got = BTreeSet::new();
    paths(v, "", &mut got);
    let undocumented: Vec<&String> = got.difference(doc).collect();
    assert!(
        undocumented.is_empty(),
        "`{command}` prints fields docs/JSON.md does not document: {undocumented:?}"
    );
    // Top level of an object, or of an array's elements.
    let top = |p: &&String| {
        let p = p.strip_prefix("[]").unwrap_or(p);
        !p.contains('.') && !p.contains("[]")
    };
    let gone: Vec<&String> = doc
        .iter()
        .filter(top)
        .filter(|p| !got.contains(*p))
        .collect();
    assert!(
        gone.is_empty(),
        "docs/JSON.md documents fields `{command}` no longer prints: {gone:?}"
    );
}

const CONFIG: &str = r#"
[jail.sshd]
maxretry = 2
findtime = "10m"
bantime = "1h"
escalate_after = 2
ignoreip = ["127.0.0.0/8", "203.0.113.77"]
"#;

fn fixture(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cfg = write_config(&dir.join("etc"), &[("banjo.toml", CONFIG)]);
    let mut v = Vec::new();
    for (i, ip) in [
        "198.51.100.1",
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.2",
        "203.0.113.5",
        "203.0.113.5",
        "203.0.113.6",
        "203.0.113.6",
    ]
    .iter()
    .enumerate()
    {
        v.push(E::sshd(
            T0 + i as i64 * SEC,
            100 + i as u32,
            &format!("Failed password for root from {ip} port 22 ssh2"),
        ));
    }
    // A ban as a real banjo writes it (root, banjo's identifier), for `history`.
    v.push(
        E::new(T0 + 20 * SEC)
            .f("_UID", "0")
            .f("SYSLOG_IDENTIFIER", "banjo")
            .f("MESSAGE_ID", "4d654fc42ce94fee9c9d8899ca99f1bc")
            .f("BANJO_JAIL", "sshd")
            .f("BANJO_IP", "192.0.2.9")
            .f("BANJO_FAILURES", "5")
            .f("BANJO_BANTIME", "1h")
            .f("BANJO_BAN_COUNT", "1")
            .f("MESSAGE", "[sshd] Ban 192.0.2.9 (5 failures, 1h)"),
    );
    // Something no jail takes that looks like an authentication failure (`doctor`).
    v.push(
        E::new(T0 + 30 * SEC)
            .f("_UID", "0")
            .f("_COMM", "myapp")
            .f("SYSLOG_IDENTIFIER", "myapp")
            .f(
                "MESSAGE",
                "authentication failure for admin from 203.0.113.99",
            ),
    );
    let jdir = dir.join("journal");
    make_journal(&jdir, &v);
    (cfg, jdir)
}

fn json_of(args: &[&str]) -> Value {
    let out = run(args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "banjo {args:?}: not JSON ({e}): {}{}",
            text(&out),
            stderr(&out)
        )
    })
}

#[test]
fn offline_commands_print_what_json_md_documents() {
    let docs = documented();
    let d = tempfile::tempdir().unwrap();
    let (cfg, jdir) = fixture(d.path());
    let (cfg, jdir) = (cfg.to_str().unwrap(), jdir.to_str().unwrap());
    check(
        &docs,
        "banjo check --json",
        &json_of(&["check", "--config", cfg, "--json"]),
    );
    check(
        &docs,
        "banjo test-filter --json",
        &json_of(&["test-filter", "sshd", "--journal-dir", jdir, "-v", "--json"]),
    );
    check(
        &docs,
        "banjo replay --json",
        &json_of(&[
            "replay",
            "--config",
            cfg,
            "--journal-dir",
            jdir,
            "--no-ignoreself",
            "--json",
        ]),
    );
    check(
        &docs,
        "banjo history --json",
        &json_of(&["history", "192.0.2.9", "--journal-dir", jdir, "--json"]),
    );
    check(
        &docs,
        "banjo doctor --json",
        &json_of(&[
            "doctor",
            "--config",
            cfg,
            "--journal-dir",
            jdir,
            "--since",
            "2026-11-01",
            "--json",
        ]),
    );
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    check(
        &docs,
        "banjo import-filter --json",
        &json_of(&[
            "import-filter",
            "--json",
            "/etc/fail2ban/filter.d/dovecot.conf",
            "/etc/fail2ban/filter.d/sshd.conf",
        ]),
    );
}

#[test]
fn daemon_verbs_print_what_json_md_documents() {
    use common::ns::{enter, Banjo, Journald};
    if !enter("daemon_verbs_print_what_json_md_documents") {
        return;
    }
    let docs = documented();
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), CONFIG);
    b.start(&[]);
    check(
        &docs,
        "banjo ban --json",
        &b.cli_json(&["ban", "sshd", "203.0.113.5"]),
    );
    b.cli_json(&["ban", "sshd", "198.51.100.0/25"]);
    check(&docs, "banjo status --json", &b.cli_json(&["status"]));
    check(
        &docs,
        "banjo status JAIL --json",
        &b.cli_json(&["status", "sshd"]),
    );
    check(&docs, "banjo bans --json", &b.cli_json(&["bans"]));
    check(
        &docs,
        "banjo unban --json",
        &b.cli_json(&["unban", "203.0.113.5", "--jail", "sshd"]),
    );
    check(&docs, "banjo reload --json", &b.cli_json(&["reload"]));
}

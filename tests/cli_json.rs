//! docs/JSON.md stays true: every `--json` output of every command, produced here by
//! the real binary (the control verbs against a real daemon in a private namespace
//! with its own journald, dry-run firewall), must match the shape the document gives
//! for it — no undocumented key, no documented required key missing, every type as
//! written — and every shape the document gives must be exercised here.
//!
//! Shape language (fenced blocks tagged `json-shape NAME` in docs/JSON.md): a JSON
//! value where a string names a type (`string`, `integer`, `number`, `bool`, `null`,
//! `any`, alternatives joined by `|`), an array holds the shape of every element, and
//! an object lists its keys (`key?` may be absent; `*` stands for any other key).
//!
//! `BANJO_JSON_DUMP=DIR` also writes each output to DIR/NAME.json.

mod common;
use common::ns::{eventually, Banjo, Journald};
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const DOC: &str = include_str!("../docs/JSON.md");

fn shapes() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut lines = DOC.lines();
    while let Some(l) = lines.next() {
        let Some(name) = l.strip_prefix("```json-shape ") else {
            continue;
        };
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let v: Value = serde_json::from_str(&body.join("\n"))
            .unwrap_or_else(|e| panic!("docs/JSON.md, shape {name}: {e}"));
        assert!(
            out.insert(name.trim().to_owned(), v).is_none(),
            "docs/JSON.md: shape {name} given twice"
        );
    }
    out
}

fn type_ok(ty: &str, v: &Value) -> bool {
    ty.split('|').any(|t| match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "bool" => v.is_boolean(),
        "null" => v.is_null(),
        "any" => true,
        other => panic!("docs/JSON.md: unknown type {other}"),
    })
}

/// Every mismatch between `v` and `shape`, with its path.
fn check(shape: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
    match shape {
        Value::String(ty) => {
            if !type_ok(ty, v) {
                errs.push(format!("{path}: {v} is not {ty}"));
            }
        }
        Value::Array(el) => {
            let Some(items) = v.as_array() else {
                errs.push(format!("{path}: {v} is not an array"));
                return;
            };
            for (i, item) in items.iter().enumerate() {
                check(&el[0], item, &format!("{path}[{i}]"), errs);
            }
        }
        Value::Object(keys) => {
            let Some(obj) = v.as_object() else {
                // `{"x": …}|null` is not expressible: an object shape also admits null
                // only where the document says so with a key "|null": true.
                if !(v.is_null() && keys.contains_key("|null")) {
                    errs.push(format!("{path}: {v} is not an object"));
                }
                return;
            };
            for (k, s) in keys {
                if k == "*" || k == "|null" {
                    continue;
                }
                let (name, optional) = match k.strip_suffix('?') {
                    Some(n) => (n, true),
                    None => (k.as_str(), false),
                };
                match obj.get(name) {
                    Some(x) => check(s, x, &format!("{path}.{name}"), errs),
                    None if optional => {}
                    None => errs.push(format!("{path}: required key {name} missing")),
                }
            }
            for (k, x) in obj {
                if keys.contains_key(k) || keys.contains_key(&format!("{k}?")) {
                    continue;
                }
                match keys.get("*") {
                    Some(s) => check(s, x, &format!("{path}.{k}"), errs),
                    None => errs.push(format!("{path}: key {k} is not in docs/JSON.md")),
                }
            }
        }
        other => panic!("docs/JSON.md: bad shape {other}"),
    }
}

struct Seen {
    outputs: Vec<(String, Value)>,
}

impl Seen {
    fn add(&mut self, name: &str, out: &std::process::Output) {
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: not JSON ({e}):\n{}\n{}", text(out), stderr(out)));
        if let Some(dir) = std::env::var_os("BANJO_JSON_DUMP") {
            let p = std::path::Path::new(&dir).join(format!("{name}.json"));
            std::fs::write(p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        }
        self.outputs.push((name.to_owned(), v));
    }
}

fn verify(seen: &Seen) {
    let shapes = shapes();
    let mut errs = Vec::new();
    let mut used = BTreeSet::new();
    for (name, v) in &seen.outputs {
        let shape_name = name.split('#').next().unwrap();
        let Some(shape) = shapes.get(shape_name) else {
            errs.push(format!("{name}: docs/JSON.md has no shape {shape_name}"));
            continue;
        };
        used.insert(shape_name.to_owned());
        check(shape, v, shape_name, &mut errs);
    }
    for name in shapes.keys() {
        if !used.contains(name) {
            errs.push(format!(
                "shape {name} of docs/JSON.md is never produced here"
            ));
        }
    }
    assert!(
        errs.is_empty(),
        "docs/JSON.md is not true:\n{}",
        errs.join("\n")
    );
}

fn fail(t: i64, pid: u32, ip: &str) -> E {
    E::sshd(
        t,
        pid,
        &format!("Failed password for root from {ip} port 22 ssh2"),
    )
}

/// The commands that need no daemon: check, test-filter, import-filter, replay,
/// doctor, history.
fn offline(seen: &mut Seen) {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(
        &dir.path().join("good"),
        &[("banjo.toml", "[jail.sshd]\nmaxretry = 3\n")],
    );
    let bad = write_config(
        &dir.path().join("bad"),
        &[(
            "banjo.toml",
            "[jail.sshd]\nmaxretry = 3\nbogus = 1\n\n[jail.web]\nenabled = true\nfilter = \"nope\"\n",
        )],
    );
    let g = good.to_str().unwrap();
    seen.add("check", &run(&["check", "--config", g, "--json"]));
    let out = run(&["check", "--config", bad.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    seen.add("check#errors", &out);

    let line = "Dec  7 10:00:00 host sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2";
    seen.add(
        "test-filter",
        &run(&["test-filter", "sshd", line, "--json"]),
    );
    seen.add(
        "test-filter#verbose",
        &run(&["test-filter", "sshd", line, "--json", "-v"]),
    );

    let f2b = "/etc/fail2ban/filter.d/sshd.conf";
    assert!(
        std::path::Path::new(f2b).exists(),
        "{f2b} is missing: apt-get install fail2ban"
    );
    let broken = dir.path().join("broken.conf");
    std::fs::write(&broken, "[Definition]\nfailregex = ^(unclosed <HOST>\n").unwrap();
    seen.add(
        "import-filter",
        &run(&["import-filter", f2b, broken.to_str().unwrap(), "--json"]),
    );

    // fail2ban's stock configuration with one jail of each fate, and its v2 database
    // fixture (bans long over: counted, not imported).
    let f2b = dir.path().join("f2b");
    assert!(std::process::Command::new("cp")
        .args(["-a", "/etc/fail2ban"])
        .arg(&f2b)
        .status()
        .unwrap()
        .success());
    std::fs::write(
        f2b.join("jail.local"),
        "[DEFAULT]\naction = %(action_mw)s\n         cloudflare\n[pam-generic]\nenabled = true\n[apache-auth]\nenabled = true\n",
    )
    .unwrap();
    let out = run(&[
        "import-fail2ban",
        f2b.to_str().unwrap(),
        "-o",
        dir.path().join("imported").to_str().unwrap(),
        "--db",
        "/usr/lib/python3/dist-packages/fail2ban/tests/files/database_v2.db",
        "--dry-run",
        "--json",
    ]);
    seen.add("import-fail2ban", &out);

    let jdir = dir.path().join("journal");
    let mut entries: Vec<E> = (0..4)
        .map(|i| fail(T0 + i * SEC, 100 + i as u32, "203.0.113.7"))
        .collect();
    entries.push(fail(T0 + 5 * SEC, 200, "203.0.113.8"));
    // Two hours on: the first ban has run out (an unban event), and a service with no
    // jail logs failures (doctor's findings).
    for i in 0..3 {
        entries.push(
            E::new(T0 + 7200 * SEC + i * SEC)
                .f("_UID", "0")
                .f("_SYSTEMD_UNIT", "myapp.service")
                .f("SYSLOG_IDENTIFIER", "myapp")
                .f("_PID", "300")
                .f(
                    "MESSAGE",
                    &format!("login failed for 'u{i}' from 203.0.113.30: bad password"),
                ),
        );
    }
    entries.push(fail(T0 + 7300 * SEC, 201, "203.0.113.40"));
    make_journal(&jdir, &entries);
    let j = jdir.to_str().unwrap();
    seen.add(
        "replay",
        &run(&["replay", "--config", g, "--journal-dir", j, "--json"]),
    );
    seen.add(
        "doctor",
        &run(&[
            "doctor",
            "--config",
            g,
            "--journal-dir",
            j,
            "--since",
            "2026-11-15",
            "--json",
        ]),
    );
}

/// The control verbs against a real daemon, and history over its real ban entries.
fn online(seen: &mut Seen) {
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), "[jail.sshd]\nmaxretry = 2\n");
    b.start(&["--dry-run", "--journal"]);
    for _ in 0..2 {
        j.sshd("Failed password for root from 203.0.113.9 port 22 ssh2");
    }
    eventually(20, "the ban of 203.0.113.9", || {
        b.cli_json(&["bans"]).to_string().contains("203.0.113.9")
    });
    let cli = |args: &[&str]| {
        let mut a = args.to_vec();
        a.push("--json");
        b.cli(&a)
    };
    seen.add("status", &cli(&["status"]));
    seen.add("status-jail", &cli(&["status", "sshd"]));
    seen.add("bans", &cli(&["bans"]));
    seen.add("ban", &cli(&["ban", "sshd", "198.51.100.7"]));
    seen.add("unban", &cli(&["unban", "198.51.100.7"]));
    seen.add("reload", &cli(&["reload"]));
    seen.add("metrics", &cli(&["metrics"]));
    eventually(20, "the ban entry in the journal", || {
        !j.query("BANJO_IP=203.0.113.9").is_empty()
    });
    seen.add(
        "history",
        &run(&["history", "203.0.113.9", "--journal", "--json"]),
    );
    b.stop();
}

#[test]
fn every_json_output_is_as_docs_json_md_says() {
    if !common::ns::enter("every_json_output_is_as_docs_json_md_says") {
        return;
    }
    let mut seen = Seen {
        outputs: Vec::new(),
    };
    offline(&mut seen);
    online(&mut seen);
    verify(&seen);
}

/// The checker itself: it must catch what it is for.
#[test]
fn the_shape_checker_catches_drift() {
    let shape: Value = serde_json::json!({"a": "integer", "b?": ["string"], "c": "string|null"});
    let mut errs = Vec::new();
    check(
        &shape,
        &serde_json::json!({"a": 1, "c": null}),
        "x",
        &mut errs,
    );
    assert!(errs.is_empty(), "{errs:?}");
    for bad in [
        serde_json::json!({"c": "s"}),
        serde_json::json!({"a": "1", "c": "s"}),
        serde_json::json!({"a": 1, "c": "s", "d": 0}),
        serde_json::json!({"a": 1, "b": [1], "c": "s"}),
    ] {
        let mut errs = Vec::new();
        check(&shape, &bad, "x", &mut errs);
        assert!(!errs.is_empty(), "{bad} passed");
    }
}

/// The client reads each answer as its verb's type: an answer of another shape (a
/// daemon of another version, or something else on the socket) is an error that says
/// so, not a table of blanks and zeros. The other end here is a socket of the test's own
/// that answers `status` with a wrong shape; a real daemon cannot be made to.
#[test]
fn an_answer_of_another_shape_is_an_error_not_a_blank_table() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("banjo.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let answers = [
        r#"{"ok":true,"data":{"jails":"not a list","active_bans":1}}"#,
        r#"{"ok":true,"data":{"jails":[],"active_bans":0,"tracker_memory":{"used":0,"budget":1,"windows":0,"windows_forgotten":0},"wake_group":null,"connection_wakeups":0,"control_evicted":0,"state":{"mode":"file","durable":true,"path":"/x"},"down":[],"repairs":0,"last_repair":null}}"#,
    ];
    let server = std::thread::spawn(move || {
        for answer in answers {
            let (mut c, _) = listener.accept().unwrap();
            let mut len = [0u8; 4];
            c.read_exact(&mut len).unwrap();
            let mut req = vec![0u8; u32::from_be_bytes(len) as usize];
            c.read_exact(&mut req).unwrap();
            assert!(String::from_utf8_lossy(&req).contains("status"), "{req:?}");
            c.write_all(&(answer.len() as u32).to_be_bytes()).unwrap();
            c.write_all(answer.as_bytes()).unwrap();
        }
    });
    let s = sock.to_str().unwrap();
    let bad = run(&["status", "--socket", s]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("the daemon's answer to status is not what this banjo reads"),
        "{}",
        stderr(&bad)
    );
    assert!(text(&bad).is_empty(), "printed: {}", text(&bad));
    // The same client reads an answer of the right shape.
    let good = run(&["status", "--socket", s]);
    assert_eq!(good.status.code(), Some(0), "{}", stderr(&good));
    assert!(
        text(&good).contains("0 jails, 0 active bans"),
        "{}",
        text(&good)
    );
    server.join().unwrap();
}

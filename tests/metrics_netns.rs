//! Metrics for real: a private journald and firewall (see common::ns), `banjo run`
//! with `[metrics] listen` and `textfile`, bans from real journal entries; the
//! endpoint is scraped over HTTP with curl, and every exposition (endpoint, `banjo
//! metrics`, the textfile) is read by Prometheus's Python text parser
//! (python3-prometheus-client) and linted by `promtool check metrics`.

mod common;
use common::ns::*;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

const CONFIG: &str = r#"
[defaults]
ignoreip = ["127.0.0.0/8", "::1"]
ignoreself = true
[jail.sshd]
enabled = true
maxretry = 3
findtime = "10m"
bantime = "1h"
port = ["ssh"]
[metrics]
listen = "127.0.0.1:9191"
textfile = "TEXTFILE"
textfile_interval = "1s"
"#;

/// Parse with prometheus_client: one line per sample, `name{k="v",...} value`
/// rebuilt from the parser's own structures (labels sorted), and the family's type.
const PARSE: &str = r#"
import sys, json
from prometheus_client.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        out[f"{s.name}{{{labels}}}"] = s.value
    out[f"TYPE {fam.name}"] = fam.type
print(json.dumps(out))
"#;

fn parse(text: &str) -> BTreeMap<String, serde_json::Value> {
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with prometheus_client (scripts/deps.sh)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "Prometheus's parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `promtool check metrics`: Prometheus's linter (naming, units, help, types).
fn lint(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus, scripts/deps.sh)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}\n{text}"
    );
}

fn value(m: &BTreeMap<String, serde_json::Value>, key: &str) -> f64 {
    m.get(key)
        .and_then(|v| v.as_f64())
        .unwrap_or_else(|| panic!("no sample {key} in {m:#?}"))
}

fn scrape() -> String {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "-D", "-", "http://127.0.0.1:9191/metrics"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.to_owned()
}

#[test]
fn bans_from_the_journal_show_in_the_scraped_endpoint_the_verb_and_the_textfile() {
    if !enter("bans_from_the_journal_show_in_the_scraped_endpoint_the_verb_and_the_textfile") {
        return;
    }
    let j = Journald::start();
    let textfile = j.work.path().join("textfile/banjo.prom");
    std::fs::create_dir_all(textfile.parent().unwrap()).unwrap();
    let cfg = CONFIG.replace("TEXTFILE", &textfile.display().to_string());
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);

    for _ in 0..3 {
        j.sshd("Failed password for root from 203.0.113.5 port 4242 ssh2");
    }
    j.sshd("Server listening on 0.0.0.0 port 22.");
    eventually(5, "203.0.113.5 banned", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.5".to_string())
    });
    let out = b.cli(&["ban", "sshd", "2001:db8::7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.cli_json(&["status"]);

    // The ban is counted once the kernel and the state hold it: by then a scrape
    // shows it.
    let mut last = String::new();
    let t = std::time::Instant::now();
    while parse(&last)
        .get(r#"banjo_bans_total{jail="sshd",reason="failures"}"#)
        .and_then(|v| v.as_f64())
        != Some(1.0)
    {
        assert!(t.elapsed().as_secs() < 5, "no ban in the scrape:\n{last}");
        std::thread::sleep(std::time::Duration::from_millis(50));
        last = scrape();
    }
    let body = scrape();
    lint(&body);
    let m = parse(&body);
    assert_eq!(
        value(&m, r#"banjo_bans_total{jail="sshd",reason="manual"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"banjo_active_bans{family="ipv4",jail="sshd"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"banjo_active_bans{family="ipv6",jail="sshd"}"#),
        1.0
    );
    assert_eq!(value(&m, r#"banjo_jail_entries_total{jail="sshd"}"#), 4.0);
    assert_eq!(value(&m, r#"banjo_jail_matched_total{jail="sshd"}"#), 3.0);
    assert_eq!(value(&m, r#"banjo_jail_failures_total{jail="sshd"}"#), 3.0);
    assert!(value(&m, "banjo_journal_entries_read_total{}") >= 4.0);
    // One ban decided from entries; its latency is well under a second here.
    assert_eq!(value(&m, "banjo_ban_latency_seconds_count{}"), 1.0);
    assert_eq!(
        value(&m, r#"banjo_ban_latency_seconds_bucket{le="+Inf"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"banjo_ban_latency_seconds_bucket{le="1"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"banjo_control_requests_total{verb="ban"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"banjo_control_requests_total{verb="status"}"#),
        1.0
    );
    assert_eq!(value(&m, r#"banjo_jail_up{jail="sshd"}"#), 1.0);
    assert_eq!(value(&m, "banjo_state_durable{}"), 1.0);
    assert_eq!(
        value(
            &m,
            &format!(
                "banjo_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );
    assert_eq!(m["TYPE banjo_bans"], "counter");
    assert_eq!(m["TYPE banjo_ban_latency_seconds"], "histogram");
    assert_eq!(m["TYPE banjo_active_bans"], "gauge");
    // docs/METRICS.md's catalog is exactly what is served, type for type.
    let served: std::collections::BTreeSet<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ").map(str::to_owned))
        .collect();
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/METRICS.md")).unwrap();
    let documented: std::collections::BTreeSet<String> = doc
        .lines()
        .filter(|l| l.starts_with("| `banjo_"))
        .map(|l| {
            let c: Vec<&str> = l.split('|').map(str::trim).collect();
            format!("{} {}", c[1].trim_matches('`'), c[2])
        })
        .collect();
    assert_eq!(
        served, documented,
        "docs/METRICS.md and the exposition differ"
    );
    // Addresses are never label values.
    assert!(
        !body.contains("203.0.113.5") && !body.contains("2001:db8"),
        "{body}"
    );

    // `banjo metrics` prints the same exposition over the control socket.
    b.cli_json(&["unban", "2001:db8::7"]);
    let out = b.cli(&["metrics"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    lint(&text);
    let m = parse(&text);
    assert_eq!(
        value(&m, r#"banjo_unbans_total{jail="sshd",reason="manual"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"banjo_active_bans{family="ipv6",jail="sshd"}"#),
        0.0
    );
    assert_eq!(
        value(&m, r#"banjo_control_requests_total{verb="metrics"}"#),
        1.0
    );

    // The textfile follows within its interval, whole and parseable.
    eventually(5, "the unban in the textfile", || {
        let t = std::fs::read_to_string(&textfile).unwrap_or_default();
        parse(&t)
            .get(r#"banjo_unbans_total{jail="sshd",reason="manual"}"#)
            .and_then(|v| v.as_f64())
            == Some(1.0)
    });
    lint(&std::fs::read_to_string(&textfile).unwrap());
    let names: Vec<_> = std::fs::read_dir(textfile.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "only banjo.prom, no temporary: {names:?}");
}

const HEALTH_CONFIG: &str = r#"
[daemon]
firewall = "dry-run"
health_silence = "2s"
[defaults]
ignoreip = ["127.0.0.0/8", "::1"]
[jail.sshd]
enabled = true
maxretry = 10
[jail.ghost]
enabled = true
filter = "sshd"
journalmatch = "_SYSTEMD_UNIT=banjo-mx-ghost.service"
[jail.present]
enabled = true
filter = "sshd"
journalmatch = "_SYSTEMD_UNIT=banjo-mx-present.service"
[jail.quiet]
enabled = true
filter = "sshd"
journalmatch = "_UID=0 _COMM=banjo-mx-quiet"
[jail.unwatched]
enabled = true
filter = "sshd"
journalmatch = "_UID=0 _COMM=banjo-mx-quiet"
health_silence = "off"
"#;

const HEALTH_ID: &str = "8a3f0c5e7b1d4e26a9c4f2d18b6e0a73";

fn health_entries(j: &Journald, jail: &str) -> Vec<String> {
    j.query(&format!("MESSAGE_ID={HEALTH_ID} BANJO_JAIL={jail}"))
        .iter()
        .map(|e| e["BANJO_HEALTH"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn jail_status(b: &Banjo, jail: &str) -> serde_json::Value {
    b.cli_json(&["status", jail])
}

#[test]
fn a_filter_that_stops_matching_a_missing_unit_and_a_silent_service_raise_the_alarm() {
    if !enter("a_filter_that_stops_matching_a_missing_unit_and_a_silent_service_raise_the_alarm") {
        return;
    }
    let j = Journald::start();
    // A unit that exists (systemd's runtime unit directory is this test's tmpfs) and
    // a service that runs but writes nothing to the journal.
    std::fs::create_dir_all("/run/systemd/system").unwrap();
    std::fs::write(
        "/run/systemd/system/banjo-mx-present.service",
        "[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    let quiet_exe = j.work.path().join("banjo-mx-quiet");
    std::fs::copy("/bin/sleep", &quiet_exe).unwrap();
    let mut quiet = Command::new(&quiet_exe).arg("60").spawn().unwrap();

    let mut b = Banjo::new(j.work.path(), HEALTH_CONFIG);
    b.start(&[]);
    // At once: ghost's unit exists nowhere; present's does.
    eventually(5, "ghost: unit_missing", || {
        health_entries(&j, "ghost") == ["unit_missing"]
    });
    let st = jail_status(&b, "ghost");
    assert_eq!(st["health"], "unit_missing", "{st}");
    assert!(
        st["health_detail"]
            .as_str()
            .unwrap()
            .contains("banjo-mx-ghost.service"),
        "{st}"
    );

    // sshd matches, then its service "changes its log format": entries keep coming,
    // none matches.
    for _ in 0..3 {
        j.sshd("Failed password for root from 203.0.113.5 port 4242 ssh2");
    }
    eventually(5, "sshd matched", || {
        jail_status(&b, "sshd")["total_failed"] == 3
    });
    assert!(jail_status(&b, "sshd")["health"].is_null());
    let t = std::time::Instant::now();
    while health_entries(&j, "sshd").is_empty() {
        assert!(
            t.elapsed().as_secs() < 8,
            "no health alarm for sshd; log:\n{}",
            b.log_text()
        );
        j.sshd("auth: FAIL user=root peer=[203.0.113.5]:4242 method=password (new format)");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Not before the silence was over.
    assert!(t.elapsed().as_millis() >= 1900, "{:?}", t.elapsed());
    assert_eq!(health_entries(&j, "sshd"), ["silent"]);
    let st = jail_status(&b, "sshd");
    assert_eq!(st["health"], "silent", "{st}");
    let out = b.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("sshd: FILTER HEALTH (silent)"), "{text}");

    // The service runs (comm banjo-mx-quiet) but nothing of it reached the jail.
    eventually(5, "quiet: no_entries", || {
        health_entries(&j, "quiet") == ["no_entries"]
    });
    assert!(jail_status(&b, "quiet")["health_detail"]
        .as_str()
        .unwrap()
        .contains("banjo-mx-quiet runs"));
    // health_silence = "off" on the jail: never watched; present: neither missing nor
    // running.
    assert!(health_entries(&j, "unwatched").is_empty());
    assert!(health_entries(&j, "present").is_empty());

    let out = b.cli(&["metrics"]);
    let text = String::from_utf8(out.stdout).unwrap();
    lint(&text);
    let m = parse(&text);
    assert_eq!(value(&m, r#"banjo_jail_health{jail="sshd"}"#), 0.0);
    assert_eq!(value(&m, r#"banjo_jail_health{jail="present"}"#), 1.0);
    assert_eq!(
        value(
            &m,
            r#"banjo_jail_health_problem{jail="sshd",problem="silent"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"banjo_jail_health_problem{jail="ghost",problem="unit_missing"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"banjo_jail_health_problem{jail="quiet",problem="no_entries"}"#
        ),
        1.0
    );

    // The filter matches again: the alarm ends, once.
    j.sshd("Failed password for root from 203.0.113.6 port 4242 ssh2");
    eventually(5, "sshd healthy again", || {
        health_entries(&j, "sshd") == ["silent", "ok"]
    });
    assert!(jail_status(&b, "sshd")["health"].is_null());
    let _ = quiet.kill();
    let _ = quiet.wait();
}

#[test]
fn a_taken_port_costs_only_the_endpoint_and_a_unix_socket_serves_too() {
    if !enter("a_taken_port_costs_only_the_endpoint_and_a_unix_socket_serves_too") {
        return;
    }
    let j = Journald::start();
    let _taken = std::net::TcpListener::bind("127.0.0.1:9191").unwrap();
    let cfg = "[daemon]\nfirewall = \"dry-run\"\n[metrics]\nlisten = \"127.0.0.1:9191\"\n";
    let mut b = Banjo::new(j.work.path(), cfg);
    b.start(&[]);
    eventually(5, "the error in the journal", || {
        shell("journalctl -q -o cat -p err").contains("metrics: cannot listen on 127.0.0.1:9191")
    });
    // Banning goes on, and so does `banjo metrics`.
    for _ in 0..5 {
        j.sshd("Failed password for root from 203.0.113.8 port 4242 ssh2");
    }
    eventually(5, "banned", || {
        b.cli_json(&["status", "sshd"])["currently_banned"] == 1
    });
    let out = b.cli(&["metrics"]);
    assert!(out.status.success());
    parse(&String::from_utf8(out.stdout).unwrap());
    b.stop();

    let sock = j.work.path().join("metrics.sock");
    std::fs::write(
        b.config.join("banjo.toml"),
        format!(
            "[daemon]\nfirewall = \"dry-run\"\n[metrics]\nlisten = \"{}\"\n",
            sock.display()
        ),
    )
    .unwrap();
    b.start(&[]);
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--unix-socket"])
        .arg(&sock)
        .arg("http://banjo/metrics")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    lint(&text);
    let m = parse(&text);
    assert_eq!(
        value(&m, r#"banjo_active_bans{family="ipv4",jail="sshd"}"#),
        1.0
    );
    // Only /metrics is served.
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--unix-socket",
        ])
        .arg(&sock)
        .arg("http://banjo/")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404");
    b.stop();
    assert!(!sock.exists(), "the socket is removed at stop");
}

#[test]
fn log_file_lines_are_counted_apart_from_journal_entries() {
    if !enter("log_file_lines_are_counted_apart_from_journal_entries") {
        return;
    }
    let j = Journald::start();
    let log = j.work.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let cfg = format!(
        "[daemon]\nfirewall = \"dry-run\"\n[jail.nginx-botsearch]\nenabled = true\nlogpath = [\"{}\"]\nmaxretry = 2\n",
        log.display()
    );
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    let now = shell("date -u '+%d/%b/%Y:%H:%M:%S +0000'");
    let mut text = String::new();
    for n in 0..3 {
        text.push_str(&format!(
            "203.0.113.20 - - [{}] \"GET /pma/index.php?{n} HTTP/1.1\" 404 153 \"-\" \"Mozilla/5.0\"\n",
            now.trim()
        ));
    }
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .unwrap();
    let mut m = BTreeMap::new();
    eventually(10, "3 lines counted", || {
        let out = b.cli(&["metrics"]);
        m = parse(&String::from_utf8_lossy(&out.stdout));
        m.get("banjo_logfile_lines_read_total{}")
            .and_then(|v| v.as_f64())
            == Some(3.0)
    });
    assert_eq!(
        value(&m, r#"banjo_jail_entries_total{jail="nginx-botsearch"}"#),
        3.0
    );
    assert_eq!(
        value(
            &m,
            r#"banjo_bans_total{jail="nginx-botsearch",reason="failures"}"#
        ),
        1.0
    );
}

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

//! packaging/grafana/banjo.json: valid JSON, every query names only metrics of the
//! catalog in docs/METRICS.md (which tests/metrics_netns.rs holds equal to what the
//! daemon serves), groups only by labels those metrics have, and the packages ship it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The catalog: metric name -> (type, labels), from docs/METRICS.md's table.
fn catalog() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let text = std::fs::read_to_string(root().join("docs/METRICS.md")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `banjo_")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_owned();
        let labels = cells[3]
            .split(',')
            .map(|l| l.trim().trim_matches('`').to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        out.insert(name, (cells[2].to_owned(), labels));
    }
    assert!(out.len() > 10, "docs/METRICS.md has no catalog table");
    out
}

/// Every `banjo_…` identifier in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("banjo_") {
        let start = i + at;
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        let before_ok =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        if before_ok {
            out.push(expr[start..end].to_owned());
        }
        i = end;
    }
    out
}

/// Labels named in `by (…)` clauses.
fn grouped_by(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("by (") {
        let after = &rest[at + 4..];
        let close = after.find(')').expect("unclosed by (");
        out.extend(after[..close].split(',').map(|l| l.trim().to_owned()));
        rest = &after[close..];
    }
    out
}

fn panels(v: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    for p in v["panels"].as_array().into_iter().flatten() {
        out.push(p.clone());
        panels(p, out);
    }
}

#[test]
fn every_dashboard_query_names_catalog_metrics_and_their_labels() {
    let text = std::fs::read_to_string(root().join("packaging/grafana/banjo.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(dash["title"], "banjo");
    let cat = catalog();
    let mut all = Vec::new();
    panels(&dash, &mut all);
    let mut ids = BTreeSet::new();
    let mut used = BTreeSet::new();
    let mut queries = 0;
    for p in &all {
        assert!(ids.insert(p["id"].as_u64().unwrap()), "duplicate id: {p}");
        assert!(p["gridPos"]["w"].as_u64().is_some(), "no gridPos: {p}");
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"].as_array().expect("a panel without targets");
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            let expr = t["expr"].as_str().unwrap();
            queries += 1;
            let names = metric_names(expr);
            assert!(
                !names.is_empty(),
                "{}: {expr} names no banjo metric",
                p["title"]
            );
            let mut labels: BTreeSet<String> = ["le", "instance", "job"].map(String::from).into();
            for n in &names {
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| {
                        n.strip_suffix(s)
                            .filter(|b| cat.get(*b).is_some_and(|c| c.0 == "histogram"))
                    })
                    .unwrap_or(n);
                let (_, l) = cat.get(base).unwrap_or_else(|| {
                    panic!("{}: {expr}: {n} is not in docs/METRICS.md", p["title"])
                });
                labels.extend(l.iter().cloned());
                used.insert(base.to_owned());
            }
            for l in grouped_by(expr) {
                assert!(
                    labels.contains(&l),
                    "{}: {expr}: no label {l:?}",
                    p["title"]
                );
            }
        }
    }
    assert!(queries >= 20, "{queries}");
    // Nearly the whole catalog is on the dashboard.
    let unused: Vec<_> = cat.keys().filter(|k| !used.contains(*k)).collect();
    assert!(
        unused.is_empty(),
        "metrics not on the dashboard: {unused:?}"
    );
    for v in dash["templating"]["list"].as_array().unwrap() {
        if let Some(q) = v["definition"].as_str() {
            for n in metric_names(q) {
                assert!(cat.contains_key(&n), "variable {}: {n}", v["name"]);
            }
        }
    }
}

#[test]
fn the_packages_ship_the_dashboard_and_the_catalog() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let toml: toml::Value = toml::from_str(&cargo).unwrap();
    let meta = &toml["package"]["metadata"];
    let deb: Vec<String> = meta["deb"]["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a[0].as_str().unwrap().to_owned())
        .collect();
    let rpm: Vec<String> = meta["generate-rpm"]["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["source"].as_str().unwrap().to_owned())
        .collect();
    for f in ["packaging/grafana/banjo.json", "docs/METRICS.md"] {
        assert!(deb.iter().any(|a| a == f), ".deb lacks {f}");
        assert!(rpm.iter().any(|a| a == f), ".rpm lacks {f}");
        assert!(root().join(f).is_file());
    }
}

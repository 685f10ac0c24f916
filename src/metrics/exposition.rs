//! Prometheus's text exposition format (version 0.0.4), written by hand.
//!
//! Why not a crate: the `prometheus` crate brings a global registry, locks and
//! protobuf; `prometheus-client` writes OpenMetrics, whose `# EOF` and counter naming
//! node_exporter's textfile collector (one of our two outlets) does not read as such.
//! What banjo needs is a renderer of values it already keeps, and the format is a page
//! of rules (<https://prometheus.io/docs/instrumenting/exposition_formats/>), checked
//! here against Prometheus's own parser and linter (tests/metrics_netns.rs).

use std::fmt::Write;

/// A metric family's type, as `# TYPE` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Counts of observations below each bound, with their sum (a Prometheus histogram).
/// Buckets are cumulative when written, not when kept.
#[derive(Debug, Clone)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|&b| v <= b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

/// One exposition being written: families one after another, each with its samples.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Start a family. `name` must follow Prometheus's rules (checked in debug builds:
    /// every name is a literal in our code).
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> Family<'_> {
        debug_assert!(valid_name(name), "bad metric name {name:?}");
        debug_assert!(kind != Kind::Counter || name.ends_with("_total"), "{name}");
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        Family {
            out: &mut self.out,
            name: name.to_owned(),
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// The samples of one family.
pub struct Family<'a> {
    out: &'a mut String,
    name: String,
}

impl Family<'_> {
    /// One sample with these labels (name, value); values are escaped.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        write_sample(self.out, &self.name, "", labels, None, value);
        self
    }

    /// A histogram's `_bucket` (cumulative, then `+Inf`), `_sum` and `_count` samples.
    pub fn histogram(&mut self, labels: &[(&str, &str)], h: &Histogram) -> &mut Self {
        let mut cum = 0;
        for (i, b) in h.bounds.iter().enumerate() {
            cum += h.counts[i];
            let le = format_value(*b);
            write_sample(
                self.out,
                &self.name,
                "_bucket",
                labels,
                Some(&le),
                cum as f64,
            );
        }
        write_sample(
            self.out,
            &self.name,
            "_bucket",
            labels,
            Some("+Inf"),
            h.count as f64,
        );
        write_sample(self.out, &self.name, "_sum", labels, None, h.sum);
        write_sample(self.out, &self.name, "_count", labels, None, h.count as f64);
        self
    }
}

fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(&str, &str)],
    le: Option<&str>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let mut first = true;
        let all = labels.iter().copied().chain(le.map(|v| ("le", v)));
        for (k, v) in all {
            debug_assert!(valid_label(k), "bad label name {k:?}");
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(k);
            out.push_str("=\"");
            escape_label_into(out, v);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&format_value(value));
    out.push('\n');
}

/// A value as Go's ParseFloat reads it: integers without a fraction, `+Inf`, `NaN`.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        // Rust's shortest round-trip form, never with an exponent Go would refuse.
        format!("{v}")
    }
}

/// `# HELP` text: backslash and newline escaped.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Label values: backslash, double quote and newline escaped.
fn escape_label_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn valid_name(n: &str) -> bool {
    let mut b = n.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved).
fn valid_label(n: &str) -> bool {
    let mut b = n.bytes();
    !n.starts_with("__")
        && b.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escapes() {
        let mut e = Exposition::new();
        e.family("banjo_bans_total", Kind::Counter, "Bans.\nSecond \\ line")
            .sample(&[("jail", "ssh\"d\n\\")], 3.0)
            .sample(&[("jail", "x")], 0.5);
        e.family("banjo_up", Kind::Gauge, "Up.").sample(&[], 1.0);
        let text = e.finish();
        assert_eq!(
            text,
            "# HELP banjo_bans_total Bans.\\nSecond \\\\ line\n\
             # TYPE banjo_bans_total counter\n\
             banjo_bans_total{jail=\"ssh\\\"d\\n\\\\\"} 3\n\
             banjo_bans_total{jail=\"x\"} 0.5\n\
             # HELP banjo_up Up.\n\
             # TYPE banjo_up gauge\n\
             banjo_up 1\n"
        );
    }

    #[test]
    fn histograms_are_cumulative_with_inf_sum_and_count() {
        static B: &[f64] = &[0.001, 0.01, 0.1];
        let mut h = Histogram::new(B);
        for v in [0.0005, 0.002, 0.003, 0.5] {
            h.observe(v);
        }
        let mut e = Exposition::new();
        e.family("banjo_ban_latency_seconds", Kind::Histogram, "Latency.")
            .histogram(&[("jail", "sshd")], &h);
        let text = e.finish();
        for line in [
            "banjo_ban_latency_seconds_bucket{jail=\"sshd\",le=\"0.001\"} 1",
            "banjo_ban_latency_seconds_bucket{jail=\"sshd\",le=\"0.01\"} 3",
            "banjo_ban_latency_seconds_bucket{jail=\"sshd\",le=\"0.1\"} 3",
            "banjo_ban_latency_seconds_bucket{jail=\"sshd\",le=\"+Inf\"} 4",
            "banjo_ban_latency_seconds_sum{jail=\"sshd\"} 0.5055",
            "banjo_ban_latency_seconds_count{jail=\"sshd\"} 4",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
    }

    #[test]
    fn values_go_can_parse() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(12345678.0), "12345678");
        assert_eq!(format_value(0.1), "0.1");
        assert_eq!(format_value(1e-7), "0.0000001");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert!(valid_name("banjo_x:y") && !valid_name("1x") && !valid_name("a-b"));
        assert!(valid_label("jail") && !valid_label("__name") && !valid_label("a b"));
    }
}

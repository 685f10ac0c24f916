//! Target `config`: layered TOML through `config::load_files`, as `config::load` reads
//! it: the built-in layer, then banjo.toml, then jail.d drop-ins in order.
//!
//! Input: the files' texts separated by NUL bytes, the first being banjo.toml (at most
//! 6 files). Filter names resolve against a directory that does not exist, so only
//! built-in filters and paths the input names are read.
//!
//! The first layer is the built-in one with only the jails enabled by default (sshd,
//! recidive): every jail's filter is compiled at each load, enabled or not, and all
//! ten built-in filters cost ~0.2 s per load under the sanitizer, so the fuzzer
//! would run two inputs a second. The input can still name any built-in filter.
//!
//! Oracles beyond "no panic":
//! - every diagnostic about one of the input files names a line inside it;
//! - every jail that loads has a valid name and a filter that compiled;
//! - one broken drop-in more (a TOML syntax error) changes nothing but one error more:
//!   the same jails load, with the same names and enabled flags (a bad file never
//!   takes down the others).

use banjo::banrules::valid_jail_name;
use banjo::config::{self, Config, SourceFile, BUILTIN, BUILTIN_NAME};
use std::path::Path;
use std::sync::OnceLock;

const MAX_FILES: usize = 6;
const BROKEN: &str = "/fuzz/jail.d/zz-broken.toml";

pub fn run(data: &[u8]) {
    let mut files = vec![SourceFile {
        name: BUILTIN_NAME.into(),
        text: builtin_layer().into(),
    }];
    for (i, part) in super::parts(data, MAX_FILES).into_iter().enumerate() {
        let name = if i == 0 {
            "/fuzz/banjo.toml".to_owned()
        } else {
            format!("/fuzz/jail.d/{i:02}.toml")
        };
        files.push(SourceFile {
            name,
            text: super::text(part),
        });
    }
    let dir = Path::new("/nonexistent/banjo-fuzz");
    let cfg = config::load_files(dir, files.clone(), Vec::new());
    check_diagnostics(&cfg);
    for j in &cfg.jails {
        assert!(valid_jail_name(&j.name), "jail {:?} loaded", j.name);
    }

    files.push(SourceFile {
        name: BROKEN.into(),
        text: "[jail.sshd\nenabled = true\n".into(),
    });
    let more = config::load_files(dir, files, Vec::new());
    assert_eq!(
        jails(&cfg),
        jails(&more),
        "a broken drop-in changed the other jails"
    );
    assert!(
        more.diagnostics
            .iter()
            .any(|d| d.is_error() && d.file == BROKEN),
        "the broken drop-in was not reported"
    );
}

/// BUILTIN without the tables of the jails it leaves disabled.
fn builtin_layer() -> &'static str {
    static LAYER: OnceLock<String> = OnceLock::new();
    LAYER.get_or_init(|| {
        let mut keep = true;
        let mut out = String::new();
        for line in BUILTIN.lines() {
            if let Some(table) = line.strip_prefix("[jail.") {
                keep = table.starts_with("sshd]") || table.starts_with("recidive]");
            }
            if keep {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    })
}

fn check_diagnostics(cfg: &Config) {
    for d in &cfg.diagnostics {
        let Some(f) = cfg.files.iter().find(|f| f.name == d.file) else {
            continue;
        };
        if let Some(line) = d.line {
            // A syntax error at the very end may name the line after the last one.
            let lines = f.text.lines().count() + 1;
            assert!(
                (1..=lines).contains(&line),
                "diagnostic names line {line} of {} ({lines} lines): {d}",
                d.file
            );
        }
    }
}

fn jails(cfg: &Config) -> Vec<(String, bool)> {
    cfg.jails
        .iter()
        .map(|j| (j.name.clone(), j.enabled))
        .collect()
}

//! The man pages (`man/banjo.1`, `man/banjo-SUBCOMMAND.1`) and shell completions
//! (`completions/`) are generated from the clap definition in `src/cli/` and committed,
//! so packagers need no build step and reviewers see CLI changes as text. This test
//! renders them again and fails when the committed files drifted from the CLI.
//!
//! To update after changing the CLI:
//!
//! ```text
//! BANJO_UPDATE_GENERATED=1 cargo test --test man_drift
//! ```
//!
//! Generation walks `Cli::command().get_subcommands()`, so a new subcommand gets its
//! page and completions without touching this file. `man/banjo.toml.5` is written by
//! hand and is not touched here.

use clap::CommandFactory;
use clap_complete::Shell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const UPDATE_VAR: &str = "BANJO_UPDATE_GENERATED";

/// Appended to every generated page: what clap does not know.
fn see_also(page: &str, pages: &[String]) -> String {
    let mut refs: Vec<String> = pages
        .iter()
        .filter(|p| p.as_str() != page)
        .map(|p| format!("{p}(1)"))
        .collect();
    refs.push("banjo.toml(5)".into());
    refs.extend(
        [
            "journalctl(1)",
            "systemd.journal-fields(7)",
            "iptables(8)",
            "ipset(8)",
            "nft(8)",
        ]
        .map(String::from),
    );
    // Hyphens in names must not be turned into typographic dashes.
    let refs = refs.join(", ").replace('-', "\\-");
    format!(".SH \"SEE ALSO\"\n{refs}\n")
}

/// Sections only the top-level page carries.
const MAIN_EXTRA: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success.
.TP
\fB1\fR
A runtime failure: the daemon could not be reached, refused a request, or a
firewall or journal operation failed.
.TP
\fB2\fR
Bad usage or configuration: unknown options, a configuration with errors
(\fBbanjo check\fR), a filter that does not compile.
.SH FILES
.TP
\fI/etc/banjo/banjo.toml\fR, \fI/etc/banjo/jail.d/*.toml\fR
Configuration, layered over the built\-in defaults; see \fBbanjo.toml\fR(5).
.TP
\fI/etc/banjo/filter.d/NAME.toml\fR
Filters; one here replaces the built\-in filter of the same name.
.TP
\fI/var/lib/banjo/state.db\fR
Durable state: active bans, ban counts, TOTAL BANNED and the journal position.
If it is lost, banjo adopts its own kernel set members and journal history.
.TP
\fI/run/banjo/banjo.sock\fR
Control socket of the running daemon (\fBbanjo.socket\fR when socket\-activated).
.SH JOURNAL
Every ban, unban, restored ban, firewall error and reload, every change in the
state's durability, and the failure windows reaching \fBtracker_memory\fR, is
written to the journal with a fixed MESSAGE_ID and BANJO_* fields; see
\fBjournalctl \-x \-u banjo\fR for the catalog text, and \fBbanjo history\fR.
"#;

/// Every generated file: path relative to the crate root -> contents.
fn generate() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();

    // Man pages. `build()` names subcommands for display as `banjo-check` etc.
    let mut cmd = banjo::cli::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut cmds = Vec::new();
    collect(&cmd, &mut cmds);
    let pages: Vec<String> = cmds.iter().map(page_name).collect();
    for (c, page) in cmds.iter().zip(&pages) {
        let mut buf = Vec::new();
        clap_mangen::Man::new(c.clone())
            // The package, not the subcommand ("banjo 0.1.0", not "ban 0.1.0").
            .source(format!("banjo {}", env!("CARGO_PKG_VERSION")))
            .manual("banjo manual")
            .render(&mut buf)
            .expect("render man page");
        let mut text = String::from_utf8(buf).expect("roff is UTF-8");
        if page == "banjo" {
            // Before VERSION, where man(7) readers look for them.
            match text.find("\n.SH VERSION\n") {
                Some(at) => text.insert_str(at + 1, MAIN_EXTRA),
                None => text.push_str(MAIN_EXTRA),
            }
        }
        text.push_str(&see_also(page, &pages));
        out.insert(
            Path::new("man").join(format!("{page}.1")),
            text.into_bytes(),
        );
    }

    // Completions.
    for (shell, file) in [
        (Shell::Bash, "banjo.bash"),
        (Shell::Zsh, "_banjo"),
        (Shell::Fish, "banjo.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut banjo::cli::Cli::command(), "banjo", &mut buf);
        out.insert(Path::new("completions").join(file), buf);
    }
    out
}

/// The command and its visible subcommands, depth first.
fn collect(cmd: &clap::Command, out: &mut Vec<clap::Command>) {
    out.push(cmd.clone());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, out);
    }
}

fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_owned()
}

/// Generated pages on disk that no subcommand produces any more (`man/banjo-*.1`).
fn stale(root: &Path, generated: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(root.join("man")) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| Path::new("man").join(e.file_name()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("banjo") && name.ends_with(".1") && !generated.contains_key(p)
        })
        .collect();
    found.sort();
    found
}

/// Line number and both versions of the first differing line, for the failure message.
fn first_difference(old: &[u8], new: &[u8]) -> String {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    let (mut a, mut b) = (old.lines(), new.lines());
    let mut n = 1;
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (x, y) => {
                return format!(
                    "line {n}: committed {:?}, generated {:?}",
                    x.unwrap_or("<end of file>"),
                    y.unwrap_or("<end of file>")
                )
            }
        }
    }
}

#[test]
fn generated_man_pages_and_completions_match_the_cli() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated = generate();
    let update = std::env::var_os(UPDATE_VAR).is_some_and(|v| v == "1");

    let mut problems = Vec::new();
    for (rel, want) in &generated {
        let path = root.join(rel);
        match std::fs::read(&path) {
            Ok(have) if &have == want => continue,
            Ok(have) => problems.push(format!(
                "{} differs ({})",
                rel.display(),
                first_difference(&have, want)
            )),
            Err(_) => problems.push(format!("{} is missing", rel.display())),
        }
        if update {
            std::fs::create_dir_all(path.parent().expect("has a parent")).unwrap();
            std::fs::write(&path, want).unwrap();
        }
    }
    for rel in stale(root, &generated) {
        problems.push(format!(
            "{} belongs to no subcommand any more",
            rel.display()
        ));
        if update {
            std::fs::remove_file(root.join(&rel)).unwrap();
        }
    }

    if update {
        for p in &problems {
            eprintln!("updated: {p}");
        }
        return;
    }
    assert!(
        problems.is_empty(),
        "man pages / completions are out of date with the CLI in src/cli/:\n  {}\n\
         Regenerate them and commit the result:\n  {UPDATE_VAR}=1 cargo test --test man_drift",
        problems.join("\n  ")
    );
}

#[test]
fn every_subcommand_has_a_page() {
    // Guards the generator itself: walking get_subcommands() must reach them all.
    let generated = generate();
    for sub in banjo::cli::Cli::command().get_subcommands() {
        if sub.is_hide_set() {
            continue;
        }
        let page = Path::new("man").join(format!("banjo-{}.1", sub.get_name()));
        assert!(generated.contains_key(&page), "no page {}", page.display());
    }
}

#[test]
fn catalog_explains_every_message_id() {
    // Read the IDs from the source, not from a list here: a MESSAGE_ID added to
    // src/events.rs without a catalog entry fails this test.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let events = std::fs::read_to_string(root.join("src/events.rs")).unwrap();
    let catalog = std::fs::read_to_string(root.join("units/banjo.catalog")).unwrap();
    let ids: Vec<&str> = events
        .lines()
        .filter(|l| l.trim_start().starts_with("pub const MSGID_"))
        .filter_map(|l| l.split('"').nth(1))
        .collect();
    assert!(ids.len() >= 5, "found only {ids:?} in src/events.rs");
    for id in ids {
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id:?} is not a 128-bit MESSAGE_ID"
        );
        assert!(
            catalog.lines().any(|l| l == format!("-- {id}")),
            "units/banjo.catalog has no entry \"-- {id}\""
        );
    }
}

//! The shell completions in `completions/` (generated from the CLI; see man_drift.rs)
//! work in the shells they are for: each shell loads its script and completes a
//! subcommand and an option. bash, zsh and fish are installed by scripts/deps.sh.

use std::path::PathBuf;
use std::process::Command;

fn script(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("completions")
        .join(name)
        .display()
        .to_string()
}

/// Run `shell -c code`; its stdout. Fails the test on a non-zero exit or any stderr.
fn shell(shell: &str, code: &str) -> String {
    let out = Command::new(shell)
        .arg("-c")
        .arg(code)
        .output()
        .unwrap_or_else(|e| panic!("{shell} is needed (scripts/deps.sh installs it): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{shell} -c {code:?}: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn bash_completes_subcommands_and_options() {
    let s = script("banjo.bash");
    let complete = |words: &str, cword: usize| {
        shell(
            "bash",
            &format!(
                "source {s}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
                 _banjo banjo \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\""
            ),
        )
    };
    assert_eq!(complete("banjo st", 1).trim(), "status");
    let opts = complete("banjo unban --", 2);
    assert!(opts.lines().any(|l| l == "--jail"), "{opts}");
}

#[test]
fn zsh_loads_the_completion_function() {
    let s = script("_banjo");
    shell("zsh", &format!("zsh -n {s}"));
    let out = shell(
        "zsh",
        &format!("autoload -Uz compinit; compinit -u -D; source {s}; print -r -- $_comps[banjo]"),
    );
    assert_eq!(out.trim(), "_banjo");
}

#[test]
fn fish_completes_subcommands_and_options() {
    let s = script("banjo.fish");
    let out = shell("fish", &format!("source {s}; complete -C 'banjo st'"));
    assert!(out.starts_with("status\t"), "{out}");
    let out = shell(
        "fish",
        &format!("source {s}; complete -C 'banjo test-filter --jo'"),
    );
    assert!(
        out.lines().any(|l| l.starts_with("--journal-dir\t")),
        "{out}"
    );
}

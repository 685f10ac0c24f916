//! `banjo check`: exit codes and error reports through the binary.

mod common;
use common::*;

#[test]
fn builtin_defaults_pass() {
    let d = tempfile::tempdir().unwrap();
    let out = run(&["check", "--config", d.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out), stderr(&out));
    let t = text(&out);
    assert!(t.contains("[sshd] enabled"), "{t}");
    assert!(t.contains("[recidive] enabled"), "{t}");
    assert!(t.contains("OK: 2 jails enabled"), "{t}");
    assert!(t.contains("all on the regex engine"), "{t}");
}

#[test]
fn errors_exit_2_and_name_file_line_jail_key() {
    let d = tempfile::tempdir().unwrap();
    write_config(
        d.path(),
        &[
            ("banjo.toml", "[jail.sshd]\nenabled = true\n"),
            (
                "jail.d/50-mine.toml",
                "[jail.sshd]\nbantime = \"1 fortnight\"\n",
            ),
        ],
    );
    let out = run(&["check", "--config", d.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("jail.d/50-mine.toml:2: error: jail sshd: bantime:"),
        "{e}"
    );
    assert!(e.contains("hint:"), "{e}");
    assert!(text(&out).contains("FAILED"), "{}", text(&out));
    // The other jail still loads.
    assert!(text(&out).contains("[recidive] enabled"));
}

#[test]
fn json_report_and_pcre2_engine_named() {
    let d = tempfile::tempdir().unwrap();
    write_config(
        d.path(),
        &[
            (
                "banjo.toml",
                "[jail.app]\nenabled = true\njournalmatch = \"_SYSTEMD_UNIT=app.service\"\n",
            ),
            (
                "filter.d/app.toml",
                "failregex = ['^denied (?!10\\.)<HOST>$', '^bad <HOST>$']\n",
            ),
        ],
    );
    let j = json(&run(&[
        "check",
        "--config",
        d.path().to_str().unwrap(),
        "--json",
    ]));
    let app = j["jails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "app")
        .unwrap();
    assert_eq!(app["pcre2_patterns"], 1);
    assert_eq!(app["regex_patterns"], 1);
    assert_eq!(app["journalmatch"], "_SYSTEMD_UNIT=app.service");
    assert_eq!(j["errors"], 0);
}

#[test]
fn missing_config_dir_is_an_error() {
    let out = run(&["check", "--config", "/nonexistent/banjo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not exist"));
}

#[test]
fn bad_cli_arguments_exit_2() {
    let out = run(&["check", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["nosuchcommand"]);
    assert_eq!(out.status.code(), Some(2));
}

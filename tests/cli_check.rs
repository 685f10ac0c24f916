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

/// A pattern without <HOST> is named by its own line, and every bad port of a list
/// is reported, each on its line (only the first was, with no line for the pattern).
#[test]
fn check_names_each_bad_port_and_the_line_of_a_pattern_without_host() {
    let d = tempfile::tempdir().unwrap();
    write_config(
        d.path(),
        &[
            (
                "banjo.toml",
                "[jail.app]\nenabled = true\njournalmatch = \"_SYSTEMD_UNIT=app.service\"\n\
                 port = [\"http\", \"bogus\", 70000,\n  \"alsobad\"]\n\
                 [jail.web]\nenabled = true\nfilter = \"sshd\"\nport = \"22, nope\"\n",
            ),
            (
                "filter.d/app.toml",
                "failregex = [\n  '^denied <HOST>$',\n  '^login failed for somebody$',\n]\n",
            ),
        ],
    );
    let out = run(&["check", "--config", d.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("filter.d/app.toml:3: error: jail app: failregex: pattern has no <HOST>"),
        "{e}"
    );
    // The jail's filter failed; its ports are checked in a jail whose filter loads.
    let web = d.path().join("banjo.toml");
    let web = web.display();
    assert!(
        e.contains(&format!(
            "{web}:9: error: jail web: port: \"nope\" is not a port number"
        )),
        "{e}"
    );
    std::fs::write(
        d.path().join("filter.d/app.toml"),
        "failregex = ['^denied <HOST>$']\n",
    )
    .unwrap();
    let e = stderr(&run(&["check", "--config", d.path().to_str().unwrap()]));
    for (line, item) in [(4, "\"bogus\""), (4, "70000"), (5, "\"alsobad\"")] {
        assert!(
            e.contains(&format!(
                "{web}:{line}: error: jail app: port: {item} is not a port number"
            )),
            "{item} on line {line}:\n{e}"
        );
    }
    assert_eq!(e.matches("error:").count(), 4, "{e}");
}

/// The daemon compiles only enabled jails' filters (config::Compile::Enabled); a
/// mistake in a disabled jail's pattern is still `banjo check`'s to find, with its
/// file, line, jail and key, before the jail is ever enabled.
#[test]
fn check_reports_a_broken_pattern_of_a_disabled_jail() {
    let d = tempfile::tempdir().unwrap();
    write_config(
        d.path(),
        &[
            (
                "banjo.toml",
                "[jail.app]\nenabled = false\njournalmatch = \"_SYSTEMD_UNIT=app.service\"\n",
            ),
            (
                "filter.d/app.toml",
                "failregex = [\n  '^ok from <HOST>$',\n  '^bad (login from <HOST>$',\n]\n",
            ),
        ],
    );
    let out = run(&["check", "--config", d.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let e = stderr(&out);
    assert!(
        e.contains("filter.d/app.toml:3: error: jail app: failregex: does not compile"),
        "{e}"
    );
    assert_eq!(e.matches(": error: jail").count(), 1, "{e}");
    assert!(text(&out).contains("[sshd] enabled"), "{}", text(&out));
}

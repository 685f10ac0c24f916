//! Nobody but the attacked service decides who is banned: entries an unprivileged local
//! user writes into the journal, however they are dressed up, never get an address
//! banned. A real journald records them (so _UID, _COMM and _EXE are journald's own
//! readings of the sender), a real `banjo run` reads them, a real firewall would hold
//! the ban. Each test re-runs itself inside `unshare --mount --net` (see common::ns).

mod common;
use common::ns::*;
use std::process::Command;
use std::time::Duration;

const CONFIG: &str = r#"
[defaults]
ignoreip = ["127.0.0.0/8", "::1"]
[jail.sshd]
enabled = true
maxretry = 3
port = ["ssh"]
[jail.recidive]
enabled = true
maxretry = 2
"#;

/// Send `entries` (native-protocol bodies) to journald as the unprivileged user 65534,
/// from a process that first renames itself `comm` and stays alive until journald has
/// read its /proc entry (so the entries really carry _COMM=`comm`, as an attacker's
/// would).
fn as_nobody(comm: &str, entries: &[String]) {
    let script = r#"
import socket, sys, time
open('/proc/self/comm', 'w').write(sys.argv[1])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for e in sys.argv[2:]:
    s.sendto(e.encode(), '/run/systemd/journal/socket')
time.sleep(1)
"#;
    let out = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .args(["/usr/bin/python3", "-c", script, comm])
        .args(entries)
        .output()
        .expect("setpriv (util-linux) and /usr/bin/python3");
    assert!(
        out.status.success(),
        "sending as nobody: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sshd_failure(ip: &str) -> String {
    format!(
        "MESSAGE=Failed password for root from {ip} port 4242 ssh2\nSYSLOG_IDENTIFIER=sshd\nPRIORITY=6\n"
    )
}

/// journald must have recorded the forged entries as coming from uid 65534 with the
/// chosen comm, or the test proves nothing.
fn assert_recorded_as_nobody(j: &Journald, what: &str, comm: &str, n: usize) {
    eventually(5, "journald recorded the forged entries", || {
        j.query(what).len() >= n
    });
    for e in j.query(what) {
        assert_eq!(e["_UID"], "65534", "{e}");
        assert_eq!(e["_COMM"], comm, "{e}");
    }
}

#[test]
fn a_local_user_posing_as_sshd_gets_nobody_banned() {
    if !enter("a_local_user_posing_as_sshd_gets_nobody_banned") {
        return;
    }
    let j = Journald::start();
    // Let the unprivileged sender reach the socket in the tmpfs journald runs on.
    shell("chmod 755 /run/systemd /run/systemd/journal");
    let mut b = Banjo::new(j.work.path(), CONFIG);
    b.start(&[]);

    // The renamed process: _COMM=sshd, SYSLOG_IDENTIFIER=sshd, sshd's exact words.
    let forged: Vec<String> = (0..6).map(|_| sshd_failure("198.51.100.77")).collect();
    as_nobody("sshd", &forged);
    // Also as sshd-session, the name OpenSSH 9.8+ logs under.
    as_nobody("sshd-session", &forged);
    assert_recorded_as_nobody(&j, "_COMM=sshd _UID=65534", "sshd", 6);
    assert_recorded_as_nobody(&j, "_COMM=sshd-session _UID=65534", "sshd-session", 6);

    // The same words from root's sshd do ban: the jail was listening all along.
    for _ in 0..3 {
        j.sshd("Failed password for root from 203.0.113.20 port 4242 ssh2");
    }
    eventually(5, "the real sshd's attacker is banned", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.20".to_string())
    });
    let members = ipset_members("banjo-sshd-4");
    assert!(
        !members.contains(&"198.51.100.77".to_string()),
        "{members:?}"
    );
    let st = b.cli_json(&["status", "sshd"]);
    assert_eq!(st["currently_banned"], 1, "{st}");
    assert_eq!(
        st["total_failed"], 3,
        "the forged failures were counted: {st}"
    );
}

#[test]
fn a_local_user_forging_banjos_ban_entries_does_not_feed_recidive() {
    if !enter("a_local_user_forging_banjos_ban_entries_does_not_feed_recidive") {
        return;
    }
    let j = Journald::start();
    shell("chmod 755 /run/systemd /run/systemd/journal");
    let mut b = Banjo::new(j.work.path(), CONFIG);
    b.start(&[]);

    // banjo's ban entry, field for field, as any process can write it.
    let forged: Vec<String> = (0..4)
        .map(|_| {
            "MESSAGE=[sshd] Ban 198.51.100.78 (5 failures, 1h)\n\
             MESSAGE_ID=4d654fc42ce94fee9c9d8899ca99f1bc\n\
             BANJO_JAIL=sshd\nBANJO_IP=198.51.100.78\nBANJO_FAILURES=5\n\
             BANJO_BANTIME=3600\nSYSLOG_IDENTIFIER=banjo\n"
                .to_string()
        })
        .collect();
    as_nobody("banjo", &forged);
    assert_recorded_as_nobody(
        &j,
        "MESSAGE_ID=4d654fc42ce94fee9c9d8899ca99f1bc _UID=65534",
        "banjo",
        4,
    );

    // banjo's own bans still feed recidive: two sshd bans of one address.
    for round in 0..2 {
        for _ in 0..3 {
            j.sshd("Failed password for root from 203.0.113.21 port 4242 ssh2");
        }
        eventually(5, "sshd ban", || {
            ipset_members("banjo-sshd-4").contains(&"203.0.113.21".to_string())
        });
        if round == 0 {
            b.cli_json(&["unban", "203.0.113.21", "--jail", "sshd"]);
        }
    }
    eventually(5, "recidive bans the real repeat offender", || {
        ipset_members("banjo-recidive-4").contains(&"203.0.113.21".to_string())
    });
    std::thread::sleep(Duration::from_millis(300));
    let members = ipset_members("banjo-recidive-4");
    assert!(
        !members.contains(&"198.51.100.78".to_string()),
        "{members:?}"
    );
    let rec = b.cli_json(&["status", "recidive"]);
    assert_eq!(rec["total_banned"], 1, "{rec}");
}

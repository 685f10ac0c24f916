//! The state under attack, for real: a private journald, a private firewall, `banjo
//! run` as a process, and faults made on demand (a tiny tmpfs for a full state disk,
//! garbage written into state.db, a read-only bind mount). What must hold: a ban
//! reported is a ban durable (a ban the state could not take is enforced but reported
//! as not durable, and reported as done once it is), and losing the state never
//! unbans what banjo had banned: the kernel's members and the journal's history are
//! adopted. Each test re-runs itself in `unshare --mount --net` (see common::ns).

mod common;
use common::ns::*;
use std::collections::BTreeSet;
use std::time::Duration;

const BAN_ID: &str = "4d654fc42ce94fee9c9d8899ca99f1bc";
const NOT_DURABLE_ID: &str = "d6d94dab8f4744eabdd229939849dc63";
const DEGRADED_ID: &str = "ec9e28643cdf4481a8d68c493f02427a";
const RECOVERED_ID: &str = "610371c8a56e46e8af2e0d1deafb66fd";
const ADOPTED_ID: &str = "3d572eaf91a2473e8ea265732decf0d6";

const CONFIG: &str = r#"
[defaults]
ignoreip = ["127.0.0.0/8", "::1"]
[jail.sshd]
enabled = true
maxretry = 1
findtime = "10m"
bantime = "1h"
port = ["ssh"]
[jail.recidive]
enabled = true
maxretry = 2
findtime = "1d"
bantime = "1w"
"#;

fn fail(j: &Journald, ip: &str) {
    j.sshd(&format!(
        "Failed password for root from {ip} port 4242 ssh2"
    ));
}

/// `n` distinct attackers: IPv4 from two TEST-NETs, then IPv6 /64s (banned as the /64).
fn attackers(n: usize) -> Vec<(String, String)> {
    let v4 = ["198.51.100", "203.0.113"]
        .into_iter()
        .flat_map(|net| (1..=254).map(move |i| format!("{net}.{i}")))
        .map(|a| (a.clone(), a));
    let v6 = (0..u16::MAX).map(|i| {
        let net = std::net::Ipv6Addr::new(0x2001, 0xdb8, i / 256 + 1, i % 256 + 1, 0, 0, 0, 0);
        (format!("{net}").replace("::", "::7"), format!("{net}/64"))
    });
    v4.chain(v6).take(n).collect()
}

/// Every ban banjo holds in the kernel, as banjo shows addresses.
fn kernel_bans(set: &str) -> BTreeSet<String> {
    Fw::Iptables.bans(set.trim_start_matches("banjo-"))
}

/// The two firewall backends, as a test sees them.
#[derive(Clone, Copy, Debug)]
enum Fw {
    Iptables,
    Nft,
}

impl Fw {
    fn config(self, base: &str) -> String {
        match self {
            Fw::Iptables => base.to_owned(),
            Fw::Nft => format!("{base}\n[daemon]\nfirewall = \"nftables\"\n"),
        }
    }

    /// Every ban of `jail` in the kernel, as banjo shows addresses.
    fn bans(self, jail: &str) -> BTreeSet<String> {
        match self {
            Fw::Iptables => [format!("banjo-{jail}-4"), format!("banjo-{jail}-6")]
                .iter()
                .flat_map(|s| ipset_members(s))
                .collect(),
            Fw::Nft => {
                let mut all: BTreeSet<String> =
                    [format!("banjo-{jail}-4"), format!("banjo-{jail}-6")]
                        .iter()
                        .flat_map(|s| nft_members(s))
                        .collect();
                all.extend(
                    nft_members(&format!("banjo-{jail}-6-64"))
                        .into_iter()
                        .map(|m| format!("{m}/64")),
                );
                all
            }
        }
    }

    /// Take one IPv4 member out of the kernel behind banjo's back.
    fn remove(self, jail: &str, ip: &str) {
        match self {
            Fw::Iptables => shell(&format!("ipset del banjo-{jail}-4 {ip}")),
            Fw::Nft => shell(&format!(
                "nft delete element inet banjo banjo-{jail}-4 '{{ {ip} }}'"
            )),
        };
    }

    /// The remaining kernel timeout of an IPv4 member in seconds; None: permanent.
    fn timeout(self, jail: &str, ip: &str) -> Option<u64> {
        match self {
            Fw::Iptables => {
                let save = shell(&format!("ipset save banjo-{jail}-4"));
                let line = save
                    .lines()
                    .find(|l| l.split_whitespace().nth(2) == Some(ip))
                    .unwrap_or_else(|| panic!("{ip} not in banjo-{jail}-4: {save}"));
                let t: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
                (t > 0).then_some(t)
            }
            Fw::Nft => {
                let out = shell(&format!("nft -j list set inet banjo banjo-{jail}-4"));
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                let elems = v["nftables"][1]["set"]["elem"].as_array().unwrap().clone();
                let e = elems
                    .iter()
                    .find(|e| e == &ip || e["elem"]["val"] == ip)
                    .unwrap_or_else(|| panic!("{ip} not in the nft set: {out}"));
                e["elem"]["expires"].as_u64()
            }
        }
    }
}

/// `BANJO_IP` of the entries with `id` in jail sshd, as often as written.
fn entries(j: &Journald, id: &str) -> Vec<String> {
    j.query(&format!("MESSAGE_ID={id} BANJO_JAIL=sshd"))
        .iter()
        .map(|e| e["BANJO_IP"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn unique(v: &[String]) -> BTreeSet<String> {
    let set: BTreeSet<String> = v.iter().cloned().collect();
    assert_eq!(set.len(), v.len(), "an address was reported twice");
    set
}

/// Mount a tmpfs of `size` on `dir` (in this test's mount namespace).
fn tmpfs(dir: &std::path::Path, size: &str) {
    let out = shell(&format!(
        "mount -t tmpfs -o size={size},mode=0700 tmpfs {0} && echo ok",
        dir.display()
    ));
    assert_eq!(out.trim(), "ok", "mounting a tmpfs on {}", dir.display());
}

fn resize(dir: &std::path::Path, size: &str) {
    let out = shell(&format!(
        "mount -o remount,size={size} tmpfs {0} && echo ok",
        dir.display()
    ));
    assert_eq!(out.trim(), "ok");
}

fn status(b: &Banjo) -> serde_json::Value {
    b.cli_json(&["status"])
}

fn sshd(b: &Banjo) -> serde_json::Value {
    b.cli_json(&["status", "sshd"])
}

/// Wait until every ban of `want` has its journal entry, either kind.
fn all_reported(j: &Journald, want: usize) {
    eventually(30, "an entry for every ban", || {
        entries(j, BAN_ID).len() + entries(j, NOT_DURABLE_ID).len() >= want
    });
}

/// Flood a running banjo whose state disk is full: every attacker is blocked in the
/// kernel, no ban is reported ("Ban" entry, TOTAL BANNED, `banjo ban`) unless the
/// state holds it, and once there is room all of them are recorded and reported once.
/// Then a restart keeps every ban in the kernel.
#[test]
fn flood_with_a_full_state_disk_is_enforced_reported_honestly_and_recovered() {
    if enter("flood_with_a_full_state_disk_is_enforced_reported_honestly_and_recovered") {
        flood_with_a_full_state_disk(Fw::Iptables);
    }
}

#[test]
fn flood_with_a_full_state_disk_nftables() {
    if enter("flood_with_a_full_state_disk_nftables") {
        flood_with_a_full_state_disk(Fw::Nft);
    }
}

fn flood_with_a_full_state_disk(fw: Fw) {
    let j = Journald::start_unlimited();
    let mut b = Banjo::new(j.work.path(), &fw.config(CONFIG));
    tmpfs(&b.state, "256k");
    b.start(&[]);
    let flood = attackers(5000);
    for (ip, _) in &flood {
        fail(&j, ip);
    }
    let want: BTreeSet<String> = flood.iter().map(|(_, ban)| ban.clone()).collect();
    eventually(60, "every attacker in the kernel", || {
        fw.bans("sshd") == want
    });
    all_reported(&j, want.len());
    let done: BTreeSet<String> = unique(&entries(&j, BAN_ID));

    // A restart with the disk still full: every ban reported done is still in the
    // kernel, and so is every one that was not durable (decided again from the
    // journal). Before, the kernel was cut back to what the state held.
    b.stop();
    b.start(&[]);
    assert_eq!(
        fw.bans("sshd"),
        want,
        "a ban left the kernel at the restart"
    );

    // The disk filled on the way: said with its own MESSAGE_ID, and in STATUS=.
    assert!(!j.query(&format!("MESSAGE_ID={DEGRADED_ID}")).is_empty());
    let st = status(&b);
    assert_eq!(st["state"]["durable"], false, "{st}");
    assert_eq!(st["state"]["mode"], "not-writable", "{st}");
    assert!(
        st["state"]["reason"].as_str().unwrap().contains("full"),
        "{st}"
    );
    // Nothing not durable was reported as done: a ban has a "Ban" entry or an
    // "enforced, not durable" one (again after the restart), never both, and TOTAL
    // BANNED counts the first kind.
    let pending: BTreeSet<String> = entries(&j, NOT_DURABLE_ID).into_iter().collect();
    assert!(!pending.is_empty(), "the 256k disk never filled");
    assert!(done.is_disjoint(&pending), "reported done and not durable");
    assert_eq!(done.union(&pending).cloned().collect::<BTreeSet<_>>(), want);
    assert_eq!(unique(&entries(&j, BAN_ID)), done, "reported again");
    let st_sshd = sshd(&b);
    assert_eq!(st_sshd["total_banned"], done.len(), "{st_sshd}");
    // `banjo ban` says the truth too, and still blocks.
    let out = b.cli(&["ban", "sshd", "192.0.2.77"]);
    assert!(
        !out.status.success(),
        "a ban that is not durable reported as done"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NOT durable"), "{err}");
    assert!(fw.bans("sshd").contains("192.0.2.77"));
    b.wait_notify("STATE NOT DURABLE");

    // Room again: banjo recovers by itself and reports what was waiting, once.
    resize(&b.state, "64m");
    eventually(60, "the recovered entry", || {
        !j.query(&format!("MESSAGE_ID={RECOVERED_ID}")).is_empty()
    });
    let mut all = want.clone();
    all.insert("192.0.2.77".into());
    eventually(30, "a Ban entry for every ban", || {
        entries(&j, BAN_ID).len() >= all.len()
    });
    assert_eq!(unique(&entries(&j, BAN_ID)), all);
    assert_eq!(status(&b)["state"]["durable"], true);
    assert_eq!(sshd(&b)["total_banned"], all.len());

    // And a restart now keeps every ban in the kernel, and TOTAL BANNED.
    b.stop();
    b.start(&[]);
    assert_eq!(fw.bans("sshd"), all);
    let st = sshd(&b);
    assert_eq!(st["currently_banned"], all.len(), "{st}");
    assert_eq!(st["total_banned"], all.len(), "{st}");
    std::thread::sleep(Duration::from_millis(300));
    unique(&entries(&j, BAN_ID));
}

/// The same flood, then kill -9 while the disk is still full, and a start on that full
/// disk: the bans that were never durable stay in the kernel (they are decided again
/// from the journal, and are not removed as stale), and once there is room each gets
/// its one "Ban" entry.
#[test]
fn kill_9_with_a_full_state_disk_keeps_every_ban_in_the_kernel() {
    if !enter("kill_9_with_a_full_state_disk_keeps_every_ban_in_the_kernel") {
        return;
    }
    let j = Journald::start_unlimited();
    let mut b = Banjo::new(j.work.path(), CONFIG);
    tmpfs(&b.state, "256k");
    b.start(&[]);
    let flood = attackers(3000);
    for (ip, _) in &flood {
        fail(&j, ip);
    }
    let want: BTreeSet<String> = flood.iter().map(|(_, ban)| ban.clone()).collect();
    eventually(60, "every attacker in the kernel", || {
        kernel_bans("banjo-sshd") == want
    });
    // Nothing left in the journal writer's queue to lose with the kill.
    all_reported(&j, want.len());
    b.kill9();
    // Still full at the next start.
    b.start(&[]);
    assert_eq!(kernel_bans("banjo-sshd"), want, "a ban left the kernel");
    assert!(!j.query(&format!("MESSAGE_ID={DEGRADED_ID}")).is_empty());
    assert!(
        !entries(&j, NOT_DURABLE_ID).is_empty(),
        "the disk never filled"
    );
    let st = sshd(&b);
    assert_eq!(st["currently_banned"], want.len(), "{st}");
    resize(&b.state, "64m");
    eventually(60, "a Ban entry for every ban", || {
        entries(&j, BAN_ID).len() >= want.len()
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(unique(&entries(&j, BAN_ID)), want);
    assert_eq!(status(&b)["state"]["durable"], true);
    b.stop();
    b.start(&[]);
    assert_eq!(kernel_bans("banjo-sshd"), want);
}

/// Send a journal entry as nobody (uid 65534) that looks like one of banjo's ban
/// entries: it must never make anyone banned.
fn forge_ban_entry(ip: &str) {
    let script = format!(
        "import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); \
         s.sendto(b'MESSAGE=[sshd] Ban {ip} (1 failures, 1w)\\nMESSAGE_ID={BAN_ID}\\n\
         SYSLOG_IDENTIFIER=banjo\\nBANJO_JAIL=sshd\\nBANJO_IP={ip}\\nBANJO_BANTIME=1w\\n\
         BANJO_BAN_COUNT=1\\nBANJO_FAILURES=1\\n', '/run/systemd/journal/socket')"
    );
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["/usr/bin/python3", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Corrupt state.db (garbage over its header) between two runs: it is moved aside and
/// the new start adopts banjo's own kernel members, with their timeouts, and the
/// journal's ban history (what a reboot took out of the kernel, ban counts, totals),
/// instead of unbanning them. A forged history entry from a local user adopts nothing.
/// Then the same with state.db deleted.
#[test]
fn corrupt_or_deleted_state_adopts_the_kernel_and_the_journal() {
    if enter("corrupt_or_deleted_state_adopts_the_kernel_and_the_journal") {
        corrupt_or_deleted_state(Fw::Iptables);
    }
}

#[test]
fn corrupt_or_deleted_state_adopts_the_kernel_and_the_journal_nftables() {
    if enter("corrupt_or_deleted_state_adopts_the_kernel_and_the_journal_nftables") {
        corrupt_or_deleted_state(Fw::Nft);
    }
}

fn corrupt_or_deleted_state(fw: Fw) {
    let j = Journald::start();
    let cfg = fw.config(&CONFIG.replace("maxretry = 1", "maxretry = 1\nbantime_increment = true"));
    let mut b = Banjo::new(j.work.path(), &cfg);
    b.start(&[]);
    let ips: Vec<String> = (1..=20).map(|i| format!("203.0.113.{i}")).collect();
    for ip in &ips {
        fail(&j, ip);
    }
    fail(&j, "2001:db8:5:6::1");
    // A second ban of one address (its count is 2 now, its bantime 2h).
    eventually(10, "20 + 1 bans", || fw.bans("sshd").len() == 21);
    b.cli_json(&["unban", "203.0.113.1", "--jail", "sshd"]);
    fail(&j, "203.0.113.1");
    // A manual permanent ban.
    b.cli_json(&["ban", "sshd", "192.0.2.50", "--time", "permanent"]);
    eventually(10, "all bans in the kernel", || fw.bans("sshd").len() == 22);
    eventually(10, "their entries", || entries(&j, BAN_ID).len() == 23);
    b.stop();
    let reported: BTreeSet<String> = entries(&j, BAN_ID).into_iter().collect();
    assert_eq!(reported, fw.bans("sshd"));
    // A reboot-like loss of one member: only the journal still knows it.
    fw.remove("sshd", "203.0.113.2");
    forge_ban_entry("198.51.100.66");
    // Garbage over the header of the state file.
    let db = b.state.join("state.db");
    shell(&format!(
        "dd if=/dev/urandom of={} bs=512 count=2 conv=notrunc 2>/dev/null",
        db.display()
    ));

    b.start(&[]);
    let moved: Vec<String> = std::fs::read_dir(&b.state)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".corrupt-"))
        .collect();
    assert!(!moved.is_empty(), "the corrupt file was not moved aside");
    assert_eq!(fw.bans("sshd"), reported, "a reported ban is gone");
    assert!(!fw.bans("sshd").contains("198.51.100.66"));
    // Each adopted member keeps about its remaining time, not a fresh bantime; the
    // permanent one stays permanent.
    assert_eq!(fw.timeout("sshd", "192.0.2.50"), None);
    let t = fw.timeout("sshd", "203.0.113.3").unwrap();
    assert!((3000..=3600).contains(&t), "203.0.113.3: timeout {t}");
    let adopted = j.query(&format!("MESSAGE_ID={ADOPTED_ID} BANJO_JAIL=sshd"));
    assert_eq!(adopted.len(), 1, "{adopted:?}");
    assert_eq!(adopted[0]["BANJO_ADOPTED_KERNEL"], "21", "{adopted:?}");
    assert_eq!(adopted[0]["BANJO_ADOPTED_JOURNAL"], "1", "{adopted:?}");
    let bans = b.cli_json(&["bans"]);
    let count_of = |ip: &str| {
        bans.as_array()
            .unwrap()
            .iter()
            .find(|x| x["addr"] == ip && x["jail"] == "sshd")
            .map(|x| x["count"].clone())
    };
    assert_eq!(count_of("203.0.113.1"), Some(2.into()), "{bans}");
    // recidive's ban of it (two sshd bans in a day) came back from its set too.
    assert!(fw.bans("recidive").contains("203.0.113.1"));
    // TOTAL BANNED comes back from the journal too.
    assert_eq!(sshd(&b)["total_banned"], 23);
    // The adopted bans are durable now: a restart with this state keeps them.
    b.stop();
    b.start(&[]);
    assert_eq!(fw.bans("sshd"), reported);
    assert_eq!(sshd(&b)["total_banned"], 23);

    // state.db deleted (with its WAL) by hand: the same.
    b.stop();
    shell(&format!("rm -f {0} {0}-wal {0}-shm", db.display()));
    b.start(&[]);
    assert_eq!(fw.bans("sshd"), reported);
    // The next ban of a returning address continues its count: bantime increment
    // survived the loss (its 3rd ban: 4h).
    b.cli_json(&["unban", "203.0.113.1", "--jail", "sshd"]);
    fail(&j, "203.0.113.1");
    eventually(10, "the third ban", || {
        j.query(&format!(
            "MESSAGE_ID={BAN_ID} BANJO_JAIL=sshd BANJO_IP=203.0.113.1"
        ))
        .len()
            == 3
    });
    let third = j.query(&format!(
        "MESSAGE_ID={BAN_ID} BANJO_JAIL=sshd BANJO_IP=203.0.113.1"
    ));
    assert_eq!(third[2]["BANJO_BAN_COUNT"], "3", "{third:?}");
}

/// A state directory that cannot be opened at all at start (read-only): banjo starts
/// anyway, from memory, adopting the kernel's bans; says so loudly; bans new attackers
/// (reported as not durable); and once the directory is writable again it takes the
/// old state back, commits what happened meanwhile and reports it.
#[test]
fn read_only_state_dir_starts_from_memory_and_becomes_durable_when_it_can() {
    if !enter("read_only_state_dir_starts_from_memory_and_becomes_durable_when_it_can") {
        return;
    }
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), CONFIG);
    tmpfs(&b.state, "4m");
    b.start(&[]);
    for ip in ["203.0.113.1", "203.0.113.2"] {
        fail(&j, ip);
    }
    eventually(10, "two bans", || kernel_bans("banjo-sshd").len() == 2);
    b.stop();
    let d = b.state.display().to_string();
    assert_eq!(
        shell(&format!(
            "mount --bind {d} {d} && mount -o remount,bind,ro {d} && echo ok"
        ))
        .trim(),
        "ok"
    );
    b.start(&[]);
    let st = status(&b);
    assert_eq!(st["state"]["mode"], "memory", "{st}");
    assert_eq!(sshd(&b)["currently_banned"], 2, "{st}");
    assert_eq!(kernel_bans("banjo-sshd").len(), 2);
    let said = j.query(&format!("MESSAGE_ID={DEGRADED_ID} BANJO_MODE=memory"));
    assert_eq!(said.len(), 1, "{said:?}");
    fail(&j, "203.0.113.3");
    eventually(10, "a ban from memory", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.3".to_string())
    });
    eventually(10, "reported as not durable", || {
        entries(&j, NOT_DURABLE_ID) == ["203.0.113.3"]
    });
    assert!(!entries(&j, BAN_ID).contains(&"203.0.113.3".to_string()));

    assert_eq!(
        shell(&format!("mount -o remount,bind,rw {d} && echo ok")).trim(),
        "ok"
    );
    eventually(60, "durable again", || {
        status(&b)["state"]["durable"] == true
    });
    eventually(10, "the Ban entry", || {
        entries(&j, BAN_ID).contains(&"203.0.113.3".to_string())
    });
    assert_eq!(sshd(&b)["total_banned"], 3);
    b.stop();
    b.start(&[]);
    assert_eq!(kernel_bans("banjo-sshd").len(), 3);
    assert_eq!(status(&b)["state"]["durable"], true);
}

/// A state directory too small to open anything in (a full 64k tmpfs): before, banjo
/// exited and systemd restarted it in a loop with no protection at all. Now it runs
/// from memory, bans, and becomes durable once there is room.
#[test]
fn full_tiny_state_dir_still_protects_and_recovers() {
    if !enter("full_tiny_state_dir_still_protects_and_recovers") {
        return;
    }
    let j = Journald::start();
    let mut b = Banjo::new(j.work.path(), CONFIG);
    tmpfs(&b.state, "64k");
    shell(&format!(
        "dd if=/dev/zero of={}/filler bs=4k count=64 2>/dev/null",
        b.state.display()
    ));
    b.start(&[]);
    let st = status(&b);
    assert_eq!(st["state"]["mode"], "memory", "{st}");
    fail(&j, "203.0.113.9");
    eventually(10, "banned from memory", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.9".to_string())
    });
    b.wait_notify("STATE NOT DURABLE");
    resize(&b.state, "4m");
    eventually(60, "durable again", || {
        status(&b)["state"]["durable"] == true
    });
    eventually(10, "the Ban entry", || {
        entries(&j, BAN_ID) == ["203.0.113.9"]
    });
    b.stop();
    b.start(&[]);
    assert!(ipset_members("banjo-sshd-4").contains(&"203.0.113.9".to_string()));
}

/// banjo's own ban entry as journald records it (root, named banjo).
fn ban_entry(time_us: i64, jail: &str, ip: &str) -> common::E {
    common::E::new(time_us)
        .f("_UID", "0")
        .f("_COMM", "banjo")
        .f("SYSLOG_IDENTIFIER", "banjo")
        .f("MESSAGE_ID", BAN_ID)
        .f("BANJO_JAIL", jail)
        .f("BANJO_IP", ip)
        .f("BANJO_BANTIME", "1h")
        .f("BANJO_BAN_COUNT", "1")
        .f("BANJO_FAILURES", "5")
        .f("MESSAGE", &format!("[{jail}] Ban {ip} (5 failures, 1h)"))
}

fn sshd_failure(time_us: i64, ip: &str) -> common::E {
    common::E::sshd(
        time_us,
        4000,
        &format!("Failed password for root from {ip} port 4242 ssh2"),
    )
    .f("_UID", "0")
}

/// After a restart each jail re-reads its own findtime before the saved position, not
/// the longest findtime of all: with recidive's day, sshd used to count a whole day of
/// failures again ("total failed" in the thousands for a 10-minute window). recidive's
/// day is still rebuilt, and TOTAL BANNED survives the restart.
#[test]
fn warm_up_reads_each_jails_own_findtime_and_totals_survive_a_restart() {
    if !enter("warm_up_reads_each_jails_own_findtime_and_totals_survive_a_restart") {
        return;
    }
    let cfg = CONFIG.replace("maxretry = 1", "maxretry = 5");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    let t = now - 60 * common::SEC;
    let min = 60 * common::SEC;
    let mut e = Vec::new();
    // Two days of one failure a minute, each from its own /64: no ban, many entries.
    for k in (0..2 * 24 * 60).rev() {
        let ip = format!("2001:db8:a:{:x}::1", k + 1);
        e.push(sshd_failure(t - 6 * min - k * min, &ip));
    }
    // A ban of 203.0.113.77 by sshd 20 hours ago, which recidive must still count.
    e.push(ban_entry(t - 20 * 60 * min, "sshd", "203.0.113.77"));
    e.sort_by_key(|x| x.time_us);
    // The last five minutes: an attack banned by the first run.
    for s in 0..5 {
        e.push(sshd_failure(t - 5 * min + s * min, "203.0.113.5"));
    }
    common::make_journal(&journal, &e);
    let mut b = Banjo::new(dir.path(), &cfg);
    let jd = journal.display().to_string();
    let since = format!("@{}", (t - 5 * min) / common::SEC - 1);
    b.start(&["--journal-dir", &jd, "--since", &since]);
    eventually(10, "the attack banned", || {
        ipset_members("banjo-sshd-4").contains(&"203.0.113.5".to_string())
    });
    let before = sshd(&b);
    b.stop();

    // Meanwhile: sshd bans 203.0.113.77 again (its second within a day), one failure.
    common::make_journal_from(
        &journal,
        &[
            ban_entry(now, "sshd", "203.0.113.77"),
            sshd_failure(now + 1, "192.0.2.99"),
        ],
        10_000_000,
    );
    b.start(&["--journal-dir", &jd]);
    let after = sshd(&b);
    // Ten minutes of sshd before the position: about ten failures (and the new one),
    // not the day of them (1,440) that recidive's findtime used to pull in.
    let failed = after["total_failed"].as_u64().unwrap();
    assert!((6..=13).contains(&failed), "total failed {failed}: {after}");
    // Its ban, and (a first start: no state) the one the journal's history holds.
    assert_eq!(before["total_banned"], 2, "{before}");
    assert_eq!(after["total_banned"], 2, "TOTAL BANNED reset: {after}");
    eventually(10, "recidive counted the ban of 20 hours ago", || {
        ipset_members("banjo-recidive-4").contains(&"203.0.113.77".to_string())
    });
}

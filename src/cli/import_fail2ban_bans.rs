//! The active bans of fail2ban's database, into banjo's state (`import-fail2ban`'s
//! last step): each (jail, address) whose latest ban is still running becomes a banjo
//! ban with the time it has left, and every ban count becomes banjo's, so bantime
//! increment goes on where fail2ban left it. The kernel gets them when the daemon
//! starts (its reconcile puts every ban of the state into the firewall), so switching
//! from fail2ban to banjo sets no attacker free.
//!
//! What it must not do: ban an address banjo never bans (loopback, 0.0.0.0…), or
//! bans of jails that were not imported; it says which it left out and why.

use crate::addr::{unbannable, Addr};
use crate::compat::fail2ban::db;
use crate::compat::fail2ban::import::Import;
use crate::state::{Batch, Store, StoredBan};
use crate::timefmt::{format_time, parse_bantime, BanTime, SEC};
use serde::Serialize;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

#[derive(Debug, Serialize)]
pub struct BanReport {
    pub db: String,
    pub version: Option<i64>,
    pub state: String,
    pub imported: Vec<BanLine>,
    /// Ban counts carried over (active bans included).
    pub counts: usize,
    pub skipped: Vec<Skipped>,
    /// Nothing was written to the state.
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BanLine {
    pub jail: String,
    pub addr: String,
    /// `permanent` or the time the ban ends.
    pub until: String,
    pub count: u32,
}

#[derive(Debug, Serialize)]
pub struct Skipped {
    pub jail: String,
    pub ip: String,
    pub why: String,
}

/// Read `db`, keep the running bans of imported jails, write them to
/// `state_dir/state.db` unless `dry`.
pub fn import(db_path: &Path, imp: &Import, state_dir: &Path, dry: bool) -> BanReport {
    let state = state_dir.join("state.db");
    let mut r = BanReport {
        db: db_path.display().to_string(),
        version: None,
        state: state.display().to_string(),
        imported: Vec::new(),
        counts: 0,
        skipped: Vec::new(),
        dry_run: dry,
        note: None,
        error: None,
    };
    if !db_path.exists() {
        r.note = Some("no fail2ban database there: no bans to import".into());
        return r;
    }
    let (version, bans) = match db::read(db_path) {
        Ok(x) => x,
        Err(e) => {
            r.error = Some(e);
            return r;
        }
    };
    r.version = Some(version);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut batch = Batch::default();
    for b in bans {
        let skip = |why: String| Skipped {
            jail: b.jail.clone(),
            ip: b.ip.clone(),
            why,
        };
        let Some(j) = imp
            .jails
            .iter()
            .find(|j| j.name == b.jail && j.written && j.enabled)
        else {
            r.skipped.push(skip("its jail was not imported".into()));
            continue;
        };
        let ip: IpAddr = match b.ip.parse() {
            Ok(ip) => ip,
            Err(_) => {
                r.skipped.push(skip("not an address".into()));
                continue;
            }
        };
        if let Some(u) = unbannable(ip, false) {
            r.skipped
                .push(skip(format!("banjo never bans it ({})", u.as_str())));
            continue;
        }
        let addr = Addr::new(ip, 64);
        let jail_bantime = j
            .settings
            .get("bantime")
            .map(|v| v.trim_matches('"').to_owned())
            .and_then(|t| parse_bantime(&t).ok())
            .unwrap_or(BanTime::Finite(600 * SEC));
        let until_s = if b.permanent {
            None
        } else {
            match (b.bantime, jail_bantime) {
                (Some(t), _) => Some(b.timeofban.saturating_add(t)),
                (None, BanTime::Finite(us)) => Some(b.timeofban.saturating_add(us / SEC)),
                (None, BanTime::Permanent) => None,
            }
        };
        let count = b.bancount.max(1);
        batch
            .counts
            .push((j.banjo_name.clone(), addr, count, b.timeofban * SEC));
        r.counts += 1;
        if until_s.is_some_and(|u| u <= now) {
            continue;
        }
        r.imported.push(BanLine {
            jail: j.banjo_name.clone(),
            addr: addr.to_string(),
            until: match until_s {
                None => "permanent".into(),
                Some(u) => format_time(u * SEC),
            },
            count,
        });
        batch.bans.push(StoredBan {
            jail: j.banjo_name.clone(),
            addr,
            since_us: b.timeofban * SEC,
            until_us: until_s.map(|u| u * SEC),
            count,
            failures: b.failures,
        });
    }
    if dry || batch.is_empty() {
        return r;
    }
    if let Err(e) = std::fs::create_dir_all(state_dir) {
        r.error = Some(format!("{}: {e}", state_dir.display()));
        return r;
    }
    match Store::open(&state) {
        Ok((mut store, _)) => {
            if let Err(e) = store.commit(&batch) {
                r.error = Some(e.to_string());
            }
        }
        Err(e) => {
            r.error = Some(format!(
                "{e} (is banjo running? stop it first: the bans are put into the kernel at its next start)"
            ))
        }
    }
    r
}

pub fn print(o: &mut impl Write, r: &BanReport) -> std::io::Result<()> {
    match r.version {
        Some(v) => writeln!(o, "fail2ban database {} (schema version {v}):", r.db)?,
        None => writeln!(o, "fail2ban database {}:", r.db)?,
    }
    if let Some(n) = &r.note {
        writeln!(o, "  {n}")?;
    }
    for b in &r.imported {
        writeln!(
            o,
            "  ban {} in {} until {} (ban #{})",
            b.addr, b.jail, b.until, b.count
        )?;
    }
    for s in &r.skipped {
        writeln!(o, "  left out {} in {}: {}", s.ip, s.jail, s.why)?;
    }
    let verb = if r.dry_run {
        "would be written to"
    } else {
        "written to"
    };
    writeln!(
        o,
        "  {} active bans and {} ban counts {verb} {}; the daemon puts them into the kernel when it starts",
        r.imported.len(),
        r.counts,
        r.state
    )?;
    if let Some(e) = &r.error {
        writeln!(o, "  error: {e}")?;
    }
    Ok(())
}

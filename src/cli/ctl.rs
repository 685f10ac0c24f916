//! The verbs that talk to the running daemon over its control socket:
//! `status`, `bans`, `ban`, `unban`, `reload`, `metrics`.

use super::Exit;
use crate::control::client::call;
use crate::control::protocol::{
    BanInfo, Banned, JailStatus, MetricsText, Overview, Reloaded, Request, Response, StateHealth,
    Unbanned,
};
use crate::timefmt::format_time;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct SocketArgs {
    /// The daemon's control socket.
    #[arg(long, value_name = "PATH", default_value = crate::control::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One jail in detail (like fail2ban-client status sshd).
    pub jail: Option<String>,
    #[command(flatten)]
    pub s: SocketArgs,
}

#[derive(Debug, Args)]
pub struct BansArgs {
    #[command(flatten)]
    pub s: SocketArgs,
}

#[derive(Debug, Args)]
pub struct BanArgs {
    /// The jail whose chain gets the ban (see banjo status).
    pub jail: String,
    /// An address or a CIDR network (its network address: 198.51.100.0/24).
    pub addr: String,
    /// Ban length ("1h", "1w", "permanent"); default: the jail's bantime.
    #[arg(long)]
    pub time: Option<String>,
    /// Ban even an address in ignoreip or of this host (a network over one: never).
    #[arg(long)]
    pub force: bool,
    /// Allow a very wide network: IPv4 wider than /16, IPv6 wider than /32.
    #[arg(long)]
    pub wide: bool,
    #[command(flatten)]
    pub s: SocketArgs,
}

#[derive(Debug, Args)]
pub struct UnbanArgs {
    /// The address (or a network's address) to unban.
    #[arg(required_unless_present = "all")]
    pub addr: Option<String>,
    /// Only in this jail.
    #[arg(long)]
    pub jail: Option<String>,
    /// Lift every ban (of --jail, or of all jails).
    #[arg(long, conflicts_with = "addr")]
    pub all: bool,
    #[command(flatten)]
    pub s: SocketArgs,
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub s: SocketArgs,
}

#[derive(Debug, Args)]
pub struct ReloadArgs {
    #[command(flatten)]
    pub s: SocketArgs,
}

/// Send, print, map to an exit code: refused requests exit 1 with the daemon's reason.
/// The answer is read as the verb's reply type `T` (control/protocol.rs): one that does
/// not parse (a daemon of another version) is an error saying so, never a blank table.
/// `--json` prints the daemon's answer as it came (docs/JSON.md).
fn exchange<T: serde::de::DeserializeOwned>(
    s: &SocketArgs,
    req: Request,
    print: impl FnOnce(&T),
) -> anyhow::Result<Exit> {
    let verb = req.verb();
    let resp: Response = call(&s.socket, &req)?;
    if !resp.ok {
        eprintln!("banjo: {}", resp.error.unwrap_or_default());
        return Ok(Exit::Failed);
    }
    let reply: T = match T::deserialize(&resp.data) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "banjo: the daemon's answer to {verb} is not what this banjo reads ({e}); \
                 are the daemon and this command from different versions?"
            );
            return Ok(Exit::Failed);
        }
    };
    if s.json {
        super::output::json(&resp.data)?;
    } else {
        print(&reply);
    }
    Ok(Exit::Done)
}

fn print_jail(j: &JailStatus) {
    println!("Status for the jail: {}", j.jail);
    println!("|- Filter");
    println!("|  |- Currently failed: {}", j.currently_failed);
    println!("|  |- Total failed:     {}", j.total_failed);
    if j.windows_forgotten > 0 {
        // Only under a flood: the failures fit [daemon] tracker_memory no more.
        println!(
            "|  |- Windows forgotten: {} (tracker_memory full; fewest failures first)",
            j.windows_forgotten
        );
    }
    println!("|  `- Journal matches:  {}", j.journalmatch);
    println!("`- Actions");
    println!("   |- Currently banned: {}", j.currently_banned);
    println!("   |- Total banned:     {}", j.total_banned);
    println!("   `- Banned IP list:   {}", j.banned.join(" "));
    if j.unbannable > 0 {
        println!(
            "({} failures from addresses no ban can cover, such as 0.0.0.0 or multicast)",
            j.unbannable
        );
    }
    print_health(j);
}

/// A jail whose filter has gone blind, loudly (daemon/health.rs).
fn print_health(j: &JailStatus) {
    if let Some(h) = &j.health {
        println!(
            "{}: FILTER HEALTH ({h}): {}",
            j.jail,
            j.health_detail.as_deref().unwrap_or("")
        );
    }
}

/// The state's health: one line when durable, a loud one when not.
fn print_state(st: &StateHealth) {
    let path = &st.path;
    if st.durable {
        println!("state: durable ({path})");
        return;
    }
    let since = st.since_us.map(format_time).unwrap_or_default();
    let how = match st.mode.as_str() {
        "memory" => "no state file could be opened; running from memory",
        _ => "commits to the state file fail",
    };
    println!(
        "state: NOT DURABLE since {since}: {how}: {}",
        st.reason.as_deref().unwrap_or("")
    );
    println!(
        "       {} bans decided since are enforced in the kernel (with their timeouts) but not recorded; \
         {} attempts failed, the next in {} s",
        st.bans_not_durable.unwrap_or(0),
        st.attempts.unwrap_or(0),
        st.retry_in_ms.unwrap_or(0).div_ceil(1000)
    );
}

pub fn status(a: StatusArgs) -> anyhow::Result<Exit> {
    match a.jail {
        Some(jail) => exchange(&a.s, Request::Status { jail: Some(jail) }, print_jail),
        None => exchange(&a.s, Request::Status { jail: None }, print_overview),
    }
}

fn print_overview(d: &Overview) {
    println!(
        "{:<18} {:>16} {:>12} {:>16} {:>12}",
        "JAIL", "CURRENTLY FAILED", "TOTAL FAILED", "CURRENTLY BANNED", "TOTAL BANNED"
    );
    for j in &d.jails {
        println!(
            "{:<18} {:>16} {:>12} {:>16} {:>12}",
            j.jail, j.currently_failed, j.total_failed, j.currently_banned, j.total_banned
        );
    }
    for j in &d.jails {
        print_health(j);
    }
    for down in &d.down {
        println!("{:<18} down: {}", down.jail, down.reason);
    }
    println!("\n{} jails, {} active bans", d.jails.len(), d.active_bans);
    let t = &d.tracker_memory;
    let mib = |b: usize| b as f64 / f64::from(1 << 20);
    print!(
        "failure windows: {} in {:.1} of {:.0} MiB (tracker_memory)",
        t.windows,
        mib(t.used),
        mib(t.budget)
    );
    match t.windows_forgotten {
        0 => println!(),
        n => println!("; {n} forgotten to stay within it, fewest failures first"),
    }
    print_state(&d.state);
    if let Some(r) = &d.last_repair {
        println!(
            "firewall repaired {} times; last at {} ({}): {}",
            d.repairs,
            format_time(r.time_us),
            r.trigger,
            r.what
        );
    }
    match d.wake_group {
        Some(g) => println!(
            "woken {} times by new connections (nfnetlink_log group {g})",
            d.connection_wakeups
        ),
        None => {
            println!("new connections do not wake banjo (wake_on_connect off, or its group taken)")
        }
    }
    if d.control_evicted > 0 {
        println!(
            "control socket: {} connections closed to make room (each user has a share)",
            d.control_evicted
        );
    }
}

pub fn bans(a: BansArgs) -> anyhow::Result<Exit> {
    exchange(&a.s, Request::Bans, |list: &Vec<BanInfo>| {
        println!(
            "{:<14} {:<40} {:<21} {:<21} {:>5}",
            "JAIL", "ADDRESS", "SINCE", "UNTIL", "BANS"
        );
        for b in list {
            let until = b
                .until_us
                .map(format_time)
                .unwrap_or_else(|| "permanent".into());
            println!(
                "{:<14} {:<40} {:<21} {:<21} {:>5}",
                b.jail,
                b.addr,
                format_time(b.since_us),
                until,
                b.count
            );
        }
        println!("{} active bans", list.len());
    })
}

pub fn ban(a: BanArgs) -> anyhow::Result<Exit> {
    if let Some(t) = &a.time {
        if let Err(e) = crate::timefmt::parse_bantime(t) {
            eprintln!("banjo ban: --time: {e}");
            return Ok(Exit::Usage);
        }
    }
    exchange(
        &a.s,
        Request::Ban {
            jail: a.jail,
            addr: a.addr,
            time: a.time,
            force: a.force,
            wide: a.wide,
        },
        |d: &Banned| println!("banned {} in {} for {}", d.addr, d.jail, d.bantime),
    )
}

pub fn unban(a: UnbanArgs) -> anyhow::Result<Exit> {
    exchange(
        &a.s,
        Request::Unban {
            addr: a.addr,
            jail: a.jail,
            all: a.all,
        },
        |d: &Unbanned| {
            for u in &d.unbanned {
                println!("unbanned {u}");
            }
        },
    )
}

pub fn reload(a: ReloadArgs) -> anyhow::Result<Exit> {
    exchange(&a.s, Request::Reload, |d: &Reloaded| {
        println!("reloaded: {}", d.summary)
    })
}

/// The exposition as the daemon renders it for a scrape (with --json: inside
/// `{"text": …}`).
pub fn metrics(a: MetricsArgs) -> anyhow::Result<Exit> {
    exchange(&a.s, Request::Metrics, |d: &MetricsText| {
        print!("{}", d.text)
    })
}

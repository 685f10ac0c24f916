//! `banjo mail-ban`: mail one ban, the way fail2ban's `sendmail-whois(-lines)` and
//! `mail-whois(-lines)` actions did. Meant as an exec hook (`import-fail2ban` writes
//! it for `action_mw`/`action_mwl`): every program runs from an argv, no shell, so an
//! attacker's text in `{matches}` is only ever data in the mail body.

use super::Exit;
use clap::Args;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct MailBanArgs {
    /// `sendmail` (the message on stdin, `-t`) or `mail` (mailx: subject in argv), or a
    /// path to either.
    #[arg(long, default_value = "sendmail")]
    pub mta: String,
    #[arg(long, value_name = "ADDRESS")]
    pub to: String,
    #[arg(long, value_name = "ADDRESS")]
    pub from: String,
    /// Display name of the sender.
    #[arg(long, value_name = "NAME", default_value = "banjo")]
    pub from_name: String,
    /// Append `whois IP` to the mail (skipped when whois is not installed).
    #[arg(long)]
    pub whois: bool,
    #[arg(long)]
    pub jail: String,
    #[arg(long)]
    pub ip: String,
    #[arg(long, default_value = "0")]
    pub failures: String,
    #[arg(long, default_value = "")]
    pub bantime: String,
    /// The matched log lines (banjo's `{matches}`), appended to the mail.
    #[arg(long, default_value = "")]
    pub matches: String,
}

/// How long whois may take: the hook runs with a timeout of its own, and a mail
/// without whois is better than none.
const WHOIS_TIMEOUT: Duration = Duration::from_secs(15);

/// The mail as text: headers (for sendmail -t) and body.
pub fn message(a: &MailBanArgs, host: &str, whois: Option<&str>) -> (String, String) {
    let subject = format!("[banjo] {}: banned {} from {host}", a.jail, a.ip);
    let mut body = format!(
        "Hi,\n\nThe IP {} has just been banned by banjo after {} attempts against {}{}.\n",
        a.ip,
        a.failures,
        a.jail,
        if a.bantime.is_empty() {
            String::new()
        } else {
            format!(", for {}", a.bantime)
        }
    );
    if let Some(w) = whois {
        body.push_str(&format!(
            "\nHere is more information about {}:\n\n{w}\n",
            a.ip
        ));
    }
    if !a.matches.is_empty() {
        body.push_str(&format!(
            "\nLines containing failures of {}:\n\n{}\n",
            a.ip, a.matches
        ));
    }
    body.push_str("\nRegards,\n\nbanjo\n");
    (subject, body)
}

fn whois(ip: &str) -> String {
    let child = Command::new("whois")
        .arg(ip)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return format!("(whois could not be run: {e})"),
    };
    let mut out = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = out.as_mut() {
            let _ = o.take(256 << 10).read_to_string(&mut s);
        }
        s
    });
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() < WHOIS_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(50))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return "(whois took too long)".into();
            }
        }
    }
    reader.join().unwrap_or_default()
}

pub fn run(a: MailBanArgs) -> anyhow::Result<Exit> {
    if a.ip.parse::<IpAddr>().is_err() && a.ip.parse::<ipnet::IpNet>().is_err() {
        eprintln!("banjo mail-ban: --ip {:?} is not an address", a.ip);
        return Ok(Exit::Usage);
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    let w = a
        .whois
        .then(|| whois(a.ip.split('/').next().unwrap_or(&a.ip)));
    let (subject, body) = message(&a, &host, w.as_deref());
    let base = a.mta.rsplit('/').next().unwrap_or(&a.mta);
    let (mut cmd, input) = if base.contains("sendmail") {
        let mut c = Command::new(&a.mta);
        c.args(["-t", "-i", "-f", &a.from]);
        let text = format!(
            "Subject: {subject}\nFrom: {} <{}>\nTo: {}\n\n{body}",
            a.from_name, a.from, a.to
        );
        (c, text)
    } else {
        let mut c = Command::new(&a.mta);
        c.args(["-s", &subject, "-r", &a.from, &a.to]);
        (c, body)
    };
    let mut child = match cmd.stdin(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("banjo mail-ban: cannot run {}: {e}", a.mta);
            return Ok(Exit::Failed);
        }
    };
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(input.as_bytes());
    }
    let status = child.wait()?;
    if !status.success() {
        eprintln!("banjo mail-ban: {} exited with {status}", a.mta);
        return Ok(Exit::Failed);
    }
    Ok(Exit::Done)
}

//! Running the firewall tools: argv only (never a shell), stdin fed from a second
//! thread or a memfd, stderr kept for the error message. Shared by the backends.
//!
//! The pids of the last tools started are remembered ([`ours`]): nf_tables announces
//! every change with the pid of the process that made it, and the daemon's drift
//! watch must not take banjo's own bans and unbans for someone else's flush.

use super::FirewallError;
use std::collections::VecDeque;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// How many recent children are remembered: more than run between two reads of the
/// notification socket (one per batch), few enough that pid reuse cannot matter.
const REMEMBERED: usize = 256;
static RECENT: Mutex<VecDeque<u32>> = Mutex::new(VecDeque::new());

fn remember(child: &Child) {
    if let Ok(mut r) = RECENT.lock() {
        if r.len() == REMEMBERED {
            r.pop_front();
        }
        r.push_back(child.id());
    }
}

/// Was `pid` one of the tools banjo started lately?
pub fn ours(pid: u32) -> bool {
    RECENT.lock().is_ok_and(|r| r.contains(&pid))
}

/// Start `cmd` and remember its pid (see [`ours`]).
pub(super) fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
    let child = cmd.spawn()?;
    remember(&child);
    Ok(child)
}

/// Start `tool` with `input` as its stdin and return without waiting. The input sits
/// in a memfd rather than a pipe, so nobody has to stay around to feed it.
pub(super) fn spawn_with_input(
    step: &str,
    tool: &str,
    args: &[&str],
    input: &str,
) -> Result<Child, FirewallError> {
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    use std::io::{Seek, SeekFrom};
    let spawn_err = |source| FirewallError::Spawn {
        step: step.to_owned(),
        tool: tool.to_owned(),
        source,
    };
    let fd = memfd_create(c"banjo-fw-script", MemFdCreateFlag::MFD_CLOEXEC)
        .map_err(|e| spawn_err(e.into()))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(input.as_bytes()).map_err(spawn_err)?;
    file.seek(SeekFrom::Start(0)).map_err(spawn_err)?;
    spawn(
        Command::new(tool)
            .args(args)
            .stdin(Stdio::from(file))
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    )
    .map_err(spawn_err)
}

pub(super) struct Ran {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Run `tool` (no shell), feeding `stdin` from a second thread so a tool that stops
/// reading early (ipset on a bad line) cannot deadlock us.
pub(super) fn run(
    step: &str,
    tool: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<Ran, FirewallError> {
    let spawn_err = |source| FirewallError::Spawn {
        step: step.to_owned(),
        tool: tool.to_owned(),
        source,
    };
    let mut child = spawn(
        Command::new(tool)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .map_err(spawn_err)?;
    let pipe = child.stdin.take();
    let out = std::thread::scope(|s| {
        if let (Some(data), Some(mut pipe)) = (stdin, pipe) {
            // A write error means the tool quit early; its stderr says why.
            s.spawn(move || pipe.write_all(data));
        }
        child.wait_with_output()
    })
    .map_err(spawn_err)?;
    Ok(Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

pub(super) fn run_ok(
    step: &str,
    tool: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<String, FirewallError> {
    let ran = run(step, tool, args, stdin)?;
    if ran.ok {
        Ok(ran.stdout)
    } else {
        Err(FirewallError::Tool {
            step: step.to_owned(),
            tool: tool.to_owned(),
            stderr: ran.stderr,
        })
    }
}

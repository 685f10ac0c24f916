//! Running the firewall tools: argv only (never a shell), stdin fed from a second
//! thread or a memfd, stderr kept for the error message. Shared by the backends.

use super::FirewallError;
use std::io::Write;
use std::process::{Child, Command, Stdio};

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
    Command::new(tool)
        .args(args)
        .stdin(Stdio::from(file))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
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
    let mut child = Command::new(tool)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
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

//! Exec actions on ban and unban: argv templates run without a shell, in the
//! background, a few at a time, each with a timeout. A slow hook (a whois mail)
//! delays nothing: the ban is in the kernel before the hook starts.

use crate::config::{Action, ActionEvent};
use std::collections::VecDeque;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Queued hooks beyond this are dropped (and logged): a ban storm must not grow
/// memory without bound because a hook is slow.
const MAX_QUEUED: usize = 10_000;

/// Values for the `{placeholders}`.
pub struct Vars<'a> {
    pub ip: &'a str,
    pub jail: &'a str,
    pub failures: u32,
    pub bantime: &'a str,
    pub matches: &'a str,
}

struct Job {
    argv: Vec<String>,
    timeout: Duration,
}

struct Running {
    child: Child,
    deadline: Instant,
    what: String,
}

pub struct ActionRunner {
    queue: VecDeque<Job>,
    running: Vec<Running>,
    max: usize,
    pub dropped: u64,
}

impl ActionRunner {
    pub fn new(max: usize) -> ActionRunner {
        ActionRunner {
            queue: VecDeque::new(),
            running: Vec::new(),
            max: max.max(1),
            dropped: 0,
        }
    }

    /// Queue every action of `actions` for `event`.
    pub fn enqueue(&mut self, actions: &[Action], event: ActionEvent, vars: &Vars) {
        for a in actions.iter().filter(|a| a.on == event) {
            if self.queue.len() >= MAX_QUEUED {
                self.dropped += 1;
                continue;
            }
            self.queue.push_back(Job {
                argv: a.argv.iter().map(|arg| substitute(arg, vars)).collect(),
                timeout: Duration::from_micros(a.timeout_us.max(0) as u64),
            });
        }
        self.pump();
    }

    /// Reap finished hooks, kill overdue ones, start queued ones.
    pub fn pump(&mut self) {
        let now = Instant::now();
        self.running.retain_mut(|r| match r.child.try_wait() {
            Ok(Some(status)) => {
                if !status.success() {
                    tracing::warn!("action {} exited with {status}", r.what);
                }
                false
            }
            Ok(None) if now >= r.deadline => {
                tracing::warn!("action {} timed out; killed", r.what);
                let _ = r.child.kill();
                let _ = r.child.wait();
                false
            }
            Ok(None) => true,
            Err(_) => false,
        });
        while self.running.len() < self.max {
            let Some(job) = self.queue.pop_front() else {
                break;
            };
            let mut cmd = Command::new(&job.argv[0]);
            cmd.args(&job.argv[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // The daemon blocks signals to read them from a signalfd; a hook must
            // start with the default mask or it could not be stopped with SIGTERM.
            unsafe {
                cmd.pre_exec(|| {
                    let all = nix::sys::signal::SigSet::all();
                    nix::sys::signal::pthread_sigmask(
                        nix::sys::signal::SigmaskHow::SIG_UNBLOCK,
                        Some(&all),
                        None,
                    )
                    .map_err(std::io::Error::from)
                });
            }
            let what = job.argv.join(" ");
            match cmd.spawn() {
                Ok(child) => self.running.push(Running {
                    child,
                    deadline: now + job.timeout,
                    what,
                }),
                Err(e) => tracing::warn!("action {what} could not start: {e}"),
            }
        }
    }

    /// When the loop must look again (a hook may finish or time out).
    pub fn busy(&self) -> bool {
        !self.running.is_empty() || !self.queue.is_empty()
    }
}

fn substitute(arg: &str, v: &Vars) -> String {
    arg.replace("{ip}", v.ip)
        .replace("{jail}", v.jail)
        .replace("{failures}", &v.failures.to_string())
        .replace("{bantime}", v.bantime)
        .replace("{matches}", v.matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_without_shell_and_times_out() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let actions = vec![
            Action {
                on: ActionEvent::Ban,
                argv: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    format!("echo \"$1\" > {}", out.display()),
                    "x".into(),
                    "{ip} {jail}".into(),
                ],
                timeout_us: 5_000_000,
            },
            Action {
                on: ActionEvent::Ban,
                argv: vec!["/bin/sleep".into(), "30".into()],
                timeout_us: 200_000,
            },
        ];
        let mut r = ActionRunner::new(4);
        let vars = Vars {
            ip: "192.0.2.1; rm -rf /",
            jail: "sshd",
            failures: 5,
            bantime: "1h",
            matches: "",
        };
        let t = Instant::now();
        r.enqueue(&actions, ActionEvent::Ban, &vars);
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "enqueue must not wait for hooks"
        );
        while r.busy() && t.elapsed() < Duration::from_secs(5) {
            r.pump();
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!r.busy(), "sleep 30 must have been killed at its timeout");
        // The placeholder value arrives as one argument, shell characters and all.
        assert_eq!(
            std::fs::read_to_string(out).unwrap(),
            "192.0.2.1; rm -rf / sshd\n"
        );
    }
}

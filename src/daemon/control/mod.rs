//! Answering control requests: who may ask what (root and banjo's own user
//! everything, members of `readers_group` the read-only verbs), then one handler per
//! verb, each in its own file: status.rs, bans.rs, ban.rs, unban.rs, reload.rs,
//! metrics.rs. A handler returns the verb's typed
//! [`Reply`](crate::control::protocol::Reply) or why not (control/protocol.rs); the wire frame is made here.

mod ban;
mod bans;
mod metrics;
mod reload;
mod status;
mod unban;

use super::Daemon;
use crate::control::protocol::{Request, Response};
use crate::control::server::{peer_in_group, Peer};

impl Daemon {
    pub(crate) fn serve_control(&mut self) {
        for inc in self.server.service() {
            *self.metrics.control.entry(inc.request.verb()).or_default() += 1;
            let resp = if !self.allowed(&inc.peer, &inc.request) {
                Response::err(format!(
                    "permission denied: uid {} may not {}",
                    inc.peer.uid,
                    if inc.request.read_only() {
                        "read status"
                    } else {
                        "change bans or reload"
                    }
                ))
            } else {
                self.handle(inc.request)
            };
            self.server.respond(inc.client, &resp);
        }
    }

    fn allowed(&self, peer: &Peer, req: &Request) -> bool {
        if peer.uid == 0 || peer.uid == nix::unistd::geteuid().as_raw() {
            return true;
        }
        req.read_only() && self.readers_gid.is_some_and(|g| peer_in_group(peer, g))
    }

    /// One request, to its verb's handler (a file each).
    fn handle(&mut self, req: Request) -> Response {
        let answer = match req {
            Request::Status { jail: None } => self.status_overview(),
            Request::Status { jail: Some(name) } => self.status_of(&name),
            Request::Bans => self.bans(),
            Request::Ban {
                jail,
                addr,
                time,
                force,
                wide,
            } => self.manual_ban(&jail, &addr, time.as_deref(), force, wide),
            Request::Unban { addr, jail, all } => {
                self.manual_unban(addr.as_deref(), jail.as_deref(), all)
            }
            Request::Metrics => self.metrics_text(),
            Request::Reload => self.reload_verb(),
        };
        Response::from(answer)
    }

    fn jail_names(&self) -> String {
        self.pipeline
            .jails
            .iter()
            .map(|j| j.config.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// "no running jail", or why it is down.
    fn no_jail(&self, jail: &str) -> String {
        match self.down.iter().find(|d| d.jail == jail) {
            Some(d) => format!(
                "jail {jail} is down: {}; once that is fixed, banjo reload starts it",
                d.reason
            ),
            None => format!("no running jail {jail:?}; running: {}", self.jail_names()),
        }
    }
}

//! `reload`: the configuration read again (daemon/reload.rs); a configuration with
//! errors is refused and the running one kept.

use crate::control::protocol::{Answer, Reloaded, Reply};
use crate::daemon::Daemon;

impl Daemon {
    pub(super) fn reload_verb(&mut self) -> Answer {
        match self.reload() {
            Ok(summary) => Ok(Reply::Reloaded(Reloaded { summary })),
            Err(e) => Err(format!("{e:#}")),
        }
    }
}

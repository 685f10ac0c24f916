//! `metrics`: every metric in Prometheus's text format (docs/METRICS.md).

use crate::control::protocol::{Answer, MetricsText, Reply};
use crate::daemon::Daemon;

impl Daemon {
    pub(super) fn metrics_text(&self) -> Answer {
        Ok(Reply::Metrics(MetricsText {
            text: self.render_metrics(),
        }))
    }
}

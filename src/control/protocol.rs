//! The control protocol: one JSON request, one JSON response, each in a frame of a
//! 4-byte big-endian length and JSON: a request at most [`MAX_FRAME`] bytes (the
//! daemon reads it), a response at most [`MAX_RESPONSE`] (100k bans listed by
//! `banjo bans` are a few MiB).
//!
//! Typed at both ends: a [`Request`] per verb, and for each a [`Reply`] whose shape is
//! that verb's; on the wire a reply is the `data` of a [`Response`] (`ok`, `error`,
//! `data`: docs/JSON.md), which stays the frame the CLI reads.

use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

/// Largest request the daemon accepts; a bigger length prefix is refused unread.
pub const MAX_FRAME: usize = 1 << 20;
/// Largest response the CLI accepts.
pub const MAX_RESPONSE: usize = 256 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "cmd", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    /// All jails, or one.
    Status {
        jail: Option<String>,
    },
    /// Every active ban.
    Bans,
    Ban {
        jail: String,
        addr: String,
        /// Duration text ("1h"); the jail's bantime when absent.
        time: Option<String>,
        /// Ban even an address in ignoreip / ignoreself.
        #[serde(default)]
        force: bool,
        /// Allow a very wide network (wider than /16 or /32; see addr.rs).
        #[serde(default)]
        wide: bool,
    },
    Unban {
        addr: Option<String>,
        jail: Option<String>,
        #[serde(default)]
        all: bool,
    },
    Reload,
    /// Every metric, in Prometheus's text format (docs/METRICS.md).
    Metrics,
}

impl Request {
    /// Verbs a reader (member of the readers group) may use.
    pub fn read_only(&self) -> bool {
        matches!(
            self,
            Request::Status { .. } | Request::Bans | Request::Metrics
        )
    }

    /// The verb, as `banjo_control_requests_total` labels it.
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Status { .. } => "status",
            Request::Bans => "bans",
            Request::Ban { .. } => "ban",
            Request::Unban { .. } => "unban",
            Request::Reload => "reload",
            Request::Metrics => "metrics",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl Response {
    pub fn ok(data: serde_json::Value) -> Response {
        Response {
            ok: true,
            error: None,
            data,
        }
    }
    pub fn err(msg: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(msg.into()),
            data: serde_json::Value::Null,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JailStatus {
    pub jail: String,
    pub filter: String,
    pub journalmatch: String,
    pub currently_failed: usize,
    /// Failure windows forgotten to stay within `[daemon] tracker_memory` (the ones
    /// with the fewest failures first).
    #[serde(default)]
    pub windows_forgotten: u64,
    pub total_failed: u64,
    pub currently_banned: usize,
    pub total_banned: u64,
    pub banned: Vec<String>,
    /// Failures from addresses no ban can cover (0.0.0.0, multicast…), counted.
    #[serde(default)]
    pub unbannable: u64,
    /// Filter health: what is wrong ("silent", "no_entries", "unit_missing") and
    /// why, in words; absent while healthy (daemon/health.rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BanInfo {
    pub jail: String,
    pub addr: String,
    pub since_us: i64,
    pub until_us: Option<i64>,
    pub count: u32,
    pub failures: u32,
}

/// `status`: the overview (counts only; `status JAIL` lists addresses).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Overview {
    pub jails: Vec<JailStatus>,
    pub active_bans: usize,
    pub tracker_memory: TrackerMemory,
    /// The nfnetlink_log group the wake rules log to, when the daemon listens on it.
    pub wake_group: Option<u16>,
    pub connection_wakeups: u64,
    /// Control connections closed to make room for others (per-uid room).
    pub control_evicted: u64,
    pub state: StateHealth,
    /// Configured jails that are not running, and why.
    pub down: Vec<JailDown>,
    /// Firewall drift repairs since start, and the last one.
    pub repairs: u64,
    pub last_repair: Option<Repair>,
}

/// What the failure windows hold, against `[daemon] tracker_memory`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrackerMemory {
    pub used: usize,
    pub budget: usize,
    pub windows: usize,
    pub windows_forgotten: u64,
}

/// The state's health: durable, or why not and since when (the fields after `path`
/// only while it is not).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StateHealth {
    pub mode: String,
    pub durable: bool,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_us: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bans_not_durable: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commits_kept: Option<usize>,
}

/// A configured jail that is not running, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JailDown {
    pub jail: String,
    pub reason: String,
}

/// A firewall drift repair.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Repair {
    pub time_us: i64,
    pub trigger: String,
    pub jails: Vec<String>,
    pub what: String,
}

/// `ban`: what was banned, for how long.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Banned {
    pub jail: String,
    pub addr: String,
    pub bantime: String,
}

/// `unban`: "JAIL ADDR" of each ban lifted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unbanned {
    pub unbanned: Vec<String>,
}

/// `reload`: what the reload did, in words.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reloaded {
    pub summary: String,
}

/// `metrics`: Prometheus's text format.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetricsText {
    pub text: String,
}

/// The answer to a request that succeeded: one shape per verb.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Reply {
    Overview(Box<Overview>),
    Jail(Box<JailStatus>),
    Bans(Vec<BanInfo>),
    Banned(Banned),
    Unbanned(Unbanned),
    Reloaded(Reloaded),
    Metrics(MetricsText),
}

/// What a handler returns: its reply, or why the request was refused or failed.
pub type Answer = Result<Reply, String>;

impl From<Answer> for Response {
    fn from(a: Answer) -> Response {
        match a {
            Ok(reply) => Response::ok(serde_json::to_value(reply).unwrap_or_default()),
            Err(msg) => Response::err(msg),
        }
    }
}

/// Encode one frame.
pub fn encode(v: &impl Serialize) -> Vec<u8> {
    let body = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// If `buf` holds a whole frame, its body's length and the bytes it spans.
/// Err when the announced length is over the limit.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, String> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let n = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if n > MAX_FRAME {
        return Err(format!(
            "frame of {n} bytes is over the {MAX_FRAME}-byte limit"
        ));
    }
    Ok((buf.len() >= 4 + n).then_some(n))
}

/// Blocking write and read of one frame (client side).
pub fn write_frame(w: &mut impl Write, v: &impl Serialize) -> std::io::Result<()> {
    w.write_all(&encode(v))?;
    w.flush()
}

pub fn read_frame<T: for<'de> Deserialize<'de>>(r: &mut impl Read) -> std::io::Result<T> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_RESPONSE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut body = vec![0u8; n];
    r.read_exact(&mut body)?;
    serde_json::from_slice(&body)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let req = Request::Ban {
            jail: "sshd".into(),
            addr: "192.0.2.1".into(),
            time: Some("1h".into()),
            force: false,
            wide: true,
        };
        let f = encode(&req);
        assert_eq!(frame_len(&f).unwrap(), Some(f.len() - 4));
        assert_eq!(frame_len(&f[..3]).unwrap(), None);
        let back: Request = serde_json::from_slice(&f[4..]).unwrap();
        assert_eq!(back, req);
        assert!(frame_len(&[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"status","bogus":1}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"rm -rf"}"#).is_err());
    }

    #[test]
    fn a_reply_is_the_data_of_an_ok_response_and_a_refusal_its_error() {
        let r = Response::from(Ok(Reply::Unbanned(Unbanned {
            unbanned: vec!["sshd 192.0.2.1".into()],
        })) as Answer);
        assert!(r.ok);
        assert_eq!(
            r.data,
            serde_json::json!({ "unbanned": ["sshd 192.0.2.1"] })
        );
        let r = Response::from(Err("no running jail \"x\"".to_string()) as Answer);
        assert!(!r.ok);
        assert_eq!(r.error.as_deref(), Some("no running jail \"x\""));
        assert!(r.data.is_null());
        // The state's health names only what applies.
        let durable = StateHealth {
            mode: "durable".into(),
            durable: true,
            path: "/var/lib/banjo/state.db".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&durable).unwrap(),
            serde_json::json!({ "mode": "durable", "durable": true, "path": "/var/lib/banjo/state.db" })
        );
    }
}

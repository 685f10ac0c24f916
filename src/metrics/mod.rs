//! Metrics in Prometheus's text format: the exposition writer, the `/metrics`
//! endpoint and the textfile for node_exporter.
//!
//! Owns the format and the outlets. Must not own the numbers: the daemon keeps its
//! counters where they arise and renders them into an [`Exposition`] on demand, so a
//! daemon nobody scrapes does no work for metrics.

pub mod endpoint;
pub mod exposition;

pub use exposition::{Exposition, Family, Histogram, Kind};

use std::io::Write;
use std::path::Path;

/// Write `text` to `path` atomically, as node_exporter's textfile collector needs (it
/// may read at any moment): a temporary file in the same directory, then rename.
pub fn write_textfile(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "banjo.prom".into());
    // The collector reads only *.prom: a temporary name without that ending is never
    // read half-written.
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn textfile_is_replaced_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("banjo.prom");
        super::write_textfile(&p, "a 1\n").unwrap();
        super::write_textfile(&p, "a 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a 2\n");
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary left: {names:?}");
        let e = super::write_textfile(&d.path().join("missing/banjo.prom"), "x").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}

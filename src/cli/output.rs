//! Small helpers shared by the printers.

use std::io::Write;

/// Write to stdout, treating a closed pipe (`banjo … | head`) as a normal end.
pub fn out() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock())
}

/// Print JSON followed by a newline.
pub fn json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    let mut o = out();
    serde_json::to_writer_pretty(&mut o, v)?;
    writeln!(o)?;
    o.flush()?;
    Ok(())
}

/// Ignore EPIPE: the reader went away, nothing left to do.
pub fn ok_if_pipe(r: std::io::Result<()>) -> anyhow::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

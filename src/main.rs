//! The `banjo` binary: parse arguments, run, map the outcome to an exit code.

use banjo::cli::Exit;
use clap::Parser;

fn main() {
    let cli = banjo::cli::Cli::parse();
    if !matches!(cli.command, banjo::cli::Command::Run(_)) {
        // `banjo status | head` should end quietly, as Unix tools do. The daemon keeps
        // Rust's default (SIGPIPE ignored): a client that hangs up must not kill it.
        // Safety: no other threads exist yet; SIG_DFL is always a valid disposition.
        unsafe {
            let _ = nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGPIPE,
                nix::sys::signal::SigHandler::SigDfl,
            );
        }
    }
    // Exit codes, as systemd and scripts read them: 0 ok, 1 runtime failure, 2 bad
    // usage or configuration.
    let code = match banjo::cli::run(cli) {
        Ok(Exit::Done) => 0,
        Ok(Exit::Failed) => 1,
        Ok(Exit::Usage) => 2,
        Err(e) => {
            eprintln!("banjo: error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

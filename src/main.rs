//! The `banjo` binary: parse arguments, run, map the outcome to an exit code.

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
    let code = match banjo::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("banjo: error: {e:#}");
            banjo::cli::EXIT_FAILURE
        }
    };
    std::process::exit(code);
}

//! The `banjo` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;

fn main() {
    let cli = banjo::cli::Cli::parse();
    let code = match banjo::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("banjo: error: {e:#}");
            banjo::cli::EXIT_FAILURE
        }
    };
    std::process::exit(code);
}

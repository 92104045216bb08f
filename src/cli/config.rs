//! `fincert config check`: loads the settings exactly as `serve` would (defaults, file,
//! `FINCERT_*`), validates them, and prints the effective configuration with every secret
//! redacted, then the development defaults still in force on a deployed node (see
//! `config::check` for the rule). Exit 0 when valid (warnings do not fail it), 2 when not
//! (`cli::main` prints the error before this runs).

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use super::exit;
use crate::config::Settings;

/// `fincert config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it (secrets redacted) with its warnings.
    Check {
        /// Output format of the configuration.
        #[arg(long, value_enum, default_value_t = Output::Toml)]
        format: Output,
    },
}

/// How the configuration is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// The file format fincert reads.
    Toml,
    /// For tools.
    Json,
}

/// Runs a `config` verb on settings that loaded and validated.
pub fn run(cmd: ConfigCommand, settings: &Settings) -> ExitCode {
    let ConfigCommand::Check { format } = cmd;
    let printed = match format {
        Output::Toml => settings.to_redacted_toml(),
        Output::Json => settings.to_redacted_json(),
    };
    match printed {
        Ok(text) => println!("{}", text.trim_end()),
        Err(e) => {
            eprintln!("fincert: cannot print the configuration: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    }
    let warnings = settings.development_warnings();
    for w in &warnings {
        eprintln!("fincert: warning: {w}");
    }
    eprintln!(
        "fincert: configuration valid ({} warning{})",
        warnings.len(),
        if warnings.len() == 1 { "" } else { "s" }
    );
    ExitCode::SUCCESS
}

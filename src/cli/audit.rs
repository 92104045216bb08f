//! `fincert audit ...`: audit log tools for operators.

use std::process::ExitCode;

use clap::Subcommand;

use super::exit;
use crate::{config::Settings, store};

/// Audit verbs.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; print `ok N events` (exit 0) or the first broken link (exit 1).
    Verify,
}

/// Runs an audit verb.
pub async fn run(cmd: AuditCommand, settings: Settings) -> ExitCode {
    match cmd {
        AuditCommand::Verify => verify(settings).await,
    }
}

async fn verify(settings: Settings) -> ExitCode {
    let db = match store::connect(&settings).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("fincert: {e}");
            return ExitCode::from(exit::DEPENDENCY);
        }
    };
    match store::audit::verify(&db).await {
        Ok(Ok(count)) => {
            println!("ok {count} events");
            ExitCode::SUCCESS
        }
        Ok(Err(broken)) => {
            println!("broken: {broken}");
            ExitCode::from(exit::CHECK_FAILED)
        }
        Err(e) => {
            eprintln!("fincert: audit verify failed: {e}");
            ExitCode::from(exit::DEPENDENCY)
        }
    }
}

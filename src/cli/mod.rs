//! The command line: one verb per operator task, one file per verb group.
//!
//! Add a verb group (`ca`, `institution`, `kms`) by adding a variant to [`Command`] and a file
//! beside this one with its `run` function. Exit codes: 0 success, 1 a check failed (e.g. the
//! audit chain is broken), 2 configuration or usage error, 3 a dependency failed.

mod audit;
mod ca;
mod config;
mod customers;
mod institution;
mod kms;
mod migrate;
mod serve;
mod sign;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::{config::Settings, telemetry};

/// fincert: cloud keystore and remote signing for financial certificates.
#[derive(Debug, Parser)]
#[command(name = "fincert", version, about)]
pub struct Cli {
    /// TOML configuration file (settings in FINCERT_* variables override it).
    #[arg(long, short, global = true, env = "FINCERT_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service until SIGTERM/SIGINT.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Configuration: check (validate and print it, secrets redacted, with its warnings).
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Certificate authority: init, show.
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Known customers for the development identity verifier.
    #[command(subcommand)]
    Customers(customers::CustomersCommand),
    /// Security media an institution issued (security card, OTP).
    #[command(subcommand)]
    Media(customers::MediaCommand),
    /// Relying institutions: add, list, rotate-secret, webhook-secret.
    #[command(subcommand)]
    Institution(institution::InstitutionCommand),
    /// Remote signing over the API: request, login, status (institutions); pending, approve,
    /// reject (holders).
    #[command(subcommand)]
    Sign(sign::SignCommand),
    /// Verify a signature, its certificate chain and status through the API.
    Verify(sign::VerifyCommand),
    /// Key management: status, rotate (local), rewrap.
    #[command(subcommand)]
    Kms(kms::KmsCommand),
}

/// Connects to the database and applies pending migrations (audited), for the verbs that
/// work on the database; an error is the message to print.
async fn connect_migrated(
    settings: &Settings,
    clock: &crate::clock::SharedClock,
) -> Result<sea_orm::DatabaseConnection, String> {
    let db = crate::store::connect(settings)
        .await
        .map_err(|e| e.to_string())?;
    crate::startup::migrate_and_audit(&db, clock)
        .await
        .map_err(|e| e.to_string())?;
    Ok(db)
}

/// Exit codes.
pub mod exit {
    /// A check failed.
    pub const CHECK_FAILED: u8 = 1;
    /// Bad configuration or usage.
    pub const CONFIG: u8 = 2;
    /// A dependency (database, KMS) failed.
    pub const DEPENDENCY: u8 = 3;
}

/// Parses arguments, loads settings, runs the verb.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fincert: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    if let Command::Config(cmd) = cli.command {
        return config::run(cmd, &settings);
    }
    telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fincert: cannot start the async runtime: {e}");
            return ExitCode::from(exit::DEPENDENCY);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve::run(settings).await,
            Command::Migrate => migrate::run(settings).await,
            // Answered above, before the runtime starts.
            Command::Config(_) => ExitCode::SUCCESS,
            Command::Audit(cmd) => audit::run(cmd, settings).await,
            Command::Kms(cmd) => kms::run(cmd, settings).await,
            Command::Ca(cmd) => ca::run(cmd, settings).await,
            Command::Customers(cmd) => customers::run_customers(cmd, settings).await,
            Command::Media(cmd) => customers::run_media(cmd, settings).await,
            Command::Institution(cmd) => institution::run(cmd, settings).await,
            Command::Sign(cmd) => sign::run(cmd).await,
            Command::Verify(cmd) => sign::verify(cmd).await,
        }
    });
    // Every task is gone with the runtime; then the HSM module (if any) is finalized, so its
    // own exit-time destructors do not run over a live connection (SoftHSM2 crashes there).
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    crate::custody::kms::pkcs11::finalize_all();
    code
}

//! `fincert audit ...`: audit log tools for operators.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Args, Subcommand};

use super::exit;
use crate::{
    audit::AuditPublicKey,
    checkpoints::{
        self,
        archive::{self, ArchiveError, Month},
        key::{stored_keys, trusted_keys},
        witness::DirWitness,
    },
    clock::{SharedClock, SystemClock},
    config::{KmsBackend, Settings},
    custody::{Custody, kms},
    store,
};

/// Audit verbs.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain against every signed checkpoint and the checkpoints' own chain;
    /// print `ok N events` (exit 0) or the first broken link (exit 1).
    Verify(VerifyArgs),
    /// Export every whole month of the log before --before (oldest first; never the current
    /// month) to files in --to — the events, one per line, and a manifest with their signed
    /// checkpoints — then remove those months from the live log (PostgreSQL drops their
    /// partitions). `audit verify --archive DIR` walks the chain through them.
    Archive(ArchiveArgs),
}

/// `audit archive` options.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Archive the months before this one (`YYYY-MM`, UTC).
    #[arg(long, value_name = "YYYY-MM")]
    before: String,
    /// The archive directory (made if missing; files already there are never overwritten).
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
}

/// `audit verify` options.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Trust only these audit public keys (PEM or DER SubjectPublicKeyInfo, as
    /// `GET /v1/audit/keys` serves them) instead of asking the KMS which keys are the
    /// service's. Repeatable.
    #[arg(long = "public-key", value_name = "FILE")]
    public_keys: Vec<PathBuf>,
    /// A witness directory: every checkpoint it holds must be signed and in the database,
    /// unchanged.
    #[arg(long, value_name = "DIR")]
    witness: Option<PathBuf>,
    /// The archive directory `audit archive` wrote to: the archived months are walked from
    /// it (each must be there, unchanged) before the live log. Without it, the walk starts
    /// where the last archive ended.
    #[arg(long, value_name = "DIR")]
    archive: Option<PathBuf>,
}

/// Runs an audit verb.
pub async fn run(cmd: AuditCommand, settings: Settings) -> ExitCode {
    match cmd {
        AuditCommand::Verify(args) => verify(args, settings).await,
        AuditCommand::Archive(args) => archive(args, settings).await,
    }
}

async fn archive(args: ArchiveArgs, settings: Settings) -> ExitCode {
    let before: Month = match args.before.parse() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("fincert: --before: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    let clock: SharedClock = Arc::new(SystemClock);
    let db = match super::connect_migrated(&settings, &clock).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("fincert: {e}");
            return ExitCode::from(exit::DEPENDENCY);
        }
    };
    match archive::archive(&db, &clock, before, &args.to).await {
        Ok(months) if months.is_empty() => {
            println!("nothing to archive before {before}");
            ExitCode::SUCCESS
        }
        Ok(months) => {
            for m in &months {
                println!(
                    "archived {}: events {}..{} ({}) to {}",
                    m.month,
                    m.first_seq,
                    m.last_seq,
                    m.events,
                    args.to.display()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e @ ArchiveError::Refused(_)) => {
            eprintln!("fincert: audit archive refused: {e}");
            ExitCode::from(exit::CONFIG)
        }
        Err(e @ ArchiveError::Broken(_)) => {
            println!("broken: {e}");
            ExitCode::from(exit::CHECK_FAILED)
        }
        Err(e) => {
            eprintln!("fincert: audit archive failed: {e}");
            ExitCode::from(exit::DEPENDENCY)
        }
    }
}

fn fail(what: impl std::fmt::Display) -> ExitCode {
    eprintln!("fincert: audit verify failed: {what}");
    ExitCode::from(exit::DEPENDENCY)
}

/// A public key file: PEM (`PUBLIC KEY`) or DER.
fn read_key(path: &PathBuf) -> Result<AuditPublicKey, String> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let der = match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN PUBLIC KEY-----") => {
            let b64: String = text
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .concat();
            STANDARD
                .decode(b64.trim())
                .map_err(|_| format!("{}: not a PEM public key", path.display()))?
        }
        _ => bytes,
    };
    Ok(AuditPublicKey::new(der))
}

async fn verify(args: VerifyArgs, settings: Settings) -> ExitCode {
    let db = match store::connect(&settings).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("fincert: {e}");
            return ExitCode::from(exit::DEPENDENCY);
        }
    };
    let keys = if args.public_keys.is_empty() {
        if args.witness.is_none()
            && store::checkpoints::last(&db)
                .await
                .is_ok_and(|c| c.is_none())
        {
            // No checkpoint to check a signature of.
            Vec::new()
        } else if settings.kms.backend == KmsBackend::Local
            && !settings.local_keyring_path().is_file()
        {
            eprintln!(
                "WARNING: the local keyring {} is not here: the audit keys are taken from the \
                 database unconfirmed (a database owner could have replaced them); run with the \
                 server's settings or pass --public-key",
                settings.local_keyring_path().display()
            );
            match stored_keys(&db).await {
                Ok(keys) => keys,
                Err(e) => return fail(e),
            }
        } else {
            let clock: SharedClock = Arc::new(SystemClock);
            let custody = match kms::connect(&settings).await {
                Ok(k) => Arc::new(Custody::new(k, &settings.custody, clock)),
                Err(e) => return fail(e),
            };
            match trusted_keys(&db, &settings, &custody).await {
                Ok(Ok(keys)) => keys,
                Ok(Err(broken)) => {
                    println!("broken: {broken}");
                    return ExitCode::from(exit::CHECK_FAILED);
                }
                Err(e) => return fail(e),
            }
        }
    } else {
        let mut keys = Vec::new();
        for path in &args.public_keys {
            match read_key(path) {
                Ok(k) => keys.push(k),
                Err(e) => return fail(e),
            }
        }
        keys
    };
    let witness = match &args.witness {
        None => None,
        Some(dir) => match DirWitness::read_all(dir) {
            Ok(copies) => Some(copies),
            Err(e) => return fail(e),
        },
    };
    match checkpoints::verify(&db, keys, witness, args.archive.as_deref()).await {
        Ok(Ok(report)) => {
            println!("ok {} events", report.events);
            if report.archived_upto > 0 {
                if report.archive_walked {
                    eprintln!("events 1..{} walked from the archive", report.archived_upto);
                } else {
                    eprintln!(
                        "events 1..{} are archived and were not walked (pass --archive DIR)",
                        report.archived_upto
                    );
                }
            }
            eprintln!(
                "{} checkpoints, signed up to event {}{}",
                report.checkpoints,
                report.signed_upto,
                match args.witness {
                    Some(_) => format!("; {} witness copies match", report.witnessed),
                    None => String::new(),
                }
            );
            ExitCode::SUCCESS
        }
        Ok(Err(broken)) => {
            println!("broken: {broken}");
            ExitCode::from(exit::CHECK_FAILED)
        }
        Err(e) => fail(e),
    }
}

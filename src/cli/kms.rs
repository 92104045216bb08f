//! `fincert kms ...`: key-management tasks for operators.
//!
//! - `status`: which KMS key is current and how many wrapped data keys sit under each key.
//! - `rotate`: (local backend) make a new wrapping key current; old keys stay to open old blobs.
//!   With AWS, rotation is a new key id in `kms.aws_key_id` (or KMS's own automatic rotation);
//!   with an HSM, a new label in `kms.pkcs11_wrap_key_label` (`create-keys` makes the key).
//! - `create-keys`: (pkcs11 backend) create the wrapping and HMAC keys on the token if missing,
//!   sensitive and non-extractable; existing keys are checked, never replaced.
//! - `rewrap`: move every wrapped data key and security-medium secret to the current key
//!   without unwrapping it to fincert (AWS ReEncrypt; local: in memory only). Resumable: run it
//!   again after an interruption and it continues with what is left. With `kms_previous` set,
//!   it moves them from that backend to `kms` (see `custody::rewrap` for what a PIN or passkey
//!   slot keeps needing of the previous backend, and until when).

use std::{process::ExitCode, sync::Arc};

use clap::Subcommand;

use super::exit;
use crate::{
    audit::{Action, Actor, NewEvent},
    clock::{Clock, SystemClock},
    config::{KmsBackend, Settings},
    custody::{Custody, kms},
    store,
};

/// KMS verbs.
#[derive(Debug, Subcommand)]
pub enum KmsCommand {
    /// Show the current KMS key and wrapped data keys per KMS key.
    Status,
    /// Local backend: make a new wrapping key current.
    Rotate,
    /// PKCS#11 backend: create the wrapping and HMAC keys on the token if they are missing.
    CreateKeys,
    /// Move every wrapped data key to the current KMS key.
    Rewrap {
        /// Slots per transaction.
        #[arg(long, default_value_t = 500)]
        batch: u64,
        /// Stop after this many slots (the rest waits for the next run).
        #[arg(long, default_value_t = u64::MAX)]
        limit: u64,
    },
}

/// Runs a KMS verb.
pub async fn run(cmd: KmsCommand, settings: Settings) -> ExitCode {
    match execute(cmd, &settings).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fincert: kms: {e}");
            ExitCode::from(exit::DEPENDENCY)
        }
    }
}

async fn execute(cmd: KmsCommand, settings: &Settings) -> Result<ExitCode, String> {
    let db = store::connect(settings).await.map_err(|e| e.to_string())?;
    let clock = Arc::new(SystemClock);
    match cmd {
        KmsCommand::Status => {
            let kms = kms::connect(settings).await?;
            println!("backend {} current {}", kms.backend(), kms.current_key_id());
            for (id, n) in store::custody::count_by_kms_key(&db)
                .await
                .map_err(|e| e.to_string())?
            {
                let mark = if id == kms.current_key_id() {
                    " (current)"
                } else {
                    ""
                };
                println!("{n} wrapped data keys under {id}{mark}");
            }
            for (id, n) in store::enrolment::media_by_kms_key(&db)
                .await
                .map_err(|e| e.to_string())?
            {
                let mark = if id == kms.current_key_id() {
                    " (current)"
                } else {
                    ""
                };
                println!("{n} security-medium secrets under {id}{mark}");
            }
            // What still needs another backend's MAC key: `kms_previous` can go when none.
            for (backend, n) in store::custody::slots_bound_by_other_mac(&db, kms.backend())
                .await
                .map_err(|e| e.to_string())?
            {
                println!(
                    "{n} slots bound with the {backend} backend's MAC key (service slots move with kms rewrap; PIN and passkey slots are bound again at each holder's next use)"
                );
            }
            for (backend, n) in store::signing::webhook_mac_backends_other_than(
                &db,
                kms.backend(),
                kms.previous_backend().unwrap_or(kms.backend()),
            )
            .await
            .map_err(|e| e.to_string())?
            {
                println!(
                    "{n} institutions' webhook secrets derive from the {backend} backend's MAC key (fincert institution rotate-webhook-secret)"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        KmsCommand::Rotate => {
            if settings.kms.backend != KmsBackend::Local {
                eprintln!(
                    "fincert: kms rotate works on the local backend; with AWS KMS set kms.aws_key_id to the new key, then run kms rewrap"
                );
                return Ok(ExitCode::from(exit::CONFIG));
            }
            let local = kms::local::LocalKms::open_or_create(&settings.local_keyring_path())
                .map_err(|e| e.to_string())?;
            let id = local
                .rotate(&clock.now().to_rfc3339())
                .map_err(|e| e.to_string())?;
            let event = NewEvent::new(Actor::Operator, Action::KmsRotated)
                .details(serde_json::json!({"current": id}));
            store::audit::append(&db, clock.now(), &[event])
                .await
                .map_err(|e| e.to_string())?;
            println!("current {id}; run `fincert kms rewrap` to move wrapped data keys to it");
            Ok(ExitCode::SUCCESS)
        }
        KmsCommand::CreateKeys => {
            if settings.kms.backend != KmsBackend::Pkcs11 {
                eprintln!(
                    "fincert: kms create-keys works on the pkcs11 backend; the local keyring makes its keys on first use, AWS keys come from Terraform"
                );
                return Ok(ExitCode::from(exit::CONFIG));
            }
            let made = kms::pkcs11::Pkcs11Kms::create_keys(&settings.kms)
                .await
                .map_err(|e| e.to_string())?;
            let event = NewEvent::new(Actor::Operator, Action::KmsKeysCreated).details(
                serde_json::json!({"backend": "pkcs11", "created": made,
                    "wrap_key": settings.kms.pkcs11_wrap_key_label,
                    "mac_key": settings.kms.pkcs11_mac_key_label}),
            );
            store::audit::append(&db, clock.now(), &[event])
                .await
                .map_err(|e| e.to_string())?;
            if made.is_empty() {
                println!("both keys exist on the token; nothing created");
            } else {
                println!("created {}", made.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        KmsCommand::Rewrap { batch, limit } => {
            let kms = kms::connect(settings).await?;
            let custody = Custody::new(kms.clone(), &settings.custody, clock.clone());
            let batch = batch.clamp(1, 10_000);
            let report = custody
                .rewrap(&db, batch, limit)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "moved {} skipped {} remaining {} (current {})",
                report.moved,
                report.skipped,
                report.remaining,
                kms.current_key_id()
            );
            let media = crate::auth::media::rewrap(
                &db,
                kms.as_ref(),
                clock.now(),
                batch,
                limit.saturating_sub(report.moved + report.skipped),
            )
            .await
            .map_err(|e| e.to_string())?;
            println!(
                "security-medium secrets: moved {} remaining {}",
                media.moved, media.remaining
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

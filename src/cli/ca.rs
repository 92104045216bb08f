//! `fincert ca ...`: set up and inspect the certificate authority.

use std::{process::ExitCode, sync::Arc};

use clap::Subcommand;

use super::exit;
use crate::{
    clock::{SharedClock, SystemClock},
    config::Settings,
    custody::{Custody, kms},
    domain::revocation_reason::CrlReason,
    pki::{Pki, PkiError},
};

/// CA verbs.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create the root CA, the issuing CA and the OCSP responder (once).
    Init {
        /// Succeed without changing anything when the CA already exists (for a set-up Job that
        /// may run again); without it a second `ca init` fails (exit 1).
        #[arg(long)]
        if_absent: bool,
    },
    /// Print the CA certificates (PEM).
    Show,
    /// Revoke the issuing CA (its key is compromised or it is retired): the root signs an ARL
    /// listing it at once, and every certificate under it fails full-chain revocation checks
    /// from then on. Audited; cannot be undone.
    RevokeIssuing {
        /// The RFC 5280 reason.
        #[arg(long, value_enum)]
        reason: CaRevocationReason,
    },
}

/// Why the issuing CA is revoked (the RFC 5280 reasons that fit a CA certificate).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CaRevocationReason {
    /// unspecified (0; written without a reason code).
    Unspecified,
    /// cACompromise (2): its private key is, or may be, compromised.
    CaCompromise,
    /// affiliationChanged (3).
    AffiliationChanged,
    /// superseded (4): a new issuing CA replaces it.
    Superseded,
    /// cessationOfOperation (5): it no longer issues.
    CessationOfOperation,
}

impl From<CaRevocationReason> for CrlReason {
    fn from(r: CaRevocationReason) -> Self {
        match r {
            CaRevocationReason::Unspecified => Self::Unspecified,
            CaRevocationReason::CaCompromise => Self::CaCompromise,
            CaRevocationReason::AffiliationChanged => Self::AffiliationChanged,
            CaRevocationReason::Superseded => Self::Superseded,
            CaRevocationReason::CessationOfOperation => Self::CessationOfOperation,
        }
    }
}

/// Runs a CA verb.
pub async fn run(cmd: CaCommand, settings: Settings) -> ExitCode {
    let clock: SharedClock = Arc::new(SystemClock);
    let result = async {
        let db = super::connect_migrated(&settings, &clock).await?;
        let kms = kms::connect(&settings).await?;
        let custody = Arc::new(Custody::new(kms, &settings.custody, clock.clone()));
        match cmd {
            CaCommand::Init { if_absent } => {
                match Pki::init(&db, &custody, &settings, &clock).await {
                    Ok(()) => {
                        println!(
                            "CA initialised ({}; keys in the {} KMS backend)",
                            settings.pki.ca_algorithm,
                            match settings.kms.backend {
                                crate::config::KmsBackend::Aws => "aws",
                                crate::config::KmsBackend::Pkcs11
                                    if settings.pki.pkcs11_ca_keys =>
                                {
                                    "pkcs11"
                                }
                                _ => "local",
                            }
                        );
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(PkiError::AlreadyInitialized) if if_absent => {
                        println!("CA already initialised; nothing changed");
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(PkiError::AlreadyInitialized) => {
                        eprintln!("fincert: the CA is already initialised");
                        Ok(ExitCode::from(exit::CHECK_FAILED))
                    }
                    Err(e @ PkiError::CaKey { .. }) => {
                        eprintln!("fincert: ca init: {e}");
                        Ok(ExitCode::from(exit::CONFIG))
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
            CaCommand::Show => {
                let pki = Pki::load(&db, custody, &settings, clock.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                for name in ["root", "issuing", "ocsp"] {
                    if let Some(der) = pki.ca_certificate(name) {
                        println!("# {name}\n{}", crate::pki::x509::pem_certificate(der));
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            CaCommand::RevokeIssuing { reason } => {
                let pki = Pki::load(&db, custody, &settings, clock.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                match pki.revoke_issuing(&db, reason.into()).await {
                    Ok(Some(_)) => {
                        println!(
                            "issuing CA revoked; the root's ARL ({}) lists it",
                            crate::pki::urls::arl(&settings.pki.public_base_url)
                        );
                        Ok(ExitCode::SUCCESS)
                    }
                    Ok(None) => {
                        eprintln!("fincert: the issuing CA is already revoked; nothing changed");
                        Ok(ExitCode::from(exit::CHECK_FAILED))
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
        }
    }
    .await;
    result.unwrap_or_else(|e| {
        eprintln!("fincert: ca: {e}");
        ExitCode::from(exit::DEPENDENCY)
    })
}

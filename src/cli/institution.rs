//! `fincert institution ...`: onboard relying institutions and manage their credentials.
//! Secrets are printed once, to standard output, and never stored in plaintext.

use std::{process::ExitCode, sync::Arc};

use clap::Subcommand;

use super::exit;
use crate::{
    clock::{SharedClock, SystemClock},
    config::Settings,
    custody::kms,
    signing::{SigningError, csc_oauth, institution},
};

/// Institution verbs.
#[derive(Debug, Subcommand)]
pub enum InstitutionCommand {
    /// Register an institution; prints its client id, client secret and webhook secret once.
    Add {
        /// Display name (shown to users when they approve).
        #[arg(long)]
        name: String,
        /// Line of business: decides what restricted-use certificates may sign for it.
        #[arg(long, value_enum)]
        sector: institution::Sector,
    },
    /// List institutions.
    List,
    /// Issue a new client secret; the previous one keeps working for 24 hours.
    RotateSecret {
        /// Institution id or client id.
        institution: String,
    },
    /// Print the secret that signs an institution's webhooks.
    WebhookSecret {
        /// Institution id or client id.
        institution: String,
    },
    /// Replace the secret that signs an institution's webhooks (at once: hand the new one
    /// over first); after a move between KMS backends, this frees the institution's webhooks
    /// from the previous backend.
    RotateWebhookSecret {
        /// Institution id or client id.
        institution: String,
    },
    /// Turn the validation material (chain, OCSP, CRLs) in an institution's
    /// `signature_request.signed` webhook bodies on or off (off by default: it can be large).
    WebhookValidationInfo {
        /// Institution id or client id.
        institution: String,
        /// `on` or `off`.
        #[arg(value_enum)]
        setting: Switch,
    },
    /// Manage the redirect URIs an institution's CSC client may use with `oauth2/authorize`
    /// (exact match; https, or http on a loopback host for development).
    RedirectUri {
        /// `add`, `remove` or `list`.
        #[command(subcommand)]
        verb: RedirectUriVerb,
    },
}

/// What to do with a redirect URI.
#[derive(Debug, Subcommand)]
pub enum RedirectUriVerb {
    /// Register a redirect URI.
    Add {
        /// Institution id or client id.
        institution: String,
        /// The exact URI.
        uri: String,
    },
    /// Remove a registered redirect URI.
    Remove {
        /// Institution id or client id.
        institution: String,
        /// The exact URI.
        uri: String,
    },
    /// List an institution's redirect URIs.
    List {
        /// Institution id or client id.
        institution: String,
    },
}

/// A setting's two positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// Turned on.
    On,
    /// Turned off.
    Off,
}

/// Runs an institution verb.
pub async fn run(cmd: InstitutionCommand, settings: Settings) -> ExitCode {
    let clock: SharedClock = Arc::new(SystemClock);
    let result = async {
        let db = super::connect_migrated(&settings, &clock).await?;
        match cmd {
            InstitutionCommand::Add { name, sector } => {
                let kms = kms::connect(&settings).await?;
                let creds =
                    institution::register(&db, kms.as_ref(), clock.now(), &name, sector).await?;
                println!("institution_id={}", creds.institution.id);
                println!("client_id={}", creds.institution.client_id);
                println!("client_secret={}", creds.client_secret.as_str());
                println!("webhook_secret={}", creds.webhook_secret.as_str());
                eprintln!("store the secrets now: they are not shown again");
            }
            InstitutionCommand::List => {
                for i in institution::list(&db).await? {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        i.id,
                        i.client_id,
                        i.sector.as_str(),
                        i.status.as_str(),
                        i.name
                    );
                }
            }
            InstitutionCommand::RotateSecret { institution: who } => {
                let (view, secret) = institution::rotate_secret(&db, clock.now(), &who).await?;
                println!("client_id={}", view.client_id);
                println!("client_secret={}", secret.as_str());
                eprintln!("the previous secret keeps working for 24 hours");
            }
            InstitutionCommand::WebhookSecret { institution: who } => {
                let kms = kms::connect(&settings).await?;
                let row = institution::find(&db, &who).await?;
                let secret = institution::webhook_secret(kms.as_ref(), &row).await?;
                println!("webhook_secret={}", secret.as_str());
            }
            InstitutionCommand::RotateWebhookSecret { institution: who } => {
                let kms = kms::connect(&settings).await?;
                let (view, secret) =
                    institution::rotate_webhook_secret(&db, kms.as_ref(), clock.now(), &who)
                        .await?;
                println!("institution_id={}", view.id);
                println!("webhook_secret={}", secret.as_str());
                eprintln!("webhooks are signed with this secret from now on");
            }
            InstitutionCommand::WebhookValidationInfo {
                institution: who,
                setting,
            } => {
                let view = institution::set_webhook_validation_info(
                    &db,
                    clock.now(),
                    &who,
                    setting == Switch::On,
                )
                .await?;
                println!("institution_id={}", view.id);
                println!("webhook_validation_info={}", view.webhook_validation_info);
            }
            InstitutionCommand::RedirectUri { verb } => match verb {
                RedirectUriVerb::Add {
                    institution: who,
                    uri,
                } => {
                    let added = csc_oauth::add_redirect_uri(&db, clock.now(), &who, &uri).await?;
                    println!("{}", if added { "added" } else { "already registered" });
                }
                RedirectUriVerb::Remove {
                    institution: who,
                    uri,
                } => {
                    if !csc_oauth::remove_redirect_uri(&db, clock.now(), &who, &uri).await? {
                        return Err(CliError::Usage(format!("{uri} is not registered")));
                    }
                    println!("removed");
                }
                RedirectUriVerb::List { institution: who } => {
                    for uri in csc_oauth::redirect_uris(&db, &who).await? {
                        println!("{uri}");
                    }
                }
            },
        }
        Ok::<_, CliError>(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Usage(e)) => {
            eprintln!("fincert: {e}");
            ExitCode::from(exit::CONFIG)
        }
        Err(CliError::Dependency(e)) => {
            eprintln!("fincert: {e}");
            ExitCode::from(exit::DEPENDENCY)
        }
    }
}

enum CliError {
    Usage(String),
    Dependency(String),
}

impl From<String> for CliError {
    fn from(e: String) -> Self {
        Self::Dependency(e)
    }
}

impl From<SigningError> for CliError {
    fn from(e: SigningError) -> Self {
        match e {
            SigningError::Invalid(_) | SigningError::InstitutionNotFound => {
                Self::Usage(e.to_string())
            }
            other => Self::Dependency(other.to_string()),
        }
    }
}

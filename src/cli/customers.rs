//! `fincert customers load FILE` and `fincert media ...`: what an institution provisions before
//! its customers enrol — known customers (for the development identity verifier) and the
//! security media it issued them.

use std::{process::ExitCode, sync::Arc};

use clap::{Subcommand, ValueEnum};

use super::exit;
use crate::{
    auth::media::{self, MediumKind},
    clock::{Clock, SystemClock},
    config::Settings,
    custody::kms,
    domain::person::{CustomerNumber, Phone, parse_birth_date},
    pki::profile::HolderName,
    store,
};

/// Customer verbs.
#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Load known customers from a CSV file `customer_number,name,birth_date,phone` (with a
    /// header line) into the development identity verifier's table.
    Load {
        /// The CSV file.
        file: std::path::PathBuf,
    },
}

/// OTP kinds on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OtpKind {
    /// Hardware OTP, counter based.
    Hotp,
    /// Hardware OTP, time based.
    Totp,
    /// Mobile OTP app.
    Motp,
}

/// Security media verbs.
#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// Issue a security card to a customer and print it (for the card printer).
    Card {
        /// The customer number.
        #[arg(long)]
        customer: String,
        /// 30 or 35 cells.
        #[arg(long, default_value_t = 30)]
        cells: usize,
    },
    /// Register an OTP token's or app's shared secret (hex) for a customer.
    Otp {
        /// The customer number.
        #[arg(long)]
        customer: String,
        /// Which kind.
        #[arg(long, value_enum)]
        kind: OtpKind,
        /// The shared secret, hex (16 to 64 bytes).
        #[arg(long, env = "FINCERT_OTP_SECRET_HEX", hide_env_values = true)]
        secret_hex: String,
        /// The device a mobile OTP app is installed on (required for `motp`).
        #[arg(long)]
        device: Option<String>,
    },
}

async fn prepare(settings: &Settings) -> Result<sea_orm::DatabaseConnection, String> {
    let clock: crate::clock::SharedClock = Arc::new(SystemClock);
    super::connect_migrated(settings, &clock).await
}

/// Runs a customers verb.
pub async fn run_customers(cmd: CustomersCommand, settings: Settings) -> ExitCode {
    let CustomersCommand::Load { file } = cmd;
    let result = async {
        let db = prepare(&settings).await?;
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let today = SystemClock.now().date_naive();
        let mut loaded = 0;
        for (n, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let [customer, name, birth, phone] = fields.as_slice() else {
                return Err(format!("line {}: expected 4 fields", n + 1));
            };
            let customer =
                CustomerNumber::parse(customer).map_err(|e| format!("line {}: {e}", n + 1))?;
            let name = HolderName::parse(name).map_err(|e| format!("line {}: {e}", n + 1))?;
            let birth =
                parse_birth_date(birth, today).map_err(|e| format!("line {}: {e}", n + 1))?;
            let phone = Phone::parse(phone).map_err(|e| format!("line {}: {e}", n + 1))?;
            store::enrolment::put_dev_customer(
                &db,
                customer.as_str(),
                name.as_str(),
                &birth.format("%Y-%m-%d").to_string(),
                phone.as_str(),
            )
            .await
            .map_err(|e| e.to_string())?;
            loaded += 1;
        }
        println!("loaded {loaded} customers");
        Ok::<_, String>(ExitCode::SUCCESS)
    }
    .await;
    result.unwrap_or_else(|e| {
        eprintln!("fincert: customers: {e}");
        ExitCode::from(exit::CONFIG)
    })
}

/// Runs a media verb.
pub async fn run_media(cmd: MediaCommand, settings: Settings) -> ExitCode {
    let result = async {
        let db = prepare(&settings).await?;
        let kms = kms::connect(&settings).await?;
        let now = SystemClock.now();
        match cmd {
            MediaCommand::Card { customer, cells } => {
                let customer = CustomerNumber::parse(&customer).map_err(|e| e.to_string())?;
                let card = media::register_card(&db, kms.as_ref(), &customer, cells, now)
                    .await
                    .map_err(|e| e.to_string())?;
                for row in 0..card.len().div_ceil(5) {
                    let line: Vec<String> = (1..=5)
                        .map(|c| row * 5 + c)
                        .filter(|i| *i <= card.len())
                        .map(|i| {
                            format!(
                                "{i:>2}: {}",
                                card.printed(u8::try_from(i).unwrap_or(0))
                                    .unwrap_or_default()
                            )
                        })
                        .collect();
                    println!("{}", line.join("   "));
                }
            }
            MediaCommand::Otp {
                customer,
                kind,
                secret_hex,
                device,
            } => {
                let customer = CustomerNumber::parse(&customer).map_err(|e| e.to_string())?;
                let secret = zeroize::Zeroizing::new(
                    hex::decode(secret_hex.trim())
                        .map_err(|_| "the secret is not hex".to_string())?,
                );
                let kind = match kind {
                    OtpKind::Hotp => MediumKind::Hotp,
                    OtpKind::Totp => MediumKind::Totp,
                    OtpKind::Motp => MediumKind::Motp,
                };
                media::register_otp(
                    &db,
                    kms.as_ref(),
                    &customer,
                    kind,
                    &secret,
                    device.as_deref(),
                    now,
                )
                .await
                .map_err(|e| e.to_string())?;
                println!(
                    "registered {} for customer {}",
                    kind.as_str(),
                    customer.as_str()
                );
            }
        }
        Ok::<_, String>(ExitCode::SUCCESS)
    }
    .await;
    result.unwrap_or_else(|e| {
        eprintln!("fincert: media: {e}");
        ExitCode::from(exit::CONFIG)
    })
}

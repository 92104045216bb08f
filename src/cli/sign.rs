//! `fincert sign ...` and `fincert verify`: the remote-signing API from the command line, for
//! institutions (create a request, read it, verify) and holders (see, approve, reject). These
//! verbs talk to a running service over HTTP with the `fincert-client` crate; secrets come from
//! the environment (`FINCERT_CLIENT_SECRET`, `FINCERT_PIN`) or standard input, never from
//! arguments. Results are printed as JSON.

use std::{io::BufRead, path::PathBuf, process::ExitCode};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use clap::{Args, Subcommand};
use fincert_client::{
    Client, Error,
    proto::{
        approvals::PinApproval,
        institutions::{Algorithm, Format, LoginBody, NewRequestBody, VerifyBody},
    },
};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::exit;
use crate::domain::der_input::{self, PemRule};

/// Where the service is and who the institution is.
#[derive(Debug, Args)]
pub struct Institution {
    /// The service's base URL.
    #[arg(long, env = "FINCERT_API_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The institution's OAuth2 client id.
    #[arg(long, env = "FINCERT_CLIENT_ID")]
    client_id: String,
}

/// Where the service is and which certificate the holder signs in with (PIN from
/// `FINCERT_PIN` or the first line of standard input).
#[derive(Debug, Args)]
pub struct Holder {
    /// The service's base URL.
    #[arg(long, env = "FINCERT_API_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The certificate to sign in with.
    #[arg(long)]
    certificate: Uuid,
}

/// Remote-signing verbs.
#[derive(Debug, Subcommand)]
pub enum SignCommand {
    /// (institution) Ask a holder to sign content or digests.
    Request {
        #[command(flatten)]
        inst: Institution,
        /// The certificate to sign with.
        #[arg(
            long,
            conflicts_with = "user_ref",
            required_unless_present = "user_ref"
        )]
        certificate: Option<Uuid>,
        /// Or the holder's reference at this institution.
        #[arg(long)]
        user_ref: Option<String>,
        /// A file whose content is signed.
        #[arg(long, conflicts_with = "digest", required_unless_present = "digest")]
        file: Option<PathBuf>,
        /// Or base64 SHA-256 digests (repeat for a batch).
        #[arg(long)]
        digest: Vec<String>,
        /// The text the holder sees before approving.
        #[arg(long)]
        text: String,
        /// `raw`, `cms-attached`, `cms-detached` or `cms-pades`.
        #[arg(long, default_value = "raw")]
        format: String,
        /// Idempotency key (a retry with the same key returns the first answer).
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Webhook to call with the result.
        #[arg(long)]
        webhook: Option<String>,
    },
    /// (institution) Ask a holder to sign in with their certificate (signs a nonce).
    Login {
        #[command(flatten)]
        inst: Institution,
        /// The certificate.
        #[arg(long)]
        certificate: Uuid,
    },
    /// (institution) A request's status and result.
    Status {
        #[command(flatten)]
        inst: Institution,
        /// Request id.
        id: Uuid,
    },
    /// (holder) Requests waiting for approval.
    Pending {
        #[command(flatten)]
        holder: Holder,
    },
    /// (holder) Show a request's text and approve it with the PIN.
    Approve {
        #[command(flatten)]
        holder: Holder,
        /// Request id.
        id: Uuid,
    },
    /// (holder) Reject a request.
    Reject {
        #[command(flatten)]
        holder: Holder,
        /// Request id.
        id: Uuid,
    },
}

/// `fincert verify`: a signature, its certificate chain and status, in one call.
#[derive(Debug, Args)]
pub struct VerifyCommand {
    #[command(flatten)]
    inst: Institution,
    /// The signer certificate (DER or PEM file).
    #[arg(long)]
    certificate: PathBuf,
    /// The signature (binary file).
    #[arg(long)]
    signature: PathBuf,
    /// The signed content.
    #[arg(long)]
    file: PathBuf,
    /// `rsa-pkcs1-sha256`, `rsa-pss-sha256` or `ecdsa-p256-sha256`.
    #[arg(long, default_value = "rsa-pkcs1-sha256")]
    algorithm: String,
}

fn secret(var: &str, what: &str) -> Result<Zeroizing<String>, String> {
    if let Ok(v) = std::env::var(var) {
        return Ok(Zeroizing::new(v));
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|_| format!("cannot read the {what} from standard input"))?;
    let trimmed = Zeroizing::new(line.trim().to_owned());
    if trimmed.is_empty() {
        return Err(format!("give the {what} in {var} or on standard input"));
    }
    Ok(trimmed)
}

async fn institution(inst: &Institution, scope: Option<&str>) -> Result<Client, String> {
    let secret = secret("FINCERT_CLIENT_SECRET", "client secret")?;
    Client::new(&inst.url)
        .map_err(|e| e.to_string())?
        .institution(&inst.client_id, &secret, scope)
        .await
        .map_err(|e| e.to_string())
}

async fn holder(h: &Holder) -> Result<(Client, Zeroizing<String>), String> {
    let pin = secret("FINCERT_PIN", "PIN")?;
    let client = Client::new(&h.url)
        .map_err(|e| e.to_string())?
        .sign_in(h.certificate, &pin)
        .await
        .map_err(|e| e.to_string())?;
    Ok((client, pin))
}

fn print(v: &impl serde::Serialize) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, v: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(v.to_owned()))
        .map_err(|_| format!("unknown {what} {v:?}"))
}

fn api(e: Error) -> String {
    e.to_string()
}

/// Runs a sign verb.
pub async fn run(cmd: SignCommand) -> ExitCode {
    let result = async {
        match cmd {
            SignCommand::Request {
                inst,
                certificate,
                user_ref,
                file,
                digest,
                text,
                format,
                idempotency_key,
                webhook,
            } => {
                let content =
                    match file {
                        Some(f) => Some(STANDARD.encode(
                            std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?,
                        )),
                        None => None,
                    };
                let body = NewRequestBody {
                    certificate_id: certificate,
                    user_ref,
                    digests: content.is_none().then_some(digest),
                    content,
                    display_text: text,
                    format: Some(parse::<Format>("format", &format)?),
                    webhook_url: webhook,
                    ..Default::default()
                };
                let key = idempotency_key.unwrap_or_else(|| Uuid::new_v4().to_string());
                let client = institution(&inst, Some("sign")).await?;
                print(&client.create_request(&body, &key).await.map_err(api)?)
            }
            SignCommand::Login { inst, certificate } => {
                let client = institution(&inst, Some("sign")).await?;
                let body = LoginBody {
                    certificate_id: Some(certificate),
                    ..Default::default()
                };
                let key = Uuid::new_v4().to_string();
                print(&client.create_login(&body, &key).await.map_err(api)?)
            }
            SignCommand::Status { inst, id } => {
                let client = institution(&inst, Some("sign")).await?;
                print(&client.request(id).await.map_err(api)?)
            }
            SignCommand::Pending { holder: h } => {
                let (client, _) = holder(&h).await?;
                print(&client.pending().await.map_err(api)?)
            }
            SignCommand::Approve { holder: h, id } => {
                let (client, pin) = holder(&h).await?;
                let view = client.approval(id).await.map_err(api)?;
                eprintln!(
                    "{} asks: {} ({} signature(s))",
                    view.institution.name, view.display_text, view.digest_count
                );
                let body = PinApproval {
                    pin,
                    request_digest: view.request_digest,
                };
                print(&client.approve(id, &body).await.map_err(api)?)
            }
            SignCommand::Reject { holder: h, id } => {
                let (client, _) = holder(&h).await?;
                print(&client.reject(id).await.map_err(api)?)
            }
        }
    }
    .await;
    finish(result.map(|()| true))
}

/// Runs `fincert verify`: exit 0 when valid, 1 when not.
pub async fn verify(cmd: VerifyCommand) -> ExitCode {
    let result = async {
        let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        let cert = der_input::der_from(&read(&cmd.certificate)?, PemRule::Armour)
            .map_err(|_| "unreadable PEM".to_string())?;
        let body = VerifyBody {
            certificate: STANDARD.encode(cert),
            signature: STANDARD.encode(read(&cmd.signature)?),
            algorithm: parse::<Algorithm>("algorithm", &cmd.algorithm)?,
            content: Some(STANDARD.encode(read(&cmd.file)?)),
            digest: None,
        };
        let client = institution(&cmd.inst, Some("verify")).await?;
        let report = client.verify(&body).await.map_err(api)?;
        print(&report)?;
        Ok(report.valid)
    }
    .await;
    finish(result)
}

fn finish(result: Result<bool, String>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(exit::CHECK_FAILED),
        Err(e) => {
            eprintln!("fincert: {e}");
            ExitCode::from(exit::DEPENDENCY)
        }
    }
}

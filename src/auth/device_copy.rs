//! Copying a device-kept certificate to another device (인증서 복사) through a one-time
//! mailbox. fincert never sees the key: the first device encrypts the package (the key and its
//! certificate) in the browser under a secret that never reaches the server, and leaves only
//! the ciphertext here.
//!
//! ```text
//!   device A (signed in)   create(certificate, package) ──► mailbox row, code (10 digits), 10 min
//!     shows the person:    <code>-<secret>   (the secret: 12 characters made in the browser)
//!   device B (no session)  claim(code)  ──► package (once; the row's package is wiped)
//!     decrypts it with the secret the person typed, keeps the key and the certificate
//! ```
//!
//! The server half of the code only locates the package (kept as SHA-256, never in the clear)
//! and is spent by the first fetch; it is rate-limited per client address (10 a minute) and
//! per holder (5 copies a minute). Someone who guesses a code gets ciphertext under a secret of
//! 60 bits stretched by PBKDF2, and the person sees the copy fail on their second device. Every
//! copy, fetch and refused fetch is audited (never with the code). Packages live in the
//! single-use ceremony table (kind `device_copy`).

use aws_lc_rs::{
    digest,
    rand::{SecureRandom, SystemRandom},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::{
    audit::{Action, Actor, NewEvent},
    clock::SharedClock,
    custody::OwnerId,
    domain::cert_kind::Storage,
    pki::lifecycle::CertStatus,
    store::{self, StoreError},
};

/// How long a package waits for its fetch.
pub const TTL_SECS: i64 = 600;

/// The largest package accepted (an encrypted PKCS#8 key and a certificate are ~3 KiB).
pub const MAX_PACKAGE_BYTES: usize = 16 * 1024;

/// Digits of the server half of the code.
pub const CODE_DIGITS: usize = 10;

/// The ceremony kind of copy packages.
const KIND: &str = "device_copy";

/// Why a copy is refused.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The certificate is not the holder's active device-kept certificate.
    #[error("no such active device-kept certificate")]
    Certificate,
    /// No package under this code (wrong, fetched already, or expired).
    #[error("no copy package under this code")]
    NotFound,
    /// The package is empty or too large.
    #[error("package: 1 to {MAX_PACKAGE_BYTES} bytes")]
    Package,
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Randomness failed.
    #[error("randomness unavailable")]
    Random,
}

/// A package left for another device.
#[derive(Debug, Clone)]
pub struct Created {
    /// The server half of the code (10 digits), shown once.
    pub code: String,
    /// When the package is dropped.
    pub expires_at: DateTime<Utc>,
}

/// A fetched package.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The certificate the package belongs to.
    pub certificate_id: Uuid,
    /// The certificate (DER): public, served beside the package.
    pub certificate_der: Vec<u8>,
    /// The encrypted package, as the first device made it.
    pub package: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    certificate_id: Uuid,
    /// The package, base64.
    package: String,
}

/// Whether `code` has the shape of a code's server half.
pub fn parse_code(code: &str) -> Option<&str> {
    (code.len() == CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// The row id of a code: its SHA-256 (hex, the id column's 36 characters), so the table never
/// holds the code itself.
fn row_id(code: &str) -> String {
    let h = hex::encode(digest::digest(
        &digest::SHA256,
        format!("fincert-device-copy-v1:{code}").as_bytes(),
    ));
    h[..36].to_owned()
}

fn random_code() -> Result<String, CopyError> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(CODE_DIGITS);
    while out.len() < CODE_DIGITS {
        let mut b = [0u8; 1];
        rng.fill(&mut b).map_err(|_| CopyError::Random)?;
        // 250 = 25 × 10: uniform digits, no modulo bias.
        if b[0] < 250 {
            out.push(char::from(b'0' + b[0] % 10));
        }
    }
    Ok(out)
}

/// Leaves an encrypted package of the holder's active device-kept certificate for one fetch.
pub async fn create(
    db: &DatabaseConnection,
    clock: &SharedClock,
    owner: &OwnerId,
    certificate_id: Uuid,
    package: &[u8],
) -> Result<Created, CopyError> {
    if package.is_empty() || package.len() > MAX_PACKAGE_BYTES {
        return Err(CopyError::Package);
    }
    let now = clock.now();
    let cert = store::pki::certificate_by_id(db, &certificate_id.to_string())
        .await?
        .filter(|c| {
            c.owner_id == *owner
                && c.storage == Storage::Device
                && c.custody_key_id.is_none()
                && c.status.at(c.not_after, now) == CertStatus::Active
        })
        .ok_or(CopyError::Certificate)?;
    let stored = serde_json::to_string(&Stored {
        certificate_id,
        package: STANDARD.encode(package),
    })
    .map_err(|_| CopyError::Random)?;
    let expires_at = now + Duration::seconds(TTL_SECS);
    // A collision with a live code fails the insert (primary key): draw again, a few times.
    let mut attempt = 0;
    let code = loop {
        let code = random_code()?;
        match store::enrolment::insert_ceremony(
            db,
            &row_id(&code),
            owner.as_str(),
            KIND,
            &stored,
            expires_at,
        )
        .await
        {
            Ok(()) => break code,
            Err(e) if attempt >= 3 => return Err(e.into()),
            Err(_) => attempt += 1,
        }
    };
    let event = NewEvent::new(
        Actor::User(owner.as_str().into()),
        Action::DeviceCopyCreated,
    )
    .subject(cert.serial_hex)
    .details(json!({"certificate": certificate_id, "expires_at": expires_at.to_rfc3339()}));
    store::audit::append(db, now, &[event]).await?;
    Ok(Created { code, expires_at })
}

/// Fetches a package once: the first fetch under a live code takes it and wipes it.
pub async fn claim(
    db: &DatabaseConnection,
    clock: &SharedClock,
    code: &str,
    client: &str,
) -> Result<Fetched, CopyError> {
    let now = clock.now();
    let id = row_id(code);
    let taken = store::enrolment::take_ceremony(db, &id, KIND, now).await?;
    let parsed = taken.and_then(|(owner, state)| {
        let s = serde_json::from_str::<Stored>(&state).ok()?;
        let package = STANDARD.decode(s.package.as_bytes()).ok()?;
        Some((owner, s.certificate_id, package))
    });
    let Some((owner, certificate_id, package)) = parsed else {
        let event = NewEvent::new(Actor::System, Action::DeviceCopyRefused)
            .subject(client.to_owned())
            .details(json!({"reason": "unknown, used or expired code"}));
        store::audit::append(db, now, &[event]).await?;
        return Err(CopyError::NotFound);
    };
    store::enrolment::wipe_ceremony_state(db, &id).await?;
    let cert = store::pki::certificate_by_id(db, &certificate_id.to_string())
        .await?
        .filter(|c| c.owner_id == owner && c.status.at(c.not_after, now) == CertStatus::Active);
    let Some(cert) = cert else {
        let event = NewEvent::new(
            Actor::User(owner.as_str().into()),
            Action::DeviceCopyRefused,
        )
        .subject(certificate_id.to_string())
        .details(json!({"reason": "certificate no longer active"}));
        store::audit::append(db, now, &[event]).await?;
        return Err(CopyError::NotFound);
    };
    let event = NewEvent::new(
        Actor::User(owner.as_str().into()),
        Action::DeviceCopyFetched,
    )
    .subject(cert.serial_hex)
    .details(json!({"certificate": certificate_id, "client": client}));
    store::audit::append(db, now, &[event]).await?;
    Ok(Fetched {
        certificate_id,
        certificate_der: cert.certificate_der,
        package,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ten_digits_and_rows_never_hold_them() {
        let c = random_code().unwrap();
        assert_eq!(parse_code(&c), Some(c.as_str()));
        assert_eq!(row_id(&c).len(), 36);
        assert!(!row_id(&c).contains(&c));
        assert_ne!(row_id("0000000000"), row_id("0000000001"));
        for bad in [
            "",
            "123456789",
            "12345678901",
            "12345a7890",
            "１２３４５６７８９０",
        ] {
            assert_eq!(parse_code(bad), None, "{bad:?}");
        }
    }
}

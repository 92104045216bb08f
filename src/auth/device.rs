//! Sign-in by proof of possession: the holder of a joint certificate whose key stays on their
//! device (fincert certified a CSR and never saw the key) signs a fresh challenge with that
//! key, and gets the same session a PIN sign-in gives.
//!
//! ```text
//!   challenge(certificate) ──► challenge row: id, owner, certificate, SHA-256(text), expiry (2 min)
//!                               text = "fincert-device-sign-in-v1:<certificate>:<id>:<32 random bytes, base64url>"
//!   sign_in(certificate, id, text, algorithm, signature)
//!        take the row once (unused, unexpired)   else 409 device_challenge_spent
//!        same certificate, same text hash        else 409 device_challenge_spent
//!        certificate active, device-held, owner  else 401 device_sign_in_failed
//!        signature verifies with its public key  else 401 device_sign_in_failed (audited)
//!        ──► session (amr "pop"), audited
//! ```
//!
//! The challenge is spent by the first answer whatever its outcome, so each signature guess
//! costs a new challenge, and challenges are rate-limited per certificate and per client like
//! PIN sign-in. The challenge text names its purpose, certificate and id, so a signature the key
//! made for anything else never answers it. Challenges share the single-use ceremony table of
//! WebAuthn (kind `device`); the row keeps only the text's hash. A certificate that is unknown,
//! cloud-held, suspended, revoked or expired gets no challenge and fails like a wrong key, so
//! sign-in tells nothing about it beyond what OCSP already publishes.

use aws_lc_rs::{
    constant_time, digest,
    rand::{SecureRandom, SystemRandom},
    signature::UnparsedPublicKey,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use chrono::Duration;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{
    login::LoginError,
    tokens::{TokenPair, TokenService},
};
use crate::{
    audit::{Action, Actor, NewEvent},
    clock::SharedClock,
    custody::keys::SignatureScheme,
    pki::{lifecycle::CertStatus, profile::Storage},
    store::{self, pki::CertificateRow},
};

pub use fincert_client::proto::auth::DeviceChallenge;

/// How long a challenge may be answered.
pub const CHALLENGE_SECS: i64 = 120;

/// The ceremony kind of device sign-in challenges.
const KIND: &str = "device";

/// What the challenge text starts with (its purpose and version).
const PREFIX: &str = "fincert-device-sign-in-v1";

/// The longest challenge text accepted back (ours are about 130 characters).
const MAX_CHALLENGE_LEN: usize = 256;

/// The `amr` of a session opened this way (RFC 8176: proof of possession of a key).
const AMR: &str = "pop";

/// The owner of a challenge made for a certificate that cannot sign in by device (no user
/// has a `svc:` id, so no certificate matches it when the answer comes).
const NO_ONE: &str = "svc:sign-in-decoy";

/// What the challenge row holds besides its owner.
#[derive(Serialize, Deserialize)]
struct Stored {
    certificate_id: Uuid,
    /// SHA-256 of the challenge text, hex.
    challenge_sha256: String,
}

/// A device sign-in answer, parsed at the edge.
pub struct Answer<'a> {
    /// The certificate the challenge was made for.
    pub certificate_id: Uuid,
    /// The challenge's id.
    pub challenge_id: Uuid,
    /// The challenge text as received.
    pub challenge: &'a str,
    /// The signature scheme the client used.
    pub scheme: SignatureScheme,
    /// The signature over the challenge text.
    pub signature: &'a [u8],
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

/// The certificate if a device sign-in may use it now: known, device-held and active.
async fn usable(
    db: &DatabaseConnection,
    clock: &SharedClock,
    certificate_id: Uuid,
) -> Result<CertificateRow, LoginError> {
    let cert = store::pki::certificate_by_id(db, &certificate_id.to_string())
        .await?
        .ok_or(LoginError::DeviceFailed)?;
    let active = cert.status.at(cert.not_after, clock.now()) == CertStatus::Active;
    if cert.storage != Storage::Device || !active {
        return Err(LoginError::DeviceFailed);
    }
    Ok(cert)
}

/// A fresh challenge for the holder of an active device-held certificate.
#[tracing::instrument(skip_all, fields(certificate = %certificate_id))]
pub async fn challenge(
    db: &DatabaseConnection,
    clock: &SharedClock,
    certificate_id: Uuid,
) -> Result<DeviceChallenge, LoginError> {
    // No oracle: a certificate that cannot sign in this way gets a challenge too (bound to no
    // one's key, so no answer to it verifies), and the refusal comes with the answer, alike
    // for an unknown certificate and a wrong signature.
    let owner = match usable(db, clock, certificate_id).await {
        Ok(cert) => cert.owner_id.as_str().to_owned(),
        Err(LoginError::DeviceFailed) => NO_ONE.to_owned(),
        Err(other) => return Err(other),
    };
    let mut nonce = [0u8; 32];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| LoginError::Random)?;
    let id = Uuid::new_v4();
    let text = format!("{PREFIX}:{certificate_id}:{id}:{}", B64URL.encode(nonce));
    let stored = serde_json::to_string(&Stored {
        certificate_id,
        challenge_sha256: sha256_hex(text.as_bytes()),
    })
    .map_err(|_| LoginError::Random)?;
    let expires_at = clock.now() + Duration::seconds(CHALLENGE_SECS);
    store::enrolment::insert_ceremony(db, &id.to_string(), &owner, KIND, &stored, expires_at)
        .await?;
    Ok(DeviceChallenge {
        challenge_id: id,
        challenge: text,
        expires_at,
    })
}

/// Signs in with a signed challenge: spends the challenge, checks it was made for this
/// certificate and this text, that the certificate is still an active device-held one, and
/// that the signature verifies with its public key; then opens a session.
#[tracing::instrument(skip_all, fields(certificate = %answer.certificate_id))]
pub async fn sign_in(
    db: &DatabaseConnection,
    tokens: &TokenService,
    clock: &SharedClock,
    answer: Answer<'_>,
) -> Result<TokenPair, LoginError> {
    let now = clock.now();
    let refuse = |actor: Actor, subject: String, reason: &str| {
        NewEvent::new(actor, Action::DeviceSignInFailed)
            .subject(subject)
            .details(json!({"amr": AMR, "reason": reason}))
    };
    let taken = if answer.challenge.len() <= MAX_CHALLENGE_LEN {
        store::enrolment::take_ceremony(db, &answer.challenge_id.to_string(), KIND, now).await?
    } else {
        None
    };
    let Some((owner, stored)) = taken else {
        let event = refuse(Actor::System, answer.challenge_id.to_string(), "challenge");
        store::audit::append(db, now, &[event]).await?;
        return Err(LoginError::ChallengeSpent);
    };
    let bound = serde_json::from_str::<Stored>(&stored).is_ok_and(|s| {
        s.certificate_id == answer.certificate_id
            && constant_time::verify_slices_are_equal(
                sha256_hex(answer.challenge.as_bytes()).as_bytes(),
                s.challenge_sha256.as_bytes(),
            )
            .is_ok()
    });
    if !bound {
        let event = refuse(
            Actor::User(owner.as_str().into()),
            answer.challenge_id.to_string(),
            "challenge",
        );
        store::audit::append(db, now, &[event]).await?;
        return Err(LoginError::ChallengeSpent);
    }
    let cert = match usable(db, clock, answer.certificate_id).await {
        Ok(cert) if cert.owner_id == owner => cert,
        Ok(_) | Err(LoginError::DeviceFailed) => {
            let event = refuse(
                Actor::User(owner.as_str().into()),
                answer.certificate_id.to_string(),
                "certificate",
            );
            store::audit::append(db, now, &[event]).await?;
            return Err(LoginError::DeviceFailed);
        }
        Err(other) => return Err(other),
    };
    if !verifies(&cert.certificate_der, &answer) {
        let event = refuse(
            Actor::User(owner.as_str().into()),
            cert.serial_hex,
            "signature",
        );
        store::audit::append(db, now, &[event]).await?;
        return Err(LoginError::DeviceFailed);
    }
    let pair = tokens.new_session(db, &owner, AMR).await?;
    let event = NewEvent::new(Actor::User(owner.as_str().into()), Action::LoggedIn)
        .subject(cert.serial_hex)
        .details(json!({"amr": AMR, "challenge": answer.challenge_id}));
    store::audit::append(db, now, &[event]).await?;
    Ok(pair)
}

/// Whether the answer's signature over its challenge text verifies with the certificate's
/// public key under the answer's scheme (a scheme that does not fit the key fails).
fn verifies(cert_der: &[u8], answer: &Answer<'_>) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return false;
    };
    UnparsedPublicKey::new(answer.scheme.verification(), cert.public_key().raw)
        .verify(answer.challenge.as_bytes(), answer.signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::{
        encoding::AsDer,
        rand::SystemRandom,
        rsa::KeySize,
        signature::{self, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, RsaKeyPair},
    };

    use super::*;

    /// A self-signed certificate over `key` (rcgen), DER.
    fn certificate(key: &rcgen::KeyPair) -> Vec<u8> {
        rcgen::CertificateParams::new(vec!["device.test".into()])
            .unwrap()
            .self_signed(key)
            .unwrap()
            .der()
            .to_vec()
    }

    fn answer<'a>(text: &'a str, scheme: SignatureScheme, signature: &'a [u8]) -> Answer<'a> {
        Answer {
            certificate_id: Uuid::nil(),
            challenge_id: Uuid::nil(),
            challenge: text,
            scheme,
            signature,
        }
    }

    /// ECDSA P-256: the key's signature over the text verifies; over another text, with
    /// another key, or under an RSA scheme it does not.
    #[test]
    fn ecdsa_signatures_verify_with_the_certificates_key_only() {
        let rng = SystemRandom::new();
        let make = || {
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
            let rc = rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap();
            (pair, certificate(&rc))
        };
        let (key, cert) = make();
        let (_, other_cert) = make();
        let text = "fincert-device-sign-in-v1:a:b:c";
        let sig = key.sign(&rng, text.as_bytes()).unwrap();
        let ok = answer(text, SignatureScheme::EcdsaP256Sha256, sig.as_ref());
        assert!(verifies(&cert, &ok));
        assert!(!verifies(&other_cert, &ok), "another key");
        assert!(!verifies(
            &cert,
            &answer("fincert-device-sign-in-v1:a:b:d", ok.scheme, sig.as_ref())
        ));
        assert!(!verifies(
            &cert,
            &answer(text, SignatureScheme::RsaPkcs1Sha256, sig.as_ref())
        ));
        assert!(!verifies(b"not a certificate", &ok));
    }

    /// RSA: PKCS#1 v1.5 and PSS signatures each verify under their own scheme only.
    #[test]
    fn rsa_signatures_verify_under_their_scheme() {
        let rng = SystemRandom::new();
        let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = key.as_der().unwrap();
        let rc = rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap();
        let cert = certificate(&rc);
        let text = "fincert-device-sign-in-v1:x:y:z";
        for (padding, scheme, other) in [
            (
                &signature::RSA_PKCS1_SHA256 as &dyn signature::RsaEncoding,
                SignatureScheme::RsaPkcs1Sha256,
                SignatureScheme::RsaPssSha256,
            ),
            (
                &signature::RSA_PSS_SHA256,
                SignatureScheme::RsaPssSha256,
                SignatureScheme::RsaPkcs1Sha256,
            ),
        ] {
            let mut sig = vec![0; key.public_modulus_len()];
            key.sign(padding, &rng, text.as_bytes(), &mut sig).unwrap();
            assert!(verifies(&cert, &answer(text, scheme, &sig)), "{scheme:?}");
            assert!(!verifies(&cert, &answer(text, other, &sig)), "{other:?}");
        }
    }
}

//! The append-only, hash-chained audit log: what each event says and how the chain is checked.
//!
//! ```text
//!   genesis (32 zero bytes)
//!        │
//!        ▼
//!   ┌─────────┐  hash₁ = SHA-256("fincert-audit-v1" ‖ prev ‖ canonical(event₁))
//!   │ event 1 │──────────────┐
//!   └─────────┘              ▼
//!                       ┌─────────┐  hash₂ = SHA-256(… ‖ hash₁ ‖ canonical(event₂))
//!                       │ event 2 │───► … ───► audit_head (seq, hash)
//!                       └─────────┘
//! ```
//!
//! Each row stores the previous row's hash and its own; `audit_head` stores the last seq and hash,
//! so dropping rows from the end is caught as well as changing or removing one in the middle.
//! The canonical content is a JSON array of the stored columns in a fixed order, so any stored
//! column that changes changes the hash.
//!
//! This module is pure: it computes and checks chains. The queries are in `store::audit`.
//! Details must never hold a secret (PIN, OTP, key material): they are stored in plaintext.

use aws_lc_rs::digest;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// Length of every hash in the chain.
pub const HASH_LEN: usize = 32;
/// The `prev_hash` of the first event.
pub const GENESIS: [u8; HASH_LEN] = [0; HASH_LEN];
const DOMAIN: &[u8] = b"fincert-audit-v1";

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The service itself (background jobs, start-up).
    System,
    /// An operator on the server host, through the CLI.
    Operator,
    /// A certificate owner.
    User(String),
    /// A relying institution.
    Institution(String),
}

impl Actor {
    /// `(kind, id)` as stored.
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::System => ("system", "fincert"),
            Self::Operator => ("operator", "cli"),
            Self::User(id) => ("user", id),
            Self::Institution(id) => ("institution", id),
        }
    }
}

/// What happened. The stored string is stable: never rename a variant's string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Migrations were applied to the schema.
    SchemaMigrated,
    /// A custody key was generated and sealed.
    KeyCreated,
    /// A key was activated (PIN or passkey) for a bounded window.
    KeyActivated,
    /// A node opened a cluster authorization's activation record (CSC SAD) to sign with it.
    KeyActivationOpened,
    /// An activation attempt failed (wrong PIN, unbound passkey, integrity failure).
    KeyActivationFailed,
    /// A key's PIN was changed.
    PinChanged,
    /// A key's PIN locked after too many consecutive wrong attempts.
    PinLocked,
    /// A passkey got its own copy of a key's data key.
    PasskeyBound,
    /// A passkey's copy was removed.
    PasskeyUnbound,
    /// Wrapped data keys were moved to the current KMS key.
    KeysRewrapped,
    /// A new local KMS wrapping key was made current.
    KmsRotated,
    /// The CA hierarchy was created.
    CaInitialized,
    /// A certificate was issued.
    CertificateIssued,
    /// A certificate was renewed (new key and serial, same subject).
    CertificateRenewed,
    /// A certificate was reissued.
    CertificateReissued,
    /// A certificate was revoked.
    CertificateRevoked,
    /// A certificate was suspended (certificateHold).
    CertificateSuspended,
    /// A suspended certificate was resumed.
    CertificateResumed,
    /// A certificate passed its validity.
    CertificateExpired,
    /// A CRL was signed and published.
    CrlPublished,
    /// A certificate entered its renewal window; its holder is to be told.
    RenewalNoticeRecorded,
    /// A certificate issued by another CA was registered (public certificate or PKCS#12).
    ForeignCertificateRegistered,
    /// A user signed in (PIN or passkey) and got a session.
    LoggedIn,
    /// A session ended (refresh family revoked).
    LoggedOut,
    /// A used refresh token was presented again; its family was revoked.
    RefreshTokenReused,
    /// A new token signing key took over.
    TokenKeyRotated,
    /// An enrolment started.
    EnrolmentStarted,
    /// Terms were agreed to in an enrolment.
    EnrolmentTermsAgreed,
    /// An applicant's identity was verified.
    EnrolmentIdentityVerified,
    /// An applicant's identity did not match.
    EnrolmentIdentityFailed,
    /// A phone code was sent.
    EnrolmentCodeSent,
    /// A wrong phone code was entered.
    EnrolmentCodeFailed,
    /// The phone step passed.
    EnrolmentPhoneVerified,
    /// A security-medium challenge was issued.
    EnrolmentMediumChallenged,
    /// A security-medium answer was wrong (or replayed).
    EnrolmentMediumFailed,
    /// The security-medium step passed.
    EnrolmentMediumVerified,
    /// An enrolment ended with a certificate.
    EnrolmentCompleted,
    /// A passkey was registered (a new device).
    PasskeyRegistered,
    /// A passkey was removed.
    PasskeyRemoved,
    /// A passkey sign-in failed verification.
    PasskeySignInFailed,
    /// An institution was registered by the operator.
    InstitutionRegistered,
    /// An institution's client secret was rotated.
    InstitutionSecretRotated,
    /// An institution obtained an access token.
    InstitutionAuthenticated,
    /// An institution's client authentication failed.
    InstitutionAuthFailed,
    /// A user consented that an institution may request signatures with a certificate.
    ConsentGranted,
    /// A user withdrew a consent.
    ConsentWithdrawn,
    /// An institution created a signature request.
    SignatureRequested,
    /// A user approved a request and it was signed (details name the digests).
    SignatureCreated,
    /// A user rejected a request.
    SignatureRejected,
    /// An approval was refused (wrong PIN, altered content, spent challenge…).
    SignatureApprovalFailed,
}

impl Action {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SchemaMigrated => "schema.migrated",
            Self::KeyCreated => "key.created",
            Self::KeyActivated => "key.activated",
            Self::KeyActivationOpened => "key.activation_opened",
            Self::KeyActivationFailed => "key.activation_failed",
            Self::PinChanged => "key.pin_changed",
            Self::PinLocked => "key.pin_locked",
            Self::PasskeyBound => "key.passkey_bound",
            Self::PasskeyUnbound => "key.passkey_unbound",
            Self::KeysRewrapped => "kms.rewrapped",
            Self::KmsRotated => "kms.rotated",
            Self::CaInitialized => "ca.initialized",
            Self::CertificateIssued => "certificate.issued",
            Self::CertificateRenewed => "certificate.renewed",
            Self::CertificateReissued => "certificate.reissued",
            Self::CertificateRevoked => "certificate.revoked",
            Self::CertificateSuspended => "certificate.suspended",
            Self::CertificateResumed => "certificate.resumed",
            Self::CertificateExpired => "certificate.expired",
            Self::CrlPublished => "crl.published",
            Self::RenewalNoticeRecorded => "certificate.renewal_notice",
            Self::ForeignCertificateRegistered => "certificate.foreign_registered",
            Self::LoggedIn => "auth.login",
            Self::LoggedOut => "auth.logout",
            Self::RefreshTokenReused => "auth.refresh_reused",
            Self::TokenKeyRotated => "auth.token_key_rotated",
            Self::EnrolmentStarted => "enrolment.started",
            Self::EnrolmentTermsAgreed => "enrolment.terms_agreed",
            Self::EnrolmentIdentityVerified => "enrolment.identity_verified",
            Self::EnrolmentIdentityFailed => "enrolment.identity_failed",
            Self::EnrolmentCodeSent => "enrolment.code_sent",
            Self::EnrolmentCodeFailed => "enrolment.code_failed",
            Self::EnrolmentPhoneVerified => "enrolment.phone_verified",
            Self::EnrolmentMediumChallenged => "enrolment.medium_challenged",
            Self::EnrolmentMediumFailed => "enrolment.medium_failed",
            Self::EnrolmentMediumVerified => "enrolment.medium_verified",
            Self::EnrolmentCompleted => "enrolment.completed",
            Self::PasskeyRegistered => "passkey.registered",
            Self::PasskeyRemoved => "passkey.removed",
            Self::PasskeySignInFailed => "passkey.sign_in_failed",
            Self::InstitutionRegistered => "institution.registered",
            Self::InstitutionSecretRotated => "institution.secret_rotated",
            Self::InstitutionAuthenticated => "institution.authenticated",
            Self::InstitutionAuthFailed => "institution.auth_failed",
            Self::ConsentGranted => "consent.granted",
            Self::ConsentWithdrawn => "consent.withdrawn",
            Self::SignatureRequested => "signature.requested",
            Self::SignatureCreated => "signature.created",
            Self::SignatureRejected => "signature.rejected",
            Self::SignatureApprovalFailed => "signature.approval_failed",
        }
    }
}

/// An event before it joins the chain.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: Action,
    /// The object acted on (certificate serial, user id…), if any.
    pub subject: Option<String>,
    /// Further facts; never secrets.
    pub details: Value,
}

impl NewEvent {
    /// An event with no subject and no details.
    pub fn new(actor: Actor, action: Action) -> Self {
        Self {
            actor,
            action,
            subject: None,
            details: Value::Object(Default::default()),
        }
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the details.
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// An event as stored: every column the hash covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When it happened (microsecond precision).
    pub occurred_at: DateTime<Utc>,
    /// Actor kind.
    pub actor_kind: String,
    /// Actor id.
    pub actor_id: String,
    /// Action name.
    pub action: String,
    /// Subject, if any.
    pub subject: Option<String>,
    /// Details as canonical JSON text (keys sorted).
    pub details: String,
    /// Hash of the previous record (genesis for the first).
    pub prev_hash: Vec<u8>,
    /// Hash of this record.
    pub hash: Vec<u8>,
}

impl Record {
    /// The hash this record must have, given its content and `prev_hash`.
    pub fn expected_hash(&self) -> [u8; HASH_LEN] {
        let canonical = serde_json::json!([
            self.seq,
            self.occurred_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
            self.actor_kind,
            self.actor_id,
            self.action,
            self.subject,
            self.details,
        ]);
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(DOMAIN);
        ctx.update(&self.prev_hash);
        ctx.update(canonical.to_string().as_bytes());
        let mut out = [0u8; HASH_LEN];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }
}

/// Chains `events` after a head at `(head_seq, head_hash)`; all get the time `at`.
pub fn chain(
    head_seq: i64,
    head_hash: &[u8],
    at: DateTime<Utc>,
    events: &[NewEvent],
) -> Vec<Record> {
    let mut prev = head_hash.to_vec();
    events
        .iter()
        .zip(head_seq + 1..)
        .map(|(event, seq)| {
            let (actor_kind, actor_id) = event.actor.parts();
            let mut record = Record {
                seq,
                occurred_at: at,
                actor_kind: actor_kind.into(),
                actor_id: actor_id.into(),
                action: event.action.as_str().into(),
                subject: event.subject.clone(),
                // serde_json's map is ordered by key, so this text is canonical.
                details: event.details.to_string(),
                prev_hash: prev.clone(),
                hash: Vec::new(),
            };
            record.hash = record.expected_hash().to_vec();
            prev = record.hash.clone();
            record
        })
        .collect()
}

/// The first broken link found by [`Verifier`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    /// A seq is missing or out of order (a row was deleted or inserted).
    #[error("event {found}: expected seq {expected} (an event is missing or was inserted)")]
    Gap {
        /// The seq that should come next.
        expected: i64,
        /// The seq found.
        found: i64,
    },
    /// The row's `prev_hash` is not the previous row's hash.
    #[error("event {seq}: prev_hash does not match the hash of event {}", seq - 1)]
    PrevHash {
        /// The row.
        seq: i64,
    },
    /// The row's content does not hash to its stored hash (it was changed).
    #[error("event {seq}: content does not match its hash (the row was changed)")]
    Content {
        /// The row.
        seq: i64,
    },
    /// The head does not name the last row (rows were removed from the end or the head edited).
    #[error("chain head names event {head_seq} but the log ends at event {last_seq}")]
    Head {
        /// Seq the head names.
        head_seq: i64,
        /// Last seq in the table.
        last_seq: i64,
    },
}

/// Walks records in seq order and reports the first broken link.
#[derive(Debug)]
pub struct Verifier {
    next_seq: i64,
    prev_hash: Vec<u8>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            next_seq: 1,
            prev_hash: GENESIS.to_vec(),
        }
    }
}

impl Verifier {
    /// Checks the next record.
    pub fn push(&mut self, record: &Record) -> Result<(), Break> {
        if record.seq != self.next_seq {
            return Err(Break::Gap {
                expected: self.next_seq,
                found: record.seq,
            });
        }
        if record.prev_hash != self.prev_hash {
            return Err(Break::PrevHash { seq: record.seq });
        }
        if record.hash != record.expected_hash() {
            return Err(Break::Content { seq: record.seq });
        }
        self.next_seq += 1;
        self.prev_hash = record.hash.clone();
        Ok(())
    }

    /// Checks the head against the last record seen; returns the number of events.
    pub fn finish(self, head_seq: i64, head_hash: &[u8]) -> Result<i64, Break> {
        let last_seq = self.next_seq - 1;
        if head_seq != last_seq || head_hash != self.prev_hash.as_slice() {
            return Err(Break::Head { head_seq, last_seq });
        }
        Ok(last_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(n: usize) -> Vec<Record> {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let events: Vec<_> = (0..n)
            .map(|i| {
                NewEvent::new(Actor::User(format!("u{i}")), Action::SchemaMigrated)
                    .subject("s")
                    .details(json!({"z": i, "a": "x"}))
            })
            .collect();
        chain(0, &GENESIS, at, &events)
    }

    fn verify(records: &[Record]) -> Result<i64, Break> {
        let mut v = Verifier::default();
        for r in records {
            v.push(r)?;
        }
        let (seq, hash) = records
            .last()
            .map_or((0, GENESIS.to_vec()), |r| (r.seq, r.hash.clone()));
        v.finish(seq, &hash)
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&sample(5)), Ok(5));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn details_are_canonical_json() {
        assert_eq!(sample(1)[0].details, r#"{"a":"x","z":0}"#);
    }

    #[test]
    fn every_column_is_covered_by_the_hash() {
        let base = sample(3);
        let edits: Vec<Box<dyn Fn(&mut Record)>> = vec![
            Box::new(|r| r.occurred_at += chrono::Duration::microseconds(1)),
            Box::new(|r| r.actor_kind = "system".into()),
            Box::new(|r| r.actor_id = "other".into()),
            Box::new(|r| r.action = "x".into()),
            Box::new(|r| r.subject = None),
            Box::new(|r| r.details = r#"{"a":"y","z":1}"#.into()),
        ];
        for edit in edits {
            let mut records = base.clone();
            edit(&mut records[1]);
            assert_eq!(verify(&records), Err(Break::Content { seq: 2 }));
        }
    }

    #[test]
    fn rehashing_a_changed_row_breaks_the_next_link() {
        let mut records = sample(3);
        records[1].details = "{}".into();
        records[1].hash = records[1].expected_hash().to_vec();
        assert_eq!(verify(&records), Err(Break::PrevHash { seq: 3 }));
    }

    #[test]
    fn removed_rows_are_caught() {
        let mut records = sample(4);
        records.remove(1);
        assert_eq!(
            verify(&records),
            Err(Break::Gap {
                expected: 2,
                found: 3
            })
        );

        let records = sample(4);
        let mut v = Verifier::default();
        for r in &records[..3] {
            v.push(r).unwrap();
        }
        assert_eq!(
            v.finish(4, &records[3].hash),
            Err(Break::Head {
                head_seq: 4,
                last_seq: 3
            })
        );
    }

    #[test]
    fn chains_continue_from_a_head() {
        let first = sample(2);
        let at = DateTime::from_timestamp(1_800_000_100, 0).unwrap();
        let more = chain(
            2,
            &first[1].hash,
            at,
            &[NewEvent::new(Actor::System, Action::SchemaMigrated)],
        );
        assert_eq!(more[0].seq, 3);
        let all: Vec<_> = first.into_iter().chain(more).collect();
        assert_eq!(verify(&all), Ok(3));
    }
}

//! WebAuthn passkeys with webauthn-rs: registration (by a signed-in user, optionally bound to a
//! certificate's key through custody, which needs that key's PIN once), sign-in, listing and
//! removal. User verification is required (webauthn-rs passkeys), ceremonies are single-use and
//! live 5 minutes, and after each sign-in the stored credential is updated as webauthn-rs
//! advises (`Passkey::update_credential`: counter and backup state).

use std::sync::Arc;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use chrono::Duration;
use fincert_client::proto::passkeys::{PrfInputs, PrfValues};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Webauthn,
    WebauthnBuilder,
};
use zeroize::Zeroizing;

use super::messaging::{Channel, MessageSender};
use crate::{
    audit::{Action, Actor, NewEvent},
    clock::SharedClock,
    custody::{Custody, CustodyError, OwnerId, Prf},
    domain::pin::Pin,
    store::{self, StoreError},
};

/// Passkey failures.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The relying-party configuration is invalid.
    #[error("WebAuthn configuration: {0}")]
    Config(String),
    /// The ceremony is unknown, used already, expired, or another user's.
    #[error("this WebAuthn challenge is unknown, used or expired; start again")]
    Ceremony,
    /// The authenticator's answer did not verify.
    #[error("the passkey could not be verified")]
    Rejected,
    /// The answer's `prf` is not an authenticator's PRF output (base64url of 32 bytes).
    #[error("prf must be the authenticator's PRF output: 32 bytes in base64url")]
    Prf,
    /// The ceremony's challenge does not commit to the content as it is now.
    #[error("the approved content does not match")]
    Altered,
    /// No passkey registered for this certificate's holder.
    #[error("no passkey is registered")]
    NoPasskey,
    /// No such passkey for this user.
    #[error("no such passkey")]
    NotFound,
    /// Custody failed (wrong PIN when binding, KMS down).
    #[error(transparent)]
    Custody(#[from] CustodyError),
    /// Database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A passkey as the API shows it, and a started ceremony (its id and the options for
/// `navigator.credentials`): the wire types themselves.
pub use fincert_client::proto::passkeys::{Ceremony, PasskeyView};

/// The passkey service.
pub struct Passkeys {
    webauthn: Webauthn,
    custody: Arc<Custody>,
    sender: Arc<dyn MessageSender>,
    clock: SharedClock,
}

const CEREMONY_MINUTES: i64 = 5;
/// The owner a decoy sign-in ceremony is saved under (no holder has it).
const DECOY_OWNER: &str = "svc:passkey-sign-in-decoy";
/// The saved state of a decoy ceremony: no assertion can finish it.
const DECOY_STATE: &str = "\"decoy\"";

impl Passkeys {
    /// A service for relying party `rp_id` at `origin` (e.g. `localhost`, `http://localhost:8080`).
    pub fn new(
        rp_id: &str,
        origin: &str,
        custody: Arc<Custody>,
        sender: Arc<dyn MessageSender>,
        clock: SharedClock,
    ) -> Result<Self, PasskeyError> {
        let origin = Url::parse(origin).map_err(|e| PasskeyError::Config(e.to_string()))?;
        let webauthn = WebauthnBuilder::new(rp_id, &origin)
            .and_then(|b| b.rp_name("fincert").build())
            .map_err(|e| PasskeyError::Config(e.to_string()))?;
        Ok(Self {
            webauthn,
            custody,
            sender,
            clock,
        })
    }

    /// Records a started ceremony of `kind` (its serialized `state`, expiring after
    /// `CEREMONY_MINUTES`) under a fresh id and hands back that id with the `options`.
    async fn save_ceremony<T: Serialize>(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        kind: &str,
        state: &str,
        options: T,
    ) -> Result<Ceremony<T>, PasskeyError> {
        let id = Uuid::new_v4().to_string();
        store::enrolment::insert_ceremony(
            db,
            &id,
            owner.as_str(),
            kind,
            state,
            self.clock.now() + Duration::minutes(CEREMONY_MINUTES),
        )
        .await?;
        Ok(Ceremony {
            ceremony_id: id,
            options,
            prf: None,
        })
    }

    fn user_uuid(owner: &OwnerId) -> Uuid {
        Uuid::parse_str(owner.as_str()).unwrap_or_else(|_| {
            // Owners that are not UUIDs get a stable handle derived from their id.
            let digest =
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, owner.as_str().as_bytes());
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest.as_ref()[..16]);
            Uuid::from_bytes(bytes)
        })
    }

    /// Starts registering a passkey for a signed-in user.
    pub async fn start_registration(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
    ) -> Result<Ceremony<CreationChallengeResponse>, PasskeyError> {
        let existing = store::enrolment::passkeys_of(db, owner.as_str()).await?;
        let exclude: Vec<_> = existing
            .iter()
            .map(|r| r.passkey.cred_id().clone())
            .collect();
        let display = store::enrolment::user_profile(db, owner.as_str())
            .await?
            .map(|(name, _)| name)
            .unwrap_or_else(|| owner.as_str().to_owned());
        let (options, state) = self
            .webauthn
            .start_passkey_registration(
                Self::user_uuid(owner),
                owner.as_str(),
                &display,
                Some(exclude),
            )
            .map_err(|_| PasskeyError::Rejected)?;
        // A fresh PRF salt: an authenticator with PRF evaluates it at creation, and the copy
        // of a key bound to it then needs that output too.
        let salt = random_salt()?;
        let state = json!({ "state": state, "prf_salt": hex::encode(salt) }).to_string();
        let mut ceremony = self
            .save_ceremony(db, owner, "register", &state, options)
            .await?;
        ceremony.prf = Some(PrfInputs {
            eval: Some(PrfValues {
                first: B64URL.encode(salt),
            }),
            eval_by_credential: Default::default(),
        });
        Ok(ceremony)
    }

    /// Finishes a registration. With `bind = Some((key, pin))` the passkey also gets its own
    /// copy of that certificate key's data key (the PIN opens it once), so it can approve
    /// signatures; with the authenticator's `prf_output` over the ceremony's salt, that copy
    /// needs it too (sole control). The new device is audited and announced to the user's
    /// phone.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_registration(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        ceremony: &str,
        credential: &RegisterPublicKeyCredential,
        prf_output: Option<&str>,
        bind: Option<(Uuid, &Pin)>,
        name: &str,
    ) -> Result<PasskeyView, PasskeyError> {
        let prf_output = parse_prf_output(prf_output)?;
        let now = self.clock.now();
        let (user, state) = store::enrolment::take_ceremony(db, ceremony, "register", now)
            .await?
            .ok_or(PasskeyError::Ceremony)?;
        if user != *owner {
            return Err(PasskeyError::Ceremony);
        }
        let saved: serde_json::Value =
            serde_json::from_str(&state).map_err(|_| PasskeyError::Ceremony)?;
        let state: PasskeyRegistration = saved
            .get("state")
            .cloned()
            .and_then(|s| serde_json::from_value(s).ok())
            .ok_or(PasskeyError::Ceremony)?;
        let salt = saved
            .get("prf_salt")
            .and_then(|s| s.as_str())
            .and_then(|s| hex::decode(s).ok())
            .and_then(|s| <[u8; 32]>::try_from(s).ok());
        let passkey = self
            .webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(|_| PasskeyError::Rejected)?;
        let cred_id: &[u8] = passkey.cred_id().as_ref();
        let prf = match (salt, prf_output) {
            (Some(salt), Some(output)) => Some(Prf { salt, output }),
            _ => None,
        };
        if let Some((key, pin)) = bind {
            self.custody
                .bind_passkey_with(db, owner, key, pin, cred_id, prf.as_ref())
                .await?;
        }
        let sole_control = bind.is_some() && prf.is_some();
        let id = Uuid::new_v4().to_string();
        store::enrolment::insert_passkey(
            db,
            &id,
            owner.as_str(),
            &B64URL.encode(cred_id),
            &passkey,
            name,
            bind.map(|(k, _)| k),
            now,
        )
        .await?;
        let event = NewEvent::new(
            Actor::User(owner.as_str().into()),
            Action::PasskeyRegistered,
        )
        .subject(id.clone())
        .details(
            json!({"name": name, "bound_to_key": bind.is_some(), "sole_control": sole_control}),
        );
        store::audit::append(db, now, &[event]).await?;
        self.announce(db, owner, name).await;
        Ok(PasskeyView {
            id,
            name: name.to_owned(),
            bound_to_key: bind.is_some(),
            sole_control,
            created_at: now,
            last_used_at: None,
        })
    }

    /// Tells the user a device was added (best effort: the device is already registered).
    async fn announce(&self, db: &DatabaseConnection, owner: &OwnerId, name: &str) {
        let phone = match store::enrolment::user_phone(db, owner.as_str()).await {
            Ok(phone) => phone,
            Err(e) => {
                tracing::warn!(error = %e, "device announcement not sent: no phone read");
                None
            }
        };
        if let Some(phone) = phone {
            let body = format!(
                "[fincert] 새 기기(패스키) '{name}'가 등록되었습니다. 본인이 아니면 고객센터로 연락하세요."
            );
            if let Err(e) = self.sender.send(&phone, Channel::Sms, &body).await {
                tracing::warn!(error = %e, "device announcement not sent");
            }
        }
    }

    /// Starts a passkey sign-in for the holder of `owner`'s passkeys.
    pub async fn start_authentication(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
    ) -> Result<Ceremony<RequestChallengeResponse>, PasskeyError> {
        let creds: Vec<Passkey> = store::enrolment::passkeys_of(db, owner.as_str())
            .await?
            .into_iter()
            .map(|r| r.passkey)
            .collect();
        if creds.is_empty() {
            return Err(PasskeyError::NoPasskey);
        }
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&creds)
            .map_err(|_| PasskeyError::Rejected)?;
        let state = serde_json::to_string::<PasskeyAuthentication>(&state)
            .map_err(|_| PasskeyError::Rejected)?;
        self.save_ceremony(db, owner, "authenticate", &state, options)
            .await
    }

    /// Starts a sign-in ceremony that no authenticator can finish, for a certificate that is
    /// unknown, not active or has no passkey, shaped like a real one (a fresh challenge, the
    /// same options, one credential id: `Custody::decoy_credential_id`), and saved like one,
    /// so neither the answer nor the database work tells it apart. Finishing it fails like a
    /// wrong passkey.
    pub async fn start_decoy_authentication(
        &self,
        db: &DatabaseConnection,
        certificate_id: Uuid,
    ) -> Result<Ceremony<RequestChallengeResponse>, PasskeyError> {
        let id = self.custody.decoy_credential_id(certificate_id).await?;
        // Discoverable authentication is the one webauthn-rs start that needs no credential;
        // what it sets beyond a passkey sign-in (conditional mediation, the uvm extension) is
        // taken back, and the decoy id offered.
        let (mut options, _state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|_| PasskeyError::Rejected)?;
        options.mediation = None;
        options.public_key.extensions = None;
        let mut wire = serde_json::to_value(&options).map_err(|_| PasskeyError::Rejected)?;
        *wire
            .pointer_mut("/publicKey/allowCredentials")
            .ok_or(PasskeyError::Rejected)? =
            json!([{ "type": "public-key", "id": B64URL.encode(id) }]);
        let options: RequestChallengeResponse =
            serde_json::from_value(wire).map_err(|_| PasskeyError::Rejected)?;
        let owner = OwnerId::parse(DECOY_OWNER).map_err(|_| PasskeyError::Rejected)?;
        self.save_ceremony(db, &owner, "authenticate", DECOY_STATE, options)
            .await
    }

    /// Starts a passkey ceremony for `owner` whose challenge is `challenge` rather than a
    /// random one, recorded as `kind` and bound to `binding` (e.g. a signature request id).
    /// Used for dynamic linking: the challenge commits to what is being approved, so the
    /// authenticator's signature covers it. Only passkeys bound to `key_id` are offered.
    pub async fn start_bound_authentication(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        key_id: Uuid,
        kind: &str,
        binding: &str,
        challenge: [u8; 32],
    ) -> Result<Ceremony<RequestChallengeResponse>, PasskeyError> {
        let creds: Vec<Passkey> = store::enrolment::passkeys_of(db, owner.as_str())
            .await?
            .into_iter()
            .filter(|r| r.custody_key_id == Some(key_id))
            .map(|r| r.passkey)
            .collect();
        if creds.is_empty() {
            return Err(PasskeyError::NoPasskey);
        }
        // Each credential whose slot was bound with its PRF is asked to evaluate that salt.
        let salts = self.custody.prf_salts(db, key_id).await?;
        let prf: std::collections::BTreeMap<String, PrfValues> = creds
            .iter()
            .filter_map(|c| {
                let id: &[u8] = c.cred_id().as_ref();
                let salt = salts.get(&crate::custody::Slot::passkey(id).name())?;
                Some((
                    B64URL.encode(id),
                    PrfValues {
                        first: B64URL.encode(salt),
                    },
                ))
            })
            .collect();
        let (mut options, state) = self
            .webauthn
            .start_passkey_authentication(&creds)
            .map_err(|_| PasskeyError::Rejected)?;
        // webauthn-rs draws a random challenge; replace it (in the options and in the saved
        // state alike) with ours, which is fresh too (it holds a nonce) and commits to the
        // binding's content.
        let mut state = serde_json::to_value(&state).map_err(|_| PasskeyError::Rejected)?;
        let slot = state
            .pointer_mut("/ast/challenge")
            .ok_or(PasskeyError::Rejected)?;
        *slot = json!(B64URL.encode(challenge));
        options.public_key.challenge = challenge.to_vec();
        let saved = json!({ "binding": binding, "state": state, "prf": prf }).to_string();
        let mut ceremony = self.save_ceremony(db, owner, kind, &saved, options).await?;
        if !prf.is_empty() {
            ceremony.prf = Some(PrfInputs {
                eval: None,
                eval_by_credential: prf,
            });
        }
        Ok(ceremony)
    }

    /// Finishes a ceremony started by [`start_bound_authentication`](Self::start_bound_authentication):
    /// it must be of `kind`, and `expected` — given the stored binding — must recompute its
    /// challenge from the content as it is now (`None`: the binding is not acceptable).
    /// Single-use either way. Returns the owner, the credential id used and, when that
    /// credential was asked for its PRF and `prf_output` is its answer, the [`Prf`] that opens
    /// its slot.
    pub async fn finish_bound_authentication(
        &self,
        db: &DatabaseConnection,
        ceremony: &str,
        kind: &str,
        expected: impl FnOnce(&str) -> Option<[u8; 32]>,
        credential: &PublicKeyCredential,
        prf_output: Option<&str>,
    ) -> Result<(OwnerId, Vec<u8>, Option<Prf>), PasskeyError> {
        let prf_output = parse_prf_output(prf_output)?;
        let now = self.clock.now();
        let (user, saved) = store::enrolment::take_ceremony(db, ceremony, kind, now)
            .await?
            .ok_or(PasskeyError::Ceremony)?;
        let saved: serde_json::Value =
            serde_json::from_str(&saved).map_err(|_| PasskeyError::Ceremony)?;
        let challenge = saved
            .get("binding")
            .and_then(|b| b.as_str())
            .and_then(expected)
            .ok_or(PasskeyError::Ceremony)?;
        let expected = B64URL.encode(challenge);
        if saved
            .pointer("/state/ast/challenge")
            .and_then(|c| c.as_str())
            != Some(&expected)
        {
            return Err(PasskeyError::Altered);
        }
        let state: PasskeyAuthentication = saved
            .get("state")
            .cloned()
            .and_then(|s| serde_json::from_value(s).ok())
            .ok_or(PasskeyError::Ceremony)?;
        let (owner, cred) = self
            .verify_assertion(db, ceremony, &user, &state, credential)
            .await?;
        let salt = saved
            .pointer(&format!("/prf/{}/first", B64URL.encode(&cred)))
            .and_then(|s| s.as_str())
            .and_then(|s| B64URL.decode(s).ok())
            .and_then(|s| <[u8; 32]>::try_from(s).ok());
        let prf = match (salt, prf_output) {
            (Some(salt), Some(output)) => Some(Prf { salt, output }),
            _ => None,
        };
        Ok((owner, cred, prf))
    }

    /// Finishes a passkey sign-in; returns the user and the credential id used.
    pub async fn finish_authentication(
        &self,
        db: &DatabaseConnection,
        ceremony: &str,
        credential: &PublicKeyCredential,
    ) -> Result<(OwnerId, Vec<u8>), PasskeyError> {
        let now = self.clock.now();
        let (user, state) = store::enrolment::take_ceremony(db, ceremony, "authenticate", now)
            .await?
            .ok_or(PasskeyError::Ceremony)?;
        if state == DECOY_STATE {
            let event = NewEvent::new(Actor::System, Action::PasskeySignInFailed)
                .subject(ceremony.to_owned())
                .details(json!({"decoy": true}));
            store::audit::append(db, now, &[event]).await?;
            return Err(PasskeyError::Rejected);
        }
        let state: PasskeyAuthentication =
            serde_json::from_str(&state).map_err(|_| PasskeyError::Ceremony)?;
        self.verify_assertion(db, ceremony, &user, &state, credential)
            .await
    }

    /// Verifies an assertion against a saved ceremony and updates the credential's counter
    /// and backup state as webauthn-rs advises.
    async fn verify_assertion(
        &self,
        db: &DatabaseConnection,
        ceremony: &str,
        owner: &OwnerId,
        state: &PasskeyAuthentication,
        credential: &PublicKeyCredential,
    ) -> Result<(OwnerId, Vec<u8>), PasskeyError> {
        let now = self.clock.now();
        let result = match self
            .webauthn
            .finish_passkey_authentication(credential, state)
        {
            Ok(r) => r,
            Err(_) => {
                let event = NewEvent::new(
                    Actor::User(owner.as_str().to_owned()),
                    Action::PasskeySignInFailed,
                )
                .subject(ceremony.to_owned());
                store::audit::append(db, now, &[event]).await?;
                return Err(PasskeyError::Rejected);
            }
        };
        for mut row in store::enrolment::passkeys_of(db, owner.as_str()).await? {
            if row.passkey.cred_id() == result.cred_id() {
                row.passkey.update_credential(&result);
                store::enrolment::update_passkey(db, &row.id, &row.passkey, now).await?;
            }
        }
        Ok((
            owner.clone(),
            AsRef::<[u8]>::as_ref(result.cred_id()).to_vec(),
        ))
    }

    /// A user's passkeys.
    pub async fn list(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
    ) -> Result<Vec<PasskeyView>, PasskeyError> {
        let mut views = Vec::new();
        let mut salts = std::collections::HashMap::new();
        for r in store::enrolment::passkeys_of(db, owner.as_str()).await? {
            let sole_control = match r.custody_key_id {
                Some(key) => {
                    if let std::collections::hash_map::Entry::Vacant(e) = salts.entry(key) {
                        e.insert(self.custody.prf_salts(db, key).await?);
                    }
                    let slot = crate::custody::Slot::passkey(r.passkey.cred_id().as_ref());
                    salts
                        .get(&key)
                        .is_some_and(|s| s.contains_key(&slot.name()))
                }
                None => false,
            };
            views.push(PasskeyView {
                id: r.id,
                name: r.name,
                bound_to_key: r.custody_key_id.is_some(),
                sole_control,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
            });
        }
        Ok(views)
    }

    /// Removes a passkey, and its copy of a certificate key's data key.
    pub async fn remove(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        id: &str,
    ) -> Result<(), PasskeyError> {
        let row = store::enrolment::delete_passkey(db, owner.as_str(), id)
            .await?
            .ok_or(PasskeyError::NotFound)?;
        if let Some(key) = row.custody_key_id {
            match self
                .custody
                .unbind_passkey(db, owner, key, row.passkey.cred_id().as_ref())
                .await
            {
                Ok(()) | Err(CustodyError::PasskeyNotBound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let event = NewEvent::new(Actor::User(owner.as_str().into()), Action::PasskeyRemoved)
            .subject(id.to_owned());
        store::audit::append(db, self.clock.now(), &[event]).await?;
        Ok(())
    }
}

/// 32 random bytes: a slot's PRF salt.
fn random_salt() -> Result<[u8; 32], PasskeyError> {
    let mut salt = [0u8; 32];
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| PasskeyError::Rejected)?;
    Ok(salt)
}

/// An authenticator's PRF output as a ceremony's answer carries it: base64url of exactly 32
/// bytes (WebAuthn `prf` results are 32 bytes), or absent. Anything else is refused.
pub fn parse_prf_output(raw: Option<&str>) -> Result<Option<Zeroizing<[u8; 32]>>, PasskeyError> {
    let Some(raw) = raw else { return Ok(None) };
    let bytes = Zeroizing::new(B64URL.decode(raw).map_err(|_| PasskeyError::Prf)?);
    let mut out = Zeroizing::new([0u8; 32]);
    if bytes.len() != out.len() {
        return Err(PasskeyError::Prf);
    }
    out.copy_from_slice(&bytes);
    Ok(Some(out))
}

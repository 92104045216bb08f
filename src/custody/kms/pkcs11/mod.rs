//! The `pkcs11` KMS: a PKCS#11 HSM (Thales Luna, Entrust nShield, AWS CloudHSM, Azure
//! Managed HSM through its PKCS#11 library; SoftHSM2 in tests) through the `cryptoki` crate.
//!
//! - **Data keys** come from the token's random generator (`C_GenerateRandom`).
//! - **Wrapping** is `CKM_AES_GCM` under an AES-256 key that lives on the token, with the
//!   encryption context's canonical bytes as associated data and a fresh 96-bit IV (from the
//!   token's generator) per wrap, kept in the blob:
//!   `0x01 ‖ IV (12) ‖ ciphertext ‖ tag (16)`. The blob's key id is `pkcs11:<key label>`, so
//!   after `kms.pkcs11_wrap_key_label` names a new key, blobs under the old label still open
//!   (the old key stays on the token) and `fincert kms rewrap` moves them. Random IVs cap one
//!   key at about 2³² wraps (NIST SP 800-38D): rotate the wrapping key well before that.
//! - **PIN binding** is `CKM_SHA256_HMAC` under a 256-bit generic secret on the token;
//!   `verify_mac` is `C_Verify`, so the comparison happens in the HSM.
//! - Both keys are sensitive, non-extractable token objects ([`keys`]); sessions are pooled,
//!   every call is bounded in time and re-established after the token drops ([`pool`]);
//!   [`login`] loads the module and logs in.
//!
//! It never logs or returns what it unwraps anywhere but to its caller, in zeroizing memory;
//! errors carry PKCS#11 return-value names only.

pub mod keys;
pub mod login;
pub mod pool;

use std::{
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use cryptoki::{
    error::{Error as CkError, RvError},
    mechanism::{Mechanism, aead::GcmParams},
    object::{Attribute, AttributeType},
};
use zeroize::Zeroizing;

use self::{
    keys::KeyLabels,
    login::{Target, TokenRef},
    pool::{Ctx, OpError, Pool, connection_lost},
};
use super::{DATA_KEY_LEN, DataKey, EncryptionContext, Kms, KmsError, WrappedKey};
use crate::config::KmsSettings;

const BLOB_VERSION: u8 = 1;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The GCM tag length in bits, as `CK_GCM_PARAMS` takes it.
const TAG_BITS: u64 = 128;
const MAX_PLAINTEXT: usize = 4096;
/// What `kms_key_id` of a blob made here starts with.
pub const KEY_ID_PREFIX: &str = "pkcs11:";

/// The PKCS#11 backend.
#[derive(Debug, Clone)]
pub struct Pkcs11Kms {
    pool: Arc<Pool>,
}

/// The connection target the settings describe, with the PIN read from its secret.
pub fn target(settings: &KmsSettings) -> Result<Target, KmsError> {
    let pin = if settings.pkcs11_pin_file.is_empty() {
        Zeroizing::new(settings.pkcs11_pin.expose().to_owned())
    } else {
        let text = Zeroizing::new(std::fs::read_to_string(&settings.pkcs11_pin_file).map_err(
            |e| {
                KmsError::Rejected(format!(
                    "kms.pkcs11_pin_file {}: {}",
                    settings.pkcs11_pin_file,
                    e.kind()
                ))
            },
        )?);
        Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned())
    };
    if pin.is_empty() {
        return Err(KmsError::Rejected("the HSM user PIN is empty".into()));
    }
    Ok(Target {
        module: settings.pkcs11_module.clone().into(),
        token: match settings.pkcs11_slot {
            Some(slot) => TokenRef::Slot(slot),
            None => TokenRef::Label(settings.pkcs11_token_label.clone()),
        },
        pin,
        labels: KeyLabels {
            wrap: settings.pkcs11_wrap_key_label.clone(),
            mac: settings.pkcs11_mac_key_label.clone(),
        },
        create_keys: settings.pkcs11_create_keys,
    })
}

/// What a shared pool is found by: module and token, slot, wrapping and MAC key labels.
#[derive(PartialEq, Eq)]
struct PoolKey(String, Option<u64>, String, String);

/// The pools of this process, by module, token and key labels: a PKCS#11 module is initialized
/// once per process, so the KMS backend and the CA keys on the same token share one pool
/// (and one login) instead of finalizing each other's sessions.
static POOLS: Mutex<Vec<(PoolKey, Weak<Pool>)>> = Mutex::new(Vec::new());

/// Closes every pool's connection (sessions, then `C_Finalize`), for the end of a process: a
/// module left initialized may crash in its own exit-time destructors (SoftHSM2 does, with a
/// segmentation fault, when OpenSSL's clean-up has run before its own). A call made after this
/// connects again.
pub fn finalize_all() {
    let pools: Vec<Arc<Pool>> = POOLS
        .lock()
        .map(|p| p.iter().filter_map(|(_, weak)| weak.upgrade()).collect())
        .unwrap_or_default();
    for pool in pools {
        pool.disconnect();
    }
}

/// The pool for the token `settings` name: the one this process already has, or a new one.
pub fn shared_pool(settings: &KmsSettings) -> Result<Arc<Pool>, KmsError> {
    let key = PoolKey(
        format!("{}|{}", settings.pkcs11_module, settings.pkcs11_token_label),
        settings.pkcs11_slot,
        settings.pkcs11_wrap_key_label.clone(),
        settings.pkcs11_mac_key_label.clone(),
    );
    let mut pools = POOLS
        .lock()
        .map_err(|_| KmsError::Unavailable("HSM pool registry poisoned".into()))?;
    pools.retain(|(_, weak)| weak.strong_count() > 0);
    if let Some(pool) = pools
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, weak)| weak.upgrade())
    {
        return Ok(pool);
    }
    let pool = Pool::new(
        target(settings)?,
        usize::try_from(settings.pkcs11_pool_size).unwrap_or(1),
        Duration::from_millis(settings.pkcs11_timeout_ms),
    );
    pools.push((key, Arc::downgrade(&pool)));
    Ok(pool)
}

impl Pkcs11Kms {
    /// Loads the module, logs in and finds the two keys (creating them when
    /// `kms.pkcs11_create_keys`), so a wrong module, token, PIN or key stops start-up.
    pub async fn connect(settings: &KmsSettings) -> Result<Self, KmsError> {
        let pool = shared_pool(settings)?;
        pool.connect_now().await?;
        Ok(Self { pool })
    }

    /// Creates whichever of the two keys the token lacks (`fincert kms create-keys`); returns
    /// the labels made. Existing keys are checked, never replaced.
    pub async fn create_keys(settings: &KmsSettings) -> Result<Vec<String>, KmsError> {
        let target = target(settings)?;
        let labels = target.labels.clone();
        login::one_off(
            target,
            Duration::from_millis(settings.pkcs11_timeout_ms),
            move |session| keys::create_missing(session, &labels),
        )
        .await
    }

    /// The session pool (the CA signer shares it: one `C_Initialize` per process).
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    fn key_label<'a>(&self, wrapped: &'a WrappedKey) -> Result<&'a str, KmsError> {
        wrapped
            .kms_key_id
            .strip_prefix(KEY_ID_PREFIX)
            .filter(|l| !l.is_empty())
            .ok_or(KmsError::InvalidCiphertext)
    }
}

/// Wraps `plaintext` in `ctx`'s session under the current key.
fn seal(ctx: &Ctx<'_>, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, OpError> {
    let mut iv = [0u8; IV_LEN];
    ctx.session.generate_random_slice(&mut iv)?;
    let sealed = {
        let params = GcmParams::new(&mut iv, aad, TAG_BITS.into())?;
        ctx.session
            .encrypt(&Mechanism::AesGcm(params), ctx.keys().wrap, plaintext)?
    };
    if sealed.len() != plaintext.len() + TAG_LEN {
        return Err(OpError::Kms(KmsError::Rejected(
            "the HSM returned an AES-GCM ciphertext of the wrong length".into(),
        )));
    }
    let mut blob = Vec::with_capacity(1 + IV_LEN + sealed.len());
    blob.push(BLOB_VERSION);
    blob.extend_from_slice(&iv);
    blob.extend_from_slice(&sealed);
    Ok(blob)
}

/// Unwraps `blob` under the key labelled `label`.
fn open(
    ctx: &Ctx<'_>,
    label: &str,
    blob: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpError> {
    if blob.len() < 1 + IV_LEN + TAG_LEN || blob[0] != BLOB_VERSION {
        return Err(OpError::Kms(KmsError::InvalidCiphertext));
    }
    let key = ctx.wrap_key(label)?;
    let mut iv = [0u8; IV_LEN];
    iv.copy_from_slice(&blob[1..1 + IV_LEN]);
    let params = GcmParams::new(&mut iv, aad, TAG_BITS.into())?;
    match ctx
        .session
        .decrypt(&Mechanism::AesGcm(params), key, &blob[1 + IV_LEN..])
    {
        Ok(plaintext) => Ok(Zeroizing::new(plaintext)),
        Err(e) => Err(refused_blob(ctx, key, e)),
    }
}

/// What a failed `C_Decrypt` means. Modules report a wrong tag differently (Luna:
/// `CKR_ENCRYPTED_DATA_INVALID`; SoftHSM: `CKR_GENERAL_ERROR`), and some of those codes also
/// mean "the device failed". So the session and the key are asked at once: if both still
/// answer, the token is there and the blob is what did not open; if not, the connection is
/// lost and the call is `Unavailable`, never mistaken for a bad blob.
fn refused_blob(ctx: &Ctx<'_>, key: cryptoki::object::ObjectHandle, e: CkError) -> OpError {
    let ambiguous = matches!(
        e,
        CkError::Pkcs11(
            RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::DataInvalid
                | RvError::DataLenRange
                | RvError::GeneralError
                | RvError::FunctionFailed,
            _
        )
    );
    if !ambiguous {
        return OpError::Ck(e);
    }
    let healthy = ctx.session.get_session_info().and_then(|_| {
        ctx.session
            .get_attributes(key, &[AttributeType::Class])
            .map(|_| ())
    });
    match healthy {
        Ok(()) => OpError::Kms(KmsError::InvalidCiphertext),
        Err(lost) if connection_lost(&lost) => OpError::Ck(lost),
        Err(_) => OpError::Ck(e),
    }
}

#[async_trait::async_trait]
impl Kms for Pkcs11Kms {
    fn backend(&self) -> &'static str {
        "pkcs11"
    }

    fn current_key_id(&self) -> String {
        format!("{KEY_ID_PREFIX}{}", self.pool.labels().wrap)
    }

    async fn generate_data_key(&self, _context: &EncryptionContext) -> Result<DataKey, KmsError> {
        self.pool
            .call(|ctx| {
                let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
                ctx.session.generate_random_slice(key.as_mut())?;
                Ok(key)
            })
            .await
    }

    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(KmsError::Rejected(
                "plaintext longer than 4096 bytes".into(),
            ));
        }
        let plaintext = Zeroizing::new(plaintext.to_vec());
        let aad = context.canonical();
        let blob = self
            .pool
            .call(move |ctx| seal(ctx, &plaintext, &aad))
            .await?;
        Ok(WrappedKey {
            kms_key_id: self.current_key_id(),
            blob,
        })
    }

    async fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let label = self.key_label(wrapped)?.to_owned();
        let blob = wrapped.blob.clone();
        let aad = context.canonical();
        self.pool
            .call(move |ctx| open(ctx, &label, &blob, &aad))
            .await
    }

    async fn re_encrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        // PKCS#11 has no re-encrypt: open and seal in one call, the plaintext only in
        // zeroizing memory between the two.
        let label = self.key_label(wrapped)?.to_owned();
        let blob = wrapped.blob.clone();
        let aad = context.canonical();
        let blob = self
            .pool
            .call(move |ctx| {
                let plaintext = open(ctx, &label, &blob, &aad)?;
                seal(ctx, &plaintext, &aad)
            })
            .await?;
        Ok(WrappedKey {
            kms_key_id: self.current_key_id(),
            blob,
        })
    }

    async fn mac(&self, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let message = Zeroizing::new(message.to_vec());
        self.pool
            .call(move |ctx| {
                let mac = Zeroizing::new(ctx.session.sign(
                    &Mechanism::Sha256Hmac,
                    ctx.keys().mac,
                    &message,
                )?);
                Ok(mac)
            })
            .await
    }

    async fn verify_mac(&self, message: &[u8], mac: &[u8]) -> Result<bool, KmsError> {
        let message = Zeroizing::new(message.to_vec());
        let mac = mac.to_vec();
        self.pool
            .call(move |ctx| {
                match ctx
                    .session
                    .verify(&Mechanism::Sha256Hmac, ctx.keys().mac, &message, &mac)
                {
                    Ok(()) => Ok(true),
                    Err(CkError::Pkcs11(
                        RvError::SignatureInvalid | RvError::SignatureLenRange,
                        _,
                    )) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            })
            .await
    }

    async fn probe(&self) -> Result<(), KmsError> {
        // The session answers and the wrapping key is still on the token (the module reads the
        // token's store: a pulled token or a lost connection shows here).
        self.pool
            .call(|ctx| {
                ctx.session.get_session_info()?;
                let found = ctx.session.find_objects(&[
                    Attribute::Class(cryptoki::object::ObjectClass::SECRET_KEY),
                    Attribute::Label(ctx.labels().wrap.as_bytes().to_vec()),
                ])?;
                if found.is_empty() {
                    return Err(OpError::Ck(CkError::Pkcs11(
                        RvError::KeyHandleInvalid,
                        cryptoki::context::Function::FindObjects,
                    )));
                }
                Ok(())
            })
            .await
    }
}

//! The `local` KMS: a keyring file in the data directory, for development and the embedded
//! default. Wrapping is AES-256-GCM with the encryption context as associated data; the MAC key
//! is a separate 256-bit HMAC-SHA256 key that never rotates (PIN bindings depend on it).
//!
//! The file is created with mode 0600 (its directory 0700) on first use and replaced
//! atomically. Old wrapping keys stay in the ring after `rotate` so existing blobs still open;
//! `fincert kms rewrap` moves blobs to the current key.
//!
//! Blob format: `0x01 ‖ key id (8 bytes) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::RwLock,
};

use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    constant_time, hmac,
    rand::{SecureRandom, SystemRandom},
};
use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{DATA_KEY_LEN, DataKey, EncryptionContext, Kms, KmsError, WrappedKey};

const BLOB_VERSION: u8 = 1;
const ID_LEN: usize = 8;
const MAX_PLAINTEXT: usize = 4096;

/// Why the keyring could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// File system error.
    #[error("keyring {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a keyring.
    #[error("keyring {path}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The random source failed.
    #[error("random source failed")]
    Random,
}

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    version: u32,
    mac_key: Zeroizing<String>,
    wrapping_keys: Vec<StoredKey>,
    current: String,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    id: String,
    key: Zeroizing<String>,
    created_at: String,
}

struct WrappingKey {
    id: [u8; ID_LEN],
    key: LessSafeKey,
}

struct Ring {
    mac: hmac::Key,
    keys: Vec<WrappingKey>,
    current: [u8; ID_LEN],
}

/// The local KMS.
pub struct LocalKms {
    path: PathBuf,
    ring: RwLock<Ring>,
    rng: SystemRandom,
}

impl std::fmt::Debug for LocalKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKms")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn random<const N: usize>(rng: &SystemRandom) -> Result<Zeroizing<[u8; N]>, KeyringError> {
    let mut out = Zeroizing::new([0u8; N]);
    rng.fill(out.as_mut()).map_err(|_| KeyringError::Random)?;
    Ok(out)
}

impl LocalKms {
    /// Opens the keyring at `path`, creating it (mode 0600) with a fresh MAC key and wrapping
    /// key if it does not exist.
    pub fn open_or_create(path: &Path) -> Result<Self, KeyringError> {
        let rng = SystemRandom::new();
        if !path.exists() {
            let mac = random::<32>(&rng)?;
            let key = random::<32>(&rng)?;
            let id = key_id(key.as_ref());
            let file = KeyringFile {
                version: 1,
                mac_key: Zeroizing::new(B64.encode(mac.as_ref())),
                wrapping_keys: vec![StoredKey {
                    id: hex::encode(id),
                    key: Zeroizing::new(B64.encode(key.as_ref())),
                    created_at: "first use".into(),
                }],
                current: hex::encode(id),
            };
            write_file(path, &file)?;
        }
        let ring = read_file(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            ring: RwLock::new(ring),
            rng,
        })
    }

    /// Adds a new wrapping key and makes it current; returns its id. Existing blobs keep
    /// opening under their old key until `rewrap` moves them.
    pub fn rotate(&self, created_at: &str) -> Result<String, KeyringError> {
        let mut file: KeyringFile = read_json(&self.path)?;
        let key = random::<32>(&self.rng)?;
        let id = key_id(key.as_ref());
        file.wrapping_keys.push(StoredKey {
            id: hex::encode(id),
            key: Zeroizing::new(B64.encode(key.as_ref())),
            created_at: created_at.into(),
        });
        file.current = hex::encode(id);
        write_file(&self.path, &file)?;
        let ring = read_file(&self.path)?;
        *self.ring.write().map_err(|_| KeyringError::Random)? = ring;
        Ok(format!("local:{}", hex::encode(id)))
    }

    fn seal(&self, plaintext: &[u8], context: &EncryptionContext) -> Result<WrappedKey, KmsError> {
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(KmsError::Rejected(
                "plaintext longer than 4096 bytes".into(),
            ));
        }
        let ring = self
            .ring
            .read()
            .map_err(|_| KmsError::Unavailable("keyring lock poisoned".into()))?;
        let current = ring
            .keys
            .iter()
            .find(|k| k.id == ring.current)
            .ok_or_else(|| KmsError::Unavailable("current key missing from keyring".into()))?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| KmsError::Unavailable("random source failed".into()))?;
        let mut in_out = plaintext.to_vec();
        let aad = context.canonical();
        let tag = current
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut in_out,
            )
            .map_err(|_| KmsError::Unavailable("seal failed".into()))?;
        let mut blob =
            Vec::with_capacity(1 + ID_LEN + NONCE_LEN + in_out.len() + tag.as_ref().len());
        blob.push(BLOB_VERSION);
        blob.extend_from_slice(&current.id);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&in_out);
        blob.extend_from_slice(tag.as_ref());
        Ok(WrappedKey {
            kms_key_id: format!("local:{}", hex::encode(current.id)),
            blob,
        })
    }

    fn open(
        &self,
        blob: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let header = 1 + ID_LEN + NONCE_LEN;
        if blob.len() < header + 16 || blob[0] != BLOB_VERSION {
            return Err(KmsError::InvalidCiphertext);
        }
        let ring = self
            .ring
            .read()
            .map_err(|_| KmsError::Unavailable("keyring lock poisoned".into()))?;
        let key = ring
            .keys
            .iter()
            .find(|k| k.id[..] == blob[1..1 + ID_LEN])
            .ok_or(KmsError::InvalidCiphertext)?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&blob[1 + ID_LEN..header]);
        let mut in_out = Zeroizing::new(blob[header..].to_vec());
        let aad = context.canonical();
        let len = key
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                in_out.as_mut(),
            )
            .map_err(|_| KmsError::InvalidCiphertext)?
            .len();
        in_out.truncate(len);
        Ok(in_out)
    }
}

#[async_trait::async_trait]
impl Kms for LocalKms {
    fn backend(&self) -> &'static str {
        "local"
    }

    fn current_key_id(&self) -> String {
        self.ring
            .read()
            .map(|r| format!("local:{}", hex::encode(r.current)))
            .unwrap_or_default()
    }

    async fn generate_data_key(&self, _context: &EncryptionContext) -> Result<DataKey, KmsError> {
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        self.rng
            .fill(key.as_mut())
            .map_err(|_| KmsError::Unavailable("random source failed".into()))?;
        Ok(key)
    }

    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        self.seal(plaintext, context)
    }

    async fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        self.open(&wrapped.blob, context)
    }

    async fn re_encrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KmsError> {
        let plaintext = self.open(&wrapped.blob, context)?;
        self.seal(&plaintext, context)
    }

    async fn mac(&self, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let ring = self
            .ring
            .read()
            .map_err(|_| KmsError::Unavailable("keyring lock poisoned".into()))?;
        Ok(Zeroizing::new(
            hmac::sign(&ring.mac, message).as_ref().to_vec(),
        ))
    }

    async fn verify_mac(&self, message: &[u8], mac: &[u8]) -> Result<bool, KmsError> {
        let expected = self.mac(message).await?;
        Ok(constant_time::verify_slices_are_equal(&expected, mac).is_ok())
    }

    async fn probe(&self) -> Result<(), KmsError> {
        // The keys are in memory: the only way to fail is a poisoned lock.
        self.ring
            .read()
            .map(|_| ())
            .map_err(|_| KmsError::Unavailable("keyring lock poisoned".into()))
    }
}

fn key_id(key: &[u8]) -> [u8; ID_LEN] {
    // An id that names the key without revealing it: a hash, truncated.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key);
    let mut id = [0u8; ID_LEN];
    id.copy_from_slice(&digest.as_ref()[..ID_LEN]);
    id
}

fn read_json(path: &Path) -> Result<KeyringFile, KeyringError> {
    let text =
        Zeroizing::new(
            std::fs::read_to_string(path).map_err(|source| KeyringError::Io {
                path: path.into(),
                source,
            })?,
        );
    serde_json::from_str(&text).map_err(|e| KeyringError::Invalid {
        path: path.into(),
        problem: format!(
            "not a keyring file (line {}, column {})",
            e.line(),
            e.column()
        ),
    })
}

fn read_file(path: &Path) -> Result<Ring, KeyringError> {
    let file = read_json(path)?;
    let invalid = |problem: &str| KeyringError::Invalid {
        path: path.into(),
        problem: problem.into(),
    };
    let decode = |s: &str| -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        let bytes = Zeroizing::new(B64.decode(s).map_err(|_| invalid("a key is not base64"))?);
        if bytes.len() != 32 {
            return Err(invalid("a key is not 32 bytes"));
        }
        Ok(bytes)
    };
    let mac = hmac::Key::new(hmac::HMAC_SHA256, &decode(&file.mac_key)?);
    let mut keys = Vec::new();
    for stored in &file.wrapping_keys {
        let bytes = decode(&stored.key)?;
        let id = key_id(&bytes);
        if hex::encode(id) != stored.id {
            return Err(invalid("a key's id does not match the key"));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| invalid("bad AES key"))?;
        keys.push(WrappingKey {
            id,
            key: LessSafeKey::new(unbound),
        });
    }
    let mut current = [0u8; ID_LEN];
    hex::decode_to_slice(&file.current, &mut current)
        .map_err(|_| invalid("current is not a key id"))?;
    if !keys.iter().any(|k| k.id == current) {
        return Err(invalid("current names no key in the ring"));
    }
    Ok(Ring { mac, keys, current })
}

fn write_file(path: &Path, file: &KeyringFile) -> Result<(), KeyringError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let io = |source| KeyringError::Io {
        path: path.into(),
        source,
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    let text =
        Zeroizing::new(
            serde_json::to_string_pretty(file).map_err(|e| KeyringError::Invalid {
                path: path.into(),
                problem: e.to_string(),
            })?,
        );
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    out.write_all(text.as_bytes()).map_err(io)?;
    out.sync_all().map_err(io)?;
    drop(out);
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::kms::contract;

    #[tokio::test]
    async fn passes_the_kms_contract() {
        let dir = tempfile::tempdir().unwrap();
        let kms = LocalKms::open_or_create(&dir.path().join("kms/keyring.json")).unwrap();
        contract::run(&kms).await.unwrap();
    }

    #[test]
    fn keyring_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kms/keyring.json");
        LocalKms::open_or_create(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
    }

    #[tokio::test]
    async fn rotation_keeps_old_blobs_open_and_rewraps_to_the_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let kms = LocalKms::open_or_create(&path).unwrap();
        let ctx = EncryptionContext::new().with("owner", "u1");
        let old = kms.encrypt(b"secret", &ctx).await.unwrap();
        let mac_before = kms.mac(b"m").await.unwrap();
        let new_id = kms.rotate("now").unwrap();
        assert_ne!(old.kms_key_id, new_id);
        assert_eq!(kms.current_key_id(), new_id);
        assert_eq!(kms.decrypt(&old, &ctx).await.unwrap().as_slice(), b"secret");
        let moved = kms.re_encrypt(&old, &ctx).await.unwrap();
        assert_eq!(moved.kms_key_id, new_id);
        assert_eq!(
            kms.decrypt(&moved, &ctx).await.unwrap().as_slice(),
            b"secret"
        );
        // The MAC key does not rotate: PIN bindings survive.
        assert_eq!(kms.mac(b"m").await.unwrap(), mac_before);
        // A reopened ring (next start) still has both keys.
        let reopened = LocalKms::open_or_create(&path).unwrap();
        assert_eq!(
            reopened.decrypt(&old, &ctx).await.unwrap().as_slice(),
            b"secret"
        );
    }

    #[tokio::test]
    async fn another_keyring_opens_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let a = LocalKms::open_or_create(&dir.path().join("a.json")).unwrap();
        let b = LocalKms::open_or_create(&dir.path().join("b.json")).unwrap();
        let ctx = EncryptionContext::new().with("owner", "u1");
        let blob = a.encrypt(b"secret", &ctx).await.unwrap();
        assert_eq!(
            b.decrypt(&blob, &ctx).await,
            Err(KmsError::InvalidCiphertext)
        );
        assert_ne!(a.mac(b"m").await.unwrap(), b.mac(b"m").await.unwrap());
    }
}

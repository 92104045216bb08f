//! Korean NPKI key files: `signPri.key`, a PKCS#8 `EncryptedPrivateKeyInfo` under SEED-CBC, and
//! the identity random `R` it carries. Pure and in memory: bytes and password in, a zeroizing
//! PKCS#8 out; nothing here touches the database, and nothing is kept but what is returned.
//!
//! Two encryptions occur in the field and both are read:
//!
//! - `seedCBCWithSHA1` (1.2.410.200004.1.15), parameters `{salt, iterationCount}`: PBKDF1 with
//!   SHA-1 gives 20 bytes `DK`; the SEED key is `DK[0..16]` and the IV is the first 16 bytes
//!   of `SHA-1(DK[16..20])` (KISA's key-file practice).
//! - PBES2 (RFC 8018, 1.2.840.113549.1.5.13) with PBKDF2 (HMAC-SHA-1 or HMAC-SHA-256) and
//!   `seedCBC` (1.2.410.200004.1.4) whose parameter is the IV; what OpenSSL writes with
//!   `pkcs8 -topk8 -v2 seed-cbc`.
//!
//! Iteration counts above [`MAX_KDF_ITERATIONS`] are refused before any work is done.
//!
//! The decrypted `PrivateKeyInfo` is kept whole, attributes included: the `vidRandom`
//! attribute (1.2.410.200004.10.1.1.3) holds `R`, with which an institution checks the
//! holder's virtual ID (VID = h(h(IDN ‖ R)), KISA "Subscriber Identification Based on Virtual
//! ID"), so dropping it would make the imported certificate useless for identity checks.
//! [`without_attributes`] gives the bare key for parsers that do not accept attributes.

use der::{
    Decode, Encode, Sequence,
    asn1::{BitString, ObjectIdentifier, OctetString, OctetStringRef},
};
use x509_cert::{attr::Attributes, spki::AlgorithmIdentifierOwned};
use zeroize::Zeroizing;

use super::{ForeignError, MAX_KDF_ITERATIONS, seed};

/// `seedCBCWithSHA1` (KISA): PBKDF1-SHA1 and SEED-CBC.
pub const SEED_CBC_WITH_SHA1: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.410.200004.1.15");
/// `seedCBC` (KISA), the PBES2 encryption scheme; its parameter is the IV.
pub const SEED_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.410.200004.1.4");
/// PBES2 (RFC 8018).
pub const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
/// PBKDF2 (RFC 8018).
pub const PBKDF2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.12");
/// HMAC-SHA-1, PBKDF2's default PRF.
pub const HMAC_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.7");
/// HMAC-SHA-256.
pub const HMAC_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.9");
/// The identity random `R` attribute (`vidRandom`) of a Korean private-key file.
pub const VID_RANDOM: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.410.200004.10.1.1.3");

/// `EncryptedPrivateKeyInfo` (RFC 5958 §3).
#[derive(Clone, Debug, Sequence)]
pub struct EncryptedPrivateKeyInfo {
    /// How it is encrypted.
    pub encryption_algorithm: AlgorithmIdentifierOwned,
    /// The encrypted `PrivateKeyInfo`.
    pub encrypted_data: OctetString,
}

/// PBES1-style parameters (`seedCBCWithSHA1`).
#[derive(Clone, Debug, Sequence)]
pub struct PbeParameter {
    /// Salt.
    pub salt: OctetString,
    /// Iterations.
    pub iteration_count: u32,
}

/// `PBES2-params`.
#[derive(Clone, Debug, Sequence)]
pub struct Pbes2Params {
    /// The KDF (PBKDF2).
    pub key_derivation_func: AlgorithmIdentifierOwned,
    /// The cipher (seedCBC with its IV).
    pub encryption_scheme: AlgorithmIdentifierOwned,
}

/// `PBKDF2-params` (salt `specified` only).
#[derive(Clone, Debug, Sequence)]
pub struct Pbkdf2Params {
    /// Salt.
    pub salt: OctetString,
    /// Iterations.
    pub iteration_count: u32,
    /// Key length, if given (must be 16 for SEED).
    #[asn1(optional = "true")]
    pub key_length: Option<u32>,
    /// PRF (HMAC-SHA-1 when absent).
    #[asn1(optional = "true")]
    pub prf: Option<AlgorithmIdentifierOwned>,
}

/// `PrivateKeyInfo` / `OneAsymmetricKey` v1 (RFC 5958), attributes kept.
#[derive(Clone, Debug, Sequence)]
pub struct PrivateKeyInfo {
    /// 0.
    pub version: u8,
    /// The key's algorithm.
    pub private_key_algorithm: AlgorithmIdentifierOwned,
    /// The key.
    pub private_key: OctetString,
    /// Attributes (`vidRandom` among them).
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub attributes: Option<Attributes>,
}

/// A decrypted NPKI private key.
pub struct NpkiKey {
    /// The `PrivateKeyInfo` as it was in the file, attributes (and so `R`) included.
    pub pkcs8: Zeroizing<Vec<u8>>,
    /// Whether the file carried the identity random `R`.
    pub has_vid_random: bool,
}

/// Opens `signPri.key` with `password`. Refuses unknown ciphers, costly KDF parameters and a
/// wrong password (which fails the padding or the `PrivateKeyInfo` parse) without saying
/// which byte was wrong.
pub fn open_sign_pri(file: &[u8], password: &[u8]) -> Result<NpkiKey, ForeignError> {
    let info =
        EncryptedPrivateKeyInfo::from_der(file).map_err(|_| ForeignError::KeyFileMalformed)?;
    let params = info
        .encryption_algorithm
        .parameters
        .as_ref()
        .ok_or(ForeignError::KeyFileMalformed)?
        .to_der()
        .map_err(|_| ForeignError::KeyFileMalformed)?;
    let (key, iv) = match info.encryption_algorithm.oid {
        SEED_CBC_WITH_SHA1 => {
            let p = PbeParameter::from_der(&params).map_err(|_| ForeignError::KeyFileMalformed)?;
            check_iterations(p.iteration_count)?;
            pbkdf1_seed(password, p.salt.as_bytes(), p.iteration_count)
        }
        PBES2 => {
            let p = Pbes2Params::from_der(&params).map_err(|_| ForeignError::KeyFileMalformed)?;
            if p.key_derivation_func.oid != PBKDF2 {
                return Err(ForeignError::UnsupportedCipher);
            }
            if p.encryption_scheme.oid != SEED_CBC {
                return Err(ForeignError::UnsupportedCipher);
            }
            let kdf = p
                .key_derivation_func
                .parameters
                .as_ref()
                .ok_or(ForeignError::KeyFileMalformed)?
                .decode_as::<Pbkdf2Params>()
                .map_err(|_| ForeignError::KeyFileMalformed)?;
            check_iterations(kdf.iteration_count)?;
            if kdf.key_length.is_some_and(|l| l != 16) {
                return Err(ForeignError::UnsupportedCipher);
            }
            let prf = match kdf.prf.as_ref().map(|a| a.oid) {
                None | Some(HMAC_SHA1) => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA1,
                Some(HMAC_SHA256) => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
                Some(_) => return Err(ForeignError::UnsupportedCipher),
            };
            let iv: [u8; 16] = p
                .encryption_scheme
                .parameters
                .as_ref()
                .ok_or(ForeignError::KeyFileMalformed)?
                .decode_as::<OctetStringRef<'_>>()
                .ok()
                .and_then(|o| o.as_bytes().try_into().ok())
                .ok_or(ForeignError::KeyFileMalformed)?;
            let iterations = std::num::NonZeroU32::new(kdf.iteration_count)
                .ok_or(ForeignError::KeyFileMalformed)?;
            let mut key = Zeroizing::new([0u8; 16]);
            aws_lc_rs::pbkdf2::derive(prf, iterations, kdf.salt.as_bytes(), password, &mut key[..]);
            (key, iv)
        }
        _ => return Err(ForeignError::UnsupportedCipher),
    };
    let plain = seed::cbc_decrypt(&key, &iv, info.encrypted_data.as_bytes())
        .ok_or(ForeignError::KeyFileUnreadable)?;
    let parsed = PrivateKeyInfo::from_der(&plain).map_err(|_| ForeignError::KeyFileUnreadable)?;
    let has_vid_random = parsed.attributes.iter().flat_map(|a| a.iter()).any(|a| {
        a.oid == VID_RANDOM && a.values.iter().any(|v| v.decode_as::<BitString>().is_ok())
    });
    Ok(NpkiKey {
        pkcs8: plain,
        has_vid_random,
    })
}

fn check_iterations(iterations: u32) -> Result<(), ForeignError> {
    match iterations {
        0 => Err(ForeignError::KeyFileMalformed),
        n if n > MAX_KDF_ITERATIONS => Err(ForeignError::KdfTooCostly),
        _ => Ok(()),
    }
}

/// PBKDF1-SHA1 (RFC 8018 §5.1) to 20 bytes; SEED key `DK[0..16]`, IV `SHA-1(DK[16..20])[0..16]`.
pub fn pbkdf1_seed(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> (Zeroizing<[u8; 16]>, [u8; 16]) {
    use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY as SHA1, digest};
    let mut input = Zeroizing::new(Vec::with_capacity(password.len() + salt.len()));
    input.extend_from_slice(password);
    input.extend_from_slice(salt);
    let mut dk = Zeroizing::new(digest(&SHA1, &input).as_ref().to_vec());
    for _ in 1..iterations {
        let next = Zeroizing::new(digest(&SHA1, &dk).as_ref().to_vec());
        dk = next;
    }
    let mut key = Zeroizing::new([0u8; 16]);
    key.copy_from_slice(&dk[..16]);
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&digest(&SHA1, &dk[16..20]).as_ref()[..16]);
    (key, iv)
}

/// The same `PrivateKeyInfo` without its attributes (for key parsers that refuse them).
pub fn without_attributes(pkcs8: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut info = PrivateKeyInfo::from_der(pkcs8).ok()?;
    info.attributes.take()?;
    info.version = 0;
    info.to_der().ok().map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf1_matches_rfc8018_definition() {
        // T1 = SHA1(P || S), Tc = SHA1(Tc-1); with c = 1 the key is the first 16 bytes.
        use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY as SHA1, digest};
        let (key, iv) = pbkdf1_seed(b"pw", b"salt", 1);
        let t1 = digest(&SHA1, b"pwsalt");
        assert_eq!(&key[..], &t1.as_ref()[..16]);
        assert_eq!(&iv[..], &digest(&SHA1, &t1.as_ref()[16..20]).as_ref()[..16]);
        let (key2, _) = pbkdf1_seed(b"pw", b"salt", 2);
        assert_eq!(&key2[..], &digest(&SHA1, t1.as_ref()).as_ref()[..16]);
    }

    #[test]
    fn garbage_and_unknown_ciphers_are_refused() {
        assert_eq!(
            open_sign_pri(b"\x30\x03garbage", b"x").err(),
            Some(ForeignError::KeyFileMalformed)
        );
        // An AES-CBC PBES1-style identifier is not a SEED key file.
        let info = EncryptedPrivateKeyInfo {
            encryption_algorithm: AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.2"),
                parameters: Some(
                    der::Any::from_der(&OctetString::new(vec![0u8; 16]).unwrap().to_der().unwrap())
                        .unwrap(),
                ),
            },
            encrypted_data: OctetString::new(vec![0u8; 32]).unwrap(),
        };
        assert_eq!(
            open_sign_pri(&info.to_der().unwrap(), b"x").err(),
            Some(ForeignError::UnsupportedCipher)
        );
    }

    /// The key parser (aws-lc) reads a `PrivateKeyInfo` whose attributes carry `R`, so the
    /// key is sealed whole; `without_attributes` gives the same key without them.
    #[test]
    fn keys_with_vid_random_parse() {
        use crate::custody::keys::{KeyAlgorithm, SigningKey, generate};
        for alg in [KeyAlgorithm::Rsa2048, KeyAlgorithm::P256] {
            let plain = generate(alg).unwrap().pkcs8;
            let mut info = PrivateKeyInfo::from_der(&plain).unwrap();
            let value = der::Any::encode_from(&BitString::from_bytes(&[9u8; 20]).unwrap()).unwrap();
            let attr = x509_cert::attr::Attribute {
                oid: VID_RANDOM,
                values: der::asn1::SetOfVec::try_from(vec![value]).unwrap(),
            };
            info.attributes = Some(der::asn1::SetOfVec::try_from(vec![attr]).unwrap());
            let with_r = info.to_der().unwrap();
            let bare = without_attributes(&with_r).unwrap();
            assert_eq!(
                SigningKey::from_pkcs8(alg, &bare)
                    .unwrap()
                    .public_key_der()
                    .unwrap(),
                SigningKey::from_pkcs8(alg, &plain)
                    .unwrap()
                    .public_key_der()
                    .unwrap()
            );
            assert_eq!(
                SigningKey::from_pkcs8(alg, &with_r)
                    .map(|k| k.public_key_der().unwrap())
                    .ok(),
                SigningKey::from_pkcs8(alg, &plain)
                    .map(|k| k.public_key_der().unwrap())
                    .ok(),
                "{alg:?} with attributes"
            );
        }
    }

    #[test]
    fn costly_iterations_are_refused_before_work() {
        let params = PbeParameter {
            salt: OctetString::new(vec![1u8; 8]).unwrap(),
            iteration_count: MAX_KDF_ITERATIONS + 1,
        };
        let info = EncryptedPrivateKeyInfo {
            encryption_algorithm: AlgorithmIdentifierOwned {
                oid: SEED_CBC_WITH_SHA1,
                parameters: Some(der::Any::from_der(&params.to_der().unwrap()).unwrap()),
            },
            encrypted_data: OctetString::new(vec![0u8; 32]).unwrap(),
        };
        let started = std::time::Instant::now();
        assert_eq!(
            open_sign_pri(&info.to_der().unwrap(), b"x").err(),
            Some(ForeignError::KdfTooCostly)
        );
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
    }
}

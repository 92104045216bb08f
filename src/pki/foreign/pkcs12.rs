//! PKCS#12 files: opening one (pure, in memory) after checking the KDF costs it shows, and
//! importing its key into the cloud keystore with its certificate registered as foreign
//! (`Pki::import_pkcs12`). The file and its password are never stored.

use der::{Reader, SliceReader, Tag, Tagged, asn1::AnyRef};
use sea_orm::DatabaseConnection;

use super::{ForeignError, ForeignView, MAX_KDF_ITERATIONS};
use crate::{
    custody::OwnerId,
    domain::pin::Pin,
    pki::{Pki, PkiError},
};

/// What an opened PKCS#12 file holds: the private key (PKCS#8, zeroizing) and the
/// certificates, leaf first.
pub struct Pkcs12Contents {
    /// PKCS#8 DER.
    pub pkcs8: zeroize::Zeroizing<Vec<u8>>,
    /// Certificates (DER), the key's certificate first.
    pub certs: Vec<Vec<u8>>,
}

/// Opens a PKCS#12 file. The password and file are used here only; the key is copied into
/// zeroizing memory at once. (p12-keystore keeps its own copy in a plain buffer until it is
/// dropped, which happens before this returns.) CPU work of the uploader's choosing: call it
/// on the blocking pool. Refuses, before any KDF runs, a file that shows an iteration count
/// above [`MAX_KDF_ITERATIONS`].
pub fn open_pkcs12(p12: &[u8], password: &str) -> Result<Pkcs12Contents, ForeignError> {
    check_visible_kdf_costs(p12)?;
    let store = p12_keystore::KeyStore::from_pkcs12(
        p12,
        password,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .map_err(|_| ForeignError::Pkcs12Unreadable)?;
    let (_, chain) = store.private_key_chain().ok_or(ForeignError::Pkcs12NoKey)?;
    let pkcs8 = zeroize::Zeroizing::new(chain.key().as_der().to_vec());
    let certs: Vec<Vec<u8>> = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
    drop(store);
    if certs.is_empty() {
        return Err(ForeignError::Pkcs12NoKey);
    }
    Ok(Pkcs12Contents { pkcs8, certs })
}

/// The password-based schemes whose parameters start `{salt OCTET STRING, iterations INTEGER}`:
/// PKCS#12 PBE (1.2.840.113549.1.12.1.*), PBES1 (1.2.840.113549.1.5.1–11), PBKDF2
/// (1.2.840.113549.1.5.12, nested in PBES2) and KISA's seedCBCWithSHA1.
fn is_password_scheme(oid: &der::asn1::ObjectIdentifier) -> bool {
    let s = oid.to_string();
    s.starts_with("1.2.840.113549.1.12.1.")
        || s.strip_prefix("1.2.840.113549.1.5.")
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| (1..=12).contains(&n))
        || s == "1.2.410.200004.1.15"
}

/// Walks the file's DER (into OCTET STRINGs that hold DER: the authenticated safe and its safe
/// contents) and refuses any iteration count above the limit: the MAC's, each encrypted
/// content's and each shrouded key bag's that is not itself inside encrypted content (those
/// are only visible after decryption; the KDF pool bounds their cost instead).
pub fn check_visible_kdf_costs(der: &[u8]) -> Result<(), ForeignError> {
    let mut budget = 20_000u32;
    walk(der, 0, &mut budget)
}

fn integer(any: &AnyRef<'_>) -> Option<u64> {
    (any.tag() == Tag::Integer && any.value().len() <= 8).then(|| {
        any.value()
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    })
}

fn too_costly(n: Option<u64>) -> bool {
    n.is_some_and(|n| n > u64::from(MAX_KDF_ITERATIONS))
}

fn children(bytes: &[u8]) -> Option<Vec<AnyRef<'_>>> {
    let mut reader = SliceReader::new(bytes).ok()?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(reader.decode::<AnyRef<'_>>().ok()?);
    }
    Some(out)
}

fn walk(bytes: &[u8], depth: u8, budget: &mut u32) -> Result<(), ForeignError> {
    if depth > 12 {
        return Ok(());
    }
    let Some(items) = children(bytes) else {
        return Ok(());
    };
    for item in &items {
        *budget = budget
            .checked_sub(1)
            .ok_or(ForeignError::Pkcs12Unreadable)?;
        let constructed = item.tag().is_constructed();
        if item.tag() == Tag::Sequence
            && let Some(inner) = children(item.value())
        {
            // AlgorithmIdentifier of a password scheme: {OID, {salt, iterations, ...}}.
            if let [oid, params, ..] = inner.as_slice()
                && let Ok(oid) = oid.decode_as::<der::asn1::ObjectIdentifier>()
                && is_password_scheme(&oid)
                && let Some(p) = children(params.value())
                && too_costly(p.get(1).and_then(integer))
            {
                return Err(ForeignError::KdfTooCostly);
            }
            // MacData: {DigestInfo, macSalt OCTET STRING, iterations INTEGER}.
            if let [d, salt, iterations] = inner.as_slice()
                && d.tag() == Tag::Sequence
                && salt.tag() == Tag::OctetString
                && too_costly(integer(iterations))
            {
                return Err(ForeignError::KdfTooCostly);
            }
        }
        if constructed || item.tag() == Tag::OctetString {
            walk(item.value(), depth + 1, budget)?;
        }
    }
    Ok(())
}

impl Pki {
    /// Imports a PKCS#12 file into the cloud keystore: the key is re-sealed under KMS bound to
    /// `pin`; the file and its password are used in memory only and never stored.
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str()))]
    pub async fn import_pkcs12(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        p12: &[u8],
        password: &str,
        pin: &Pin,
    ) -> Result<ForeignView, PkiError> {
        let (p12, password) = (p12.to_vec(), zeroize::Zeroizing::new(password.to_owned()));
        let contents = self
            .run_heavy(move || open_pkcs12(&p12, &password))
            .await??;
        self.import_key(db, owner, "pkcs12", contents.pkcs8, contents.certs, pin)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_cost() {
        assert!(check_visible_kdf_costs(b"not der at all").is_ok());
        assert!(check_visible_kdf_costs(&[0x30, 0x80, 0x00]).is_ok());
    }
}

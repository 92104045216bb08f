//! What the PKCS#12 and NPKI imports share: the node's KDF pool, matching the key to its
//! certificate, validating the certificate and sealing the key under KMS; and the NPKI import
//! itself (`Pki::import_npki`). Key files and passwords are used in memory only.

use sea_orm::DatabaseConnection;
use zeroize::Zeroizing;

use super::{ForeignError, ForeignView, npki};
use crate::{
    custody::{
        OwnerId,
        keys::{KeyAlgorithm, SigningKey},
    },
    domain::pin::Pin,
    pki::{Pki, PkiError, foreign},
    store,
};

impl Pki {
    /// Runs CPU work an uploader chooses (a key-file KDF, checks of uploaded DER) on the
    /// node's heavy-work pool (`crate::heavy`), never on an async worker.
    pub(crate) async fn run_heavy<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PkiError> {
        Ok(self.custody.heavy().run(work).await?)
    }

    /// Imports an NPKI pair (`signCert.der` + `signPri.key` and its password): the key is
    /// decrypted in memory, kept whole with its identity random `R`, and re-sealed under KMS
    /// bound to `pin`; neither file nor password is stored. `certs` are `signCert.der` and
    /// any intermediates (the key picks its certificate among them).
    #[tracing::instrument(skip_all, fields(owner = %owner.as_str()))]
    pub async fn import_npki(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        certs: Vec<Vec<u8>>,
        sign_pri: &[u8],
        password: &str,
        pin: &Pin,
    ) -> Result<ForeignView, PkiError> {
        let (file, password) = (
            sign_pri.to_vec(),
            Zeroizing::new(password.as_bytes().to_vec()),
        );
        let key = self
            .run_heavy(move || npki::open_sign_pri(&file, &password))
            .await??;
        tracing::debug!(vid_random = key.has_vid_random, "NPKI key file opened");
        self.import_key(db, owner, "npki", key.pkcs8, certs, pin)
            .await
    }

    /// Matches `pkcs8` to the certificate among `certs` with its public key (the others are
    /// the chain), validates that certificate, and stores it with the key sealed under KMS.
    pub(super) async fn import_key(
        &self,
        db: &DatabaseConnection,
        owner: &OwnerId,
        source: &str,
        pkcs8: Zeroizing<Vec<u8>>,
        certs: Vec<Vec<u8>>,
        pin: &Pin,
    ) -> Result<ForeignView, PkiError> {
        let (anchors, now, arc) = (
            self.anchors.clone(),
            self.clock.now(),
            self.settings.policy_arc.clone(),
        );
        let (pkcs8, algorithm, leaf, validated) = self
            .run_heavy(move || {
                let matched = match_key(&pkcs8, certs)?;
                let validated =
                    foreign::validate(&matched.leaf, &matched.others, &anchors, now, &arc)?;
                Ok::<_, ForeignError>((pkcs8, matched.algorithm, matched.leaf, validated))
            })
            .await??;
        if store::pki::foreign_exists(
            db,
            owner.as_str(),
            &validated.issuer_dn,
            &validated.serial_hex,
        )
        .await?
        {
            return Err(ForeignError::AlreadyRegistered.into());
        }
        let prepared = self
            .custody
            .prepare_imported_key(owner, algorithm, pkcs8, pin)
            .await?;
        self.store_foreign(db, owner, leaf, validated, Some(prepared), source)
            .await
    }
}

/// An imported key and the certificate among the uploaded ones that carries its public key.
pub struct MatchedKey {
    /// The key's algorithm.
    pub algorithm: KeyAlgorithm,
    /// The key's certificate (DER).
    pub leaf: Vec<u8>,
    /// The other certificates (its chain, as uploaded).
    pub others: Vec<Vec<u8>>,
}

/// Reads `pkcs8` as a key fincert keeps (RSA-2048 or P-256) and finds its certificate among
/// `certs` (each must be a well-formed certificate). Pure; CPU work on uploaded bytes, so the
/// import runs it on the heavy-work pool.
pub fn match_key(pkcs8: &[u8], certs: Vec<Vec<u8>>) -> Result<MatchedKey, ForeignError> {
    let (algorithm, spki) = [KeyAlgorithm::Rsa2048, KeyAlgorithm::P256]
        .into_iter()
        .find_map(|alg| {
            let key = SigningKey::from_pkcs8(alg, pkcs8).ok()?;
            Some((alg, key.public_key_der().ok()?))
        })
        .ok_or(ForeignError::KeyMismatch)?;
    if certs
        .iter()
        .any(|c| x509_parser::parse_x509_certificate(c).is_err())
    {
        return Err(ForeignError::Malformed);
    }
    let position = certs
        .iter()
        .position(|c| {
            x509_parser::parse_x509_certificate(c)
                .is_ok_and(|(_, cert)| cert.public_key().raw == spki.as_slice())
        })
        .ok_or(ForeignError::KeyMismatch)?;
    let mut others = certs;
    let leaf = others.remove(position);
    Ok(MatchedKey {
        algorithm,
        leaf,
        others,
    })
}

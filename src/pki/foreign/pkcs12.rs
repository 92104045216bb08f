//! PKCS#12 files: opening one (pure, in memory) and importing its key into the cloud keystore
//! with its certificate registered as foreign. The file and its password are never stored.

use sea_orm::DatabaseConnection;

use super::{ForeignError, ForeignView};
use crate::{
    custody::{OwnerId, keys::KeyAlgorithm},
    domain::pin::Pin,
    pki::{Pki, PkiError, foreign},
    store,
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
/// dropped, which happens before this returns.)
pub fn open_pkcs12(p12: &[u8], password: &str) -> Result<Pkcs12Contents, ForeignError> {
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
        // The PKCS#12 KDFs and the key parse are CPU work (a file may ask for millions of
        // iterations): the blocking pool does them, never an async worker.
        let (p12, password) = (p12.to_vec(), zeroize::Zeroizing::new(password.to_owned()));
        let (contents, algorithm, spki) = tokio::task::spawn_blocking(move || {
            let contents = foreign::open_pkcs12(&p12, &password)?;
            let (algorithm, spki) = [KeyAlgorithm::Rsa2048, KeyAlgorithm::P256]
                .into_iter()
                .find_map(|alg| {
                    let key =
                        crate::custody::keys::SigningKey::from_pkcs8(alg, &contents.pkcs8).ok()?;
                    Some((alg, key.public_key_der().ok()?))
                })
                .ok_or(foreign::ForeignError::KeyMismatch)?;
            Ok::<_, foreign::ForeignError>((contents, algorithm, spki))
        })
        .await
        .map_err(|_| foreign::ForeignError::Pkcs12Unreadable)??;
        let position = contents
            .certs
            .iter()
            .position(|c| {
                x509_parser::parse_x509_certificate(c)
                    .is_ok_and(|(_, cert)| cert.public_key().raw == spki.as_slice())
            })
            .ok_or(foreign::ForeignError::KeyMismatch)?;
        let leaf = contents.certs[position].clone();
        let others: Vec<Vec<u8>> = contents
            .certs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != position)
            .map(|(_, c)| c.clone())
            .collect();
        let validated = foreign::validate(
            &leaf,
            &others,
            &self.anchors,
            self.clock.now(),
            &self.settings.policy_arc,
        )?;
        if store::pki::foreign_exists(
            db,
            owner.as_str(),
            &validated.issuer_dn,
            &validated.serial_hex,
        )
        .await?
        {
            return Err(foreign::ForeignError::AlreadyRegistered.into());
        }
        let prepared = self
            .custody
            .prepare_imported_key(owner, algorithm, contents.pkcs8, pin)
            .await?;
        self.store_foreign(db, owner, leaf, validated, Some(prepared), "pkcs12")
            .await
    }
}

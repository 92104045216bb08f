//! The certificate authority: CA hierarchy, certificate profiles, the certificate lifecycle
//! (issue, renew, reissue, revoke, suspend, resume, expire), fees, CRL and OCSP. No HTTP here.
//!
//! Every operation does its slow or fallible outside work first (KMS, key generation, signing)
//! and then writes its rows, fee and audit event in one transaction. OCSP answers are pre-signed
//! per certificate, re-signed in the transaction of every status change and checked against
//! the live status whenever a node reads one from the database; each node keeps what it read
//! while the issuer's status-change count stands still (polled every 200 ms); the CRL is
//! regenerated in the background after status changes and before it nears its nextUpdate.
//!
//! Where things are (one `impl Pki` spread over the files that own each part):
//!
//! - `bootstrap`: `ca init`, loading the hierarchy, the published CA certificates and chain.
//! - `issue`: new certificates, their keys, fees; `renew`: renewal and reissue;
//!   [`auto_renew`]: renewal on use (the holder's setting) and the fee a request confirms.
//! - `status`: revoke, suspend, resume, and whether a certificate may sign now.
//! - `crl`, [`ocsp`], [`ocsp_cache`]: status publication (OCSP answers kept in memory per
//!   node, following the status-change count); `arl`: the root's CRL (the issuing CA's status);
//!   `job`: the periodic lifecycle job and revocation refresh.
//! - `validation`: the validation material (chain, OCSP, CRLs) that travels with a signature.
//! - [`foreign`]: certificates of other CAs and PKCS#12 imports; `view`: what the API shows.
//! - [`signer`]: CA keys behind `CaKey` / `CaKeyStore` (local, aws); [`profile`],
//!   [`lifecycle`], [`x509`]: pure rules and encoding.

mod arl;
pub mod auto_renew;
mod bootstrap;
mod crl;
mod error;
pub mod foreign;
mod issue;
mod job;
pub mod lifecycle;
pub mod ocsp;
pub mod ocsp_cache;
pub mod profile;
mod renew;
pub mod signer;
mod status;
pub mod urls;
mod validation;
mod view;
pub mod x509;

use std::sync::Arc;

pub use self::{
    auto_renew::AutoRenewal,
    error::PkiError,
    foreign::ForeignView,
    issue::{IssueRequest, KeySource},
    job::{JobReport, RevocationReport},
    validation::ValidationMaterial,
    view::CertificateView,
};
use self::{error::enc, signer::CaSigner};
use crate::{
    clock::SharedClock, config::PkiSettings, custody::Custody, custody::keys::KeyAlgorithm,
};

/// One authority: its signer and certificate.
struct Authority {
    signer: Arc<CaSigner>,
    der: Vec<u8>,
    cert: x509_cert::Certificate,
}

/// The certificate authority service.
pub struct Pki {
    root: Authority,
    issuing: Authority,
    responder: Authority,
    issuer_hashes: ocsp::IssuerHashes,
    /// Pre-signed OCSP answers this node served, while the issuer's change count stands still.
    ocsp_cache: ocsp_cache::OcspCache,
    /// One ARL signing at a time on this node (the root key may be a KMS key).
    arl_lock: tokio::sync::Mutex<()>,
    settings: PkiSettings,
    user_algorithm: KeyAlgorithm,
    anchors: foreign::TrustAnchors,
    custody: Arc<Custody>,
    clock: SharedClock,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("issuing", &self.issuing.signer)
            .finish_non_exhaustive()
    }
}

const ROOT: &str = "root";
const ISSUING: &str = "issuing";
const RESPONDER: &str = "ocsp";

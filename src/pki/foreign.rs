//! Certificates from other CAs ("registering a certificate from another institution"): chain
//! validation against configured trust anchors, usage recognition from certificate policies,
//! and the keys of imported PKCS#12 files.
//!
//! Validation here is pure (DER in, verdict out, time passed in). Status (CRL/OCSP of the
//! foreign CA) is not fetched: fincert reaches no outside network in this deployment; the
//! operator's trust-anchor set is the control.

use std::path::Path;

use chrono::{DateTime, Utc};
use x509_parser::{certificate::X509Certificate, prelude::FromDer};

use super::profile::{self, Usage};

/// Why a foreign certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForeignError {
    /// Not DER of an X.509 certificate.
    #[error("not a well-formed X.509 certificate")]
    Malformed,
    /// No path to a configured trust anchor (or a signature on the path does not verify).
    #[error("the certificate does not chain to a trusted CA")]
    Untrusted,
    /// Outside its validity period (or a CA on its path is).
    #[error("the certificate is not valid at this time")]
    NotValidNow,
    /// A CA certificate, or one whose key usage excludes signing.
    #[error("not a personal signing certificate")]
    NotForSigning,
    /// No known restricted-use or general-purpose policy.
    #[error("the certificate's policy is not one fincert recognises")]
    UnrecognizedPolicy,
    /// The PKCS#12 file did not open (wrong password, or not PKCS#12).
    #[error("the PKCS#12 file could not be opened (wrong password or not a PKCS#12 file)")]
    Pkcs12Unreadable,
    /// The PKCS#12 file holds no key with a certificate.
    #[error("the PKCS#12 file holds no private key with its certificate")]
    Pkcs12NoKey,
    /// The key is not one fincert keeps (RSA-2048 or P-256), or does not match the certificate.
    #[error("the private key is unsupported or does not match the certificate")]
    KeyMismatch,
    /// The holder already registered this certificate.
    #[error("this certificate is already registered")]
    AlreadyRegistered,
}

/// The configured trust anchors (DER).
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors(Vec<Vec<u8>>);

impl TrustAnchors {
    /// Reads every `*.pem`, `*.crt` and `*.der` file in `dir` (a missing directory is empty).
    pub fn load_dir(dir: &Path) -> Result<Self, String> {
        let mut anchors = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(Self(anchors));
        };
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default();
            if !matches!(ext, "pem" | "crt" | "der" | "cer") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut found = false;
            for pem in x509_parser::pem::Pem::iter_from_buffer(&bytes).flatten() {
                if pem.label == "CERTIFICATE" {
                    anchors.push(pem.contents);
                    found = true;
                }
            }
            if !found {
                X509Certificate::from_der(&bytes)
                    .map_err(|_| format!("{}: not a certificate", path.display()))?;
                anchors.push(bytes);
            }
        }
        Ok(Self(anchors))
    }

    /// Anchors given directly.
    pub fn from_der(anchors: Vec<Vec<u8>>) -> Self {
        Self(anchors)
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A foreign certificate that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// Recognised usage.
    pub usage: Usage,
    /// Issuer DN (RFC 4514 string).
    pub issuer_dn: String,
    /// Serial (hex).
    pub serial_hex: String,
    /// Subject DN.
    pub subject: String,
    /// Validity.
    pub not_before: DateTime<Utc>,
    /// Validity.
    pub not_after: DateTime<Utc>,
    /// SubjectPublicKeyInfo DER.
    pub spki_der: Vec<u8>,
    /// The intermediates used (DER, concatenated).
    pub chain_der: Vec<u8>,
}

fn valid_at(cert: &X509Certificate<'_>, now: DateTime<Utc>) -> bool {
    let t = now.timestamp();
    cert.validity().not_before.timestamp() <= t && t <= cert.validity().not_after.timestamp()
}

fn is_ca(cert: &X509Certificate<'_>) -> bool {
    cert.basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|bc| bc.value.ca)
}

/// Validates `leaf` (DER) against `anchors`, building a path through `intermediates`; checks
/// validity at `now`, that it is an end-entity signing certificate, and recognises its usage
/// from its policies (fincert's arc `policy_arc` or the Korean CAs').
pub fn validate(
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
    policy_arc: &str,
) -> Result<Validated, ForeignError> {
    let (rest, leaf) = X509Certificate::from_der(leaf_der).map_err(|_| ForeignError::Malformed)?;
    if !rest.is_empty() {
        return Err(ForeignError::Malformed);
    }
    if !valid_at(&leaf, now) {
        return Err(ForeignError::NotValidNow);
    }
    if is_ca(&leaf) {
        return Err(ForeignError::NotForSigning);
    }
    if let Ok(Some(ku)) = leaf.key_usage()
        && !(ku.value.digital_signature() || ku.value.non_repudiation())
    {
        return Err(ForeignError::NotForSigning);
    }
    let parsed_anchors: Vec<X509Certificate<'_>> = anchors
        .0
        .iter()
        .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .collect();
    let parsed_inter: Vec<(X509Certificate<'_>, &Vec<u8>)> = intermediates
        .iter()
        .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| (c, d)))
        .collect();
    let mut used = Vec::new();
    let mut current = leaf.clone();
    for _depth in 0..6 {
        if let Some(anchor) = parsed_anchors.iter().find(|a| {
            a.subject() == current.issuer()
                && current.verify_signature(Some(a.public_key())).is_ok()
        }) {
            if !valid_at(anchor, now) {
                return Err(ForeignError::NotValidNow);
            }
            let policies: Vec<String> = leaf
                .extensions()
                .iter()
                .find_map(|e| match e.parsed_extension() {
                    x509_parser::extensions::ParsedExtension::CertificatePolicies(p) => {
                        Some(p.iter().map(|pi| pi.policy_id.to_id_string()).collect())
                    }
                    _ => None,
                })
                .unwrap_or_default();
            let usage = profile::usage_of_policies(policy_arc, &policies)
                .ok_or(ForeignError::UnrecognizedPolicy)?;
            return Ok(Validated {
                usage,
                issuer_dn: leaf.issuer().to_string(),
                serial_hex: hex::encode(leaf.raw_serial()),
                subject: leaf.subject().to_string(),
                not_before: DateTime::from_timestamp(leaf.validity().not_before.timestamp(), 0)
                    .unwrap_or(now),
                not_after: DateTime::from_timestamp(leaf.validity().not_after.timestamp(), 0)
                    .unwrap_or(now),
                spki_der: leaf.public_key().raw.to_vec(),
                chain_der: used.concat(),
            });
        }
        let Some((next, der)) = parsed_inter.iter().find(|(c, _)| {
            c.subject() == current.issuer()
                && current.verify_signature(Some(c.public_key())).is_ok()
        }) else {
            return Err(ForeignError::Untrusted);
        };
        if !is_ca(next) {
            return Err(ForeignError::Untrusted);
        }
        if !valid_at(next, now) {
            return Err(ForeignError::NotValidNow);
        }
        used.push((*der).clone());
        current = next.clone();
    }
    Err(ForeignError::Untrusted)
}

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

//! Validating a certificate from another CA against the configured trust anchors: path
//! building, validity, end-entity signing use, and the usage its policies say.
//!
//! Pure: DER in, verdict out, time passed in. Never touches the database or the network.

use std::path::Path;

use chrono::{DateTime, Utc};
use x509_parser::{certificate::X509Certificate, prelude::FromDer};

use super::ForeignError;
use crate::pki::profile::{self, PolicyUsage, Usage};

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
    /// Recognised usage (or `profile::DEFAULT_FOREIGN_USAGE`).
    pub usage: Usage,
    /// Whether a known policy gave the usage (`false`: the default for unknown policies).
    pub usage_recognised: bool,
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
/// from its policies (fincert's arc `policy_arc` or the Korean CAs'): a Korean corporate or
/// server policy is refused, an unknown one gets `profile::DEFAULT_FOREIGN_USAGE`.
/// Whether `der` is a certificate in DER exactly: x509-cert (which builds the CMS that embeds
/// it) reads it and encodes it again to the same bytes. x509-parser, which validates, reads
/// more than DER; a certificate it accepted but x509-cert could not embed as signed would fail
/// later, at signing time (found by the `certificate` fuzz target: `fuzz/regressions/`).
fn is_exact_der(der: &[u8]) -> bool {
    use der::{Decode as _, Encode as _};
    x509_cert::Certificate::from_der(der)
        .and_then(|c| c.to_der())
        .is_ok_and(|again| again == der)
}

pub fn validate(
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
    policy_arc: &str,
) -> Result<Validated, ForeignError> {
    if !is_exact_der(leaf_der) || !intermediates.iter().all(|d| is_exact_der(d)) {
        return Err(ForeignError::Malformed);
    }
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
            let (usage, usage_recognised) = match profile::recognise_policies(policy_arc, &policies)
            {
                PolicyUsage::Known(usage) => (usage, true),
                PolicyUsage::NotPersonal => return Err(ForeignError::NotForSigning),
                PolicyUsage::Unknown => (profile::DEFAULT_FOREIGN_USAGE, false),
            };
            return Ok(Validated {
                usage,
                usage_recognised,
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

#[cfg(test)]
mod exact_der {
    use super::*;

    /// Found by the `certificate` fuzz target: validated by x509-parser, not readable as DER by
    /// x509-cert. Refused as malformed before any path is built.
    #[test]
    fn a_certificate_that_is_not_der_is_malformed() {
        let not_der: &[u8] = include_bytes!(
            "../../../fuzz/regressions/certificate/crash-c7ad7f14a46bbe95d59f666caeacfa2ab81c8271"
        );
        assert!(!is_exact_der(not_der));
        let anchors = TrustAnchors(Vec::new());
        assert!(matches!(
            validate(not_der, &[], &anchors, Utc::now(), "1.2.3"),
            Err(ForeignError::Malformed)
        ));
        assert!(matches!(
            validate(not_der, &[not_der.to_vec()], &anchors, Utc::now(), "1.2.3"),
            Err(ForeignError::Malformed)
        ));
    }
}

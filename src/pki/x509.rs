//! X.509 encoding helpers: extensions rcgen has no field for (certificate policies, AIA,
//! OCSP no-check), serial numbers, time conversion, and CSR checks. Encoding uses RustCrypto's
//! `x509-cert`/`der` types and parsing `x509-parser`; nothing is hand-built DER.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use chrono::{DateTime, Utc};
use const_oid::ObjectIdentifier;
use der::{Encode, asn1::Ia5String};
use rcgen::{DistinguishedName, DnType, DnValue, KeyIdMethod};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, CertificatePolicies,
    certpolicy::PolicyInformation, name::GeneralName,
};

use crate::domain::der_input::{self, PemRule};

/// Why an input certificate or request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X509Error {
    /// Not DER (or PEM) of the expected structure.
    #[error("not a well-formed {0}")]
    Malformed(&'static str),
    /// The CSR's self-signature does not verify (no proof of possession).
    #[error("the CSR's signature does not verify (no proof of possession)")]
    BadSignature,
    /// The key is of an unsupported type or too weak.
    #[error("key not accepted: {0}")]
    WeakKey(String),
    /// Encoding failed.
    #[error("encoding failed: {0}")]
    Encode(String),
}

fn arcs(oid: &ObjectIdentifier) -> Vec<u64> {
    oid.arcs().map(u64::from).collect()
}

/// certificatePolicies (2.5.29.32) with one policy.
pub fn policies_extension(policy: ObjectIdentifier) -> Result<rcgen::CustomExtension, X509Error> {
    let der = CertificatePolicies(vec![PolicyInformation {
        policy_identifier: policy,
        policy_qualifiers: None,
    }])
    .to_der()
    .map_err(|e| X509Error::Encode(e.to_string()))?;
    Ok(rcgen::CustomExtension::from_oid_content(
        &arcs(&const_oid::db::rfc5280::ID_CE_CERTIFICATE_POLICIES),
        der,
    ))
}

/// authorityInfoAccess (1.3.6.1.5.5.7.1.1): OCSP responder and CA issuers URLs.
pub fn aia_extension(
    ocsp_url: Option<&str>,
    ca_issuers_url: &str,
) -> Result<rcgen::CustomExtension, X509Error> {
    let uri = |s: &str| -> Result<GeneralName, X509Error> {
        Ok(GeneralName::UniformResourceIdentifier(
            Ia5String::new(s).map_err(|e| X509Error::Encode(e.to_string()))?,
        ))
    };
    let mut descriptions = Vec::new();
    if let Some(url) = ocsp_url {
        descriptions.push(AccessDescription {
            access_method: const_oid::db::rfc5280::ID_AD_OCSP,
            access_location: uri(url)?,
        });
    }
    descriptions.push(AccessDescription {
        access_method: const_oid::db::rfc5280::ID_AD_CA_ISSUERS,
        access_location: uri(ca_issuers_url)?,
    });
    let der = AuthorityInfoAccessSyntax(descriptions)
        .to_der()
        .map_err(|e| X509Error::Encode(e.to_string()))?;
    Ok(rcgen::CustomExtension::from_oid_content(
        &arcs(&const_oid::db::rfc5280::ID_PE_AUTHORITY_INFO_ACCESS),
        der,
    ))
}

/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1) for the delegated responder's certificate.
pub fn ocsp_nocheck_extension() -> rcgen::CustomExtension {
    // The extension value is NULL (05 00).
    rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 48, 1, 5], vec![0x05, 0x00])
}

/// The key identifier of a public key (SubjectPublicKeyInfo DER) by RFC 7093 method 1: the
/// leftmost 160 bits of the SHA-256 hash of the subjectPublicKey BIT STRING's value. (rcgen's
/// own `KeyIdMethod::Sha256` hashes the whole SubjectPublicKeyInfo, which no RFC names, so
/// linters report "unknown method" and a relying party cannot recompute it.)
pub fn key_id_method(spki_der: &[u8]) -> Result<KeyIdMethod, X509Error> {
    use der::Decode;
    let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(spki_der)
        .map_err(|_| X509Error::Malformed("public key"))?;
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        spki.subject_public_key.raw_bytes(),
    );
    Ok(KeyIdMethod::PreSpecified(digest.as_ref()[..20].to_vec()))
}

/// The subject key identifier a CA certificate carries (its CRLs' authority key identifier
/// must repeat it), or `None` if it has none.
pub fn subject_key_id(cert: &x509_cert::Certificate) -> Option<Vec<u8>> {
    use der::Decode;
    use x509_cert::ext::pkix::SubjectKeyIdentifier;
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER)
        .and_then(|e| SubjectKeyIdentifier::from_der(e.extn_value.as_bytes()).ok())
        .map(|k| k.0.as_bytes().to_vec())
}

/// The key identifier method for what `ca` signs besides certificates (its CRLs'
/// authority key identifier): the subject key identifier its certificate carries, so old
/// hierarchies keep matching; for a certificate without one, RFC 7093 method 1.
pub fn issuer_key_id_method(ca: &x509_cert::Certificate) -> Result<KeyIdMethod, X509Error> {
    match subject_key_id(ca) {
        Some(id) => Ok(KeyIdMethod::PreSpecified(id)),
        None => {
            let spki = ca
                .tbs_certificate
                .subject_public_key_info
                .to_der()
                .map_err(|e| X509Error::Encode(e.to_string()))?;
            key_id_method(&spki)
        }
    }
}

/// A random positive 128-bit serial number (16 bytes, leading byte 0x01–0x7f).
pub fn random_serial() -> Result<Vec<u8>, X509Error> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| X509Error::Encode("random source failed".into()))?;
    bytes[0] = (bytes[0] & 0x7f).max(1);
    Ok(bytes.to_vec())
}

/// 20 random decimal digits: the unique component of a subject common name.
pub fn random_digits() -> Result<String, X509Error> {
    let mut bytes = [0u8; 20];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| X509Error::Encode("random source failed".into()))?;
    Ok(bytes.iter().map(|b| char::from(b'0' + b % 10)).collect())
}

/// chrono → time, whole seconds (X.509 times carry no fractions).
pub fn to_offset(t: DateTime<Utc>) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// PEM armour for a DER certificate.
pub fn pem_certificate(der: &[u8]) -> String {
    use base64::{Engine as _, engine::general_purpose::STANDARD};
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// A CSR that passed its checks: the subject public key to certify.
#[derive(Debug, Clone)]
pub struct CheckedCsr {
    /// SubjectPublicKeyInfo DER.
    pub spki_der: Vec<u8>,
}

/// Parses a PKCS#10 request (DER or PEM), verifies its self-signature (proof of possession)
/// and accepts only RSA ≥ 2048 bits (exponent 65537) or ECDSA P-256 keys. Nothing else from the
/// request (subject, extensions) is used: the profile decides what is certified.
pub fn check_csr(input: &[u8]) -> Result<CheckedCsr, X509Error> {
    use x509_parser::{
        certification_request::X509CertificationRequest, prelude::FromDer, public_key::PublicKey,
    };
    let der = der_input::der_from(input, PemRule::FirstMustBe(der_input::CERTIFICATE_REQUEST))
        .map_err(|_| X509Error::Malformed("PEM CSR"))?;
    let (rest, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|_| X509Error::Malformed("PKCS#10 request"))?;
    if !rest.is_empty() {
        return Err(X509Error::Malformed("PKCS#10 request"));
    }
    // Key first: a weak key is refused as such, whatever its signature.
    let spki = &csr.certification_request_info.subject_pki;
    match spki
        .parsed()
        .map_err(|_| X509Error::WeakKey("unreadable public key".into()))?
    {
        PublicKey::RSA(rsa) => {
            let bits = rsa.key_size();
            if bits < 2048 {
                return Err(X509Error::WeakKey(format!(
                    "RSA-{bits} is too short (2048 bits or more)"
                )));
            }
            if rsa.try_exponent().ok() != Some(65537) {
                return Err(X509Error::WeakKey("RSA exponent must be 65537".into()));
            }
        }
        PublicKey::EC(_) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            if curve.as_deref() != Some("1.2.840.10045.3.1.7") {
                return Err(X509Error::WeakKey(
                    "only the P-256 curve is accepted".into(),
                ));
            }
        }
        _ => {
            return Err(X509Error::WeakKey(
                "only RSA and ECDSA P-256 keys are accepted".into(),
            ));
        }
    }
    csr.verify_signature()
        .map_err(|_| X509Error::BadSignature)?;
    Ok(CheckedCsr {
        spki_der: spki.raw.to_vec(),
    })
}

/// A distinguished name as every certificate here carries it: C=KR, O, optional OU, CN.
/// countryName is a PrintableString (RFC 5280 appendix A, X520countryName); the other
/// attributes are UTF8String, as RFC 5280 §4.1.2.6 asks of new certificates.
pub(super) fn dn(country_org: &str, common_name: &str, ou: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    match rcgen::string::PrintableString::try_from("KR") {
        Ok(kr) => dn.push(DnType::CountryName, DnValue::PrintableString(kr)),
        // Unreachable: "KR" is printable. Kept total rather than panicking.
        Err(_) => dn.push(DnType::CountryName, "KR"),
    }
    dn.push(DnType::OrganizationName, country_org);
    if let Some(ou) = ou {
        dn.push(DnType::OrganizationalUnitName, ou);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_positive_128_bit() {
        for _ in 0..100 {
            let s = random_serial().unwrap();
            assert_eq!(s.len(), 16);
            assert!(s[0] >= 1 && s[0] <= 0x7f);
        }
        assert_ne!(random_serial().unwrap(), random_serial().unwrap());
        assert_eq!(random_digits().unwrap().len(), 20);
    }

    #[test]
    fn garbage_is_not_a_csr() {
        assert_eq!(
            check_csr(b"not der").unwrap_err(),
            X509Error::Malformed("PKCS#10 request")
        );
        assert_eq!(
            check_csr(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .unwrap_err(),
            X509Error::Malformed("PEM CSR")
        );
    }
}

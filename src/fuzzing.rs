//! Entry points of the fuzz targets (`fuzz/`, run by cargo-fuzz; see README "Fuzzing"). Each
//! hands the fuzzer's bytes to the very functions the service runs on the same
//! internet-facing input, and checks what must hold of what they accept. Not an API: hidden
//! from the documentation and shaped by the targets. A broken property is returned as
//! [`Broken`] (the target panics with it, so libFuzzer keeps the input); a panic inside a
//! parser is a finding on its own.

use chrono::{DateTime, Utc};
use der::{Decode, Encode};

pub use crate::api::{CscMethod, CscVersion, decode_ocsp_get, read_csc_request};
pub use crate::domain::digest::Digest;
use crate::{
    pki::{
        foreign::{self, TrustAnchors, npki},
        ocsp::{self, IssuerHashes, SerialStatus},
        x509,
    },
    signing::{cms, request::Algorithm},
};

/// A property of accepted input that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken(pub String);

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn holds(ok: bool, what: &str) -> Result<(), Broken> {
    if ok {
        Ok(())
    } else {
        Err(Broken(what.to_owned()))
    }
}

/// What a target's run reached (for the seed checks: a seed must reach the deep paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reached {
    /// The input was refused (with the error a route answers).
    Refused,
    /// The input was accepted and every property held.
    Accepted,
}

/// A device-key CSR (`POST /v1/enrolments/{id}/certificate` with `storage: device`):
/// `pki::x509::check_csr`. Accepted requests must give a public key the CA can certify (the
/// key identifier and rcgen's reader take it), or issuance would fail after the check.
pub fn csr(input: &[u8]) -> Result<Reached, Broken> {
    let Ok(checked) = x509::check_csr(input) else {
        return Ok(Reached::Refused);
    };
    holds(
        x509::key_id_method(&checked.spki_der).is_ok(),
        "accepted CSR key has no key identifier",
    )?;
    holds(
        rcgen::SubjectPublicKeyInfo::from_der(&checked.spki_der).is_ok(),
        "accepted CSR key is refused by the certificate builder",
    )?;
    Ok(Reached::Accepted)
}

/// A foreign certificate registered by its public certificate (`POST /v1/foreign-certificates`):
/// `pki::foreign::read_public` against `anchors` through `intermediates` at `now`. Accepted
/// certificates must also be read by x509-cert, which builds the CMS signatures (the ESS
/// signing-certificate attribute) of an imported key's certificate.
pub fn certificate(
    input: &[u8],
    intermediates: &[Vec<u8>],
    anchors: &TrustAnchors,
    now: DateTime<Utc>,
) -> Result<Reached, Broken> {
    let Ok((leaf, validated)) =
        foreign::read_public(input, intermediates, anchors, now, "1.3.6.1.4.1.32473.410")
    else {
        return Ok(Reached::Refused);
    };
    holds(
        x509_cert::Certificate::from_der(&leaf).is_ok(),
        "validated certificate is not read by x509-cert",
    )?;
    holds(
        validated.not_before <= now && now <= validated.not_after,
        "validated certificate is not valid now",
    )?;
    Ok(Reached::Accepted)
}

/// A PKCS#12 upload (`POST /v1/foreign-certificates/pkcs12`): `open_pkcs12` with `password`,
/// then the key matched to its certificate as the import does.
pub fn pkcs12(input: &[u8], password: &str) -> Result<Reached, Broken> {
    let Ok(contents) = foreign::open_pkcs12(input, password) else {
        return Ok(Reached::Refused);
    };
    holds(
        !contents.certs.is_empty(),
        "opened PKCS#12 without a certificate",
    )?;
    Ok(match foreign::match_key(&contents.pkcs8, contents.certs) {
        Ok(_) => Reached::Accepted,
        Err(_) => Reached::Refused,
    })
}

/// An NPKI key file (`signPri.key`, `POST /v1/foreign-certificates/npki`):
/// `npki::open_sign_pri` with `password`. A decrypted key must be a `PrivateKeyInfo` the
/// attribute stripper reads too.
pub fn npki_key(input: &[u8], password: &[u8]) -> Result<Reached, Broken> {
    let Ok(key) = npki::open_sign_pri(input, password) else {
        return Ok(Reached::Refused);
    };
    if key.has_vid_random {
        holds(
            npki::without_attributes(&key.pkcs8).is_some(),
            "a key with attributes could not be stripped of them",
        )?;
    }
    Ok(match foreign::match_key(&key.pkcs8, Vec::new()) {
        // No certificate given: the key itself was read.
        Err(foreign::ForeignError::KeyMismatch) | Ok(_) => Reached::Accepted,
        Err(_) => Reached::Refused,
    })
}

/// The CMS SignedData built around a signer certificate (`signing::cms`, for every CAdES and
/// PAdES signature: the certificate of an imported key came from an upload) and the RSASSA-PSS
/// parameters a CSC client sends (`is_supported_pss`). What is built must decode again, embed
/// exactly the certificate the ESS attribute hashes, and carry the content.
pub fn cms(input: &[u8], now: DateTime<Utc>) -> Result<Reached, Broken> {
    const CONTENT: &[u8] = b"fincert fuzz content";
    let _ = cms::is_supported_pss(input);
    let digest = Digest::of(CONTENT);
    let Ok((attrs, _signed)) = cms::signed_attributes(&digest, Some(now), input) else {
        return Ok(Reached::Refused);
    };
    let Ok(der) = cms::assemble(
        attrs,
        vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
        Algorithm::EcdsaP256Sha256,
        input,
        &[],
        Some(CONTENT),
    ) else {
        return Ok(Reached::Refused);
    };
    let info = ::cms::content_info::ContentInfo::from_der(&der)
        .map_err(|e| Broken(format!("built ContentInfo does not decode: {e}")))?;
    let signed = info
        .content
        .decode_as::<::cms::signed_data::SignedData>()
        .map_err(|e| Broken(format!("built SignedData does not decode: {e}")))?;
    let embedded: Vec<Vec<u8>> = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            ::cms::cert::CertificateChoices::Certificate(c) => c.to_der().ok(),
            _ => None,
        })
        .collect();
    holds(
        embedded.iter().any(|c| c.as_slice() == input),
        "the embedded signer certificate differs from the one the ESS attribute hashes",
    )?;
    let content = signed
        .encap_content_info
        .econtent
        .as_ref()
        .and_then(|c| c.decode_as::<der::asn1::OctetString>().ok());
    holds(
        content.is_some_and(|c| c.as_bytes() == CONTENT),
        "the embedded content differs",
    )?;
    Ok(Reached::Accepted)
}

/// An OCSP request, as the POST body or the GET path (`pki::ocsp::parse_request`,
/// `decode_ocsp_get`): accepted requests are answered by echoing their CertIDs and nonce,
/// which must encode again.
pub fn ocsp_request(
    input: &[u8],
    issuer: &IssuerHashes,
    responder: &x509_cert::Certificate,
    now: DateTime<Utc>,
) -> Result<Reached, Broken> {
    let from_path = std::str::from_utf8(input)
        .ok()
        .and_then(decode_ocsp_get)
        .unwrap_or_default();
    let mut reached = Reached::Refused;
    for der in [input, from_path.as_slice()] {
        let Some(parsed) = ocsp::parse_request(der) else {
            continue;
        };
        for id in &parsed.ids {
            let _ = ocsp::serial_if_ours(issuer, id);
        }
        let statuses = vec![SerialStatus::Unknown; parsed.ids.len()];
        let data = ocsp::response_data(
            &parsed,
            &statuses,
            responder,
            now,
            chrono::Duration::hours(1),
        )
        .ok_or_else(|| Broken("no response data for an accepted request".into()))?;
        holds(
            data.to_der().is_ok(),
            "the answer to an accepted request does not encode",
        )?;
        reached = Reached::Accepted;
    }
    Ok(reached)
}

/// A CSC request body (`/csc/v1/...`, `/csc/v2/...`): every method of both versions reads it
/// as its route does before the caller and the database are consulted.
pub fn csc_body(input: &[u8]) -> Reached {
    let mut reached = Reached::Refused;
    for version in [CscVersion::V1, CscVersion::V2] {
        for method in CscMethod::ALL {
            if read_csc_request(version, method, Some("application/json"), input, 10).is_ok() {
                reached = Reached::Accepted;
            }
        }
    }
    reached
}

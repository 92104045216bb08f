//! Reading a certificate or a CSR given as DER or PEM: the one decoder behind the API's text
//! fields, foreign-certificate registration, CSR checking and `fincert verify`.
//!
//! Input that starts with `-----BEGIN` is PEM and is read by a [`PemRule`]; anything else is
//! taken as DER, as is (whether it *is* DER is for the parser that reads it next). The rules
//! differ because the callers always have: each keeps exactly what it accepted before.
//!
//! Trust-anchor files (`pki::foreign::validate`) are bundles, every CERTIFICATE block of a
//! file, and are read there, not here.

use base64::{Engine as _, engine::general_purpose::STANDARD};

/// PEM labels of a certificate.
pub const CERTIFICATE: &[&str] = &["CERTIFICATE"];
/// PEM labels of a PKCS#10 request.
pub const CERTIFICATE_REQUEST: &[&str] = &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"];

/// How PEM input is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemRule {
    /// The first block with one of these labels; blocks with other labels are skipped.
    FirstLabelled(&'static [&'static str]),
    /// The first block, which must carry one of these labels.
    FirstMustBe(&'static [&'static str]),
    /// Every line that is not an armour (`-----`) line, decoded as one base64 text, whatever
    /// the label (the CLI's lenient reading of a file).
    Armour,
}

/// The input is not DER or PEM of the expected kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not DER or PEM of the expected kind")]
pub struct DerInputError;

/// DER as is, or the DER inside PEM read by `rule`.
pub fn der_from(input: &[u8], rule: PemRule) -> Result<Vec<u8>, DerInputError> {
    if !input.starts_with(b"-----BEGIN") {
        return Ok(input.to_vec());
    }
    match rule {
        PemRule::FirstLabelled(labels) => x509_parser::pem::Pem::iter_from_buffer(input)
            .flatten()
            .find(|p| labels.contains(&p.label.as_str()))
            .map(|p| p.contents)
            .ok_or(DerInputError),
        PemRule::FirstMustBe(labels) => {
            let (_, pem) = x509_parser::pem::parse_x509_pem(input).map_err(|_| DerInputError)?;
            if labels.contains(&pem.label.as_str()) {
                Ok(pem.contents)
            } else {
                Err(DerInputError)
            }
        }
        PemRule::Armour => {
            let text = String::from_utf8_lossy(input).into_owned();
            let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
            STANDARD.decode(b64.trim()).map_err(|_| DerInputError)
        }
    }
}

/// A JSON text field holding a certificate or CSR: PEM text as given (it may start after
/// whitespace, and is returned whole, armour included), or base64 DER (trimmed) decoded.
pub fn bytes_from_text(input: &str) -> Result<Vec<u8>, DerInputError> {
    if input.trim_start().starts_with("-----BEGIN") {
        Ok(input.as_bytes().to_vec())
    } else {
        STANDARD.decode(input.trim()).map_err(|_| DerInputError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(label: &str, der: &[u8]) -> String {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            STANDARD.encode(der)
        )
    }

    #[test]
    fn der_passes_through_under_every_rule() {
        for rule in [
            PemRule::FirstLabelled(CERTIFICATE),
            PemRule::FirstMustBe(CERTIFICATE_REQUEST),
            PemRule::Armour,
        ] {
            assert_eq!(
                der_from(b"\x30\x03\x02\x01\x01", rule).unwrap(),
                b"\x30\x03\x02\x01\x01"
            );
        }
    }

    #[test]
    fn first_labelled_skips_other_blocks() {
        let input =
            pem("PRIVATE KEY", b"key") + &pem("CERTIFICATE", b"one") + &pem("CERTIFICATE", b"two");
        let rule = PemRule::FirstLabelled(CERTIFICATE);
        assert_eq!(der_from(input.as_bytes(), rule).unwrap(), b"one");
        assert_eq!(
            der_from(pem("PRIVATE KEY", b"k").as_bytes(), rule),
            Err(DerInputError)
        );
    }

    #[test]
    fn first_must_be_refuses_a_leading_other_block() {
        let rule = PemRule::FirstMustBe(CERTIFICATE_REQUEST);
        for label in CERTIFICATE_REQUEST {
            assert_eq!(
                der_from(pem(label, b"csr").as_bytes(), rule).unwrap(),
                b"csr"
            );
        }
        let input = pem("CERTIFICATE", b"c") + &pem("CERTIFICATE REQUEST", b"csr");
        assert_eq!(der_from(input.as_bytes(), rule), Err(DerInputError));
        assert_eq!(der_from(b"-----BEGIN nonsense", rule), Err(DerInputError));
    }

    #[test]
    fn armour_takes_any_label_and_fails_on_bad_base64() {
        let input = pem("WHATEVER", b"body");
        assert_eq!(
            der_from(input.as_bytes(), PemRule::Armour).unwrap(),
            b"body"
        );
        assert_eq!(
            der_from(
                b"-----BEGIN X-----\n*not base64*\n-----END X-----\n",
                PemRule::Armour
            ),
            Err(DerInputError)
        );
    }

    #[test]
    fn text_fields_are_pem_as_given_or_base64_der() {
        let p = format!("  {}", pem("CERTIFICATE", b"c"));
        assert_eq!(bytes_from_text(&p).unwrap(), p.as_bytes());
        assert_eq!(
            bytes_from_text(&format!(" {} \n", STANDARD.encode(b"der"))).unwrap(),
            b"der"
        );
        assert_eq!(bytes_from_text("not base64!"), Err(DerInputError));
    }
}

//! CMS SignedData (RFC 5652) built from RustCrypto's typed `cms` structures, in two phases:
//! [`signed_attributes`] gives the DER the signer signs (content-type, message-digest and
//! signing-time attributes), [`assemble`] wraps the signature, the signer certificate and the
//! chain into a `ContentInfo`. The signature itself comes from custody (an activated key), so
//! no private key passes through here.

use chrono::{DateTime, Utc};
use cms::{
    cert::{CertificateChoices, IssuerAndSerialNumber},
    content_info::{CmsVersion, ContentInfo},
    signed_data::{
        CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo,
        SignerInfos,
    },
};
use const_oid::{ObjectIdentifier, db::rfc5911, db::rfc5912};
use der::{
    Any, Decode, Encode, Sequence,
    asn1::{OctetString, SetOfVec, UtcTime},
};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::{Certificate, attr::Attribute, time::Time};

use super::request::{Algorithm, Digest};

/// Why a CMS structure could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    /// A certificate or field did not encode.
    #[error("CMS encoding failed: {0}")]
    Der(#[from] der::Error),
    /// Signing time outside what UTCTime holds.
    #[error("signing time out of range")]
    Time,
}

/// RSASSA-PSS-params (RFC 4055) for SHA-256, MGF1-SHA-256, salt 32.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    hash: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
    mask_gen: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
    salt_length: u32,
}

/// Whether DER RSASSA-PSS-params name what fincert signs with: SHA-256, MGF1 with SHA-256,
/// salt length 32 (CSC `signAlgoParams`).
pub fn is_supported_pss(der: &[u8]) -> bool {
    let Ok(p) = PssParams::from_der(der) else {
        return false;
    };
    let mgf_hash = p
        .mask_gen
        .parameters
        .as_ref()
        .and_then(|a| a.decode_as::<AlgorithmIdentifierOwned>().ok());
    p.hash.oid == rfc5912::ID_SHA_256
        && p.mask_gen.oid == rfc5912::ID_MGF_1
        && mgf_hash.is_some_and(|h| h.oid == rfc5912::ID_SHA_256)
        && p.salt_length == 32
}

fn sha256_id() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: rfc5912::ID_SHA_256,
        parameters: None,
    }
}

/// The AlgorithmIdentifier of a signature algorithm, as CMS and X.509 write it.
pub fn signature_algorithm(alg: Algorithm) -> Result<AlgorithmIdentifierOwned, CmsError> {
    Ok(match alg {
        Algorithm::RsaPkcs1Sha256 => AlgorithmIdentifierOwned {
            oid: rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            parameters: Some(Any::from(der::asn1::Null)),
        },
        Algorithm::RsaPssSha256 => {
            let hash = AlgorithmIdentifierOwned {
                oid: rfc5912::ID_SHA_256,
                parameters: Some(Any::from(der::asn1::Null)),
            };
            let params = PssParams {
                hash: hash.clone(),
                mask_gen: AlgorithmIdentifierOwned {
                    oid: rfc5912::ID_MGF_1,
                    parameters: Some(Any::encode_from(&hash)?),
                },
                salt_length: 32,
            };
            AlgorithmIdentifierOwned {
                oid: rfc5912::ID_RSASSA_PSS,
                parameters: Some(Any::encode_from(&params)?),
            }
        }
        Algorithm::EcdsaP256Sha256 => AlgorithmIdentifierOwned {
            oid: rfc5912::ECDSA_WITH_SHA_256,
            parameters: None,
        },
    })
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, CmsError> {
    let mut values = SetOfVec::new();
    values.insert(value)?;
    Ok(Attribute { oid, values })
}

/// Phase one: the signed attributes for content with `digest`, signed at `at`. Returns the
/// attributes and their DER (a `SET OF`), which is what the signer signs.
pub fn signed_attributes(
    digest: &Digest,
    at: DateTime<Utc>,
) -> Result<(SetOfVec<Attribute>, Vec<u8>), CmsError> {
    let secs = u64::try_from(at.timestamp()).map_err(|_| CmsError::Time)?;
    let time = UtcTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .map_err(|_| CmsError::Time)?;
    let mut attrs = SetOfVec::new();
    attrs.insert(attribute(
        rfc5911::ID_CONTENT_TYPE,
        Any::encode_from(&rfc5911::ID_DATA)?,
    )?)?;
    attrs.insert(attribute(
        rfc5911::ID_MESSAGE_DIGEST,
        Any::encode_from(&OctetString::new(digest.as_bytes().to_vec())?)?,
    )?)?;
    attrs.insert(attribute(
        rfc5911::ID_SIGNING_TIME,
        Any::encode_from(&Time::UtcTime(time))?,
    )?)?;
    let der = attrs.to_der()?;
    Ok((attrs, der))
}

/// Phase two: the SignedData in a ContentInfo, DER. `content` is embedded when given
/// (attached); `chain` are further certificates to include (the issuing CA).
pub fn assemble(
    attrs: SetOfVec<Attribute>,
    signature: Vec<u8>,
    algorithm: Algorithm,
    signer_der: &[u8],
    chain: &[&[u8]],
    content: Option<&[u8]>,
) -> Result<Vec<u8>, CmsError> {
    let signer = Certificate::from_der(signer_der)?;
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: signer.tbs_certificate.issuer.clone(),
        serial_number: signer.tbs_certificate.serial_number.clone(),
    });
    let info = SignerInfo {
        version: CmsVersion::V1,
        sid,
        digest_alg: sha256_id(),
        signed_attrs: Some(attrs),
        signature_algorithm: signature_algorithm(algorithm)?,
        signature: OctetString::new(signature)?,
        unsigned_attrs: None,
    };
    let mut certs = SetOfVec::new();
    certs.insert(CertificateChoices::Certificate(signer))?;
    for der in chain {
        certs.insert(CertificateChoices::Certificate(Certificate::from_der(der)?))?;
    }
    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms.insert(sha256_id())?;
    let mut signer_infos = SetOfVec::new();
    signer_infos.insert(info)?;
    let econtent = content
        .map(|c| OctetString::new(c.to_vec()).and_then(|o| Any::encode_from(&o)))
        .transpose()?;
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: rfc5911::ID_DATA,
            econtent,
        },
        certificates: Some(CertificateSet(certs)),
        crls: None,
        signer_infos: SignerInfos(signer_infos),
    };
    let info = ContentInfo {
        content_type: rfc5911::ID_SIGNED_DATA,
        content: Any::encode_from(&signed)?,
    };
    Ok(info.to_der()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_attributes_hold_the_digest_and_are_a_der_set() {
        let d = Digest::of(b"hello");
        let (attrs, der) = signed_attributes(&d, DateTime::<Utc>::UNIX_EPOCH).unwrap();
        assert_eq!(der[0], 0x31, "SET OF");
        assert_eq!(attrs.len(), 3);
        assert!(
            der.windows(32).any(|w| w == d.as_bytes().as_slice()),
            "message digest inside"
        );
        assert!(signed_attributes(&d, DateTime::<Utc>::MIN_UTC).is_err());
    }

    #[test]
    fn pss_parameters_name_sha256_and_salt_32() {
        let id = signature_algorithm(Algorithm::RsaPssSha256).unwrap();
        let params = id.parameters.unwrap().to_der().unwrap();
        let parsed = PssParams::from_der(&params).unwrap();
        assert_eq!(parsed.salt_length, 32);
        assert_eq!(parsed.hash.oid, rfc5912::ID_SHA_256);
        assert_eq!(parsed.mask_gen.oid, rfc5912::ID_MGF_1);
        assert!(is_supported_pss(&params));
        assert!(!is_supported_pss(b"\x30\x00"));
    }
}

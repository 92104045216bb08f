//! CMS SignedData (RFC 5652) built from RustCrypto's typed `cms` structures, in two phases:
//! [`signed_attributes`] gives the DER the signer signs (content-type, message-digest,
//! signing-time — left out for PAdES, where the PDF carries the time — and the ESS
//! signing-certificate-v2 of RFC 5035, which CAdES-B-B and PAdES-B-B require), [`assemble`]
//! wraps the signature, the signer certificate and the chain into a `ContentInfo`. The
//! signature itself comes from custody (an activated key), so no private key passes through
//! here.
//!
//! For a PDF (`cms-pades`), the digest is the one a PDF tool computed over the document's
//! `/ByteRange`, and the `ContentInfo` goes into the signature dictionary's `/Contents` as it
//! is (sub-filter `ETSI.CAdES.detached`); with the validation material added as a DSS the
//! document is PAdES-B-LT. pyHanko judges both levels in `tests/api/signing/pades.rs`.

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
use x509_cert::{
    Certificate,
    attr::Attribute,
    ext::pkix::{
        certpolicy::PolicyInformation,
        name::{GeneralName, GeneralNames},
    },
    serial_number::SerialNumber,
    time::Time,
};

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
    /// A certificate decodes, but encodes again to other bytes: it is not DER, so it cannot
    /// be embedded as it was signed (its signature covers the original bytes) nor named by
    /// the hash in `signing-certificate-v2` (which must be that of what is embedded).
    #[error("a certificate is not in DER")]
    NotDer,
}

/// The certificate `der` holds, if `der` is exactly its DER: what is embedded is then what was
/// signed and what the ESS attribute hashes (found by fuzzing: `fuzz/regressions/cms`).
fn certificate_exactly(der: &[u8]) -> Result<Certificate, CmsError> {
    let cert = Certificate::from_der(der)?;
    if cert.to_der()? != der {
        return Err(CmsError::NotDer);
    }
    Ok(cert)
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

/// `IssuerSerial` (RFC 5035 §4, from RFC 5755): the signer certificate's issuer and serial.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    /// The issuer's name, as one `directoryName`.
    pub issuer: GeneralNames,
    /// The certificate's serial number.
    pub serial_number: SerialNumber,
}

/// `ESSCertIDv2` (RFC 5035 §4): a hash of one certificate, and which certificate it is.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    /// `DEFAULT {algorithm id-sha256}`: `None` is SHA-256, which DER leaves out (der's
    /// `default` attribute needs a `Copy` type, so the default is spelt out in
    /// [`EssCertIdV2::hash_algorithm`]).
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// The hash of the whole certificate (its DER).
    pub cert_hash: OctetString,
    /// The issuer and serial of that certificate.
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

impl EssCertIdV2 {
    /// The hash algorithm in force: the one written, or SHA-256 when none is.
    pub fn hash_algorithm(&self) -> AlgorithmIdentifierOwned {
        self.hash_algorithm.clone().unwrap_or_else(sha256_id)
    }
}

/// `SigningCertificateV2` (RFC 5035 §3): the signer certificate first; fincert writes only
/// that one and no policies.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    /// The certificates, the signer's first.
    pub certs: Vec<EssCertIdV2>,
    /// Policies that apply (never written by fincert).
    #[asn1(optional = "true")]
    pub policies: Option<Vec<PolicyInformation>>,
}

impl SigningCertificateV2 {
    /// The attribute value naming the certificate `signer_der` by the SHA-256 of its DER and
    /// its issuer-serial.
    pub fn of(signer_der: &[u8]) -> Result<Self, CmsError> {
        let signer = certificate_exactly(signer_der)?;
        let tbs = signer.tbs_certificate;
        Ok(Self {
            certs: vec![EssCertIdV2 {
                hash_algorithm: None,
                cert_hash: OctetString::new(Digest::of(signer_der).as_bytes().to_vec())?,
                issuer_serial: Some(IssuerSerial {
                    issuer: vec![GeneralName::DirectoryName(tbs.issuer)],
                    serial_number: tbs.serial_number,
                }),
            }],
            policies: None,
        })
    }
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

/// Phase one: the signed attributes for content with `digest`, signed at `at` (a signing-time
/// attribute; `None` for PAdES, which keeps the time outside the CMS) by the holder of
/// `signer_der` (the certificate the signing-certificate-v2 attribute names). Returns the
/// attributes and their DER (a `SET OF`, sorted as DER wants), which is what the signer signs.
pub fn signed_attributes(
    digest: &Digest,
    at: Option<DateTime<Utc>>,
    signer_der: &[u8],
) -> Result<(SetOfVec<Attribute>, Vec<u8>), CmsError> {
    let mut attrs = SetOfVec::new();
    attrs.insert(attribute(
        rfc5911::ID_CONTENT_TYPE,
        Any::encode_from(&rfc5911::ID_DATA)?,
    )?)?;
    attrs.insert(attribute(
        rfc5911::ID_MESSAGE_DIGEST,
        Any::encode_from(&OctetString::new(digest.as_bytes().to_vec())?)?,
    )?)?;
    if let Some(at) = at {
        let secs = u64::try_from(at.timestamp()).map_err(|_| CmsError::Time)?;
        let time = UtcTime::from_unix_duration(std::time::Duration::from_secs(secs))
            .map_err(|_| CmsError::Time)?;
        attrs.insert(attribute(
            rfc5911::ID_SIGNING_TIME,
            Any::encode_from(&Time::UtcTime(time))?,
        )?)?;
    }
    attrs.insert(attribute(
        rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2,
        Any::encode_from(&SigningCertificateV2::of(signer_der)?)?,
    )?)?;
    let der = attrs.to_der()?;
    Ok((attrs, der))
}

/// Phase two: the SignedData in a ContentInfo, DER. `content` is embedded when given
/// (attached); `chain` are further certificates to include (the issuing CA: the root is the
/// relying party's trust anchor, which it must hold already and never take from a signature).
pub fn assemble(
    attrs: SetOfVec<Attribute>,
    signature: Vec<u8>,
    algorithm: Algorithm,
    signer_der: &[u8],
    chain: &[&[u8]],
    content: Option<&[u8]>,
) -> Result<Vec<u8>, CmsError> {
    let signer = certificate_exactly(signer_der)?;
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
        certs.insert(CertificateChoices::Certificate(certificate_exactly(der)?))?;
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

/// A detached SignedData made by [`assemble`], with `content` embedded: the signed
/// attributes' message-digest already covers it, so nothing is signed again (what a retry of
/// an attached signature gets from the stored detached one). Refuses a structure that is not
/// a detached SignedData.
pub fn attach(detached: &[u8], content: &[u8]) -> Result<Vec<u8>, CmsError> {
    let info = ContentInfo::from_der(detached)?;
    if info.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(CmsError::Der(der::ErrorKind::Failed.into()));
    }
    let mut signed: SignedData = info.content.decode_as()?;
    if signed.encap_content_info.econtent.is_some() {
        return Err(CmsError::Der(der::ErrorKind::Failed.into()));
    }
    signed.encap_content_info.econtent =
        Some(Any::encode_from(&OctetString::new(content.to_vec())?)?);
    let info = ContentInfo {
        content_type: rfc5911::ID_SIGNED_DATA,
        content: Any::encode_from(&signed)?,
    };
    Ok(info.to_der()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for the attribute to name (rcgen, a fresh P-256 key).
    fn certificate(cn: &str) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![cn.to_owned()]).unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    /// The signing-certificate-v2 value among `attrs`, decoded.
    fn ess(attrs: &SetOfVec<Attribute>) -> SigningCertificateV2 {
        let attr = attrs
            .iter()
            .find(|a| a.oid == rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2)
            .expect("signing-certificate-v2 present");
        assert_eq!(attr.values.len(), 1, "one value");
        attr.values.get(0).unwrap().decode_as().unwrap()
    }

    /// Found by the `cms` fuzz target: a certificate that decodes but is not DER (it encodes
    /// again to other bytes) was hashed as given and embedded re-encoded, so the ESS attribute
    /// named another certificate than the one embedded. Such a certificate is refused.
    #[test]
    fn a_certificate_that_is_not_der_is_refused() {
        let not_der: &[u8] = include_bytes!(
            "../../fuzz/regressions/cms/crash-bcea463fee33e272106700d85dc26f01f613cfc0"
        );
        let cert = Certificate::from_der(not_der).expect("it decodes");
        assert_ne!(cert.to_der().unwrap(), not_der, "but is not DER");
        let d = Digest::of(b"hello");
        assert!(matches!(
            signed_attributes(&d, None, not_der),
            Err(CmsError::NotDer)
        ));
        let good = certificate("signer.example");
        let (attrs, _) = signed_attributes(&d, None, &good).unwrap();
        assert!(matches!(
            assemble(
                attrs.clone(),
                vec![1],
                Algorithm::EcdsaP256Sha256,
                not_der,
                &[],
                None
            ),
            Err(CmsError::NotDer)
        ));
        assert!(matches!(
            assemble(
                attrs,
                vec![1],
                Algorithm::EcdsaP256Sha256,
                &good,
                &[not_der],
                None
            ),
            Err(CmsError::NotDer)
        ));
    }

    #[test]
    fn signed_attributes_hold_the_digest_and_are_a_der_set() {
        let d = Digest::of(b"hello");
        let cert = certificate("signer.example");
        let (attrs, der) = signed_attributes(&d, Some(DateTime::<Utc>::UNIX_EPOCH), &cert).unwrap();
        assert_eq!(der[0], 0x31, "SET OF");
        assert_eq!(attrs.len(), 4);
        assert!(
            der.windows(32).any(|w| w == d.as_bytes().as_slice()),
            "message digest inside"
        );
        // X.690 §11.6: the elements in ascending order of their encodings, compared as octet
        // strings (re-checked here on the bytes, not through der's own ordering).
        let encodings: Vec<Vec<u8>> = attrs.iter().map(|a| a.to_der().unwrap()).collect();
        assert!(encodings.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
        let reparsed = SetOfVec::<Attribute>::from_der(&der).unwrap();
        assert_eq!(reparsed, attrs, "round trip");
        assert!(signed_attributes(&d, Some(DateTime::<Utc>::MIN_UTC), &cert).is_err());
        // PAdES: no signing-time, the other three stay.
        let (pades, _) = signed_attributes(&d, None, &cert).unwrap();
        let oids: Vec<_> = pades.iter().map(|a| a.oid).collect();
        assert_eq!(oids.len(), 3);
        assert!(!oids.contains(&rfc5911::ID_SIGNING_TIME));
        assert!(oids.contains(&rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2));
        assert!(signed_attributes(&d, Some(DateTime::<Utc>::UNIX_EPOCH), b"not a cert").is_err());
    }

    #[test]
    fn signing_certificate_v2_names_the_signer_by_hash_and_issuer_serial() {
        let cert = certificate("signer.example");
        let other = certificate("other.example");
        let (attrs, _) = signed_attributes(&Digest::of(b"x"), Some(Utc::now()), &cert).unwrap();
        let value = ess(&attrs);
        assert_eq!(value.certs.len(), 1, "the signer only");
        assert_eq!(value.policies, None);
        let id = &value.certs[0];
        assert_eq!(id.hash_algorithm, None, "the DEFAULT, not written");
        assert_eq!(id.hash_algorithm(), sha256_id());
        assert_eq!(id.cert_hash.as_bytes(), Digest::of(&cert).as_bytes());
        assert_ne!(id.cert_hash.as_bytes(), Digest::of(&other).as_bytes());
        let parsed = Certificate::from_der(&cert).unwrap();
        let is = id.issuer_serial.as_ref().expect("issuer-serial present");
        assert_eq!(is.serial_number, parsed.tbs_certificate.serial_number);
        assert_eq!(
            is.issuer,
            vec![GeneralName::DirectoryName(parsed.tbs_certificate.issuer)]
        );
        // DER leaves the DEFAULT sha256 out: ESSCertIDv2 opens with the certHash OCTET STRING.
        let id_der = id.to_der().unwrap();
        let (_, body) = id_der.split_at(2);
        assert_eq!(body[0], 0x04, "no hashAlgorithm written");
        assert_eq!(EssCertIdV2::from_der(&id_der).unwrap(), *id);
    }

    #[test]
    fn ess_cert_id_v2_reads_an_explicit_hash_algorithm_and_no_issuer_serial() {
        // RFC 5035 as others write it: SHA-512 named, issuerSerial left out.
        let sha512 = AlgorithmIdentifierOwned {
            oid: rfc5912::ID_SHA_512,
            parameters: None,
        };
        let written = EssCertIdV2 {
            hash_algorithm: Some(sha512.clone()),
            cert_hash: OctetString::new(vec![7u8; 64]).unwrap(),
            issuer_serial: None,
        };
        let der = written.to_der().unwrap();
        assert_eq!(der[2], 0x30, "hashAlgorithm written when not the default");
        let read = EssCertIdV2::from_der(&der).unwrap();
        assert_eq!(read.hash_algorithm(), sha512);
        assert_eq!(read.issuer_serial, None);
        let v2 = SigningCertificateV2 {
            certs: vec![read],
            policies: None,
        };
        assert_eq!(
            SigningCertificateV2::from_der(&v2.to_der().unwrap()).unwrap(),
            v2
        );
        assert!(SigningCertificateV2::from_der(b"\x30\x03\x04\x01\x00").is_err());
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

    #[test]
    fn attach_embeds_the_content_and_changes_nothing_signed() {
        let cert = certificate("signer.example");
        let d = Digest::of(b"loan contract");
        let (attrs, _) = signed_attributes(&d, None, &cert).unwrap();
        let detached = assemble(
            attrs,
            vec![7; 64],
            Algorithm::EcdsaP256Sha256,
            &cert,
            &[],
            None,
        )
        .unwrap();
        let attached = attach(&detached, b"loan contract").unwrap();
        let signed = |der: &[u8]| -> SignedData {
            ContentInfo::from_der(der)
                .unwrap()
                .content
                .decode_as()
                .unwrap()
        };
        let (a, b) = (signed(&detached), signed(&attached));
        let content: OctetString = b
            .encap_content_info
            .econtent
            .as_ref()
            .expect("embedded")
            .decode_as()
            .unwrap();
        assert_eq!(content.as_bytes(), b"loan contract");
        assert_eq!(
            a.signer_infos.0.to_der().unwrap(),
            b.signer_infos.0.to_der().unwrap(),
            "the signer info (attributes and signature) is the same"
        );
        assert!(attach(&attached, b"again").is_err(), "attached already");
        assert!(attach(b"not cms", b"x").is_err());
        let other = ContentInfo {
            content_type: rfc5911::ID_DATA,
            content: Any::encode_from(&OctetString::new(vec![1]).unwrap()).unwrap(),
        };
        assert!(
            attach(&other.to_der().unwrap(), b"x").is_err(),
            "not SignedData"
        );
    }
}

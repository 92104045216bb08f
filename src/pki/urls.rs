//! Public URLs of the published CA material (certificates, CRL, OCSP responder), as written
//! into the certificates' AIA and CRL distribution point extensions.

/// CA certificate (DER).
pub fn ca(base: &str, name: &str) -> String {
    format!("{base}/pki/ca/{name}.crt")
}
/// The issuing CA's CRL (DER).
pub fn crl(base: &str) -> String {
    format!("{base}/pki/crl/issuing.crl")
}
/// The root CA's CRL (the ARL: the status of the issuing CA), DER.
pub fn arl(base: &str) -> String {
    format!("{base}/pki/crl/root.crl")
}
/// The OCSP responder.
pub fn ocsp(base: &str) -> String {
    format!("{base}/pki/ocsp")
}

//! `info` and the `credentials/list` and `credentials/info` methods: what a CSC client may
//! learn about the service and the credentials its users consented to.

use actix_web::{HttpRequest, HttpResponse};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use fincert_client::proto::csc::{
    AuthInfo, AuthObject, CertInfo, CredentialInfoV1, CredentialInfoV2, CredentialListV1,
    CredentialListV2, InfoV1, InfoV2, KeyInfo, PasskeyCopies, PinInfo, SignAlgorithms,
    SignatureFormats,
};
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{
    CscResult, Version, open,
    params::{
        Certificates, EC_KEY, ECDSA_SHA256, InfoOptions, InfoRequest, ListRequest, P256, RSA,
        RSA_PSS, RSA_SHA256,
    },
};
use crate::{
    custody::keys::KeyAlgorithm, error::CscError, pki::lifecycle::CertStatus, signing::Caller,
    state::AppState,
};

/// The `credentials/list` or `credentials/info` body of the version asked for.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum PerVersion<A, B> {
    V1(A),
    V2(B),
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// `POST /csc/v{1,2}/info`.
pub async fn info(state: &AppState, version: Version) -> HttpResponse {
    let base = state.settings.pki.public_base_url.trim_end_matches('/');
    let (specs, path) = match version {
        Version::V1 => ("1.0.4.0", "v1"),
        Version::V2 => ("2.0.0.2", "v2"),
    };
    let auth_type = strings(&["oauth2client", "oauth2code"]);
    let description = "Cloud keystore for Korean financial certificates".to_owned();
    let mut methods = strings(&[
        "oauth2/token",
        "oauth2/authorize",
        "oauth2/revoke",
        "credentials/list",
        "credentials/info",
        "credentials/authorize",
        "credentials/extendTransaction",
        "signatures/signHash",
    ]);
    if version == Version::V2 {
        methods.push("signatures/signDoc".to_owned());
        methods.push("signatures/signPolling".to_owned());
    }
    let (name, lang, region) = ("fincert".to_owned(), "ko-KR".to_owned(), "KR".to_owned());
    // The root certificate stands for the service (CSC asks for an image URI; a published,
    // stable URL that answers beats a picture we would have to host).
    let logo = crate::pki::urls::ca(base, "root");
    let oauth2 = format!("{base}/csc/{path}/");
    let specs = specs.to_owned();
    match version {
        Version::V1 => HttpResponse::Ok().json(InfoV1 {
            auth_type,
            description,
            lang,
            logo,
            methods,
            name,
            oauth2,
            region,
            specs,
        }),
        Version::V2 => HttpResponse::Ok().json(InfoV2 {
            auth_type,
            conformance_levels: strings(&super::params::CONFORMANCE_LEVELS),
            description,
            lang,
            logo,
            methods,
            name,
            oauth2,
            region,
            sign_algorithms: SignAlgorithms {
                algos: strings(&[RSA, RSA_SHA256, RSA_PSS, ECDSA_SHA256]),
            },
            signature_formats: SignatureFormats {
                envelope_properties: vec![strings(&["Detached", "Attached"])],
                formats: strings(&["C"]),
            },
            specs,
        }),
    }
}

fn generalized(t: DateTime<Utc>) -> String {
    t.format("%Y%m%d%H%M%SZ").to_string()
}

/// The credentials/info object of one credential.
async fn credential_info(
    state: &AppState,
    caller: &Caller,
    options: InfoOptions,
    credential_id: &str,
    version: Version,
) -> CscResult<PerVersion<CredentialInfoV1, CredentialInfoV2>> {
    let InfoOptions {
        certificates,
        cert_info,
    } = options;
    let (row, algorithm, locked) = state
        .signing
        .csc_credential(&state.db, caller, credential_id)
        .await?;
    let now = state.clock.now();
    let status = row.status.at(row.not_after, now);
    let key_status = if locked { "disabled" } else { "enabled" }.to_owned();
    let key = match algorithm {
        KeyAlgorithm::Rsa2048 => KeyInfo {
            algo: strings(&[RSA, RSA_SHA256, RSA_PSS]),
            curve: None,
            len: 2048,
            status: key_status,
        },
        KeyAlgorithm::P256 => KeyInfo {
            algo: strings(&[EC_KEY, ECDSA_SHA256]),
            curve: Some(P256.to_owned()),
            len: 256,
            status: key_status,
        },
    };
    let mut cert = CertInfo {
        certificates: None,
        issuer_dn: None,
        serial_number: None,
        status: match status {
            CertStatus::Active => "valid",
            CertStatus::Expired => "expired",
            CertStatus::Revoked => "revoked",
            CertStatus::Suspended => "suspended",
        }
        .to_owned(),
        subject_dn: None,
        valid_from: None,
        valid_to: None,
    };
    let mut chain = vec![STANDARD.encode(&row.certificate_der)];
    if certificates == Certificates::Chain {
        chain.extend(
            state
                .pki
                .chain_of(row.foreign_chain.as_deref())
                .iter()
                .map(|c| STANDARD.encode(c)),
        );
    }
    if certificates != Certificates::None {
        cert.certificates = Some(chain);
    }
    if cert_info && let Ok((_, x)) = X509Certificate::from_der(&row.certificate_der) {
        cert.issuer_dn = Some(x.issuer().to_string());
        cert.subject_dn = Some(x.subject().to_string());
        cert.serial_number = Some(row.serial_hex.to_ascii_uppercase());
        cert.valid_from = Some(generalized(row.not_before));
        cert.valid_to = Some(generalized(row.not_after));
    }
    let pin_description = "The 6-digit PIN of the certificate".to_owned();
    let description = format!("{} certificate {}", row.kind.as_str(), row.subject);
    let (multisign, scal, lang) = (
        state.signing.max_batch(),
        "2".to_owned(),
        "ko-KR".to_owned(),
    );
    Ok(match version {
        Version::V1 => PerVersion::V1(CredentialInfoV1 {
            pin: PinInfo {
                description: pin_description,
                format: "N".to_owned(),
                label: "PIN".to_owned(),
                presence: "true".to_owned(),
            },
            scal,
            auth_mode: "explicit".to_owned(),
            cert,
            description,
            key,
            lang,
            multisign,
        }),
        Version::V2 => PerVersion::V2(CredentialInfoV2 {
            passkeys: {
                let (bound, sole_control) =
                    state.signing.csc_passkey_copies(&state.db, &row).await?;
                PasskeyCopies {
                    bound,
                    sole_control,
                }
            },
            scal,
            auth: AuthInfo {
                expression: "PIN".to_owned(),
                mode: "explicit".to_owned(),
                objects: vec![AuthObject {
                    description: pin_description,
                    format: "N".to_owned(),
                    id: "PIN".to_owned(),
                    label: "PIN".to_owned(),
                    kind: "Password".to_owned(),
                }],
            },
            cert,
            credential_id: None,
            description,
            key,
            lang,
            multisign,
        }),
    })
}

pub(super) async fn list(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    version: Version,
) -> CscResult<PerVersion<CredentialListV1, CredentialListV2>> {
    let (m, caller) = open(state, req, body).await?;
    let r = ListRequest::parse(&m, version)?;
    let mut items = state
        .signing
        .consented_certificates(&state.db, &caller)
        .await?;
    if let Some(u) = r.user_id {
        items.retain(|c| c.user_ref == u);
    }
    if r.only_valid {
        items.retain(|c| c.status == "active");
    }
    let ids: Vec<String> = items.iter().map(|c| c.certificate_id.clone()).collect();
    if version == Version::V1 {
        let max = r.max_results;
        let start = match r.page_token {
            None => 0,
            Some(n) if n <= ids.len() => n,
            Some(_) => return Err(CscError::bad("Invalid parameter pageToken")),
        };
        let next_page_token = (start + max < ids.len()).then(|| (start + max).to_string());
        let credential_ids = ids.into_iter().skip(start).take(max).collect();
        return Ok(PerVersion::V1(CredentialListV1 {
            credential_ids,
            next_page_token,
        }));
    }
    let mut credential_infos = None;
    if let Some(options) = r.credential_info {
        let mut infos = Vec::new();
        for id in &ids {
            if let PerVersion::V2(mut info) =
                credential_info(state, &caller, options, id, version).await?
            {
                info.credential_id = Some(id.clone());
                infos.push(info);
            }
        }
        credential_infos = Some(infos);
    }
    Ok(PerVersion::V2(CredentialListV2 {
        credential_ids: ids,
        credential_infos,
    }))
}

pub(super) async fn info_of(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    version: Version,
) -> CscResult<PerVersion<CredentialInfoV1, CredentialInfoV2>> {
    let (m, caller) = open(state, req, body).await?;
    let r = InfoRequest::parse(&m)?;
    credential_info(state, &caller, r.options, r.credential_id, version).await
}

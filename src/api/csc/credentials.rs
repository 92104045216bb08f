//! `info` and the `credentials/list` and `credentials/info` methods: what a CSC client may
//! learn about the service and the credentials its users consented to.

use actix_web::{HttpRequest, HttpResponse};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{
    CscResult, Version, open,
    params::{EC_KEY, ECDSA_SHA256, P256, RSA, RSA_PSS, RSA_SHA256, boolean, opt_string, string},
};
use crate::{
    custody::keys::KeyAlgorithm, error::CscError, pki::lifecycle::CertStatus, signing::Caller,
    state::AppState,
};

/// `POST /csc/v{1,2}/info`.
pub async fn info(state: &AppState, version: Version) -> HttpResponse {
    let base = state.settings.pki.public_base_url.trim_end_matches('/');
    let (specs, path) = match version {
        Version::V1 => ("1.0.4.0", "v1"),
        Version::V2 => ("2.0.0.2", "v2"),
    };
    let mut v = json!({
        "specs": specs,
        "name": "fincert",
        "logo": format!("{base}/pki/ca/root"),
        "region": "KR",
        "lang": "ko-KR",
        "description": "Cloud keystore for Korean financial certificates",
        "authType": ["oauth2client"],
        "oauth2": format!("{base}/csc/{path}/"),
        "methods": ["oauth2/token", "credentials/list", "credentials/info", "credentials/authorize", "credentials/extendTransaction", "signatures/signHash"],
    });
    if version == Version::V2 {
        v["signAlgorithms"] = json!({"algos": [RSA, RSA_SHA256, RSA_PSS, ECDSA_SHA256]});
        v["signature_formats"] = json!({"formats": [], "envelope_properties": []});
        v["conformance_levels"] = json!([]);
    }
    HttpResponse::Ok().json(v)
}

fn generalized(t: DateTime<Utc>) -> String {
    t.format("%Y%m%d%H%M%SZ").to_string()
}

/// The credentials/info object of one credential.
async fn credential_info(
    state: &AppState,
    caller: &Caller,
    m: &Map<String, Value>,
    credential_id: &str,
    version: Version,
) -> CscResult {
    let certificates = opt_string(m, "certificates")?.unwrap_or("single");
    if !matches!(certificates, "none" | "single" | "chain") {
        return Err(CscError::bad("Invalid parameter certificates"));
    }
    let cert_info = boolean(m, "certInfo")?;
    let (row, algorithm, locked) = state
        .signing
        .csc_credential(&state.db, caller, credential_id)
        .await?;
    let now = state.clock.now();
    let status = CertStatus::parse(&row.status)
        .unwrap_or(CertStatus::Revoked)
        .at(row.not_after, now);
    let key = match algorithm {
        KeyAlgorithm::Rsa2048 => {
            json!({"status": if locked {"disabled"} else {"enabled"}, "algo": [RSA, RSA_SHA256, RSA_PSS], "len": 2048})
        }
        KeyAlgorithm::P256 => {
            json!({"status": if locked {"disabled"} else {"enabled"}, "algo": [EC_KEY, ECDSA_SHA256], "len": 256, "curve": P256})
        }
    };
    let mut cert = json!({"status": match status {
        CertStatus::Active => "valid",
        CertStatus::Expired => "expired",
        CertStatus::Revoked => "revoked",
        CertStatus::Suspended => "suspended",
    }});
    let mut chain = vec![STANDARD.encode(&row.certificate_der)];
    if certificates == "chain" {
        chain.extend(
            state
                .pki
                .chain_of(&row.certificate_der)
                .iter()
                .map(|c| STANDARD.encode(c)),
        );
    }
    if certificates != "none" {
        cert["certificates"] = json!(chain);
    }
    if cert_info && let Ok((_, x)) = X509Certificate::from_der(&row.certificate_der) {
        cert["issuerDN"] = json!(x.issuer().to_string());
        cert["subjectDN"] = json!(x.subject().to_string());
        cert["serialNumber"] = json!(row.serial_hex.to_ascii_uppercase());
        cert["validFrom"] = json!(generalized(row.not_before));
        cert["validTo"] = json!(generalized(row.not_after));
    }
    let pin = json!({"presence": "true", "format": "N", "label": "PIN", "description": "The 6-digit PIN of the certificate"});
    let mut v = json!({
        "description": format!("{} certificate {}", row.kind, row.subject),
        "key": key,
        "cert": cert,
        "multisign": state.signing.max_batch(),
        "SCAL": "2",
        "lang": "ko-KR",
    });
    match version {
        Version::V1 => {
            v["authMode"] = json!("explicit");
            v["PIN"] = pin;
        }
        Version::V2 => {
            v["auth"] = json!({"mode": "explicit", "expression": "PIN", "objects": [{"type": "Password", "id": "PIN", "format": "N", "label": "PIN", "description": "The 6-digit PIN of the certificate"}]});
        }
    }
    Ok(v)
}

pub(super) async fn list(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    version: Version,
) -> CscResult {
    let (m, caller) = open(state, req, body).await?;
    let user = opt_string(&m, "userID")?;
    let mut items = state
        .signing
        .consented_certificates(&state.db, &caller)
        .await?;
    if let Some(u) = user {
        items.retain(|c| c.user_ref == u);
    }
    if version == Version::V2 && boolean(&m, "onlyValid")? {
        items.retain(|c| c.status == "active");
    }
    let ids: Vec<String> = items.iter().map(|c| c.certificate_id.clone()).collect();
    let mut v = json!({ "credentialIDs": ids });
    if version == Version::V1 {
        let max = m
            .get("maxResults")
            .and_then(Value::as_u64)
            .filter(|n| (1..=100).contains(n))
            .unwrap_or(100) as usize;
        let start = match opt_string(&m, "pageToken")? {
            None => 0,
            Some(t) => t
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= ids.len())
                .ok_or_else(|| CscError::bad("Invalid parameter pageToken"))?,
        };
        let page: Vec<&String> = ids.iter().skip(start).take(max).collect();
        v = json!({ "credentialIDs": page });
        if start + max < ids.len() {
            v["nextPageToken"] = json!((start + max).to_string());
        }
    }
    if version == Version::V2 && boolean(&m, "credentialInfo")? {
        let mut infos = Vec::new();
        for id in &ids {
            let mut info = credential_info(state, &caller, &m, id, version).await?;
            info["credentialID"] = json!(id);
            infos.push(info);
        }
        v["credentialInfos"] = json!(infos);
    }
    Ok(v)
}

pub(super) async fn info_of(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    version: Version,
) -> CscResult {
    let (m, caller) = open(state, req, body).await?;
    let id = string(&m, "credentialID")?;
    credential_info(state, &caller, &m, id, version).await
}

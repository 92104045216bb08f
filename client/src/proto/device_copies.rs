//! Copying a device-kept certificate to another device (`src/api/device_copies.rs`): the first
//! device leaves a package it encrypted itself, the second fetches it once with the code.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::debug_without_secrets;

/// `POST /v1/device-copies`: an encrypted package of a device-kept certificate's key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyBody {
    /// The holder's active device-kept certificate.
    pub certificate_id: Uuid,
    /// The package (base64, at most 16 KiB decoded), encrypted in the browser under a secret
    /// the server never receives.
    pub package: String,
}

/// The code under which the package waits (the server half of what the person types on the
/// other device).
#[derive(Clone, Serialize, Deserialize)]
pub struct CopyCreated {
    /// 10 digits, shown once.
    pub code: String,
    /// When the package is dropped (10 minutes).
    pub expires_at: DateTime<Utc>,
}

debug_without_secrets!(CopyCreated { expires_at });

/// `POST /v1/device-copies/claim`: fetch a package once.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    /// The 10-digit code.
    pub code: String,
}

debug_without_secrets!(ClaimBody {});

/// A fetched package, with the certificate it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyPackage {
    /// The certificate's id.
    pub certificate_id: Uuid,
    /// The certificate (base64 DER).
    pub certificate: String,
    /// The encrypted package, as the first device left it (base64).
    pub package: String,
}

//! User-authorized CSC (`/csc/v{1,2}/oauth2/authorize`): what the portal's consent page reads
//! and sends (`/v1/csc-authorizations/{id}`), and the token and revoke bodies of the CSC
//! OAuth routes beyond client credentials.

use serde::{Deserialize, Serialize};

/// A CSC authorization request waiting for its holder, as the consent page shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CscAuthorizationView {
    /// The request.
    pub id: String,
    /// `credential` (signatures of one credential, approved with its PIN or a passkey) or
    /// `service` (acting for the holder in the CSC service, allowed by the signed-in holder).
    pub scope: String,
    /// The institution (OAuth client) asking.
    pub institution: String,
    /// What a credential request asks for (absent for a service request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CscCredentialAsked>,
    /// The institution's description of what is signed, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Until when the holder may decide (RFC 3339).
    pub expires_at: String,
}

/// The credential and signatures a credential request asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CscCredentialAsked {
    /// The credential (certificate id).
    pub credential_id: String,
    /// The certificate's subject.
    pub subject: String,
    /// The certificate's serial (hex).
    pub serial: String,
    /// Signatures asked for.
    pub num_signatures: u32,
    /// How many hashes are to be signed.
    pub hash_count: u32,
}

/// The holder's approval with the certificate's PIN.
#[derive(Clone, Serialize, Deserialize)]
pub struct CscAuthorizationApproval {
    /// The 6-digit PIN.
    pub pin: String,
}

impl std::fmt::Debug for CscAuthorizationApproval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CscAuthorizationApproval")
            .finish_non_exhaustive()
    }
}

/// Where the browser goes next: the client's redirect URI with `code` and `state` (approved)
/// or `error=access_denied` and `state` (refused).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CscAuthorizationRedirect {
    /// The URL.
    pub redirect_uri: String,
}

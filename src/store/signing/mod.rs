//! Remote-signing queries: institutions, consents, signature requests, webhook deliveries and
//! CSC SADs, one file per table group, each with its row type and its queries:
//!
//! - `institutions.rs`: `institutions` (relying parties and their client credentials);
//! - `consents.rs`: `consents` (a user's permission for an institution, and its withdrawal);
//! - `requests.rs`: `signature_requests` (what is to be signed, single-use decisions);
//! - `deliveries.rs`: `webhook_deliveries` and `webhook_attempts` (the webhook queue);
//! - `history.rs`: a certificate's usage history (`signature_requests` with `institutions`);
//! - `sads.rs`: `csc_sads` and `csc_sad_signatures` (CSC authorizations and their spends);
//! - `async_results.rs`: `csc_async_results` (asynchronous CSC signing's outcomes).
//!
//! Everything is re-exported here: callers write `store::signing::institution`, not the file.

mod async_results;
mod consents;
mod deliveries;
mod history;
mod institutions;
mod oauth;
mod requests;
mod sads;

pub use self::{
    async_results::{
        AsyncResultRow, AsyncStatus, async_result, complete_async_result, insert_async_result,
        purge_expired_async_results,
    },
    consents::{
        ConsentRow, consents_of_institution, consents_of_user, insert_consent, live_consent,
        live_consents_by_ref, withdraw_consent,
    },
    deliveries::{
        DeliveryRow, deliveries_of_request, due_deliveries, insert_delivery, lease_delivery,
        record_attempt,
    },
    history::history,
    institutions::{
        InstitutionRow, insert_institution, institution, institution_by_client_id, institutions,
        name_webhook_mac_backends, next_webhook_key, rotate_secret, set_webhook_validation_info,
        webhook_mac_backends_other_than,
    },
    oauth::{
        Approval, GrantRow, GrantScope, GrantStatus, ServiceTokenRow, access_token_revoked,
        allow_service_grant, approve_grant, consume_code, delete_redirect_uri, delete_sad,
        delete_service_token, grant, grant_by_code, insert_grant, insert_redirect_uri,
        insert_service_token, mark_reused, purge_expired_grants, redirect_uri_registered,
        redirect_uris, refuse_grant, revoke_access_token, service_token, set_issued,
    },
    requests::{RequestRow, decide, insert_request, pending_of_user, request},
    sads::{
        SadRow, SpendItem, insert_sad, rekey_sad, sad, spend_hashes, spent_count, stored_signatures,
    },
};

//! A customer's whole life through the load balancer, each request on whichever node HAProxy
//! picks: enrolment and issuance (the one-time code goes out through the telecom gateway from
//! one node and is checked on another), sign-in, consent, a CSC transaction whose signHash
//! calls land on different nodes, PIN-approved signature requests, and — at the end, after
//! the node loss — a revocation that stops signing on every node. Also the CSC and approval
//! calls the load in `node_loss.rs` makes.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{
    auth::{media::MediumKind, otp},
    custody::keys::SignatureScheme,
    signing::institution::Sector,
};
use serde_json::{Value, json};

use super::{Cluster, NODES, Reply};
use crate::helpers::*;

const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";

/// The enrolled customer, signed in, registered with a bank that holds a token.
pub(super) struct Customer {
    pub cert_id: String,
    /// The holder's session (from signing in with the new certificate and its PIN).
    pub token: String,
    pub bank_token: String,
    /// The certificate's public key (for openssl).
    pub spki: Vec<u8>,
}

/// SHA-256 of `data`, base64 (a CSC hash).
pub(super) fn sha256(data: &[u8]) -> String {
    fincert::signing::request::Digest::of(data).to_b64()
}

pub(super) fn b64(v: &Value) -> Vec<u8> {
    STANDARD
        .decode(v.as_str().unwrap_or_default())
        .unwrap_or_default()
}

/// `credentials/authorize` (CSC v2) for `hashes`, as the bank, with the holder's PIN.
pub(super) async fn authorize(c: &Cluster, who: &Customer, hashes: &[String]) -> Reply {
    c.post(
        "/csc/v2/credentials/authorize",
        Some(&who.bank_token),
        json!({"credentialID": who.cert_id, "numSignatures": hashes.len(), "hashes": hashes,
               "hashAlgorithmOID": SHA256, "authData": [{"id": "PIN", "value": PIN}]}),
    )
    .await
}

/// `signatures/signHash` for one hash.
pub(super) async fn sign_hash(c: &Cluster, who: &Customer, sad: &str, hash: &str) -> Reply {
    c.post(
        "/csc/v2/signatures/signHash",
        Some(&who.bank_token),
        json!({"credentialID": who.cert_id, "SAD": sad, "hashes": [hash],
               "hashAlgorithmOID": SHA256, "signAlgo": SHA256_WITH_RSA}),
    )
    .await
}

/// The bank asks for a signature over `content`, under idempotency key `key`.
pub(super) async fn create_request(
    c: &Cluster,
    who: &Customer,
    content: &[u8],
    key: &str,
) -> Reply {
    let body = json!({"certificate_id": who.cert_id, "content": STANDARD.encode(content),
                      "display_text": "Transfer 50,000 KRW to Kim Minsu (110-123-456789)"});
    c.call(
        reqwest::Method::POST,
        "/v1/signature-requests",
        Some(&who.bank_token),
        Some(&body),
        &[("idempotency-key", key)],
    )
    .await
}

/// The holder approves `request` (a created request's view) with `pin`.
pub(super) async fn approve(c: &Cluster, who: &Customer, request: &Value, pin: &str) -> Reply {
    c.post(
        &format!("/v1/approvals/{}/approve", request["id"].as_str().unwrap()),
        Some(&who.token),
        json!({"pin": pin, "request_digest": request["request_digest"]}),
    )
    .await
}

/// Asserts `r` has `status`; returns the node that answered.
fn expect(r: &Reply, status: u16, what: &str) -> String {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    r.node
        .clone()
        .unwrap_or_else(|| panic!("{what}: no node named in the answer"))
}

/// Enrolment and issuance, sign-in, consent, a CSC transaction over the nodes and
/// PIN-approved requests, all through HAProxy; returns the customer for the load.
pub(super) async fn enrol_sign_in_and_sign(c: &Cluster) -> Customer {
    // What the operator arranges before customers come (CLI and back office, not the API):
    // the customer as the identity service knows them, their OTP token, the bank.
    dev_customer(&c.app).await;
    register_otp(&c.app, MediumKind::Hotp, None).await;
    let bank = register_institution(&c.app, "Hana Bank", Sector::Bank).await;

    // Enrolment: every step on whichever node HAProxy picks.
    let mut enrolment_nodes = BTreeSet::new();
    let r = c
        .post("/v1/enrolments", None, json!({"purpose": "issue"}))
        .await;
    enrolment_nodes.insert(expect(&r, 201, "start enrolment"));
    let base = format!("/v1/enrolments/{}", r.body["id"].as_str().unwrap());
    let terms = c.get("/v1/terms", None).await;
    expect(&terms, 200, "terms");
    let agreed: Vec<Value> = terms.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["required"] == true)
        .map(|d| json!({"code": d["code"], "version": d["version"]}))
        .collect();
    let steps = [
        ("terms", json!({ "agreed": agreed }), 200),
        ("identity", identity("1987-03-14"), 200),
        ("phone-code", json!({"channel": "sms"}), 202),
    ];
    for (step, body, status) in steps {
        let r = c.post(&format!("{base}/{step}"), None, body).await;
        enrolment_nodes.insert(expect(&r, status, step));
    }
    let code = c
        .gateway
        .code_for("01012345678")
        .expect("the gateway got the one-time code");
    let r = c
        .post(
            &format!("{base}/phone-code/verify"),
            None,
            json!({ "code": code }),
        )
        .await;
    enrolment_nodes.insert(expect(&r, 200, "verify the code"));
    assert_eq!(r.body["step"], "medium");
    let r = c.get(&format!("{base}/medium?kind=hotp"), None).await;
    enrolment_nodes.insert(expect(&r, 200, "medium challenge"));
    let answer = format!("{:06}", otp::hotp(OTP_SECRET, 0));
    let r = c
        .post(
            &format!("{base}/medium"),
            None,
            json!({"kind": "hotp", "answer": answer}),
        )
        .await;
    enrolment_nodes.insert(expect(&r, 200, "medium answer"));
    assert_eq!(r.body["step"], "credential");
    let r = c
        .post(
            &format!("{base}/complete"),
            None,
            json!({"kind": "financial", "usage": "restricted", "pin": PIN}),
        )
        .await;
    enrolment_nodes.insert(expect(&r, 201, "complete"));
    assert_eq!(r.body["certificate"]["status"], "active");
    let cert_id = r.body["certificate"]["id"].as_str().unwrap().to_owned();
    assert!(
        enrolment_nodes.len() >= 2,
        "round robin spread the enrolment: {enrolment_nodes:?}"
    );

    // Sign-in with the new certificate and PIN; the bank's token; the holder's consent.
    let r = c
        .post(
            "/v1/auth/pin",
            None,
            json!({"certificate_id": cert_id, "pin": PIN}),
        )
        .await;
    expect(&r, 200, "sign in");
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    let bank_token = fincert_client::Client::new(&c.lb.address)
        .unwrap()
        .client_credentials(
            &bank.institution.client_id,
            bank.client_secret.as_ref(),
            None,
        )
        .await
        .expect("the bank gets a token through the load balancer")
        .access_token;
    let r = c
        .post(
            "/v1/consents",
            Some(&token),
            json!({"institution_id": bank.institution.id, "certificate_id": cert_id}),
        )
        .await;
    expect(&r, 201, "consent");
    let r = c
        .post(
            "/csc/v2/credentials/info",
            Some(&bank_token),
            json!({"credentialID": cert_id, "certificates": "single"}),
        )
        .await;
    expect(&r, 200, "credentials/info");
    let der = b64(&r.body["cert"]["certificates"][0]);
    let spki = x509_parser::parse_x509_certificate(&der)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    let who = Customer {
        cert_id,
        token,
        bank_token,
        spki,
    };

    // A CSC transaction: one authorization, its hashes signed one call at a time; round
    // robin sends the calls to different nodes, and each node opens the SAD it never saw.
    let docs: Vec<Vec<u8>> = (0..6)
        .map(|i| format!("contract page {i}").into_bytes())
        .collect();
    let hashes: Vec<String> = docs.iter().map(|d| sha256(d)).collect();
    let r = authorize(c, &who, &hashes).await;
    expect(&r, 200, "authorize");
    let sad = r.body["SAD"].as_str().unwrap().to_owned();
    let mut csc_nodes = BTreeSet::new();
    let mut first = Vec::new();
    for (doc, hash) in docs.iter().zip(&hashes) {
        let r = sign_hash(c, &who, &sad, hash).await;
        csc_nodes.insert(expect(&r, 200, "signHash"));
        let sig = b64(&r.body["signatures"][0]);
        assert!(
            openssl_verify(SignatureScheme::RsaPkcs1Sha256, &who.spki, doc, &sig),
            "openssl verifies the signature node {:?} made",
            r.node
        );
        first.push(sig);
    }
    assert!(
        csc_nodes.len() >= 2,
        "signHash calls of one transaction landed on several nodes: {csc_nodes:?}"
    );
    // Exact: a hash signed again (on whichever node) answers with its one signature.
    let again = sign_hash(c, &who, &sad, &hashes[0]).await;
    expect(&again, 200, "signHash again");
    assert_eq!(b64(&again.body["signatures"][0]), first[0]);
    let r = sign_hash(c, &who, &sad, &sha256(b"never authorized")).await;
    assert_eq!(
        (r.status, r.body["error_description"].as_str()),
        (400, Some("Hash is not authorized by the SAD"))
    );

    // Signature requests approved with the PIN: created on one node, approved on another.
    let mut native_nodes = BTreeSet::new();
    for i in 0..3 {
        let content = format!("transfer order {i}").into_bytes();
        let r = create_request(c, &who, &content, &uuid::Uuid::new_v4().to_string()).await;
        native_nodes.insert(expect(&r, 201, "create request"));
        let request = r.body;
        if i == 0 {
            let r = approve(c, &who, &request, "135792").await;
            assert_eq!(
                (r.status, r.body["code"].as_str()),
                (401, Some("wrong_pin"))
            );
        }
        let r = approve(c, &who, &request, PIN).await;
        native_nodes.insert(expect(&r, 200, "approve"));
        assert_eq!(r.body["status"], "signed");
        let sig = b64(&r.body["result"]["signatures"][0]);
        assert!(openssl_verify(
            SignatureScheme::RsaPkcs1Sha256,
            &who.spki,
            &content,
            &sig
        ));
    }
    assert!(
        native_nodes.len() >= 2,
        "requests and approvals on several nodes: {native_nodes:?}"
    );
    println!(
        "journey through haproxy: enrolment on {enrolment_nodes:?}, signHash on {csc_nodes:?}, \
         requests and approvals on {native_nodes:?}"
    );
    who
}

/// The holder revokes the certificate through the load balancer: from then on no node signs
/// with it — a SAD authorized before, a request pending before, a new authorization — within
/// a second on every node (each hears of it through the database), the restarted node too.
pub(super) async fn revocation_stops_signing_everywhere(c: &Cluster, who: &Customer) {
    let hashes: Vec<String> = (0..10)
        .map(|i| sha256(format!("after revocation {i}").as_bytes()))
        .collect();
    let r = authorize(c, who, &hashes).await;
    expect(&r, 200, "authorize before revocation");
    let sad = r.body["SAD"].as_str().unwrap().to_owned();
    expect(
        &sign_hash(c, who, &sad, &hashes[0]).await,
        200,
        "signHash before revocation",
    );
    let r = create_request(c, who, b"pending when revoked", "revoked-1").await;
    expect(&r, 201, "request before revocation");
    let pending = r.body;

    let r = c
        .post(
            &format!("/v1/certificates/{}/revoke", who.cert_id),
            Some(&who.token),
            json!({"reason": "keyCompromise"}),
        )
        .await;
    expect(&r, 200, "revoke");
    assert_eq!(r.body["status"], "revoked");
    let since = Instant::now();
    // Round robin: consecutive calls go to n1, n2, n3 in turn. Go on (a refused hash stays
    // unsigned and is tried again) until each node has refused; no node signs again once it
    // has refused, and none signs a second after the revocation.
    let mut refused_by = BTreeSet::new();
    let mut signed_after = Vec::new();
    let mut next = 1;
    let mut why = BTreeSet::new();
    while refused_by.len() < NODES.len()
        && next < hashes.len()
        && since.elapsed() < Duration::from_secs(3)
    {
        let r = sign_hash(c, who, &sad, &hashes[next]).await;
        let node = r.node.clone().unwrap_or_default();
        if r.status == 200 {
            assert!(
                !refused_by.contains(&node),
                "{node} signed after it had refused"
            );
            signed_after.push((node, since.elapsed()));
            next += 1;
        } else {
            assert_eq!(r.status, 400, "{}", r.body);
            why.insert(r.body["error_description"].to_string());
            refused_by.insert(node);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        refused_by.len(),
        NODES.len(),
        "every node refused the revoked certificate (signed after: {signed_after:?})"
    );
    assert!(
        signed_after
            .iter()
            .all(|(_, t)| *t < Duration::from_secs(1)),
        "signed more than a second after the revocation: {signed_after:?}"
    );
    let r = approve(c, who, &pending, PIN).await;
    assert!(
        (400..500).contains(&r.status),
        "the pending request is not approved: {} {}",
        r.status,
        r.body
    );
    let r = authorize(c, who, &[sha256(b"new after revocation")]).await;
    assert_eq!(r.status, 400, "no new authorization: {}", r.body);
    println!(
        "revocation: refused by {refused_by:?} ({why:?}) within {:?}; signed meanwhile: \
         {signed_after:?}",
        since.elapsed()
    );
}

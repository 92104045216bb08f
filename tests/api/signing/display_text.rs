//! What you see is what you sign (issue 17, part 5): a display text with a bidi control, another
//! format character, a control character (but line feed) or a line/paragraph separator is
//! refused with `422 display_text_not_allowed`; a lone surrogate escape is not JSON text; an
//! accepted text is stored, shown and covered by the canonical digest in its NFC form.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{
    config::Engine,
    pki::profile::Usage,
    signing::{
        institution::Sector,
        request::{Canonical, Digest},
    },
};
use serde_json::{Value, json};

use super::{approve_pin, created, request};
use crate::helpers::*;

pub(super) async fn display_text_is_what_the_holder_signs(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000031", Usage::General).await;
    consent(&h, &bank).await;
    let digests = json!([STANDARD.encode([9u8; 32])]);
    let body =
        |text: &str| json!({"certificate_id": h.cert.id, "digests": digests, "display_text": text});

    // The issue's example first: "pay 100<RLO>0000001 KRW" would show as "pay 1001000000 KRW".
    for (text, cp) in [
        ("pay 100\u{202e}0000001 KRW", "U+202E"),
        ("pay \u{2067}100\u{2069} KRW", "U+2067"),
        ("pay\u{200f} 100 KRW", "U+200F"),
        ("pay 1\u{200b}00 KRW", "U+200B"),
        ("\u{feff}pay 100 KRW", "U+FEFF"),
        ("pay 100 KRW\rto Kim", "U+000D"),
        ("pay\t100 KRW", "U+0009"),
        ("pay 100 KRW\u{2028}to Kim", "U+2028"),
        ("pay\u{85}100 KRW", "U+0085"),
    ] {
        let refused = assert_problem(
            request(&app, &bank, body(text)).await,
            422,
            "display_text_not_allowed",
        )
        .await;
        assert!(
            refused["detail"].as_str().unwrap().contains(cp),
            "{text:?}: {refused}"
        );
    }
    // Length rules stay what they were.
    assert_problem(
        request(&app, &bank, body(" \n ")).await,
        400,
        "invalid_signature_request",
    )
    .await;

    // A lone surrogate cannot be a Rust string: serde refuses the JSON text before any rule.
    let raw = format!(
        r#"{{"certificate_id":"{}","digests":{digests},"display_text":"pay \ud800 100"}}"#,
        h.cert.id
    );
    let resp = app
        .client
        .post(app.url("/v1/signature-requests"))
        .bearer_auth(&bank.token)
        .header("content-type", "application/json")
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400, "invalid_json").await;

    // Decomposed input (e + combining acute; Hangul as conjoining jamo) is kept as NFC, and a
    // line feed is allowed.
    let nfd = "  Pay 10,000\u{110b}\u{116f}\u{11ab} to Cafe\u{301}\nfor coffee  ";
    let nfc = "Pay 10,000\u{c6d0} to Caf\u{e9}\nfor coffee";
    let req = created(&app, &bank, body(nfd)).await;
    assert_eq!(req["display_text"], nfc);
    let shown: Value = get(
        &app,
        &format!("/v1/approvals/{}", req["id"].as_str().unwrap()),
        &h.token,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(shown["display_text"], nfc, "{shown}");

    // The canonical digest the holder approves covers the NFC text, not what was sent.
    let row = fincert::store::signing::request(&app.db, req["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let digest_of = |text: &str| {
        Canonical {
            id: row.id,
            institution_id: &row.institution_id,
            certificate_id: row.certificate_id,
            purpose: row.purpose,
            display_text: text,
            digests: &row.digests,
            format: row.format,
            algorithm: row.algorithm,
            expires_at: row.expires_at,
        }
        .digest()
    };
    let stored = Digest::from_bytes(row.canonical_digest.clone().try_into().unwrap());
    assert_eq!(stored, digest_of(nfc));
    assert_ne!(stored, digest_of(nfd.trim()));
    assert_eq!(req["request_digest"], stored.to_b64());
    assert_eq!(approve_pin(&app, &h, &req, PIN).await.status(), 200);
}

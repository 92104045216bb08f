//! A certificate's usage history (issue 16, part 4): every signature and login an institution
//! asked for, newest first, with cursor pagination, filters, a CSV export defused against
//! formula injection, and nobody but the holder seeing it.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::{clock::Clock, config::Engine, pki::profile::Usage, signing::institution::Sector};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

async fn request(app: &TestApp, inst: &Inst, path: &str, body: Value) -> Value {
    let key = uuid::Uuid::new_v4().to_string();
    let resp = call(
        app,
        reqwest::Method::POST,
        path,
        &inst.token,
        Some(body),
        Some(&key),
    )
    .await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    resp.json().await.unwrap()
}

async fn decide(app: &TestApp, h: &Holder, req: &Value, approve: bool) {
    let id = req["id"].as_str().unwrap();
    let resp = if approve {
        post(
            app,
            &format!("/v1/approvals/{id}/approve"),
            &h.token,
            json!({"pin": PIN, "request_digest": req["request_digest"]}),
        )
        .await
    } else {
        post(
            app,
            &format!("/v1/approvals/{id}/reject"),
            &h.token,
            json!({}),
        )
        .await
    };
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
}

async fn history(app: &TestApp, h: &Holder, query: &str) -> reqwest::Response {
    get(
        app,
        &format!("/v1/certificates/{}/history{query}", h.cert.id),
        &h.token,
    )
    .await
}

async fn page(app: &TestApp, h: &Holder, query: &str) -> Value {
    let resp = history(app, h, query).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    resp.json().await.unwrap()
}

fn texts(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["display_text"].as_str().unwrap().to_owned())
        .collect()
}

async fn history_pages_filters_and_csv(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000021", Usage::General).await;
    consent(&h, &bank).await;
    let sign = |text: &str| json!({"certificate_id": h.cert.id, "digests": [STANDARD.encode([7u8; 32])], "display_text": text});
    let t0 = app.clock.now();

    // Five uses, a second apart: signed, rejected, a login, expired, and a formula.
    let a = request(
        &app,
        &bank,
        "/v1/signature-requests",
        sign("Pay 10,000 KRW to A"),
    )
    .await;
    decide(&app, &h, &a, true).await;
    app.clock.advance(chrono::Duration::seconds(1));
    let b = request(
        &app,
        &bank,
        "/v1/signature-requests",
        sign("Pay 20,000 KRW to B"),
    )
    .await;
    decide(&app, &h, &b, false).await;
    app.clock.advance(chrono::Duration::seconds(1));
    let login = request(
        &app,
        &bank,
        "/v1/login-requests",
        json!({"certificate_id": h.cert.id}),
    )
    .await;
    decide(&app, &h, &login, true).await;
    app.clock.advance(chrono::Duration::seconds(1));
    request(&app, &bank, "/v1/signature-requests", sign("Never decided")).await;
    app.clock.advance(chrono::Duration::seconds(1));
    let f = request(
        &app,
        &bank,
        "/v1/signature-requests",
        sign("=HYPERLINK(\"http://evil\",\"x\")"),
    )
    .await;
    decide(&app, &h, &f, true).await;
    let t_mid = t0 + chrono::Duration::milliseconds(1500);
    // Pending is not history yet.
    let listed = page(&app, &h, "").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 4, "{listed}");
    assert!(listed.get("next_cursor").is_none());
    // Past its expiry the undecided one is (a fresh session: the first one expired too).
    app.clock.advance(chrono::Duration::hours(1));
    let token = sign_in(&app, h.cert.id).await;
    let h = Holder {
        api: app.api.with_token(token.clone()),
        token,
        ..h
    };
    let all = page(&app, &h, "").await;
    crate::openapi::check_response("get", "/v1/certificates/{id}/history", 200, &all);
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(
        texts(&all)[0],
        "=HYPERLINK(\"http://evil\",\"x\")",
        "newest first"
    );
    assert_eq!(items[1]["result"], "expired");
    assert!(items[1].get("decided_at").is_none());
    assert_eq!(items[2]["kind"], "login");
    assert_eq!(items[3]["result"], "rejected");
    let first = &items[4];
    assert_eq!(first["result"], "signed");
    assert_eq!(first["kind"], "signature");
    assert_eq!(first["institution"], "Hana Bank");
    assert_eq!(first["format"], "raw");
    assert_eq!(first["digests"], json!([STANDARD.encode([7u8; 32])]));
    assert_eq!(first["id"], a["id"]);

    // Pages of two, by the opaque cursor, cover everything once.
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_string();
    loop {
        let p = page(&app, &h, &query).await;
        assert!(p["items"].as_array().unwrap().len() <= 2);
        seen.extend(texts(&p));
        match p["next_cursor"].as_str() {
            Some(c) => query = format!("?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, texts(&all));

    // Filters.
    assert_eq!(texts(&page(&app, &h, "?kind=login").await).len(), 1);
    assert_eq!(
        texts(&page(&app, &h, "?result=rejected").await),
        vec!["Pay 20,000 KRW to B"]
    );
    assert_eq!(
        texts(&page(&app, &h, "?result=expired").await),
        vec!["Never decided"]
    );
    assert_eq!(
        texts(&page(&app, &h, "?kind=signature&result=signed").await).len(),
        2
    );
    let enc = |t: chrono::DateTime<chrono::Utc>| {
        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .replace('+', "%2B")
    };
    assert_eq!(
        texts(&page(&app, &h, &format!("?to={}", enc(t_mid))).await),
        vec!["Pay 20,000 KRW to B", "Pay 10,000 KRW to A"]
    );
    assert_eq!(
        texts(&page(&app, &h, &format!("?from={}", enc(t_mid))).await).len(),
        3
    );

    // Bad input.
    for bad in [
        "?limit=0",
        "?limit=101",
        "?limit=two",
        "?kind=payment",
        "?result=pending",
        "?from=yesterday",
        "?cursor=not-a-cursor",
        "?cursor=aDF8eHx5",
        "?colour=blue",
    ] {
        assert_problem(history(&app, &h, bad).await, 400, "invalid_query").await;
    }
    assert_problem(
        history(&app, &h, &format!("?from={}&to={}", enc(t_mid), enc(t0))).await,
        400,
        "invalid_query",
    )
    .await;

    // Only the holder sees it.
    let other = holder(&app, "330100000022", Usage::General).await;
    assert_problem(
        get(
            &app,
            &format!("/v1/certificates/{}/history", h.cert.id),
            &other.token,
        )
        .await,
        404,
        "certificate_not_found",
    )
    .await;
    assert_eq!(
        get(
            &app,
            &format!("/v1/certificates/{}/history", h.cert.id),
            ANON
        )
        .await
        .status(),
        401
    );

    // CSV: by Accept and by path, RFC 4180 quoting, formulas defused.
    let by_accept = app
        .client
        .get(app.url(&format!("/v1/certificates/{}/history", h.cert.id)))
        .bearer_auth(&h.token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(by_accept.status(), 200);
    assert!(
        by_accept.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = by_accept.text().await.unwrap();
    let by_path = get(
        &app,
        &format!("/v1/certificates/{}/history.csv", h.cert.id),
        &h.token,
    )
    .await;
    assert!(
        by_path.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    assert_eq!(by_path.text().await.unwrap(), csv);
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(
        lines[0],
        "id,kind,institution,display_text,digests,format,requested_at,decided_at,result,via"
    );
    assert_eq!(lines.len(), 6, "{csv}");
    assert!(
        lines[1].contains(",\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\","),
        "{}",
        lines[1]
    );
    assert!(
        lines[5].contains(",\"Pay 10,000 KRW to A\","),
        "{}",
        lines[5]
    );
    assert!(lines[5].ends_with(",signed,api"), "{}", lines[5]);
    // Filters and limits hold for the export too; it says where the rest starts.
    let two = get(
        &app,
        &format!("/v1/certificates/{}/history.csv?limit=2", h.cert.id),
        &h.token,
    )
    .await;
    let next = two.headers()["x-next-cursor"].to_str().unwrap().to_owned();
    assert_eq!(
        two.text().await.unwrap().split_terminator("\r\n").count(),
        3
    );
    let rest = get(
        &app,
        &format!("/v1/certificates/{}/history.csv?cursor={next}", h.cert.id),
        &h.token,
    )
    .await;
    assert!(rest.headers().get("x-next-cursor").is_none());
    assert_eq!(
        rest.text().await.unwrap().split_terminator("\r\n").count(),
        4
    );
    assert_problem(
        get(
            &app,
            &format!("/v1/certificates/{}/history.csv?limit=10001", h.cert.id),
            &h.token,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
}

fn digest(data: &[u8]) -> String {
    fincert::signing::request::Digest::of(data).to_b64()
}

/// A CSC call that must succeed; its answer.
async fn csc_ok(app: &TestApp, inst: &Inst, path: &str, body: Value) -> Value {
    let resp = post(app, path, Some(inst.token.as_str()), body).await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// Signatures made through the CSC API (v1 and v2) are in the holder's history beside the
/// native ones, `via: csc`, with the institution, format, time, result and the digests
/// signed; an authorization that ran out unused is `expired`, one still live is not history
/// yet; filters, cursor pages across both sources and the CSV export agree.
async fn csc_signatures_in_the_history(engine: Engine) {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let h = holder(&app, "330100000031", Usage::General).await;
    consent(&h, &bank).await;
    let id = h.cert.id.to_string();
    let t0 = app.clock.now();

    // 1. A native signature request, signed.
    let native = request(
        &app,
        &bank,
        "/v1/signature-requests",
        json!({"certificate_id": h.cert.id, "digests": [STANDARD.encode([7u8; 32])], "display_text": "Pay 5,000 KRW"}),
    )
    .await;
    decide(&app, &h, &native, true).await;
    app.clock.advance(chrono::Duration::seconds(1));

    // 2. CSC v1: two hashes authorized, one signed.
    let (d1, d2) = (digest(b"v1 first"), digest(b"v1 second"));
    let sad = csc_ok(
        &app,
        &bank,
        "/csc/v1/credentials/authorize",
        json!({"credentialID": id, "numSignatures": 2, "hash": [d1, d2], "PIN": PIN}),
    )
    .await;
    app.clock.advance(chrono::Duration::seconds(1));
    csc_ok(&app, &bank, "/csc/v1/signatures/signHash", json!({"credentialID": id, "SAD": sad["SAD"], "hash": [d1], "hashAlgo": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.1"})).await;
    let v1_signed_at = app.clock.now();
    app.clock.advance(chrono::Duration::seconds(1));

    // 3. CSC v2: one hash, signed.
    let d3 = digest(b"v2 only");
    let sad = csc_ok(&app, &bank, "/csc/v2/credentials/authorize", json!({"credentialID": id, "numSignatures": 1, "hashes": [d3], "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "authData": [{"id": "PIN", "value": PIN}]})).await;
    csc_ok(&app, &bank, "/csc/v2/signatures/signHash", json!({"credentialID": id, "SAD": sad["SAD"], "hashes": [d3], "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.11"})).await;
    app.clock.advance(chrono::Duration::seconds(1));

    // 4. CSC v1: authorized, never used: not history while it lives.
    csc_ok(
        &app,
        &bank,
        "/csc/v1/credentials/authorize",
        json!({"credentialID": id, "numSignatures": 1, "hash": [digest(b"unused")], "PIN": PIN}),
    )
    .await;
    let listed = page(&app, &h, "").await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{listed}");
    crate::openapi::check_response("get", "/v1/certificates/{id}/history", 200, &listed);
    let via: Vec<&str> = items.iter().map(|i| i["via"].as_str().unwrap()).collect();
    assert_eq!(via, ["csc", "csc", "api"], "newest first, both sources");
    let v2 = &items[0];
    assert_eq!(v2["kind"], "signature");
    assert_eq!(v2["institution"], "Hana Bank");
    assert_eq!(v2["format"], "raw");
    assert_eq!(v2["result"], "signed");
    assert_eq!(v2["digests"], json!([d3]));
    let v1 = &items[1];
    assert_eq!(
        v1["digests"],
        json!([d1]),
        "the digest signed, not the unused one"
    );
    assert_eq!(
        v1["requested_at"].as_str().unwrap(),
        (t0 + chrono::Duration::seconds(1)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );
    assert_eq!(
        v1["decided_at"].as_str().unwrap(),
        v1_signed_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );
    assert_eq!(items[2]["display_text"], "Pay 5,000 KRW");

    // Past its lifetime the unused one is history, as expired (a fresh session).
    app.clock.advance(chrono::Duration::hours(1));
    let token = sign_in(&app, h.cert.id).await;
    let h = Holder {
        api: app.api.with_token(token.clone()),
        token,
        ..h
    };
    let listed = page(&app, &h, "").await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{listed}");
    assert_eq!(
        (items[0]["via"].as_str(), items[0]["result"].as_str()),
        (Some("csc"), Some("expired"))
    );
    assert_eq!(items[0]["digests"], json!([]));
    assert!(items[0].get("decided_at").is_none());

    // Filters reach the CSC side too.
    let count = |v: &Value| v["items"].as_array().unwrap().len();
    assert_eq!(count(&page(&app, &h, "?result=expired").await), 1);
    assert_eq!(count(&page(&app, &h, "?result=signed").await), 3);
    assert_eq!(count(&page(&app, &h, "?result=rejected").await), 0);
    assert_eq!(count(&page(&app, &h, "?kind=login").await), 0);
    assert_eq!(count(&page(&app, &h, "?kind=signature").await), 4);
    // From t0 + 2 s: the v2 authorization (t0 + 3 s) and the unused one (t0 + 4 s).
    let from =
        (t0 + chrono::Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let later = page(&app, &h, &format!("?from={from}")).await;
    assert_eq!(count(&later), 2, "{later}");

    // Cursor pages of one walk both sources in order, each item once.
    let mut seen = Vec::new();
    let mut query = "?limit=1".to_owned();
    loop {
        let p = page(&app, &h, &query).await;
        seen.extend(
            p["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].clone()),
        );
        match p["next_cursor"].as_str() {
            Some(c) => query = format!("?limit=1&cursor={c}"),
            None => break,
        }
    }
    let all: Vec<Value> = items.iter().map(|i| i["id"].clone()).collect();
    assert_eq!(seen, all);

    // The CSV export says through which API each came.
    let csv = history(&app, &h, ".csv").await;
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[1].ends_with(",expired,csc"), "{}", lines[1]);
    assert!(lines[4].ends_with(",signed,api"), "{}", lines[4]);
}

both_engines!(history_pages_filters_and_csv, csc_signatures_in_the_history);

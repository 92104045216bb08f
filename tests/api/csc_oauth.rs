//! User-authorized CSC (SCAL 2 by OAuth 2.0 authorization code with PKCE S256, issue 18): a
//! client plays `oauth2/authorize` → the holder's approval (through the same HTTP calls the
//! portal's consent page makes) → `oauth2/token` → `signatures/signHash` with the credential
//! token, the signature checked by openssl; and every refusal the flow owes.

use std::collections::HashMap;

use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64URL},
};
use fincert::{config::Engine, pki::profile::Usage, signing::institution::Sector};
use serde_json::{Value, json};

use crate::{both_engines, helpers::*};

const REDIRECT: &str = "https://bank.example/csc/callback";
const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const RSA_SHA256: &str = "1.2.840.113549.1.1.11";

fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn challenge_of(verifier: &str) -> String {
    B64URL.encode(fincert::signing::request::Digest::of(verifier.as_bytes()).as_bytes())
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `GET /csc/{v}/oauth2/authorize?...`: status and `Location`.
async fn authorize(app: &TestApp, version: &str, q: &[(&str, &str)]) -> (u16, Option<String>) {
    let mut url =
        url::Url::parse(&format!("{}/csc/{version}/oauth2/authorize", app.address)).unwrap();
    url.query_pairs_mut().extend_pairs(q);
    let resp = no_redirects().get(url).send().await.unwrap();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (resp.status().as_u16(), location)
}

/// A v2 credential-scope authorize query.
fn ask<'a>(
    client_id: &'a str,
    credential: &'a str,
    hashes: &'a str,
    num: &'a str,
    challenge: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "credential"),
        ("credentialID", credential),
        ("numSignatures", num),
        ("hashes", hashes),
        ("hashAlgorithmOID", SHA256),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", "st-123"),
        ("description", "Loan contract no. 42"),
    ]
}

/// The consent page's calls: read the request, then approve with the PIN. Returns the
/// client's redirect with the code and state.
async fn approve(app: &TestApp, h: &Holder, portal: &str, hash_count: u32) -> String {
    let id = portal
        .strip_prefix("/portal/#/csc/")
        .unwrap_or_else(|| panic!("{portal} is the consent page"));
    let path = format!("/v1/csc-authorizations/{id}");
    let resp = get(app, &path, &h.token).await;
    assert_eq!(resp.status(), 200);
    let view: Value = resp.json().await.unwrap();
    crate::openapi::check_response("get", "/v1/csc-authorizations/{id}", 200, &view);
    assert_eq!(view["institution"], "Hana Bank");
    assert_eq!(view["scope"], "credential");
    assert_eq!(view["credential"]["credential_id"], h.cert.id.to_string());
    assert_eq!(view["credential"]["hash_count"], hash_count);
    assert_eq!(view["credential"]["num_signatures"], hash_count);
    assert_eq!(view["description"], "Loan contract no. 42");
    let resp = post(
        app,
        &format!("{path}/approve"),
        &h.token,
        json!({"pin": PIN}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    crate::openapi::check_response("post", "/v1/csc-authorizations/{id}/approve", 200, &body);
    body["redirect_uri"].as_str().unwrap().to_owned()
}

/// `POST /csc/v2/oauth2/token` with the code (form, HTTP Basic).
async fn exchange(
    app: &TestApp,
    bank: &Inst,
    code: &str,
    verifier: &str,
    redirect: &str,
) -> (u16, Value) {
    let resp = app
        .client
        .post(format!("{}/csc/v2/oauth2/token", app.address))
        .basic_auth(&bank.client_id, Some(&bank.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", redirect),
        ]))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    crate::openapi::check_response("post", "/csc/v2/oauth2/token", status, &body);
    (status, body)
}

async fn revoke(app: &TestApp, bank: &Inst, token: &str) -> u16 {
    app.client
        .post(format!("{}/csc/v2/oauth2/revoke", app.address))
        .basic_auth(&bank.client_id, Some(&bank.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token)]))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn sign_hash(app: &TestApp, bearer: &str, body: Value) -> (u16, Value) {
    let resp = post(app, "/csc/v2/signatures/signHash", bearer, body).await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    crate::openapi::check_response("post", "/csc/v2/signatures/signHash", status, &body);
    (status, body)
}

struct Setup {
    app: TestApp,
    bank: Inst,
    other: Inst,
    h: Holder,
}

async fn setup(engine: Engine) -> Setup {
    let app = spawn_app(engine).await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let other = institution(&app, "Other Bank", Sector::Bank).await;
    // The bank's redirect URI as the operator registers it: the CLI, against the app's database.
    let url = app.settings.database_url();
    let client_id = bank.client_id.clone();
    let (add, bad, list) = tokio::task::spawn_blocking(move || {
        let env = [("FINCERT_DATABASE_URL", url.as_str())];
        (
            run_cli(
                &["institution", "redirect-uri", "add", &client_id, REDIRECT],
                &env,
            ),
            run_cli(
                &[
                    "institution",
                    "redirect-uri",
                    "add",
                    &client_id,
                    "http://bank.example/cb",
                ],
                &env,
            ),
            run_cli(&["institution", "redirect-uri", "list", &client_id], &env),
        )
    })
    .await
    .unwrap();
    assert_eq!((add.0, add.1.trim()), (0, "added"), "{}", add.2);
    assert_ne!(bad.0, 0, "plain http off loopback is refused");
    assert_eq!(list.1.trim(), REDIRECT);
    assert!(
        fincert::signing::csc_oauth::add_redirect_uri(
            &app.db,
            fincert::clock::Clock::now(&app.clock),
            &other.client_id,
            REDIRECT
        )
        .await
        .unwrap()
    );
    let h = holder(&app, "330200000001", Usage::General).await;
    consent(&h, &bank).await;
    consent(&h, &other).await;
    Setup {
        app,
        bank,
        other,
        h,
    }
}

/// A code for `docs` approved by the holder: (code, verifier).
async fn code_for(s: &Setup, docs: &[&[u8]]) -> (String, String) {
    let verifier = B64URL.encode(rand_bytes());
    let challenge = challenge_of(&verifier);
    let hashes: Vec<String> = docs
        .iter()
        .map(|d| B64URL.encode(fincert::signing::request::Digest::of(d).as_bytes()))
        .collect();
    let hashes = hashes.join(",");
    let num = docs.len().to_string();
    let id = s.h.cert.id.to_string();
    let (status, location) = authorize(
        &s.app,
        "v2",
        &ask(&s.bank.client_id, &id, &hashes, &num, &challenge),
    )
    .await;
    assert_eq!(status, 302);
    let back = approve(&s.app, &s.h, &location.unwrap(), docs.len() as u32).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    let q = query_of(&back);
    assert_eq!(q["state"], "st-123");
    (q["code"].clone(), verifier)
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut b).unwrap();
    b
}

fn b64(d: &[u8]) -> String {
    STANDARD.encode(fincert::signing::request::Digest::of(d).as_bytes())
}

async fn csc_oauth_code_flow_signs_exactly_what_was_approved(engine: Engine) {
    let s = setup(engine).await;
    let app = &s.app;
    let id = s.h.cert.id.to_string();

    // info advertises the flow.
    let info: Value = post(app, "/csc/v2/info", ANON, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        info["authType"]
            .as_array()
            .unwrap()
            .contains(&json!("oauth2code"))
    );
    assert!(
        info["methods"]
            .as_array()
            .unwrap()
            .contains(&json!("oauth2/authorize"))
    );

    let docs: [&[u8]; 2] = [b"contract page 1", b"contract page 2"];
    let (code, verifier) = code_for(&s, &docs).await;
    let (status, tok) = exchange(app, &s.bank, &code, &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["scope"], "credential");
    let token = tok["access_token"].as_str().unwrap().to_owned();

    // signHash with the credential token as the bearer, no SAD.
    let body = |hashes: Vec<String>| json!({"credentialID": id, "hashes": hashes, "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256});
    let (status, out) = sign_hash(app, &token, body(vec![b64(docs[0])])).await;
    assert_eq!(status, 200, "{out}");
    let spki = x509_parser::parse_x509_certificate(&s.h.cert.der)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    let sig = STANDARD
        .decode(out["signatures"][0].as_str().unwrap())
        .unwrap();
    assert!(openssl_verify(
        fincert::custody::keys::SignatureScheme::RsaPkcs1Sha256,
        &spki,
        docs[0],
        &sig
    ));

    // A hash outside the authorization is refused.
    let (status, e) = sign_hash(app, &token, body(vec![b64(b"another document")])).await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some("Hash is not authorized by the SAD"))
    );
    // Another institution cannot use the token as its SAD.
    let (status, e) = sign_hash(app, &s.other.token, json!({"credentialID": id, "SAD": token, "hashes": [b64(docs[1])], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256})).await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some("Invalid parameter SAD"))
    );
    // The bank may also send its own access token with the credential token as the SAD.
    let (status, out) = sign_hash(app, &s.bank.token, json!({"credentialID": id, "SAD": token, "hashes": [b64(docs[1])], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256})).await;
    assert_eq!(status, 200, "{out}");
    let sig = STANDARD
        .decode(out["signatures"][0].as_str().unwrap())
        .unwrap();
    assert!(openssl_verify(
        fincert::custody::keys::SignatureScheme::RsaPkcs1Sha256,
        &spki,
        docs[1],
        &sig
    ));

    // The code is one-time: presented again, it is refused and the token it gave is revoked.
    let (status, e) = exchange(app, &s.bank, &code, &verifier, REDIRECT).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    let (status, e) = sign_hash(app, &token, body(vec![b64(docs[0])])).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (401, Some("invalid_token")),
        "{e}"
    );

    // Revocation (RFC 7009): a credential token, then the bank's access token.
    let (code, verifier) = code_for(&s, &[b"third"]).await;
    let (_, tok) = exchange(app, &s.bank, &code, &verifier, REDIRECT).await;
    let token = tok["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        revoke(app, &s.other, &token).await,
        200,
        "another client's token: 200, nothing revoked"
    );
    assert_eq!(revoke(app, &s.bank, &token).await, 200);
    let (status, e) = sign_hash(app, &token, body(vec![b64(b"third")])).await;
    assert_eq!((status, e["error"].as_str()), (401, Some("invalid_token")));
    let list = |t: String| async move {
        post(app, "/csc/v2/credentials/list", &t, json!({}))
            .await
            .status()
            .as_u16()
    };
    assert_eq!(list(s.bank.token.clone()).await, 200);
    assert_eq!(revoke(app, &s.bank, &s.bank.token).await, 200);
    assert_eq!(list(s.bank.token.clone()).await, 401);

    // Every step is audited, and no code or token is in the log.
    let mut text = String::new();
    let mut after = 0;
    loop {
        let page = fincert::store::audit::page_after(&app.db, after)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        text.push_str(&format!("{page:?}"));
    }
    for action in [
        "csc.oauth_requested",
        "csc.oauth_approved",
        "csc.oauth_exchanged",
        "csc.oauth_code_reused",
        "csc.oauth_token_revoked",
    ] {
        assert!(text.contains(action), "{action} audited");
    }
    assert!(
        !text.contains(&code) && !text.contains(&token),
        "no secrets in the audit log"
    );
}

async fn csc_oauth_refusals(engine: Engine) {
    let s = setup(engine).await;
    let app = &s.app;
    let id = s.h.cert.id.to_string();
    let verifier = B64URL.encode(rand_bytes());
    let challenge = challenge_of(&verifier);
    let h = b64(b"doc").replace('+', "-").replace('/', "_");
    let h = h.trim_end_matches('=');
    let good = ask(&s.bank.client_id, &id, h, "1", &challenge);
    let with = |k: &str, v: Option<&'static str>| -> Vec<(String, String)> {
        let mut q: Vec<(String, String)> = good
            .iter()
            .filter(|(n, _)| *n != k)
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        if let Some(v) = v {
            q.push((k.to_owned(), v.to_owned()));
        }
        q
    };
    let run = |q: Vec<(String, String)>| async move {
        let q: Vec<(&str, &str)> = q.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        authorize(app, "v2", &q).await
    };
    // PKCE plain, and no challenge method: back to the client with invalid_request and state.
    for q in [
        with("code_challenge_method", Some("plain")),
        with("code_challenge_method", None),
        with("code_challenge", None),
    ] {
        let (status, location) = run(q).await;
        assert_eq!(status, 302);
        let location = location.unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        let back = query_of(&location);
        assert_eq!(
            (back["error"].as_str(), back["state"].as_str()),
            ("invalid_request", "st-123")
        );
    }
    // A redirect URI that is not registered (exactly), or an unknown client: an error page,
    // never a redirect.
    for q in [
        with("redirect_uri", Some("https://bank.example/csc/callback/")),
        with("redirect_uri", Some("https://evil.example/cb")),
        with("client_id", Some("fc_000000000000000000000000")),
    ] {
        let (status, location) = run(q).await;
        assert_eq!((status, location), (400, None));
    }
    let resp = no_redirects()
        .get(format!(
            "{}/csc/v2/oauth2/authorize?client_id=x&redirect_uri=https://evil.example/",
            app.address
        ))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"], "invalid_request");

    // v1 names the hashes `hash` and has no hashAlgorithmOID; the request reaches the portal.
    let v1: Vec<(&str, &str)> = good
        .iter()
        .filter(|(k, _)| *k != "hashAlgorithmOID")
        .map(|(k, v)| {
            if *k == "hashes" {
                ("hash", *v)
            } else {
                (*k, *v)
            }
        })
        .collect();
    let (status, location) = authorize(app, "v1", &v1).await;
    assert_eq!(status, 302);
    assert!(location.unwrap().starts_with("/portal/#/csc/"));
    // A credential the client's users did not register with it: back with invalid_request.
    let stranger_cert = uuid::Uuid::new_v4().to_string();
    let (status, location) = run(with("credentialID", None)
        .into_iter()
        .chain([("credentialID".to_owned(), stranger_cert)])
        .collect())
    .await;
    assert_eq!(status, 302);
    assert_eq!(query_of(&location.unwrap())["error"], "invalid_request");

    // The holder refuses: access_denied with the state.
    let (_, location) = run(with("state", Some("st-123"))).await;
    let portal = location.unwrap();
    let rid = portal.strip_prefix("/portal/#/csc/").unwrap();
    let resp = post(
        app,
        &format!("/v1/csc-authorizations/{rid}/refuse"),
        &s.h.token,
        json!({}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let back: Value = resp.json().await.unwrap();
    let q = query_of(back["redirect_uri"].as_str().unwrap());
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("access_denied", "st-123")
    );
    // Decided: neither approved nor shown again.
    let resp = post(
        app,
        &format!("/v1/csc-authorizations/{rid}/approve"),
        &s.h.token,
        json!({"pin": PIN}),
    )
    .await;
    assert_problem(resp, 409, "request_not_pending").await;
    // Another holder cannot see or decide it.
    let stranger = holder(app, "330200000002", Usage::General).await;
    let (_, location) = run(with("state", Some("st-123"))).await;
    let rid = location
        .unwrap()
        .strip_prefix("/portal/#/csc/")
        .unwrap()
        .to_owned();
    assert_problem(
        get(
            app,
            &format!("/v1/csc-authorizations/{rid}"),
            &stranger.token,
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Wrong verifier: refused, and the code is spent.
    let (code, verifier) = code_for(&s, &[b"doc"]).await;
    let (status, e) = exchange(app, &s.bank, &code, &B64URL.encode(rand_bytes()), REDIRECT).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    let (status, _) = exchange(app, &s.bank, &code, &verifier, REDIRECT).await;
    assert_eq!(status, 400);
    // Wrong redirect URI at the token endpoint.
    let (code, verifier) = code_for(&s, &[b"doc"]).await;
    let (status, e) = exchange(app, &s.bank, &code, &verifier, "https://bank.example/other").await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    // Another client's code: refused, and left for its client.
    let (code, verifier) = code_for(&s, &[b"doc"]).await;
    let (status, e) = exchange(app, &s.other, &code, &verifier, REDIRECT).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    let (status, _) = exchange(app, &s.bank, &code, &verifier, REDIRECT).await;
    assert_eq!(status, 200);
    // An expired code.
    let (code, verifier) = code_for(&s, &[b"doc"]).await;
    app.clock.advance(chrono::Duration::seconds(61));
    let (status, e) = exchange(app, &s.bank, &code, &verifier, REDIRECT).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    // The client-credentials route takes no codes.
    let resp = app
        .client
        .post(format!("{}/oauth2/token", app.address))
        .basic_auth(&s.bank.client_id, Some(&s.bank.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("code_verifier", &"y".repeat(43)),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"], "unsupported_grant_type");
}

both_engines!(
    csc_oauth_code_flow_signs_exactly_what_was_approved,
    csc_oauth_refusals
);

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the suite with scripts/test.sh (it installs Chromium and playwright-core)")
    })
}

/// The consent page in Chromium (`tests/browser/csc.mjs`): authorize link with no session →
/// "sign in first" → sign-in by choosing → back at the consent page → PIN keypad → back to the
/// client's loopback redirect URI (axe-core and touch targets checked on the way); then the
/// code is exchanged and the credential token signs, checked by openssl: `signHash` in
/// asynchronous mode, then `signPolling`, on SQLite (desktop), `signDoc` with the document
/// attached on PostgreSQL (phone).
async fn csc_oauth_consent_in_chromium(engine: Engine) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The holder signs in through the portal (sign-in by choosing): its codes come from the
    // development outbox.
    let app = spawn_app_tuned(engine, |s| {
        s.http.listen = format!("127.0.0.1:{port}");
        s.enrolment.expose_dev_outbox = true;
    })
    .await;
    let bank = institution(&app, "Hana Bank", Sector::Bank).await;
    let base = format!("http://localhost:{port}");
    let redirect = format!("{base}/healthz");
    fincert::signing::csc_oauth::add_redirect_uri(
        &app.db,
        fincert::clock::Clock::now(&app.clock),
        &bank.client_id,
        &redirect,
    )
    .await
    .unwrap();
    let h = holder(&app, "330200000001", Usage::General).await;
    consent(&h, &bank).await;
    let verifier = B64URL.encode(rand_bytes());
    let doc: &[u8] = b"browser-approved contract";
    let hash = B64URL.encode(fincert::signing::request::Digest::of(doc).as_bytes());
    let id = h.cert.id.to_string();
    let challenge = challenge_of(&verifier);
    let mut url = url::Url::parse(&format!("{base}/csc/v2/oauth2/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(
        ask(&bank.client_id, &id, &hash, "1", &challenge)
            .into_iter()
            .map(|(k, v)| {
                if k == "redirect_uri" {
                    (k, redirect.as_str())
                } else {
                    (k, v)
                }
            }),
    );
    let viewport = if engine == Engine::Sqlite {
        "desktop"
    } else {
        "phone"
    };
    let engine_name = if engine == Engine::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    // First the service scope: the holder allows the bank to act for them.
    let service_verifier = B64URL.encode(rand_bytes());
    let service_challenge = challenge_of(&service_verifier);
    let mut service_url = url::Url::parse(&format!("{base}/csc/v2/oauth2/authorize")).unwrap();
    service_url.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", bank.client_id.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("scope", "service"),
        ("code_challenge", service_challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "svc-1"),
    ]);
    let walk = |authorize: String, scope: &'static str| CscWalk {
        base: base.clone(),
        authorize,
        redirect: redirect.clone(),
        cert: id.clone(),
        viewport,
        scope,
        shots: format!(
            "{}/csc-{scope}-{engine_name}",
            env("TEST_FINCERT_SCREENSHOTS")
        ),
    };
    let served = walk(service_url.to_string(), "service").run().await;
    assert_eq!(served["axeRuns"], 2, "{served}");
    assert_shows_the_bank(&served);
    assert!(
        served["shown"]["service"].as_str().unwrap().contains("PIN"),
        "{served}"
    );
    let back = query_of(served["url"].as_str().unwrap());
    assert_eq!(back["state"], "svc-1");
    let (status, tok) = exchange(&app, &bank, &back["code"], &service_verifier, &redirect).await;
    assert_eq!((status, &tok["scope"]), (200, &json!("service")), "{tok}");
    let listed: Value = post(
        &app,
        "/csc/v2/credentials/list",
        tok["access_token"].as_str(),
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(listed["credentialIDs"], json!([id]));
    // Then a credential request for one document.
    let result = walk(url.to_string(), "credential").run().await;
    assert_eq!(result["axeRuns"], 3, "{result}");
    assert_shows_the_bank(&result);
    assert!(
        result["shown"]["count"].as_str().unwrap().contains('1'),
        "{result}"
    );
    assert_eq!(result["shown"]["description"], "Loan contract no. 42");
    let back = query_of(result["url"].as_str().unwrap());
    assert_eq!(back["state"], "st-123");
    let (status, tok) = exchange(&app, &bank, &back["code"], &verifier, &redirect).await;
    assert_eq!(status, 200, "{tok}");
    let token = tok["access_token"].as_str().unwrap();
    if engine == Engine::Postgres {
        // The phone run's client signs the document itself with signDoc (CAdES, attached).
        let path = "/csc/v2/signatures/signDoc";
        let body = json!({"credentialID": id, "documents": [{"document": STANDARD.encode(doc), "signature_format": "C", "conformance_level": "Ades-B-B", "signAlgo": RSA_SHA256}]});
        let resp = post(&app, path, Some(token), body).await;
        let status = resp.status().as_u16();
        let out: Value = resp.json().await.unwrap();
        crate::openapi::check_response("post", path, status, &out);
        assert_eq!(status, 200, "{out}");
        let cms = STANDARD
            .decode(out["DocumentWithSignature"][0].as_str().unwrap())
            .unwrap();
        let root = app.pki.ca_certificate("root").unwrap();
        let (ok, content) = openssl_cms_verify(&cms, root, None);
        assert!(ok, "openssl verifies the CMS");
        assert_eq!(content, doc, "with the approved document inside");
        return;
    }
    // The desktop run's client signs the hash asynchronously and polls for the answer.
    let (status, accepted) = sign_hash(&app, token, json!({"credentialID": id, "hashes": [b64(doc)], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256, "operationMode": "A"})).await;
    assert_eq!(status, 200, "{accepted}");
    let poll = json!({"responseID": accepted["responseID"]});
    let mut out = Value::Null;
    for _ in 0..100 {
        let path = "/csc/v2/signatures/signPolling";
        let resp = post(&app, path, Some(token), poll.clone()).await;
        let status = resp.status().as_u16();
        out = resp.json().await.unwrap();
        crate::openapi::check_response("post", path, status, &out);
        if status != 503 {
            assert_eq!(status, 200, "{out}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let spki = x509_parser::parse_x509_certificate(&h.cert.der)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    let sig = STANDARD
        .decode(out["signatures"][0].as_str().unwrap())
        .unwrap();
    assert!(openssl_verify(
        fincert::custody::keys::SignatureScheme::RsaPkcs1Sha256,
        &spki,
        doc,
        &sig
    ));
}

both_engines!(csc_oauth_consent_in_chromium);

/// A credential token under concurrency: eight signHash calls for the same authorized hash
/// at once all answer the one signature stored for it (each hash signs once), and the other
/// authorized hash still signs.
async fn csc_oauth_token_signs_each_hash_once(engine: Engine) {
    let s = setup(engine).await;
    let docs: [&[u8]; 2] = [b"page A", b"page B"];
    let (code, verifier) = code_for(&s, &docs).await;
    let (_, tok) = exchange(&s.app, &s.bank, &code, &verifier, REDIRECT).await;
    let token = tok["access_token"].as_str().unwrap().to_owned();
    let id = s.h.cert.id.to_string();
    let body = json!({"credentialID": id, "hashes": [b64(docs[0])], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256});
    let calls = (0..8).map(|_| {
        let (app, token, body) = (&s.app, token.clone(), body.clone());
        async move { sign_hash(app, &token, body).await }
    });
    let answers = futures_util::future::join_all(calls).await;
    let sigs: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, out)| {
            assert_eq!(*status, 200, "{out}");
            out["signatures"][0].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(sigs.len(), 1, "one signature for one hash");
    let (status, _) = sign_hash(&s.app, &token, json!({"credentialID": id, "hashes": [b64(docs[1])], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256})).await;
    assert_eq!(status, 200);
    // RSA PKCS#1 v1.5 is deterministic, so equal answers prove nothing alone: the store holds
    // exactly one signature per authorized hash.
    use sea_orm::ConnectionTrait;
    let backend = s.app.db.get_database_backend();
    let row = s
        .app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM csc_sad_signatures",
        ))
        .await
        .unwrap()
        .unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    assert_eq!(n, 2);
}

both_engines!(csc_oauth_token_signs_each_hash_once);

/// Finished and abandoned authorization requests are purged once their activation has ended;
/// a code presented after that is unknown (`invalid_grant`).
async fn csc_oauth_requests_are_purged_when_over(engine: Engine) {
    let s = setup(engine).await;
    let (code, verifier) = code_for(&s, &[b"old"]).await;
    let now = fincert::clock::Clock::now(&s.app.clock);
    assert_eq!(
        fincert::store::signing::purge_expired_grants(&s.app.db, now)
            .await
            .unwrap(),
        0,
        "nothing is over yet"
    );
    let later = now + chrono::Duration::minutes(16);
    assert_eq!(
        fincert::store::signing::purge_expired_grants(&s.app.db, later)
            .await
            .unwrap(),
        1
    );
    let (status, e) = exchange(&s.app, &s.bank, &code, &verifier, REDIRECT).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
}

both_engines!(csc_oauth_requests_are_purged_when_over);

/// Approval with a passkey bound to the certificate's key: the WebAuthn challenge commits to
/// the request, so an assertion for one request does not approve another; the code it gives
/// exchanges and signs like the PIN's.
async fn csc_oauth_passkey_approval(engine: Engine) {
    use webauthn_authenticator_rs::WebauthnAuthenticator;
    use webauthn_rs::prelude::RequestChallengeResponse;
    let origin = url::Url::parse(PASSKEY_ORIGIN).unwrap();
    let s = setup(engine).await;
    let app = &s.app;
    let mut phone = bound_passkey(app, &s.h.token, s.h.cert.id).await;

    let id = s.h.cert.id.to_string();
    let doc: &[u8] = b"signed with a passkey";
    let pending = |verifier: String| {
        let hash = B64URL.encode(fincert::signing::request::Digest::of(doc).as_bytes());
        let (client_id, id) = (s.bank.client_id.clone(), id.clone());
        async move {
            let challenge = challenge_of(&verifier);
            let (_, location) =
                authorize(app, "v2", &ask(&client_id, &id, &hash, "1", &challenge)).await;
            location
                .unwrap()
                .strip_prefix("/portal/#/csc/")
                .unwrap()
                .to_owned()
        }
    };
    let verifier = B64URL.encode(rand_bytes());
    let a = pending(verifier.clone()).await;
    let b = pending(B64URL.encode(rand_bytes())).await;
    let ceremony: Value = post(
        app,
        &format!("/v1/csc-authorizations/{a}/passkey/start"),
        &s.h.token,
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(ceremony["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin.clone(), options).unwrap();
    let body = json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion});
    // A's assertion presented for B: refused (and the ceremony spent).
    assert_problem(
        post(
            app,
            &format!("/v1/csc-authorizations/{b}/passkey/finish"),
            &s.h.token,
            body,
        )
        .await,
        409,
        "webauthn_challenge_spent",
    )
    .await;
    let ceremony: Value = post(
        app,
        &format!("/v1/csc-authorizations/{a}/passkey/start"),
        &s.h.token,
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let options: RequestChallengeResponse =
        serde_json::from_value(ceremony["options"].clone()).unwrap();
    let assertion = phone.do_authentication(origin, options).unwrap();
    let resp = post(
        app,
        &format!("/v1/csc-authorizations/{a}/passkey/finish"),
        &s.h.token,
        json!({"ceremony_id": ceremony["ceremony_id"], "credential": assertion}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let back: Value = resp.json().await.unwrap();
    crate::openapi::check_response(
        "post",
        "/v1/csc-authorizations/{id}/passkey/finish",
        200,
        &back,
    );
    let q = query_of(back["redirect_uri"].as_str().unwrap());
    let (status, tok) = exchange(app, &s.bank, &q["code"], &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tok}");
    let (status, out) = sign_hash(app, tok["access_token"].as_str().unwrap(), json!({"credentialID": id, "hashes": [b64(doc)], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256})).await;
    assert_eq!(status, 200, "{out}");
    let spki = x509_parser::parse_x509_certificate(&s.h.cert.der)
        .unwrap()
        .1
        .public_key()
        .raw
        .to_vec();
    let sig = STANDARD
        .decode(out["signatures"][0].as_str().unwrap())
        .unwrap();
    assert!(openssl_verify(
        fincert::custody::keys::SignatureScheme::RsaPkcs1Sha256,
        &spki,
        doc,
        &sig
    ));
}

both_engines!(csc_oauth_passkey_approval);

/// `scope=service`: the holder allows the bank's client to act for them; its service token
/// sees that holder's consented credentials only (another holder of the same bank is unknown
/// to it), credentials/authorize still needs the PIN, the SAD signs with the token as the
/// bearer; the token is revoked by RFC 7009 and by a reused code; a PIN or passkey approval,
/// credential parameters and PKCE plain are refused for a service request.
async fn csc_oauth_service_scope_acts_for_one_holder(engine: Engine) {
    let s = setup(engine).await;
    let app = &s.app;
    let other_holder = holder(app, "330200000002", Usage::General).await;
    consent(&other_holder, &s.bank).await;
    let verifier = B64URL.encode(rand_bytes());
    let challenge = challenge_of(&verifier);
    fn service_ask<'a>(client_id: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "service"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", "svc-1"),
        ]
    }
    let service = |challenge| service_ask(&s.bank.client_id, challenge);
    // A credential parameter or PKCE plain is refused back to the client.
    let mut with_credential = service(&challenge);
    let id = s.h.cert.id.to_string();
    with_credential.push(("credentialID", id.as_str()));
    let (status, location) = authorize(app, "v2", &with_credential).await;
    assert_eq!(status, 302);
    let q = query_of(&location.unwrap());
    assert_eq!(q["error"], "invalid_request", "{q:?}");
    let mut plain = service(&challenge);
    plain[5] = ("code_challenge_method", "plain");
    let (_, location) = authorize(app, "v2", &plain).await;
    assert_eq!(query_of(&location.unwrap())["error"], "invalid_request");

    let (status, location) = authorize(app, "v2", &service(&challenge)).await;
    assert_eq!(status, 302);
    let portal = location.unwrap();
    let rid = portal.strip_prefix("/portal/#/csc/").unwrap().to_owned();
    let path = format!("/v1/csc-authorizations/{rid}");
    let view: Value = get(app, &path, &s.h.token).await.json().await.unwrap();
    crate::openapi::check_response("get", "/v1/csc-authorizations/{id}", 200, &view);
    assert_eq!(
        (&view["scope"], &view["institution"]),
        (&json!("service"), &json!("Hana Bank"))
    );
    assert!(view.get("credential").is_none(), "{view}");
    // A service request is allowed, not approved with a PIN.
    let resp = post(
        app,
        &format!("{path}/approve"),
        &s.h.token,
        json!({"pin": PIN}),
    )
    .await;
    assert_problem(resp, 409, "request_not_pending").await;
    let resp = post(app, &format!("{path}/allow"), &s.h.token, json!({})).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    crate::openapi::check_response("post", "/v1/csc-authorizations/{id}/allow", 200, &body);
    let q = query_of(body["redirect_uri"].as_str().unwrap());
    assert_eq!(q["state"], "svc-1");
    let (status, tok) = exchange(app, &s.bank, &q["code"], &verifier, REDIRECT).await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(
        (&tok["scope"], &tok["expires_in"]),
        (&json!("service"), &json!(3600))
    );
    let token = tok["access_token"].as_str().unwrap().to_owned();

    // The service token sees this holder's credentials only.
    let csc = |path: &'static str, body: Value| {
        let token = token.clone();
        async move {
            let resp = post(app, path, Some(token.as_str()), body).await;
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            crate::openapi::check_response("post", path, status, &body);
            (status, body)
        }
    };
    let (status, list) = csc("/csc/v2/credentials/list", json!({})).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["credentialIDs"], json!([id]));
    let (_, all) = post(
        app,
        "/csc/v2/credentials/list",
        Some(s.bank.token.as_str()),
        json!({}),
    )
    .await
    .json::<Value>()
    .await
    .map(|v| (0, v))
    .unwrap();
    assert_eq!(
        all["credentialIDs"].as_array().unwrap().len(),
        2,
        "the bank's own token sees both"
    );
    let theirs = other_holder.cert.id.to_string();
    let (status, e) = csc("/csc/v2/credentials/info", json!({"credentialID": theirs})).await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some("Invalid parameter credentialID"))
    );
    let hash = b64(b"a contract the holder reads");
    let authorize_body = |cred: &str, pin: &str| json!({"credentialID": cred, "numSignatures": 1, "hashes": [hash], "hashAlgorithmOID": SHA256, "authData": [{"id": "PIN", "value": pin}]});
    let (status, e) = csc(
        "/csc/v2/credentials/authorize",
        authorize_body(&theirs, PIN),
    )
    .await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some("Invalid parameter credentialID"))
    );
    // Its holder's credential: the PIN still decides.
    let (status, sad) = csc("/csc/v2/credentials/authorize", authorize_body(&id, PIN)).await;
    assert_eq!(status, 200, "{sad}");
    let (status, out) = sign_hash(app, &token, json!({"credentialID": id, "SAD": sad["SAD"], "hashes": [hash], "hashAlgorithmOID": SHA256, "signAlgo": RSA_SHA256})).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["signatures"].as_array().unwrap().len(), 1);

    // Another client cannot revoke it; its own client can, and then it is refused.
    assert_eq!(revoke(app, &s.other, &token).await, 200);
    assert_eq!(csc("/csc/v2/credentials/list", json!({})).await.0, 200);
    assert_eq!(revoke(app, &s.bank, &token).await, 200);
    let (status, e) = csc("/csc/v2/credentials/list", json!({})).await;
    assert_eq!((status, e["error"].as_str()), (401, Some("invalid_token")));

    // A second service grant whose code is presented twice: the token it issued is revoked.
    let verifier2 = B64URL.encode(rand_bytes());
    let challenge2 = challenge_of(&verifier2);
    let (_, location) = authorize(app, "v2", &service(&challenge2)).await;
    let rid = location
        .unwrap()
        .strip_prefix("/portal/#/csc/")
        .unwrap()
        .to_owned();
    let body: Value = post(
        app,
        &format!("/v1/csc-authorizations/{rid}/allow"),
        &s.h.token,
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let code = query_of(body["redirect_uri"].as_str().unwrap())["code"].clone();
    let (status, tok) = exchange(app, &s.bank, &code, &verifier2, REDIRECT).await;
    assert_eq!(status, 200, "{tok}");
    let second = tok["access_token"].as_str().unwrap().to_owned();
    let (status, _) = exchange(app, &s.bank, &code, &verifier2, REDIRECT).await;
    assert_eq!(status, 400);
    let resp = post(
        app,
        "/csc/v2/credentials/list",
        Some(second.as_str()),
        json!({}),
    )
    .await;
    assert_eq!(resp.status(), 401, "the reused code's token is revoked");
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    assert!(events.iter().any(|e| e.action == "csc.oauth_approved" && e.details.contains(r#""scope":"service""#)));
    assert!(
        !events.iter().any(|e| e.details.contains(&token)),
        "no token in the audit log"
    );
    app.stop().await;
}

both_engines!(csc_oauth_service_scope_acts_for_one_holder);

/// The consent page named the institution asking.
fn assert_shows_the_bank(walk: &Value) {
    let shown = walk["shown"]["institution"].as_str().unwrap_or("");
    assert!(shown.contains("Hana Bank"), "{walk}");
}

/// One run of `tests/browser/csc.mjs`: the authorize link with no session, sign-in by
/// choosing, the consent page for `scope`, and back at the client's redirect URI.
struct CscWalk {
    base: String,
    authorize: String,
    redirect: String,
    cert: String,
    viewport: &'static str,
    scope: &'static str,
    shots: String,
}

impl CscWalk {
    async fn run(self) -> Value {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/csc.mjs");
        let mut cmd = std::process::Command::new("node");
        cmd.arg(script)
            .env("BASE", &self.base)
            .env("AUTHORIZE", &self.authorize)
            .env("REDIRECT", &self.redirect)
            .env("CERT", &self.cert)
            .env("SCOPE", self.scope)
            .env("VIEWPORT", self.viewport)
            .env("AXE", crate::portal::axe_script())
            .env("PIN", PIN)
            .env("SHOTS", &self.shots)
            .env("CHROMIUM", env("TEST_FINCERT_CHROMIUM"))
            .env("PLAYWRIGHT_CORE", env("TEST_FINCERT_PLAYWRIGHT"));
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(180),
            tokio::task::spawn_blocking(move || cmd.output()),
        )
        .await
        .expect("the browser run finishes in time")
        .unwrap()
        .expect("node runs");
        browser_report(&out, "browser run")
    }
}

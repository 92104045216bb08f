//! OCSP and CRLs that scale: pre-signed OCSP answers served alike over POST and RFC 5019 GET
//! with HTTP caching headers and conditional GET; a revocation that every node answers at
//! once (two nodes on one database), even over a stale pre-signed "good" answer, and within a
//! second on another process; answers kept in memory within their bounds, "unknown" ones
//! too; the CRL regenerated in the background; and answers openssl verifies.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use der::Decode;
use fincert::{
    clock::Clock,
    config::Engine,
    pki::{lifecycle::RevocationReason, profile::Usage},
    store,
};
use x509_ocsp::{BasicOcspResponse, CertStatus, OcspResponse};
use x509_parser::prelude::FromDer;

use super::{Openssl, openssl::refresh_revocation};
use crate::helpers::*;

/// What an OCSP answer says about its one certificate: status and its thisUpdate /
/// nextUpdate / producedAt (unix seconds).
struct Said {
    status: &'static str,
    this_update: i64,
    next_update: i64,
    produced_at: i64,
}

fn said(der: &[u8]) -> Said {
    let resp = OcspResponse::from_der(der).expect("an OCSP response");
    let bytes = resp.response_bytes.expect("a successful answer");
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).expect("basic");
    let data = basic.tbs_response_data;
    assert_eq!(data.responses.len(), 1);
    let single = &data.responses[0];
    let secs = |t: &x509_ocsp::OcspGeneralizedTime| {
        i64::try_from(t.0.to_unix_duration().as_secs()).unwrap()
    };
    Said {
        status: match single.cert_status {
            CertStatus::Good(_) => "good",
            CertStatus::Revoked(_) => "revoked",
            CertStatus::Unknown(_) => "unknown",
        },
        this_update: secs(&single.this_update),
        next_update: secs(single.next_update.as_ref().expect("nextUpdate")),
        produced_at: secs(&data.produced_at),
    }
}

fn http_time(resp: &reqwest::Response, name: &str) -> i64 {
    let v = resp.headers().get(name).unwrap_or_else(|| panic!("{name}"));
    DateTime::parse_from_rfc2822(v.to_str().unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .timestamp()
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// A DER OCSP request (SHA-1 CertID, no nonce) for `leaf`, made by openssl.
fn request_for(o: &Openssl, leaf: &str, out: &str) -> Vec<u8> {
    let (ok, text) = o.run(&[
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-cert",
        leaf,
        "-reqout",
        out,
        "-no_nonce",
    ]);
    assert!(ok, "{text}");
    std::fs::read(o.path(out)).unwrap()
}

async fn post(client: &reqwest::Client, base: &str, req: &[u8]) -> reqwest::Response {
    client
        .post(format!("{base}/pki/ocsp"))
        .header("content-type", "application/ocsp-request")
        .body(req.to_vec())
        .send()
        .await
        .unwrap()
}

async fn get(client: &reqwest::Client, base: &str, req: &[u8]) -> reqwest::Response {
    let b64 = base64::engine::general_purpose::STANDARD.encode(req);
    let escaped = b64
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    client
        .get(format!("{base}/pki/ocsp/{escaped}"))
        .send()
        .await
        .unwrap()
}

/// openssl's verdict on a stored answer for `leaf` (signature, responder, freshness).
fn openssl_says(o: &Openssl, der: &[u8], leaf: &str) -> String {
    std::fs::write(o.path("answer.der"), der).unwrap();
    let (ok, out) = o.run(&[
        "ocsp",
        "-respin",
        "answer.der",
        "-issuer",
        "issuing.pem",
        "-cert",
        leaf,
        "-CAfile",
        "chain.pem",
        "-no_nonce",
    ]);
    assert!(ok && out.contains("Response verify OK"), "{out}");
    out
}

/// GET (standard and URL-safe base64) and POST give the same pre-signed bytes, with caching
/// headers that agree with the answer's own thisUpdate / nextUpdate; `If-None-Match` with its
/// tag is a 304; the answer is re-signed once less than a quarter of its validity is left.
pub(super) async fn ocsp_get_and_post_agree_with_caching_headers(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let cert = cloud_cert("user-han")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    o.write_cert("leaf.pem", &cert.der);
    let req = request_for(&o, "leaf.pem", "req.der");

    let posted = post(&app.client, &app.address, &req).await;
    assert_eq!(posted.status(), 200);
    let post_tag = header(&posted, "etag");
    let posted = posted.bytes().await.unwrap().to_vec();
    let got = get(&app.client, &app.address, &req).await;
    assert_eq!(got.status(), 200);
    assert_eq!(header(&got, "content-type"), "application/ocsp-response");
    let now = app.clock.now().timestamp();
    let answer_cc = header(&got, "cache-control");
    let tag = header(&got, "etag");
    let (last_modified, expires) = (http_time(&got, "last-modified"), http_time(&got, "expires"));
    let got = got.bytes().await.unwrap().to_vec();
    assert_eq!(got, posted, "GET and POST give the same answer");
    assert_eq!(tag, post_tag);
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&req);
    let resp = app.get(&format!("/pki/ocsp/{url_safe}")).await;
    assert_eq!(
        resp.bytes().await.unwrap().to_vec(),
        posted,
        "base64url too"
    );

    let s = said(&got);
    assert_eq!(s.status, "good");
    assert_eq!(s.produced_at, s.this_update);
    assert_eq!(s.this_update, now);
    assert_eq!(
        s.next_update - s.this_update,
        60 * 60,
        "ocsp_validity_minutes"
    );
    assert_eq!(
        answer_cc,
        format!(
            "max-age={}, public, no-transform, must-revalidate",
            s.next_update - now
        )
    );
    assert_eq!(last_modified, s.this_update);
    assert_eq!(expires, s.next_update);
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() > 20,
        "{tag}"
    );
    assert!(openssl_says(&o, &got, "leaf.pem").contains("leaf.pem: good"));

    // Conditional GET: the current tag is a 304 without a body; another tag is the answer.
    let resp = app
        .client
        .get(app.url(&format!(
            "/pki/ocsp/{}",
            base64::engine::general_purpose::URL_SAFE.encode(&req)
        )))
        .header("if-none-match", tag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert_eq!(header(&resp, "etag"), tag);
    assert!(header(&resp, "cache-control").starts_with("max-age="));
    assert!(resp.bytes().await.unwrap().is_empty());
    let resp = app
        .client
        .get(app.url(&format!("/pki/ocsp/{url_safe}")))
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().to_vec(), posted);

    // Pre-signed: ten minutes on, the same bytes, cacheable for ten minutes less.
    app.clock.advance(Duration::minutes(10));
    let resp = get(&app.client, &app.address, &req).await;
    assert_eq!(
        header(&resp, "cache-control"),
        format!(
            "max-age={}, public, no-transform, must-revalidate",
            s.next_update - now - 600
        )
    );
    assert_eq!(
        resp.bytes().await.unwrap().to_vec(),
        posted,
        "served as signed"
    );
    // With under a quarter of its validity left, it is signed again.
    app.clock.advance(Duration::minutes(36));
    let resp = get(&app.client, &app.address, &req).await;
    let fresh = resp.bytes().await.unwrap().to_vec();
    assert_ne!(fresh, posted);
    let f = said(&fresh);
    assert_eq!(f.status, "good");
    assert_eq!(f.this_update, app.clock.now().timestamp());

    // Error answers are not cacheable.
    let resp = app.get("/pki/ocsp/AAAA").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "cache-control"), "no-store");
    assert!(resp.headers().get("etag").is_none());
    app.stop().await;
}

/// Two nodes on one database: both answer "good" from the pre-signed answer, and once a
/// revocation on one node returns, both answer "revoked" (openssl verifies it; both nodes run
/// in this process, so B's OCSP cache sees the process's own change count move at once, as the
/// changing node's does: a separate process follows within a second, see
/// `revocation_reaches_another_process_within_a_second`), as does
/// `ocsp_response_for_serial`; a stale "good" answer left in the table (a lost race) is never
/// served for a revoked certificate; resuming a suspended certificate is "good" again.
pub(super) async fn revocation_reaches_ocsp_on_every_node_at_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let b = spawn_node(&app).await;
    let o = Openssl::for_app(&app).await;
    let who = owner("user-seo");
    let cert = cloud_cert("user-seo")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    o.write_cert("leaf.pem", &cert.der);
    let req = request_for(&o, "leaf.pem", "req.der");
    let good = get(&app.client, &b.address, &req).await;
    let good = good.bytes().await.unwrap().to_vec();
    assert_eq!(said(&good).status, "good");
    assert_eq!(
        post(&app.client, &app.address, &req)
            .await
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        good,
        "one pre-signed answer for the cluster"
    );

    app.pki
        .revoke(&app.db, &who, cert.id, RevocationReason::KeyCompromise)
        .await
        .unwrap();
    for base in [&b.address, &app.address, &b.address] {
        for resp in [
            get(&app.client, base, &req).await,
            post(&app.client, base, &req).await,
        ] {
            let der = resp.bytes().await.unwrap().to_vec();
            assert_eq!(said(&der).status, "revoked", "{base}");
            let out = openssl_says(&o, &der, "leaf.pem");
            assert!(
                out.contains("leaf.pem: revoked") && out.contains("keyCompromise"),
                "{out}"
            );
        }
    }
    let direct = app
        .pki
        .ocsp_response_for_serial(&app.db, &cert.serial)
        .await
        .unwrap();
    assert_eq!(said(&direct).status, "revoked");
    assert!(openssl_says(&o, &direct, "leaf.pem").contains("leaf.pem: revoked"));
    assert!(matches!(
        app.pki.ocsp_response_for_serial(&app.db, "00ff00ff").await,
        Err(fincert::pki::PkiError::NotFound)
    ));
    assert!(matches!(
        app.pki.ocsp_response_for_serial(&app.db, "not hex").await,
        Err(fincert::pki::PkiError::NotFound)
    ));

    // A node that lost a race and stored the old "good" answer after the revocation: the
    // status beside it is not the certificate's, so it is signed again, not served.
    let s = said(&good);
    store::pki::upsert_ocsp_response(
        &app.db,
        "issuing",
        store::pki::OcspRow {
            serial_hex: cert.serial.clone(),
            hash_alg: "sha1".into(),
            cert_status: "good".into(),
            this_update: DateTime::<Utc>::from_timestamp(s.this_update, 0).unwrap(),
            next_update: DateTime::<Utc>::from_timestamp(s.next_update, 0).unwrap(),
            der: good.clone(),
        },
    )
    .await
    .unwrap();
    for base in [&b.address, &app.address] {
        let der = get(&app.client, base, &req)
            .await
            .bytes()
            .await
            .unwrap()
            .to_vec();
        assert_eq!(said(&der).status, "revoked", "{base}");
    }

    // Suspend on node A, resume: both nodes follow each change at once.
    let other = cloud_cert("user-seo").issue(&app).await;
    o.write_cert("other.pem", &other.der);
    let req = request_for(&o, "other.pem", "other.der");
    let status_on = |base: String| {
        let (client, req) = (app.client.clone(), req.clone());
        async move {
            let der = get(&client, &base, &req)
                .await
                .bytes()
                .await
                .unwrap()
                .to_vec();
            said(&der).status
        }
    };
    assert_eq!(status_on(b.address.clone()).await, "good");
    app.pki.suspend(&app.db, &who, other.id).await.unwrap();
    assert_eq!(status_on(b.address.clone()).await, "revoked");
    assert_eq!(status_on(app.address.clone()).await, "revoked");
    app.pki.resume(&app.db, &who, other.id).await.unwrap();
    assert_eq!(status_on(b.address.clone()).await, "good");
    assert_eq!(status_on(app.address.clone()).await, "good");
    b.kill().await;
    app.stop().await;
}

/// A revocation does not sign a CRL; the background refresh (every five seconds, on the
/// node holding the job lock) does, and the CRL it publishes lists the serial; meanwhile the
/// published CRL stays valid. The refresh also re-signs a CRL and OCSP answers past half
/// their validity.
pub(super) async fn crl_regenerates_in_the_background(engine: Engine) {
    let app = spawn_app(engine).await;
    let o = Openssl::for_app(&app).await;
    let cert = cloud_cert("user-moon")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    let leaf = o.write_cert("leaf.pem", &cert.der);
    // Nothing revoked yet: the first fetch publishes the first CRL.
    assert_eq!(app.get("/pki/crl/issuing.crl").await.status(), 200);
    let before = store::pki::latest_crl_state(&app.db, "issuing")
        .await
        .unwrap()
        .expect("a CRL");
    app.pki
        .revoke(
            &app.db,
            &owner("user-moon"),
            cert.id,
            RevocationReason::AffiliationChanged,
        )
        .await
        .unwrap();
    let serial = hex::decode(&cert.serial).unwrap();
    // Polled over HTTP without running the refresh here: the app's own background does it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let der = loop {
        let der = app.get("/pki/crl/issuing.crl").await.bytes().await.unwrap();
        let (_, crl) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
        let next = crl.next_update().unwrap().timestamp();
        assert!(
            next > app.clock.now().timestamp(),
            "the published CRL is valid"
        );
        if crl
            .iter_revoked_certificates()
            .any(|r| r.raw_serial() == serial.as_slice())
        {
            break der.to_vec();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the background refresh never published the revocation"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    let after = store::pki::latest_crl_state(&app.db, "issuing")
        .await
        .unwrap()
        .unwrap();
    assert!(after.0 > before.0, "a newer CRL number");
    assert!(after.3 > before.3, "it covers the revocation's change");
    std::fs::write(o.path("bg.crl.der"), &der).unwrap();
    let (ok, out) = o.run(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        "bg.crl.der",
        "-out",
        "bg.crl.pem",
        "-CAfile",
        "chain.pem",
    ]);
    assert!(ok && out.contains("verify OK"), "{out}");
    let (ok, out) = o.verify(&leaf, Some(&o.path("bg.crl.pem")));
    assert!(!ok && out.contains("certificate revoked"), "{out}");

    // Nothing changed: no new CRL. Past half its validity: a new one; OCSP answers too.
    let report = refresh_revocation(&app).await;
    assert!(!report.crl_published);
    let good = cloud_cert("user-moon").issue(&app).await;
    let answer = app
        .pki
        .ocsp_response_for_serial(&app.db, &good.serial)
        .await
        .unwrap();
    assert_eq!(said(&answer).status, "good");
    app.clock.advance(Duration::hours(13));
    refresh_revocation(&app).await;
    let now = app.clock.now().timestamp();
    let latest = store::pki::latest_crl_state(&app.db, "issuing")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.1.timestamp(), now, "re-signed before its nextUpdate");
    for serial in [&good.serial, &cert.serial] {
        let row = store::pki::ocsp_response(&app.db, "issuing", serial, "sha1")
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(row.this_update.timestamp(), now, "OCSP answer re-signed");
        assert_eq!(said(&row.der).this_update, now);
    }
    app.stop().await;
}

/// A DER OCSP request (SHA-1 CertID, no nonce) for any serial under `issuer` (DER).
fn request_for_serial(issuer: &[u8], serial: &[u8]) -> Vec<u8> {
    use der::Encode;
    let issuer = x509_cert::Certificate::from_der(issuer).unwrap();
    let name = issuer.tbs_certificate.subject.to_der().unwrap();
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let sha1 = |d: &[u8]| {
        der::asn1::OctetString::new(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, d)
                .as_ref()
                .to_vec(),
        )
        .unwrap()
    };
    x509_ocsp::OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            version: x509_ocsp::Version::V1,
            requestor_name: None,
            request_list: vec![x509_ocsp::Request {
                req_cert: x509_ocsp::CertId {
                    hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
                        oid: const_oid::db::rfc5912::ID_SHA_1,
                        parameters: Some(der::asn1::Null.into()),
                    },
                    issuer_name_hash: sha1(&name),
                    issuer_key_hash: sha1(key),
                    serial_number: x509_cert::serial_number::SerialNumber::new(serial).unwrap(),
                },
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
    .unwrap()
}

async fn answer_bytes(app: &TestApp, base: &str, req: &[u8]) -> Vec<u8> {
    let resp = get(&app.client, base, req).await;
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap().to_vec()
}

/// A repeated OCSP request is answered from the node's memory: a change made behind the
/// service's back (a status written without counting it, as an operator's SQL would) is not
/// seen until the issuer's change count moves, and then at once. Serials the CA never issued
/// get a pre-signed "unknown" answer (openssl verifies it), kept in a bounded map of their own:
/// 200 random serials leave at most `pki.ocsp_unknown_cache_entries` of them in memory and the
/// answers for real certificates in place.
pub(super) async fn ocsp_answers_come_from_memory_within_bounds(engine: Engine) {
    const UNKNOWN_CAP: usize = 40;
    let app = spawn_app_tuned(engine, |s| {
        s.pki.ocsp_unknown_cache_entries = UNKNOWN_CAP as u32;
        // What memory serves is the question here, not how long a poll is trusted: on a
        // loaded machine one 200 ms poll can take over the 1 s default, and then (rightly)
        // the database is asked — which would answer "revoked" below too early.
        s.pki.ocsp_poll_trust_for_tests = Some(std::time::Duration::from_secs(3600));
    })
    .await;
    let o = Openssl::for_app(&app).await;
    let cert = cloud_cert("user-mem")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    o.write_cert("leaf.pem", &cert.der);
    let req = request_for(&o, "leaf.pem", "req.der");
    // Revoked in the database without counting the change: memory still answers "good" ...
    // The count of changes this process made is process-wide (in production one process is
    // one node), and the other tests in this binary revoke certificates too: a change they
    // count meanwhile rightly makes this node read the database. Such a round proves nothing
    // about memory, so it is undone and tried again; a round nothing else touched must be
    // answered from memory.
    let row = store::pki::certificate_by_serial(&app.db, &cert.serial)
        .await
        .unwrap()
        .unwrap();
    let (mut rounds, mut undisturbed) = (0, false);
    while !undisturbed {
        rounds += 1;
        assert!(
            rounds <= 20,
            "every round was disturbed by another test's change"
        );
        let counted = store::pki::local_revocation_changes();
        let good = answered_from_memory(&app, &req, (1, 0)).await;
        assert_eq!(said(&good).status, "good");
        let now = app.clock.now();
        assert!(
            store::pki::transition(
                &app.db,
                row.id,
                row.status,
                fincert::pki::lifecycle::CertStatus::Revoked,
                store::pki::Revocation::Set(
                    now,
                    fincert::domain::revocation_reason::CrlReason::KeyCompromise
                ),
                now,
            )
            .await
            .unwrap()
        );
        let answer = answer_bytes(&app, &app.address, &req).await;
        undisturbed = store::pki::local_revocation_changes() == counted;
        if undisturbed {
            assert_eq!(answer, good, "from memory");
        } else {
            let now = app.clock.now();
            assert!(
                store::pki::transition(
                    &app.db,
                    row.id,
                    fincert::pki::lifecycle::CertStatus::Revoked,
                    row.status,
                    store::pki::Revocation::Clear,
                    now,
                )
                .await
                .unwrap()
            );
            // Counted for this process only: its cache drops the entry at once.
            store::pki::count_committed_revocation_change();
        }
    }
    // ... until the count moves: then the database is read again and the answer re-signed.
    store::pki::bump_revocation_changes(&app.db, "issuing")
        .await
        .unwrap();
    let revoked = answer_bytes(&app, &app.address, &req).await;
    assert_eq!(said(&revoked).status, "revoked");
    assert!(openssl_says(&o, &revoked, "leaf.pem").contains("leaf.pem: revoked"));
    // A fill that races the poll reading the new count is dropped (its tag is older); once
    // the poll has it, the answer is kept again.
    assert_eq!(answered_from_memory(&app, &req, (1, 0)).await, revoked);

    // Serials never issued: "unknown", pre-signed once and then served from memory.
    let issuing = app.pki.ca_certificate("issuing").unwrap().to_vec();
    let unknown_req = request_for_serial(&issuing, &[0x12, 0x34, 0x56, 0x78, 0x90]);
    // An "unknown" answer is never stored, so a miss re-signs it (other bytes): the same
    // bytes twice are an answer from memory. As above, a round another test disturbed proves
    // nothing and is tried again; so does the one round in which this node's poll of the
    // change counter (moved by the bump above, in this app's own database, once) lands
    // between the two answers and drops what the first one filled. Twice re-signed with
    // nothing counted here would be no cache at all.
    let (mut rounds, mut poll_landed) = (0, 0);
    let unknown = loop {
        rounds += 1;
        assert!(
            rounds <= 20,
            "every round was disturbed by another test's change"
        );
        let counted = store::pki::local_revocation_changes();
        let unknown = answered_from_memory(&app, &unknown_req, (1, 1)).await;
        assert_eq!(said(&unknown).status, "unknown");
        let again = answer_bytes(&app, &app.address, &unknown_req).await;
        if again == unknown {
            break unknown;
        }
        if store::pki::local_revocation_changes() == counted {
            poll_landed += 1;
            assert!(
                poll_landed <= 1,
                "an unknown serial's answer was re-signed twice with no change counted: not from memory"
            );
        }
    };
    std::fs::write(o.path("unknown.der"), &unknown).unwrap();
    let (ok, out) = o.run(&[
        "ocsp",
        "-respin",
        "unknown.der",
        "-issuer",
        "issuing.pem",
        "-serial",
        "0x1234567890",
        "-CAfile",
        "chain.pem",
        "-no_nonce",
    ]);
    assert!(ok && out.contains(": unknown"), "{out}");
    assert_eq!(app.pki.ocsp_cache_len(), (1, 1));
    for n in 0u32..200 {
        let mut serial = vec![0x55];
        serial.extend_from_slice(&n.to_be_bytes());
        let der = answer_bytes(&app, &app.address, &request_for_serial(&issuing, &serial)).await;
        assert_eq!(said(&der).status, "unknown");
        let (known, unknown) = app.pki.ocsp_cache_len();
        assert!(unknown <= UNKNOWN_CAP, "{unknown} unknown answers held");
        assert_eq!(known, 1, "random serials leave the real answers alone");
    }
    assert_eq!(app.pki.ocsp_cache_len(), (1, UNKNOWN_CAP));
    assert_eq!(answer_bytes(&app, &app.address, &req).await, revoked);
    app.stop().await;
}

/// Asks for `req` until the node's OCSP cache holds `held` (known, unknown) answers, and
/// returns the last answer. The cache keeps nothing while its change-count poll is stale (more
/// than a second old), which a loaded machine can make happen at any moment; the fill that
/// follows a fresh poll is kept. Fails after ten seconds.
async fn answered_from_memory(app: &TestApp, req: &[u8], held: (usize, usize)) -> Vec<u8> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let answer = answer_bytes(app, &app.address, req).await;
        if app.pki.ocsp_cache_len() == held {
            return answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cache holds {:?}, not {held:?}",
            app.pki.ocsp_cache_len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Polls `base` every 10 ms until its answer for `req` says `want`; how long that took. Fails
/// after a second.
async fn within_a_second(app: &TestApp, base: &str, req: &[u8], want: &str) -> std::time::Duration {
    let since = std::time::Instant::now();
    loop {
        if said(&answer_bytes(app, base, req).await).status == want {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < std::time::Duration::from_secs(1),
            "{base} still not {want} a second after the change"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Node B is another `fincert serve` process on the same PostgreSQL: it learns of changes
/// only through the database. It answers a certificate "good" from memory; once a revocation
/// on node A returns, B answers "revoked" within a second (its poll of the change count runs
/// every 200 ms); a suspension and a resumption reach it the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_another_process_within_a_second() {
    let app = spawn_app(Engine::Postgres).await;
    let b = ProcessNode::start(&app, &[]).await;
    let o = Openssl::for_app(&app).await;
    let who = owner("user-far");
    let cert = cloud_cert("user-far")
        .usage(Usage::Restricted)
        .issue(&app)
        .await;
    o.write_cert("leaf.pem", &cert.der);
    let req = request_for(&o, "leaf.pem", "req.der");
    // Warm: B has read the answer and keeps it.
    for _ in 0..3 {
        assert_eq!(
            said(&answer_bytes(&app, &b.address, &req).await).status,
            "good"
        );
    }
    app.pki
        .revoke(&app.db, &who, cert.id, RevocationReason::KeyCompromise)
        .await
        .unwrap();
    let revoked_after = within_a_second(&app, &b.address, &req, "revoked").await;
    let der = answer_bytes(&app, &b.address, &req).await;
    assert!(openssl_says(&o, &der, "leaf.pem").contains("leaf.pem: revoked"));

    let other = cloud_cert("user-far").issue(&app).await;
    o.write_cert("other.pem", &other.der);
    let req = request_for(&o, "other.pem", "other.der");
    assert_eq!(
        said(&answer_bytes(&app, &b.address, &req).await).status,
        "good"
    );
    app.pki.suspend(&app.db, &who, other.id).await.unwrap();
    let suspended_after = within_a_second(&app, &b.address, &req, "revoked").await;
    app.pki.resume(&app.db, &who, other.id).await.unwrap();
    let resumed_after = within_a_second(&app, &b.address, &req, "good").await;
    println!(
        "node B followed: revoke {revoked_after:?}, suspend {suspended_after:?}, resume {resumed_after:?}"
    );
    drop(b);
    app.stop().await;
}

//! Heavy work off the workers (`fincert::heavy`): key-file KDFs and the checks of uploaded
//! DER run on the node's bounded pool. When every slot is taken and the queue is full an
//! upload is refused with 503 `service_unavailable` and `Retry-After`, storing nothing; and
//! while ten uploads at the highest allowed KDF cost run, `/healthz` keeps answering. (The
//! p99 latency claim is measured by `cargo bench --bench heavy_uploads`, not here.)

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use fincert::config::Engine;
use serde_json::json;

use super::{ForeignCa, keys::export_p12};
use crate::{both_engines, helpers::*};

/// An app trusting `ca`'s root, with the heavy-work pool sized as given.
async fn app_with_pool(
    engine: Engine,
    ca: &ForeignCa,
    concurrency: usize,
    queue: usize,
) -> TestApp {
    let test_db = TestDb::new(engine).await;
    let anchors = test_db.data_dir.path().join("trust-anchors");
    std::fs::create_dir_all(&anchors).unwrap();
    std::fs::copy(ca.dir.path().join("root.pem"), anchors.join("root.pem")).unwrap();
    let mut settings = test_db.settings();
    settings.custody.heavy_concurrency = concurrency;
    settings.custody.heavy_queue = queue;
    spawn_app_with(test_db, settings).await
}

async fn a_full_heavy_pool_refuses_with_503_and_retry_after(engine: Engine) {
    let ca = ForeignCa::new();
    ca.leaf("holder", "1.2.410.200005.1.1.4");
    let p12 = export_p12(&ca, "holder", "p12-pw", &[]);
    let app = app_with_pool(engine, &ca, 1, 0).await;
    let ours = cloud_cert("user-busy").issue(&app).await;
    let token = sign_in(&app, ours.id).await;
    let body = json!({"pkcs12": STANDARD.encode(&p12), "password": "p12-pw", "pin": "604172"});

    // Someone else's heavy work holds the only slot (the server's own pool: same custody).
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let custody = app.custody.clone();
    let holder =
        tokio::spawn(async move { custody.heavy().run(move || hold.recv().is_ok()).await });
    while app.custody.heavy().available() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let keys_before = fincert::store::custody::count_keys(&app.db).await.unwrap();
    let resp = post(
        &app,
        "/v1/foreign-certificates/pkcs12",
        &token,
        body.clone(),
    )
    .await;
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1"),
        "503 carries Retry-After"
    );
    assert_problem(resp, 503, "service_unavailable").await;
    assert_eq!(
        fincert::store::custody::count_keys(&app.db).await.unwrap(),
        keys_before,
        "nothing stored"
    );

    // Once the slot is free the same upload goes through.
    release.send(()).unwrap();
    assert_eq!(holder.await.unwrap(), Ok(true));
    let resp = post(&app, "/v1/foreign-certificates/pkcs12", &token, body).await;
    assert_eq!(
        resp.status().as_u16(),
        201,
        "{}",
        resp.text().await.unwrap()
    );
}

async fn healthz_stays_live_while_hostile_uploads_run(engine: Engine) {
    let ca = ForeignCa::new();
    ca.leaf("hostile", "1.2.410.200005.1.1.4");
    // The most a file may ask for (100,000 iterations: not refused, so the KDF runs).
    let p12 = export_p12(
        &ca,
        "hostile",
        "pw",
        &["-iter", "100000", "-macalg", "sha256"],
    );
    let app = app_with_pool(engine, &ca, 2, 32).await;
    let mut tokens = Vec::new();
    for owner in ["user-hostile-a", "user-hostile-b"] {
        let ours = cloud_cert(owner).issue(&app).await;
        tokens.push(sign_in(&app, ours.id).await);
    }
    // A wrong password: each upload spends the whole MAC KDF, then is refused.
    let body = json!({"pkcs12": STANDARD.encode(&p12), "password": "not-pw", "pin": "604172"});
    // Queued uploads wait for a slot: give them longer than the helpers' 10 s client does.
    let patient = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let uploads = futures_util::future::join_all((0..10).map(|i| {
        let (patient, token, body) = (&patient, &tokens[i % 2], body.clone());
        let url = app.url("/v1/foreign-certificates/pkcs12");
        async move {
            let resp = patient
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await;
            resp.map_or(0, |r| r.status().as_u16())
        }
    }));
    let probes = async {
        let (mut answered, mut while_busy) = (0, 0);
        // Probe until the uploads have come and gone (bounded: 600 probes).
        for _ in 0..600 {
            let busy = app.custody.heavy().available() == 0;
            let probe = tokio::time::timeout(Duration::from_secs(5), app.get("/healthz")).await;
            // Liveness, not latency: a generous bound only.
            assert!(
                probe.is_ok_and(|r| r.status().is_success()),
                "/healthz did not answer within 5 s while uploads ran"
            );
            answered += 1;
            if busy {
                while_busy += 1;
            } else if while_busy > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (answered, while_busy)
    };
    let (statuses, (answered, while_busy)) = tokio::join!(uploads, probes);
    eprintln!("/healthz answered {answered} probes, {while_busy} of them with every slot busy");
    assert!(
        statuses.iter().all(|s| *s == 422),
        "every hostile upload is refused after its KDF: {statuses:?}"
    );
    assert!(while_busy > 0, "the probes ran while the pool was full");
    assert_eq!(app.custody.heavy().available(), 2, "every slot came back");
}

both_engines!(
    a_full_heavy_pool_refuses_with_503_and_retry_after,
    healthz_stays_live_while_hostile_uploads_run
);

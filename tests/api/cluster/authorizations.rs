//! CSC authorizations (SADs) that live in the cluster: any node serves any SAD, before and after
//! the node that made it dies; a SAD for n hashes yields exactly n signatures under 100
//! concurrent calls; an activation record moved to another SAD does not open.

use fincert::{config::Engine, custody::keys::SignatureScheme};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use super::{authorize, csc, setup, sha256, sign, sign_body, signature, spki};
use crate::helpers::*;

/// A SAD made on node A signs on node B, before and after A dies; nothing of the SAD is in
/// any node's memory that B needs.
pub(super) async fn any_node_serves_any_authorization(engine: Engine) {
    let app = spawn_app(engine).await;
    let (h, bank) = setup(&app, "330200000101").await;
    let docs: Vec<Vec<u8>> = (0..3).map(|i| format!("page {i}").into_bytes()).collect();
    let hashes: Vec<String> = docs.iter().map(|d| sha256(d)).collect();
    let sad = authorize(&app.address, &app, &h, &bank, &hashes).await;

    let b = if engine == Engine::Postgres {
        // Both nodes up: B has never seen the SAD.
        let b = spawn_node(&app).await;
        let (status, out) = sign(&b.address, &app, &h, &bank, &sad, &hashes[..1]).await;
        assert_eq!(status, 200, "{out}");
        assert!(openssl_verify(
            SignatureScheme::RsaPkcs1Sha256,
            &spki(&h),
            &docs[0],
            &signature(&out, 0)
        ));
        app.kill().await;
        b
    } else {
        // SQLite is one node: the restart is the node change.
        app.kill().await;
        let b = spawn_node(&app).await;
        let (status, out) = sign(&b.address, &app, &h, &bank, &sad, &hashes[..1]).await;
        assert_eq!(status, 200, "{out}");
        b
    };
    assert!(
        app.custody.activations().is_empty(),
        "node A's memory is gone"
    );
    let (status, out) = sign(&b.address, &app, &h, &bank, &sad, &hashes[1..2]).await;
    assert_eq!(status, 200, "{out}");
    assert!(openssl_verify(
        SignatureScheme::RsaPkcs1Sha256,
        &spki(&h),
        &docs[1],
        &signature(&out, 0)
    ));
    // extendTransaction on B re-seals the record under the new SAD; the old one stops.
    let (status, ext) = csc(
        &app.client,
        b.url("/csc/v2/credentials/extendTransaction"),
        &bank.token,
        json!({"credentialID": h.cert.id.to_string(), "SAD": sad}),
    )
    .await;
    assert_eq!(status, 200, "{ext}");
    let fresh = ext["SAD"].as_str().unwrap().to_owned();
    let (status, v) = sign(&b.address, &app, &h, &bank, &sad, &hashes[2..]).await;
    assert_eq!(
        (status, v["error_description"].as_str()),
        (400, Some("Invalid parameter SAD"))
    );
    // A third node that has never seen either opens the re-sealed record with the new SAD.
    b.kill().await;
    let c = spawn_node(&app).await;
    let (status, out) = sign(&c.address, &app, &h, &bank, &fresh, &hashes[2..]).await;
    assert_eq!(status, 200, "{out}");
    assert!(openssl_verify(
        SignatureScheme::RsaPkcs1Sha256,
        &spki(&h),
        &docs[2],
        &signature(&out, 0)
    ));
    c.kill().await;
}

/// 100 concurrent signHash calls for hash 1 (half on each node on PostgreSQL), then hashes 2
/// and 3 once each: exactly three signatures exist, every caller of hash 1 got the same one,
/// and the audit log names each hash once.
pub(super) async fn a_sad_for_n_hashes_yields_exactly_n_signatures(engine: Engine) {
    let app = spawn_app(engine).await;
    let (h, bank) = setup(&app, "330200000102").await;
    let hashes: Vec<String> = (0..3)
        .map(|i| sha256(format!("doc {i}").as_bytes()))
        .collect();
    let sad = authorize(&app.address, &app, &h, &bank, &hashes).await;
    let b = if engine == Engine::Postgres {
        Some(spawn_node(&app).await)
    } else {
        None
    };
    let mut tasks = Vec::new();
    for i in 0..100 {
        let base = match (&b, i % 2) {
            (Some(b), 1) => b.address.clone(),
            _ => app.address.clone(),
        };
        let client = app.client.clone();
        let (token, body) = (bank.token.clone(), sign_body(&h, &sad, &hashes[..1]));
        tasks.push(tokio::spawn(async move {
            csc(
                &client,
                format!("{base}/csc/v2/signatures/signHash"),
                &token,
                body,
            )
            .await
        }));
    }
    let mut sigs = std::collections::HashSet::new();
    for t in tasks {
        let (status, v) = t.await.unwrap();
        assert_eq!(status, 200, "{v}");
        sigs.insert(v["signatures"][0].as_str().unwrap().to_owned());
    }
    assert_eq!(
        sigs.len(),
        1,
        "one signature for hash 1, delivered to every caller"
    );
    let other = b
        .as_ref()
        .map_or(app.address.clone(), |b| b.address.clone());
    let (status, v) = sign(&other, &app, &h, &bank, &sad, &hashes[1..2]).await;
    assert_eq!(status, 200, "hash 2 still signs: {v}");
    let (status, v) = sign(&app.address, &app, &h, &bank, &sad, &hashes[2..3]).await;
    assert_eq!(status, 200, "hash 3 still signs: {v}");
    let (status, v) = sign(
        &app.address,
        &app,
        &h,
        &bank,
        &sad,
        &[sha256(b"never authorized")],
    )
    .await;
    assert_eq!(
        (status, v["error_description"].as_str()),
        (400, Some("Hash is not authorized by the SAD"))
    );

    let backend = app.db.get_database_backend();
    let count = |sql: &str| {
        let db = &app.db;
        let sql = sql.to_owned();
        async move {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(backend, sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM csc_sad_signatures").await, 3);
    assert_eq!(
        count("SELECT COUNT(DISTINCT hash) FROM csc_sad_signatures").await,
        3,
        "one per authorized hash"
    );
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let signed: Vec<String> = events
        .iter()
        .filter(|e| e.action == "signature.created")
        .flat_map(|e| {
            let d: Value = serde_json::from_str(&e.details).unwrap();
            d["digests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(signed.len(), 3, "each hash audited once: {signed:?}");
    if let Some(b) = b {
        b.kill().await;
    }
    app.stop().await;
}

/// One hash, two methods, 60 concurrent calls (signHash and signDoc alternating, half on each
/// node on PostgreSQL): whichever method's commit stores the hash first wins; every call of
/// that method gets those very bytes, every call of the other is refused, one row and one
/// audited signature exist.
pub(super) async fn one_hash_signs_once_whatever_the_method(engine: Engine) {
    let app = spawn_app(engine).await;
    let (h, bank) = setup(&app, "330200000107").await;
    let hash = sha256(b"raced");
    let sad = authorize(&app.address, &app, &h, &bank, std::slice::from_ref(&hash)).await;
    let b = if engine == Engine::Postgres {
        Some(spawn_node(&app).await)
    } else {
        None
    };
    let id = h.cert.id.to_string();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let base = match (&b, (i / 2) % 2) {
            (Some(b), 1) => b.address.clone(),
            _ => app.address.clone(),
        };
        let (path, body) = if i % 2 == 0 {
            ("signHash", sign_body(&h, &sad, std::slice::from_ref(&hash)))
        } else {
            (
                "signDoc",
                json!({"credentialID": id, "SAD": sad, "documentDigests": [{"hashes": [hash], "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signature_format": "C", "signAlgo": "1.2.840.113549.1.1.11"}]}),
            )
        };
        let client = app.client.clone();
        let token = bank.token.clone();
        tasks.push(tokio::spawn(async move {
            let url = format!("{base}/csc/v2/signatures/{path}");
            (path, csc(&client, url, &token, body).await)
        }));
    }
    let mut won: std::collections::HashMap<&str, std::collections::HashSet<String>> =
        Default::default();
    let mut refused: std::collections::HashMap<&str, usize> = Default::default();
    for t in tasks {
        let (path, (status, v)) = t.await.unwrap();
        match status {
            200 => {
                let out = if path == "signHash" {
                    &v["signatures"][0]
                } else {
                    &v["SignatureObject"][0]
                };
                won.entry(path)
                    .or_default()
                    .insert(out.as_str().unwrap().to_owned());
            }
            400 => {
                assert_eq!(
                    v["error_description"], "Hash was already signed by the other signing method",
                    "{path}: {v}"
                );
                *refused.entry(path).or_default() += 1;
            }
            _ => panic!("{path}: {status} {v}"),
        }
    }
    assert_eq!(won.len(), 1, "one method won: {won:?} refused {refused:?}");
    let (winner, outputs) = won.iter().next().unwrap();
    assert_eq!(
        outputs.len(),
        1,
        "{winner}: one output, delivered to every caller"
    );
    let loser = if *winner == "signHash" {
        "signDoc"
    } else {
        "signHash"
    };
    assert_eq!(refused.get(loser), Some(&30), "every {loser} call refused");
    assert_eq!(refused.get(winner), None);

    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT COUNT(*), MIN(form) FROM csc_sad_signatures".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 1);
    let form: String = row.try_get_by_index(1).unwrap();
    assert_eq!(
        form,
        if *winner == "signHash" {
            "raw"
        } else {
            "cades"
        }
    );
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let signed = events
        .iter()
        .filter(|e| e.action == "signature.created")
        .count();
    assert_eq!(signed, 1, "one signature audited");
    if let Some(b) = b {
        b.kill().await;
    }
    app.stop().await;
}

/// An activation record moved to another SAD (another key and owner) does not open: a node
/// that has to open it refuses the SAD.
pub(super) async fn a_moved_activation_record_does_not_open(engine: Engine) {
    let app = spawn_app(engine).await;
    let (h1, bank1) = setup(&app, "330200000105").await;
    let (h2, bank2) = setup(&app, "330200000106").await;
    let hash = [sha256(b"moved")];
    let sad1 = authorize(&app.address, &app, &h1, &bank1, &hash).await;
    let sad2 = authorize(&app.address, &app, &h2, &bank2, &hash).await;
    // Another SAD of the same key: its own record, made at another time.
    let sad1b = authorize(&app.address, &app, &h1, &bank1, &hash).await;
    let backend = app.db.get_database_backend();
    let exec = |sql: &str| {
        let sql = sql.to_owned();
        let db = &app.db;
        async move {
            db.execute_raw(sea_orm::Statement::from_string(backend, sql))
                .await
                .unwrap()
        }
    };
    let digest = |sad: &str| fincert::signing::request::Digest::of(sad.as_bytes()).to_hex();
    // SAD 2 (another owner and key) and SAD 1b (same key, other activation) get SAD 1's record.
    for victim in [&sad2, &sad1b] {
        exec(&format!(
            "UPDATE csc_sads SET record = (SELECT record FROM csc_sads WHERE sad_hash = '{}') WHERE sad_hash = '{}'",
            digest(&sad1),
            digest(victim)
        ))
        .await;
    }
    app.kill().await;
    let b = spawn_node(&app).await;
    let (status, v) = sign(&b.address, &app, &h2, &bank2, &sad2, &hash).await;
    assert_eq!(
        (status, v["error_description"].as_str()),
        (400, Some("Invalid parameter SAD")),
        "{v}"
    );
    let (status, v) = sign(&b.address, &app, &h1, &bank1, &sad1b, &hash).await;
    assert_eq!(
        (status, v["error_description"].as_str()),
        (400, Some("Invalid parameter SAD")),
        "{v}"
    );
    // The record left in place still opens, with its own SAD only.
    let (status, v) = sign(&b.address, &app, &h1, &bank1, &sad1, &hash).await;
    assert_eq!(status, 200, "{v}");
    let events = fincert::store::audit::page_after(&app.db, 0).await.unwrap();
    let of = |action: &str| {
        events
            .iter()
            .filter(|e| e.action == action && e.details.contains("\"slot\":\"activation\""))
            .count()
    };
    assert_eq!(
        of("key.activation_failed"),
        2,
        "each record that did not open is audited"
    );
    assert_eq!(
        of("key.activation_opened"),
        1,
        "the node that opened one says so"
    );
    b.kill().await;
}

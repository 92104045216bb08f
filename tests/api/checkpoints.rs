//! Signed audit checkpoints (#17): signed by the job (and at a clean stop), published, checked
//! by openssl, and every rewrite a database owner can make — a truncated tail with its head
//! moved back, a recomputed chain, a checkpoint deleted, changed or forged with a key of their
//! own, the whole checkpoints table rewritten — reported by `fincert audit verify` (the
//! wholesale rewrite through the witness copy, which outlives the table). Also: failures are
//! counted and audited without stopping anything, the KMS-held key, and the S3 Object Lock
//! witness against moto.

use std::path::Path;

use aws_lc_rs::{
    encoding::{AsDer, PublicKeyX509Der},
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair},
};
use fincert::{
    audit::{Action, Actor, Checkpoint, NewEvent, key_id_of},
    checkpoints::{
        self,
        key::trusted_keys,
        s3::S3Witness,
        witness::{CheckpointWitness, WitnessError, from_wire},
    },
    clock::Clock,
    config::{Engine, WitnessKind},
    store,
};
use fincert_client::proto::audit::{AuditKey, CheckpointPage};
use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};

use crate::{both_engines, helpers::*, openapi::check_response};

pub(crate) fn event(i: usize) -> NewEvent {
    NewEvent::new(Actor::User(format!("user-{i}")), Action::SchemaMigrated)
        .subject(format!("cert-{i}"))
        .details(serde_json::json!({ "n": i }))
}

pub(crate) async fn append_some(app: &TestApp, n: usize) {
    let events: Vec<_> = (0..n).map(event).collect();
    store::audit::append(&app.db, app.clock.now(), &events)
        .await
        .unwrap();
}

pub(crate) async fn head(app: &TestApp) -> i64 {
    store::audit::head(&app.db).await.unwrap().0
}

/// Signs a checkpoint now; returns it.
pub(crate) async fn checkpoint(app: &TestApp) -> Checkpoint {
    let report = app.checkpoints.run(&app.db).await.unwrap().unwrap();
    report.signed.expect("the head moved: a checkpoint")
}

/// `fincert audit verify` with the app's settings (its database and keyring) and `args`.
pub(crate) async fn verify_cli(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let url = app.settings.database_url();
    let data = app.settings.data_dir.display().to_string();
    let mut all = vec!["audit".to_string(), "verify".to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        run_cli(
            &refs,
            &[
                ("FINCERT_DATABASE_URL", url.as_str()),
                ("FINCERT_DATA_DIR", data.as_str()),
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        code == 0 || code == 1,
        "unexpected exit {code}: {out} {err}"
    );
    (code, out.trim().to_string(), err)
}

pub(crate) async fn broken(app: &TestApp, args: &[&str]) -> String {
    let (code, out, err) = verify_cli(app, args).await;
    assert_eq!(code, 1, "{out} {err}");
    out
}

fn witness_dir(app: &TestApp) -> String {
    app.settings
        .data_dir
        .join("audit-witness")
        .display()
        .to_string()
}

/// Runs SQL as a database owner would, with the append-only triggers of both tables off.
pub(crate) async fn tamper(app: &TestApp, sql: &[String]) {
    let db = &app.db;
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let txn = db.begin().await.unwrap();
            for t in ["audit_events", "audit_checkpoints"] {
                txn.execute_unprepared(&format!("ALTER TABLE {t} DISABLE TRIGGER USER"))
                    .await
                    .unwrap();
            }
            for s in sql {
                txn.execute_unprepared(s).await.unwrap();
            }
            for t in ["audit_events", "audit_checkpoints"] {
                txn.execute_unprepared(&format!("ALTER TABLE {t} ENABLE TRIGGER USER"))
                    .await
                    .unwrap();
            }
            txn.commit().await.unwrap();
        }
        _ => {
            for t in ["audit_events", "audit_checkpoints"] {
                for op in ["update", "delete"] {
                    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {t}_no_{op}"))
                        .await
                        .unwrap();
                }
            }
            for s in sql {
                db.execute_unprepared(s).await.unwrap();
            }
        }
    }
}

fn bytes(engine: Engine, b: &[u8]) -> String {
    match engine {
        Engine::Postgres => format!("'\\x{}'", hex::encode(b)),
        Engine::Sqlite => format!("X'{}'", hex::encode(b)),
    }
}

/// The statements that rewrite every event after `from` (its details changed) with hashes
/// recomputed, and move the head's hash to the new last one: the "30 lines of Python".
async fn recompute_from(app: &TestApp, engine: Engine, from: i64) -> Vec<String> {
    let mut rows = store::audit::page_after(&app.db, from - 1).await.unwrap();
    let mut prev = rows[0].prev_hash.clone();
    let mut sql = Vec::new();
    rows[0].details = r#"{"n":"rewritten"}"#.into();
    for r in &mut rows {
        r.prev_hash = prev.clone();
        r.hash = r.expected_hash().to_vec();
        prev = r.hash.clone();
        sql.push(format!(
            "UPDATE audit_events SET details = '{}', prev_hash = {}, hash = {} WHERE seq = {}",
            r.details,
            bytes(engine, &r.prev_hash),
            bytes(engine, &r.hash),
            r.seq
        ));
    }
    sql.push(format!(
        "UPDATE audit_head SET hash = {} WHERE id = 1",
        bytes(engine, &prev)
    ));
    sql
}

fn openssl_verifies(dir: &Path, pem: &str, message: &[u8], signature: &[u8]) -> bool {
    std::fs::write(dir.join("key.pem"), pem).unwrap();
    std::fs::write(dir.join("msg"), message).unwrap();
    std::fs::write(dir.join("sig"), signature).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(dir.join("key.pem"))
        .arg("-signature")
        .arg(dir.join("sig"))
        .arg(dir.join("msg"))
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

async fn checkpoints_are_signed_published_and_verified(engine: Engine) {
    let app = spawn_app(engine).await;
    append_some(&app, 3).await;
    let report = app.checkpoints.run(&app.db).await.unwrap().unwrap();
    let first = report.signed.clone().unwrap();
    assert_eq!((first.seq, first.event_seq), (1, head(&app).await));
    assert_eq!(report.witnessed, 1);
    // Nothing new: nothing signed.
    let again = app.checkpoints.run(&app.db).await.unwrap().unwrap();
    assert_eq!((again.signed, again.witnessed), (None, 0));
    append_some(&app, 2).await;
    let second = checkpoint(&app).await;
    assert_eq!(second.prev, first.link().to_vec());

    // Published, paginated, with the key that verifies them (checked by openssl).
    let resp = app.get("/v1/audit/checkpoints?limit=1").await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    check_response("get", "/v1/audit/checkpoints", 200, &body);
    let page: CheckpointPage = serde_json::from_value(body).unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.next_cursor.as_deref(), Some("1"));
    let rest: CheckpointPage = app
        .get("/v1/audit/checkpoints?cursor=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_cursor, None);
    assert_problem(
        app.get("/v1/audit/checkpoints?cursor=x1").await,
        400,
        "invalid_query",
    )
    .await;
    let body: serde_json::Value = app.get("/v1/audit/keys").await.json().await.unwrap();
    check_response("get", "/v1/audit/keys", 200, &body);
    let keys: Vec<AuditKey> = serde_json::from_value(body["items"].clone()).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_id, app.checkpoints.key_id());
    let tmp = tempfile::tempdir().unwrap();
    for w in page.items.iter().chain(&rest.items) {
        let cp = from_wire(w).unwrap();
        assert!(openssl_verifies(
            tmp.path(),
            &keys[0].pem,
            &cp.message(),
            &cp.signature
        ));
        let mut changed = cp.clone();
        changed.event_seq -= 1;
        assert!(!openssl_verifies(
            tmp.path(),
            &keys[0].pem,
            &changed.message(),
            &cp.signature
        ));
    }

    // The operator's command: keys confirmed by custody, then with a pinned key and the witness.
    let (code, out, err) = verify_cli(&app, &[]).await;
    assert_eq!(
        (code, out.as_str()),
        (0, format!("ok {} events", head(&app).await).as_str()),
        "{err}"
    );
    assert!(err.contains("2 checkpoints"), "{err}");
    let pem = tmp.path().join("audit.pem");
    std::fs::write(&pem, &keys[0].pem).unwrap();
    let (code, _, err) = verify_cli(
        &app,
        &[
            "--public-key",
            pem.to_str().unwrap(),
            "--witness",
            &witness_dir(&app),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("2 witness copies match"), "{err}");

    // The checkpoint table is append-only too.
    let err = app
        .db
        .execute_unprepared("DELETE FROM audit_checkpoints")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

/// Truncating the tail and moving the head back verified as `ok` before checkpoints.
async fn a_truncated_tail_with_a_rewritten_head_is_reported(engine: Engine) {
    let app = spawn_app(engine).await;
    append_some(&app, 5).await;
    let cp = checkpoint(&app).await;
    let keep = cp.event_seq - 2;
    let kept = &store::audit::page_after(&app.db, keep - 1).await.unwrap()[0];
    tamper(
        &app,
        &[
            format!("DELETE FROM audit_events WHERE seq > {keep}"),
            format!(
                "UPDATE audit_head SET seq = {keep}, hash = {} WHERE id = 1",
                bytes(engine, &kept.hash)
            ),
        ],
    )
    .await;
    assert_eq!(store::audit::verify(&app.db).await.unwrap(), Ok(keep));
    assert_eq!(
        broken(&app, &[]).await,
        format!(
            "broken: checkpoint 1 signed the chain up to event {} but the log ends at event {keep} (events were removed from the end)",
            cp.event_seq
        )
    );
    // The job notices too, fails visibly, and keeps the service up.
    assert!(app.checkpoints.run(&app.db).await.is_err());
    let failed = store::audit::by_action(&app.db, Action::AuditCheckpointFailed, 5)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].details.contains("behind checkpoint 1"),
        "{}",
        failed[0].details
    );
    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// Editing an event and recomputing every hash after it verified as `ok` before checkpoints.
async fn a_recomputed_chain_is_reported(engine: Engine) {
    let app = spawn_app(engine).await;
    append_some(&app, 5).await;
    let cp = checkpoint(&app).await;
    let sql = recompute_from(&app, engine, cp.event_seq - 3).await;
    tamper(&app, &sql).await;
    assert!(store::audit::verify(&app.db).await.unwrap().is_ok());
    assert_eq!(
        broken(&app, &[]).await,
        format!(
            "broken: event {}: hash differs from the one checkpoint 1 signed (the chain was rewritten)",
            cp.event_seq
        )
    );
}

async fn a_deleted_or_changed_checkpoint_is_reported(engine: Engine) {
    let app = spawn_app(engine).await;
    for _ in 0..3 {
        append_some(&app, 1).await;
        checkpoint(&app).await;
    }
    tamper(
        &app,
        &["DELETE FROM audit_checkpoints WHERE seq = 2".into()],
    )
    .await;
    assert_eq!(
        broken(&app, &[]).await,
        "broken: checkpoint 3: expected checkpoint 2 (a checkpoint is missing or was inserted)"
    );
    // The newest one deleted: the database alone cannot tell, the witness can.
    let app = spawn_app(engine).await;
    for _ in 0..2 {
        append_some(&app, 1).await;
        checkpoint(&app).await;
    }
    tamper(
        &app,
        &["DELETE FROM audit_checkpoints WHERE seq = 2".into()],
    )
    .await;
    assert_eq!(verify_cli(&app, &[]).await.0, 0);
    assert_eq!(
        broken(&app, &["--witness", &witness_dir(&app)]).await,
        "broken: checkpoint 2: held by the witness but missing from the database"
    );

    let app = spawn_app(engine).await;
    append_some(&app, 2).await;
    checkpoint(&app).await;
    tamper(
        &app,
        &["UPDATE audit_checkpoints SET event_seq = event_seq - 1 WHERE seq = 1".into()],
    )
    .await;
    assert_eq!(
        broken(&app, &[]).await,
        "broken: checkpoint 1: signature does not verify (the checkpoint was forged or changed)"
    );
}

/// A forger recomputes the chain and signs a checkpoint of it with a key of their own, added
/// to `audit_keys`: custody does not hold that key, and a pinned key does not trust it.
async fn a_checkpoint_forged_with_another_key_is_reported(engine: Engine) {
    let app = spawn_app(engine).await;
    append_some(&app, 3).await;
    let ours = checkpoint(&app).await;
    append_some(&app, 2).await;
    let keys: serde_json::Value = app.get("/v1/audit/keys").await.json().await.unwrap();
    let pem = keys["items"][0]["pem"].as_str().unwrap().to_owned();

    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let spki: PublicKeyX509Der<'static> = pair.public_key().as_der().unwrap();
    let spki = spki.as_ref().to_vec();
    let forged_key = key_id_of(&spki);
    let (head_seq, head_hash) = store::audit::head(&app.db).await.unwrap();
    let mut forged = Checkpoint::next(
        Some(&ours),
        head_seq,
        &head_hash,
        app.clock.now(),
        &forged_key,
    );
    forged.signature = pair
        .sign(&SystemRandom::new(), &forged.message())
        .unwrap()
        .as_ref()
        .to_vec();
    tamper(
        &app,
        &[
            format!(
                "INSERT INTO audit_keys (key_id, key_kind, custody_key_id, kms_key_id, spki, created_at) \
                 VALUES ('{forged_key}', 'sealed', '{}', NULL, {}, '2026-01-01T00:00:00Z')",
                uuid::Uuid::new_v4(),
                bytes(engine, &spki)
            ),
            format!(
                "INSERT INTO audit_checkpoints (seq, event_seq, head_hash, signed_at, prev, key_id, signature) \
                 VALUES (2, {head_seq}, {}, '{}', {}, '{forged_key}', {})",
                bytes(engine, &head_hash),
                forged.signed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                bytes(engine, &forged.prev),
                bytes(engine, &forged.signature)
            ),
        ],
    )
    .await;
    assert_eq!(
        broken(&app, &[]).await,
        format!(
            "broken: audit key {forged_key}: the database's public key is not the one its KMS or custody holds"
        )
    );
    let tmp = tempfile::tempdir().unwrap();
    let pinned = tmp.path().join("audit.pem");
    std::fs::write(&pinned, pem).unwrap();
    assert_eq!(
        broken(&app, &["--public-key", pinned.to_str().unwrap()]).await,
        format!(
            "broken: checkpoint 2: signed by key {forged_key}, which is not a trusted audit key"
        )
    );
}

/// The whole evidence rewritten: every event recomputed and the checkpoints table emptied
/// (the forger cannot sign new ones). The database alone now looks whole; the witness's
/// copies, outside it, do not agree.
async fn a_witness_copy_outlives_a_rewritten_checkpoint_table(engine: Engine) {
    let app = spawn_app(engine).await;
    append_some(&app, 3).await;
    checkpoint(&app).await;
    append_some(&app, 2).await;
    checkpoint(&app).await;
    let mut sql = recompute_from(&app, engine, 1).await;
    sql.push("DELETE FROM audit_checkpoints".into());
    tamper(&app, &sql).await;
    assert_eq!(verify_cli(&app, &[]).await.0, 0);
    assert_eq!(
        broken(&app, &["--witness", &witness_dir(&app)]).await,
        "broken: checkpoint 1: held by the witness but missing from the database"
    );
}

/// A stop signs the head it leaves.
async fn a_clean_stop_signs_a_checkpoint(engine: Engine) {
    let app = spawn_app(engine).await;
    append_some(&app, 2).await;
    let seq = head(&app).await;
    app.stop().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let last = loop {
        if let Some(cp) = store::checkpoints::last(&app.db).await.unwrap() {
            break cp;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint after the stop"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(last.event_seq, seq);
}

/// A witness that cannot be written: the checkpoint is still signed and stored, the failure
/// is counted and audited, and the witness catches up once it can be written again.
async fn a_failing_witness_is_visible_and_catches_up(engine: Engine) {
    let blocker = tempfile::tempdir().unwrap();
    let file = blocker.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let dir = file.join("witness");
    let dir_s = dir.display().to_string();
    let app = spawn_app_tuned(engine, |s| {
        s.audit.witness = WitnessKind::Dir;
        s.audit.witness_dir = dir_s;
    })
    .await;
    append_some(&app, 2).await;
    let report = app.checkpoints.run(&app.db).await.unwrap().unwrap();
    assert!(report.signed.is_some());
    assert_eq!(report.witness_failures.len(), 1, "{report:?}");
    let failed = store::audit::by_action(&app.db, Action::AuditWitnessFailed, 5)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("fincert_audit_checkpoint_failures_total{stage=\"witness\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fincert_audit_checkpoints_signed_total 1"),
        "{metrics}"
    );
    // The witness comes back: the next run sends both checkpoints (the failure event moved
    // the head, so there is a second one).
    std::fs::remove_file(&file).unwrap();
    let report = app.checkpoints.run(&app.db).await.unwrap().unwrap();
    assert_eq!(report.witnessed, 2, "{report:?}");
    assert!(report.witness_failures.is_empty());
    assert_eq!(
        checkpoints::witness::DirWitness::read_all(&dir)
            .unwrap()
            .len(),
        2
    );
}

both_engines!(
    checkpoints_are_signed_published_and_verified,
    a_truncated_tail_with_a_rewritten_head_is_reported,
    a_recomputed_chain_is_reported,
    a_deleted_or_changed_checkpoint_is_reported,
    a_checkpoint_forged_with_another_key_is_reported,
    a_witness_copy_outlives_a_rewritten_checkpoint_table,
    a_clean_stop_signs_a_checkpoint,
    a_failing_witness_is_visible_and_catches_up,
);

/// With the AWS backend the audit key is the KMS key `audit.aws_key_id` names (`kms:Sign`);
/// openssl verifies its checkpoints, and `verify` confirms the key with `GetPublicKey`. When
/// KMS goes away, signing fails visibly and the node keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_sign_through_kms() {
    let mut moto = PrivateMoto::start().await;
    let test_db = TestDb::new(Engine::Sqlite).await;
    let mut settings = test_db.settings();
    use_moto(&mut settings, &moto.url).await;
    let app = spawn_app_with(test_db, settings).await;
    append_some(&app, 2).await;
    let cp = checkpoint(&app).await;
    let rows = store::checkpoints::keys(&app.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key_kind, "kms");
    assert!(
        rows[0]
            .kms_key_id
            .as_deref()
            .unwrap()
            .starts_with("arn:aws:kms:")
    );
    let keys: serde_json::Value = app.get("/v1/audit/keys").await.json().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    assert!(openssl_verifies(
        tmp.path(),
        keys["items"][0]["pem"].as_str().unwrap(),
        &cp.message(),
        &cp.signature
    ));
    let trusted = trusted_keys(&app.db, &app.settings, &app.custody)
        .await
        .unwrap()
        .unwrap();
    let report = checkpoints::verify(&app.db, trusted, None, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.checkpoints, 1);

    moto.stop();
    append_some(&app, 1).await;
    assert!(app.checkpoints.run(&app.db).await.is_err());
    let failed = store::audit::by_action(&app.db, Action::AuditCheckpointFailed, 5)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("fincert_audit_checkpoint_failures_total{stage=\"sign\"} 1"),
        "{metrics}"
    );
    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// The S3 Object Lock witness against moto: the copy is stored under COMPLIANCE retention,
/// the same copy again is accepted, a different one is refused, and the locked version cannot
/// be deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_witness_writes_locked_copies_once() {
    let url = moto_url();
    let bucket = format!(
        "fincert-witness-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let http = reqwest::Client::new();
    let made = http
        .put(format!("{url}/{bucket}"))
        .header("x-amz-bucket-object-lock-enabled", "true")
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{:?}", made.text().await);
    let mut s = fincert::config::Settings::default();
    s.audit.witness = WitnessKind::S3;
    s.audit.witness_s3_bucket = bucket.clone();
    s.audit.witness_s3_endpoint_url = url.clone();
    s.audit.witness_s3_region = "us-east-1".into();
    s.audit.witness_s3_access_key_id = "test".into();
    s.audit.witness_s3_secret_access_key = "test".into();
    s.validate().unwrap();
    let clock = fincert::clock::FixedClock::at(t0());
    let w = S3Witness::connect(&s, std::sync::Arc::new(clock))
        .await
        .unwrap();
    let cp = Checkpoint {
        seq: 7,
        event_seq: 70,
        head_hash: vec![1; 32],
        signed_at: t0(),
        prev: vec![2; 32],
        key_id: "k".into(),
        signature: vec![3; 71],
    };
    w.put(&cp).await.unwrap();
    w.put(&cp).await.unwrap();
    let mut other = cp.clone();
    other.signature = vec![4; 71];
    assert_eq!(w.put(&other).await, Err(WitnessError::Conflict(7)));
    let stored = w.get(7).await.unwrap().unwrap();
    let copy: fincert_client::proto::audit::Checkpoint = serde_json::from_slice(&stored).unwrap();
    assert_eq!(from_wire(&copy).unwrap(), cp);

    // Judged by boto3 (from the test venv): the lock as S3 reports it, and a delete of the
    // locked version refused.
    let venv = std::env::var("TEST_FINCERT_VENV")
        .expect("TEST_FINCERT_VENV is unset: run the suite with scripts/test.sh");
    let script = format!(
        r#"
import boto3
s3 = boto3.client("s3", endpoint_url="{url}", aws_access_key_id="test",
                  aws_secret_access_key="test", region_name="us-east-1")
key = "fincert/audit-checkpoints/{name}"
h = s3.head_object(Bucket="{bucket}", Key=key)
print(h["ObjectLockMode"], h["ObjectLockRetainUntilDate"].strftime("%Y-%m-%d"))
try:
    s3.delete_object(Bucket="{bucket}", Key=key, VersionId=h["VersionId"])
    print("deleted")
except Exception as e:
    print("refused", type(e).__name__)
"#,
        name = fincert::checkpoints::witness::object_name(7)
    );
    let out = std::process::Command::new(format!("{venv}/bin/python3"))
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    let out =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let until = (t0() + chrono::Duration::days(1830))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        out.starts_with(&format!("COMPLIANCE {until}\nrefused")),
        "{out}"
    );
    assert_eq!(w.get(7).await.unwrap().unwrap(), stored);
}

//! What must hold after a node was killed under load (`node_loss.rs`): every failure a client
//! saw was a request HAProxy had sent to the dead node and that was in flight when it died (no
//! node refused anything because of the loss); clients settle what failed (idempotency keys,
//! reading requests back); every signature a client received is the one stored for its hash
//! and audited exactly once; at most one signature per authorized hash exists; every approved
//! request is signed once; and `fincert audit verify` walks the whole chain.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
};

use fincert::audit::Action;
use serde_json::Value;

use super::{
    Cluster, NODES,
    journey::{Customer, approve, create_request},
    node_loss::{APPROVAL_WORKERS, CSC_WORKERS, Load, Op, Outcome, Timeline, VICTIM, content_of},
};
use crate::helpers::*;

/// Every failure a client saw came from HAProxy (never a node's refusal), for a request that
/// was in flight on the dead node when it died; at most one per client; the others kept
/// being answered while it was down. Adds the counts to `report`.
pub(super) fn failures_were_in_flight_on_the_dead_node(
    c: &Cluster,
    outcomes: &[Outcome],
    t: &Timeline,
    report: &mut String,
) {
    let log: HashMap<u64, LogLine> =
        c.lb.log()
            .into_iter()
            .filter_map(|l| Some((l.seq?, l)))
            .collect();
    let victim = NODES[VICTIM];
    let out_at = t.kill_at + t.down_after;
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok()).collect();
    for f in &failed {
        let line = log.get(&f.seq);
        assert!(
            f.node.is_none() && [0, 502, 503, 504].contains(&f.status),
            "a node refused a request during the loss (a service error, not the kill): {f:?}, log {line:?}"
        );
        assert!(
            f.started <= out_at && f.ended >= t.kill_at,
            "a failed request was in flight when {victim} died: {f:?} (kill at {:?}, out at {out_at:?})",
            t.kill_at
        );
        match line {
            // HAProxy answered it (502): it names the server it had sent it to.
            Some(line) => assert_eq!(
                line.server, victim,
                "a failed request went to the dead node only: {f:?} {line:?}"
            ),
            // A request HAProxy had sent over a reused connection to the dead node, which closed
            // before answering: HAProxy closes the client's connection the same way, without an
            // answer or a log line (documented HTTP/1.1 behaviour, haproxy issues #1109, #1423),
            // so the client can tell it was not answered. Only a non-replayable request ends so.
            None => assert!(
                f.status == 0 && f.op != Op::SignHash,
                "only an unanswered non-replayable request goes unlogged: {f:?}"
            ),
        }
    }
    assert!(
        failed.len() <= CSC_WORKERS + APPROVAL_WORKERS,
        "at most one request in flight per client at the kill: {failed:?}"
    );
    // The cluster kept answering while n2 was down.
    let while_down = outcomes
        .iter()
        .filter(|o| o.ok() && o.started > out_at && o.ended < t.restart_at)
        .count();
    assert!(
        while_down > 0,
        "the cluster answered while {victim} was down"
    );
    // Retried by HAProxy: connection refused by the dead node (any request), or taken by it and
    // never answered (signHash only, by the configuration).
    let retried: BTreeMap<&str, usize> =
        log.values()
            .filter(|l| l.retries != "0")
            .fold(BTreeMap::new(), |mut m, l| {
                let route = if l.path.ends_with("/signHash") {
                    "signHash"
                } else {
                    "other"
                };
                *m.entry(route).or_default() += 1;
                m
            });
    let mut by_op: BTreeMap<Op, (usize, usize)> = BTreeMap::new();
    for o in outcomes {
        let e = by_op.entry(o.op).or_default();
        e.0 += 1;
        if !o.ok() {
            e.1 += 1;
        }
    }
    let mut served: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.ok()) {
        let phase = if o.started < t.kill_at {
            0
        } else if o.started < t.restart_at {
            1
        } else {
            2
        };
        served.entry(o.node.as_deref().unwrap_or("?")).or_default()[phase] += 1;
    }
    writeln!(
        report,
        "load: {} requests over {:?} ((total, failed) by kind: {by_op:?}); \
         {} failed, all in flight on {victim} at the kill: {:?}",
        outcomes.len(),
        outcomes.iter().map(|o| o.ended).max().unwrap_or_default(),
        failed.len(),
        failed
            .iter()
            .map(|f| format!(
                "{:?} {}",
                f.op,
                log.get(&f.seq)
                    .map_or("closed unanswered, unlogged".to_owned(), |l| format!(
                        "{} {} via {}",
                        l.status, l.term, l.server
                    ))
            ))
            .collect::<Vec<_>>()
    )
    .unwrap();
    writeln!(
        report,
        "answers per node [before kill, {victim} down or restarting, after restart]: {served:?}; \
         {} answered while {victim} was down; retried by haproxy on another node: {retried:?}",
        while_down
    )
    .unwrap();
}

/// What a careful client does with a request that failed: a request creation is sent again
/// under its idempotency key (one request either way); an approval is read back — signed by
/// the dead node before it died, or still pending and approved again. A failed authorization
/// is abandoned: its SAD never reached anyone, and it expires unspent.
pub(super) async fn clients_settle_what_failed(
    c: &Cluster,
    who: &Customer,
    outcomes: &[Outcome],
    load: &Load,
    report: &mut String,
) {
    let mut settled = Vec::new();
    for f in outcomes.iter().filter(|o| !o.ok()) {
        match f.op {
            Op::Create => {
                // The dead node's claim of the key holds for its lease (twice the nodes' 2 s
                // request timeout); after it the retry takes the key over. A request and its
                // answer under the key commit together, so the retry finds both or neither.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
                let r = loop {
                    let r = create_request(c, who, &content_of(&f.key), &f.key).await;
                    if r.status == 409
                        && r.body["code"] == "idempotency_in_progress"
                        && std::time::Instant::now() < deadline
                    {
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                        continue;
                    }
                    break r;
                };
                assert_eq!(r.status, 201, "the retry under the same key: {}", r.body);
                settled.push(if r.replayed {
                    "create: the dead node had made it; the retry got that request back"
                } else {
                    "create: not made; the retry made it"
                });
            }
            Op::Approve => {
                let path = format!("/v1/signature-requests/{}", f.key);
                let r = c.get(&path, Some(&who.bank_token)).await;
                assert_eq!(r.status, 200, "{}", r.body);
                match r.body["status"].as_str() {
                    Some("signed") => {
                        settled.push("approve: the dead node had signed it; read back signed");
                    }
                    Some("pending") => {
                        let started = load.now();
                        let a = approve(c, who, &r.body, PIN).await;
                        assert!(load.record(Op::Approve, started, &a, &f.key), "{}", a.body);
                        settled.push("approve: still pending; approved again");
                    }
                    other => panic!("request {} is {other:?} after a lost approval", f.key),
                }
            }
            Op::Authorize | Op::SignHash => settled.push("authorize: abandoned"),
        }
    }
    writeln!(
        report,
        "failed requests settled by their clients: {settled:?}"
    )
    .unwrap();
}

/// Every delivered signature is stored and audited once; nothing is signed twice.
pub(super) async fn signatures_are_exact_and_audited(
    c: &Cluster,
    outcomes: &[Outcome],
    report: &mut String,
) {
    use sea_orm::ConnectionTrait;
    let db = &c.app.db;
    let backend = db.get_database_backend();
    let rows =
        |sql: &str| db.query_all_raw(sea_orm::Statement::from_string(backend, sql.to_owned()));
    // N: every hash any SAD authorized (including SADs whose answer a client never got).
    let authorized: usize = rows("SELECT hashes FROM csc_sads")
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let json: String = r.try_get_by_index(0).unwrap();
            serde_json::from_str::<Vec<String>>(&json).unwrap().len()
        })
        .sum();
    let mut stored: HashMap<String, (String, Vec<u8>)> = HashMap::new();
    for r in rows("SELECT activation_id, hash, signature FROM csc_sad_signatures")
        .await
        .unwrap()
    {
        let (activation, hash, sig): (String, String, Vec<u8>) = (
            r.try_get_by_index(0).unwrap(),
            r.try_get_by_index(1).unwrap(),
            r.try_get_by_index(2).unwrap(),
        );
        // Every hash of this test is distinct, so the hash alone names its signature.
        assert!(
            stored.insert(hash.clone(), (activation, sig)).is_none(),
            "hash {hash} signed twice"
        );
    }
    assert!(
        stored.len() <= authorized,
        "{} signatures for {authorized} authorized hashes",
        stored.len()
    );
    let events = fincert::store::audit::by_action(db, Action::SignatureCreated, 1_000_000)
        .await
        .unwrap();
    let mut csc_audited: HashMap<(String, String), usize> = HashMap::new();
    let mut native_audited: HashMap<String, usize> = HashMap::new();
    for e in &events {
        let d: Value = serde_json::from_str(&e.details).unwrap();
        if d["via"] == "csc" {
            for digest in d["digests"].as_array().unwrap() {
                let key = (
                    d["activation"].as_str().unwrap().to_owned(),
                    digest.as_str().unwrap().to_owned(),
                );
                *csc_audited.entry(key).or_default() += 1;
            }
        } else {
            *native_audited
                .entry(e.subject.clone().unwrap_or_default())
                .or_default() += 1;
        }
    }
    let hex = |b64: &str| {
        fincert::signing::request::Digest::parse_b64(b64)
            .unwrap()
            .to_hex()
    };
    for (hash, (activation, _)) in &stored {
        assert_eq!(
            csc_audited.get(&(activation.clone(), hex(hash))),
            Some(&1),
            "the signature for {hash} is audited exactly once"
        );
    }
    assert_eq!(
        csc_audited.values().sum::<usize>(),
        stored.len(),
        "no audited CSC signature without its stored one"
    );
    let delivered: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.op == Op::SignHash && o.ok())
        .collect();
    let missing: Vec<&&Outcome> = delivered
        .iter()
        .filter(|o| {
            stored
                .get(&o.key)
                .is_none_or(|(_, sig)| *sig != o.signature)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "delivered CSC signatures not stored (and so not audited) as delivered: {missing:?}"
    );

    // Native requests: each approved one signed and audited once; none audited twice.
    let approved: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.op == Op::Approve && o.ok())
        .collect();
    for o in &approved {
        assert_eq!(o.body["status"], "signed");
        assert_eq!(
            native_audited.get(&o.key),
            Some(&1),
            "approved request {} audited once",
            o.key
        );
    }
    assert!(
        native_audited.values().all(|n| *n == 1),
        "no request signed twice"
    );
    let signed_requests = c
        .count("SELECT COUNT(*) FROM signature_requests WHERE status = 'signed'")
        .await;
    assert_eq!(
        signed_requests as usize,
        native_audited.len(),
        "every signed request audited, every audited one signed"
    );
    let created = outcomes
        .iter()
        .filter(|o| o.op == Op::Create && o.ok())
        .count();
    writeln!(
        report,
        "exactness: {authorized} CSC hashes authorized, {} signatures stored, {} delivered to \
         clients, 0 delivered missing from the audit log; {created} requests created in the \
         load, {} approvals acknowledged, {} requests signed in all, each audited once",
        stored.len(),
        delivered.len(),
        approved.len(),
        signed_requests
    )
    .unwrap();
}

/// `fincert audit verify`, the operator's command, against the cluster's database.
pub(super) async fn audit_verifies(c: &Cluster) {
    let url = c.app.settings.database_url();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run_cli(
            &["audit", "verify"],
            &[("FINCERT_DATABASE_URL", url.as_str())],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "audit verify: {out} {err}");
    let events = c.count("SELECT COUNT(*) FROM audit_events").await;
    assert_eq!(out.trim(), format!("ok {events} events"));
    println!("fincert audit verify: {}", out.trim());
}

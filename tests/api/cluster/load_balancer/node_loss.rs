//! A node killed with `kill -9` under a steady load through HAProxy: CSC workers authorize ten
//! hashes at a time and sign them one call each; approval workers create a request and
//! approve it with the PIN. Mid-run node n2 dies; HAProxy's checks on `/readyz` take it out;
//! it restarts on its port (as a supervisor would), is ready again and gets traffic again.
//!
//! What must hold afterwards is checked in `verdict.rs`.

use std::{
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use serde_json::Value;

use super::{
    Cluster, NODES, Reply,
    journey::{Customer, approve, authorize, b64, create_request, sha256, sign_hash},
    verdict,
};
use crate::helpers::*;

/// Concurrent clients of each kind.
pub(super) const CSC_WORKERS: usize = 4;
pub(super) const APPROVAL_WORKERS: usize = 2;
/// The node that dies (index into `NODES`).
pub(super) const VICTIM: usize = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Op {
    Authorize,
    SignHash,
    Create,
    Approve,
}

impl Op {
    pub(super) fn ok(self) -> u16 {
        if self == Op::Create { 201 } else { 200 }
    }
}

/// One request of the load, as its client saw it.
#[derive(Debug, Clone)]
pub(super) struct Outcome {
    pub(super) op: Op,
    pub(super) seq: u64,
    pub(super) started: Duration,
    pub(super) ended: Duration,
    pub(super) status: u16,
    pub(super) node: Option<String>,
    /// The hash (signHash), idempotency key (create) or request id (approve).
    pub(super) key: String,
    pub(super) signature: Vec<u8>,
    pub(super) body: Value,
}

impl Outcome {
    pub(super) fn ok(&self) -> bool {
        self.status == self.op.ok()
    }
}

pub(super) struct Load {
    t0: Instant,
    stop: AtomicBool,
    outcomes: Mutex<Vec<Outcome>>,
}

impl Load {
    pub(super) fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub(super) fn record(&self, op: Op, started: Duration, r: &Reply, key: &str) -> bool {
        let signature = match op {
            Op::SignHash => b64(&r.body["signatures"][0]),
            Op::Approve => b64(&r.body["result"]["signatures"][0]),
            _ => Vec::new(),
        };
        let outcome = Outcome {
            op,
            seq: r.seq,
            started,
            ended: self.now(),
            status: r.status,
            node: r.node.clone(),
            key: key.to_owned(),
            signature,
            body: r.body.clone(),
        };
        let ok = outcome.ok();
        self.outcomes.lock().unwrap().push(outcome);
        ok
    }

    pub(super) fn snapshot(&self) -> Vec<Outcome> {
        self.outcomes.lock().unwrap().clone()
    }
}

async fn csc_worker(c: &Cluster, who: &Customer, load: &Load, w: usize) {
    let mut k = 0;
    while !load.stopped() {
        let hashes: Vec<String> = (0..10)
            .map(|i| sha256(format!("load csc{w} sad{k} doc{i}").as_bytes()))
            .collect();
        k += 1;
        let started = load.now();
        let r = authorize(c, who, &hashes).await;
        if !load.record(Op::Authorize, started, &r, "") {
            continue;
        }
        let sad = r.body["SAD"].as_str().unwrap().to_owned();
        for hash in &hashes {
            if load.stopped() {
                break;
            }
            let started = load.now();
            let r = sign_hash(c, who, &sad, hash).await;
            load.record(Op::SignHash, started, &r, hash);
        }
    }
}

/// What the load's request under idempotency key `key` asks to sign.
pub(super) fn content_of(key: &str) -> Vec<u8> {
    format!("load order {key}").into_bytes()
}

async fn approval_worker(c: &Cluster, who: &Customer, load: &Load, w: usize) {
    let mut k = 0;
    while !load.stopped() {
        let key = format!("load-{w}-{k}");
        k += 1;
        let started = load.now();
        let r = create_request(c, who, &content_of(&key), &key).await;
        if !load.record(Op::Create, started, &r, &key) {
            continue;
        }
        let id = r.body["id"].as_str().unwrap().to_owned();
        let started = load.now();
        let a = approve(c, who, &r.body, PIN).await;
        load.record(Op::Approve, started, &a, &id);
    }
}

/// When things happened, from the start of the load.
pub(super) struct Timeline {
    pub(super) kill_at: Duration,
    /// Kill → HAProxy marks the node DOWN.
    pub(super) down_after: Duration,
    pub(super) restart_at: Duration,
    /// Restart → the node's `/readyz` answers 200.
    pub(super) ready_after: Duration,
    /// Restart → HAProxy marks it UP.
    pub(super) up_after: Duration,
    /// Restart → it has answered five load requests.
    pub(super) serving_after: Duration,
}

async fn control(c: &Cluster, victim: &mut ProcessNode, load: &Load) -> Timeline {
    let name = NODES[VICTIM];
    let served_by = |node: &str, after: Duration| {
        load.snapshot()
            .iter()
            .filter(|o| o.ok() && o.node.as_deref() == Some(node) && o.started >= after)
            .count()
    };
    // The load runs on three nodes first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for n in NODES {
        assert!(
            served_by(n, Duration::ZERO) > 0,
            "{n} served before the kill"
        );
    }
    let kill_at = load.now();
    victim.kill9();
    let down_after =
        c.lb.wait_server(
            &c.client,
            name,
            Duration::from_secs(10),
            ServerStat::is_down,
        )
        .await
        .unwrap_or_else(|| panic!("haproxy never took {name} out:\n{}", c.lb.raw_log()));
    // The cluster carries the load on two nodes for a while.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restart_at = load.now();
    victim.restart();
    let ready_after = victim
        .wait_for("/readyz", Duration::from_secs(30))
        .await
        .expect("the restarted node is ready within 30 s");
    let up_after = ready_after
        + c.lb
            .wait_server(&c.client, name, Duration::from_secs(10), ServerStat::is_up)
            .await
            .expect("haproxy takes the restarted node back");
    let back = Instant::now();
    while served_by(name, restart_at) < 5 {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "the restarted node gets no traffic"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let serving_after = load.now() - restart_at;
    // A little more on three nodes, then the clients stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    load.stop.store(true, Ordering::Relaxed);
    Timeline {
        kill_at,
        down_after,
        restart_at,
        ready_after,
        up_after,
        serving_after,
    }
}

/// Runs the load, kills and restarts n2 in the middle, checks what the clients saw and what
/// the database holds; returns a report of the measurements.
pub(super) async fn kill_one_under_load(c: &mut Cluster, who: &Customer) -> String {
    let mut victim = c.nodes.remove(VICTIM);
    let load = Load {
        t0: Instant::now(),
        stop: AtomicBool::new(false),
        outcomes: Mutex::new(Vec::new()),
    };
    let cluster: &Cluster = c;
    let workers = join_all(
        (0..CSC_WORKERS)
            .map(|w| futures_util::future::Either::Left(csc_worker(cluster, who, &load, w)))
            .chain((0..APPROVAL_WORKERS).map(|w| {
                futures_util::future::Either::Right(approval_worker(cluster, who, &load, w))
            })),
    );
    let (timeline, _) = tokio::join!(control(cluster, &mut victim, &load), workers);
    c.nodes.insert(VICTIM, victim);
    let outcomes = load.snapshot();
    let mut report = String::new();
    verdict::failures_were_in_flight_on_the_dead_node(c, &outcomes, &timeline, &mut report);
    verdict::clients_settle_what_failed(c, who, &outcomes, &load, &mut report).await;
    verdict::signatures_are_exact_and_audited(c, &load.snapshot(), &mut report).await;
    let t = &timeline;
    writeln!(
        report,
        "timeline: n2 killed at {:?} into the load; haproxy marked it DOWN {:?} later; restarted \
         at {:?}; ready (/readyz 200) {:?} after the restart, UP in haproxy after {:?}, five \
         answers served after {:?}",
        t.kill_at, t.down_after, t.restart_at, t.ready_after, t.up_after, t.serving_after
    )
    .unwrap();
    let stats = c.lb.servers(&c.client).await;
    writeln!(
        report,
        "haproxy stats (requests given, retries, redispatches): {:?}",
        stats
            .iter()
            .map(|s| (s.name.as_str(), s.total, s.retries, s.redispatches))
            .collect::<Vec<_>>()
    )
    .unwrap();
    report
}

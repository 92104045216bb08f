//! What the load benchmarks share: a table row of latencies and the PostgreSQL they use.

use std::time::Duration;

/// One row of a benchmark's table.
pub struct Row {
    pub name: String,
    pub ops: usize,
    pub per_sec: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// The row of `lat` (one latency per operation) measured over `wall`.
pub fn row(name: String, mut lat: Vec<Duration>, wall: Duration) -> Row {
    lat.sort();
    let pick = |q: f64| {
        lat.get(((lat.len().max(1) as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Row {
        name,
        ops: lat.len(),
        per_sec: lat.len() as f64 / wall.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

/// The PostgreSQL server the benchmarks make their databases on.
pub fn pg_admin() -> String {
    std::env::var("FINCERT_BENCH_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

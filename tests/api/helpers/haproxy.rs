//! HAProxy (Debian's package, installed by scripts/test.sh) as the load balancer in front of
//! several `fincert serve` processes: a configuration written for the ports of this run into
//! a temporary directory, the process in the foreground (killed on drop), its per-server
//! state from the stats page, and its request log (one line per request, with the server
//! that answered, the retries and the test's own request number).

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use super::node::free_port;

/// The header HAProxy adds to every answer a server gave: the server's name.
pub const NODE_HEADER: &str = "x-fincert-node";
/// The header the tests put on requests so HAProxy's log line can be matched to them.
pub const SEQ_HEADER: &str = "x-test-seq";

/// The HAProxy binary: `TEST_FINCERT_HAPROXY` (set by scripts/test.sh, which installs it), else
/// `haproxy` from the usual places. `None` only when it is absent *and* this is not the test
/// command or CI, so a developer without HAProxy sees the test skipped, never CI.
pub fn haproxy_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("TEST_FINCERT_HAPROXY") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "TEST_FINCERT_HAPROXY={} does not exist: scripts/test.sh installs haproxy",
            p.display()
        );
        return Some(p);
    }
    let found = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin"])
        .map(|d| Path::new(d).join("haproxy"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "haproxy is not installed and CI is set: run the suite with scripts/test.sh"
        );
    }
    found
}

/// The configuration, for `servers` (name, loopback port). Every choice is explained in
/// `tests/api/cluster/load_balancer/mod.rs`, which owns the story.
pub fn config(bind: u16, stats: u16, servers: &[(String, u16)]) -> String {
    let mut cfg = format!(
        r#"global
    log stdout format raw local0
    nbthread 1
    maxconn 1024

defaults
    mode http
    log global
    # Not the connect-only probes that wait for the listener.
    option dontlognull
    timeout connect 1s
    timeout client 15s
    timeout server 15s
    timeout queue 5s
    timeout http-request 5s
    # At most 2 more attempts, each on another server (redispatch on every retry).
    retries 2
    option redispatch 1
    # Retry what never reached a server (conn-failure), and what a server took and then
    # died on without answering (empty-response) ...
    retry-on conn-failure empty-response

frontend api
    bind 127.0.0.1:{bind}
    http-request capture req.hdr({SEQ_HEADER}) len 20
    log-format "seq=%[capture.req.hdr(0)] srv=%s status=%ST retries=%rc term=%tsc method=%HM path=%HP at=%tr timers=%TR/%Tw/%Tc/%Tr/%Ta"
    # ... but replay a request a dead server may have executed only where a replay is exact
    # by construction: reads, and CSC signHash (one stored signature per authorized hash,
    # delivered again). Any other POST (authorize, approve, sign-in, enrolment steps) fails
    # to the client instead, who decides (idempotency keys, or reading the state back).
    http-request disable-l7-retry unless METH_GET || {{ path_end /signatures/signHash }}
    default_backend fincert

backend fincert
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    timeout check 2s
    default-server check inter 250ms fastinter 250ms downinter 250ms fall 2 rise 2
    http-response set-header {NODE_HEADER} %[srv_name]
"#
    );
    for (name, port) in servers {
        cfg.push_str(&format!("    server {name} 127.0.0.1:{port}\n"));
    }
    cfg.push_str(&format!(
        r#"
frontend stats
    bind 127.0.0.1:{stats}
    stats enable
    stats uri /stats
    no log
"#
    ));
    cfg
}

/// A running HAProxy; killed on drop.
pub struct Haproxy {
    child: std::process::Child,
    /// The load balancer's own address: the only one clients use.
    pub address: String,
    stats_url: String,
    log: PathBuf,
    /// The configuration it runs, as written.
    pub config: String,
    _dir: tempfile::TempDir,
}

/// One server as HAProxy's stats see it.
#[derive(Debug, Clone)]
pub struct ServerStat {
    pub name: String,
    /// `UP`, `DOWN`, `UP 1/2` (going down), `DOWN 1/2` (coming up), `no check`…
    pub status: String,
    /// Requests it was given (sessions, total).
    pub total: u64,
    /// Retries HAProxy made from it.
    pub retries: u64,
    /// Requests redispatched away from it.
    pub redispatches: u64,
}

impl ServerStat {
    pub fn is_up(&self) -> bool {
        self.status == "UP"
    }

    pub fn is_down(&self) -> bool {
        self.status == "DOWN"
    }
}

/// One line of HAProxy's request log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The test's request number (`SEQ_HEADER`), if it sent one.
    pub seq: Option<u64>,
    /// The server that answered (or last failed); `<NOSRV>` when none was tried.
    pub server: String,
    pub status: u16,
    /// How many times HAProxy retried it (`+n` when it also redispatched).
    pub retries: String,
    /// Termination state (`----` for a normal end; `SH--` a server that hung up…).
    pub term: String,
    pub method: String,
    pub path: String,
}

impl Haproxy {
    /// Writes the configuration into a temporary directory, checks it with `haproxy -c`, starts
    /// HAProxy in the foreground and waits until it accepts connections.
    pub async fn start(bin: &Path, servers: &[(String, u16)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (bind, stats) = (free_port(), free_port());
        let config = config(bind, stats, servers);
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, &config).unwrap();
        let check = std::process::Command::new(bin)
            .arg("-c")
            .arg("-f")
            .arg(&cfg)
            .output()
            .expect("run haproxy -c");
        assert!(
            check.status.success(),
            "haproxy refuses the configuration: {}\n{config}",
            String::from_utf8_lossy(&check.stderr)
        );
        // Request log (stdout) and notices (stderr) into one file, appended to by both.
        let log = dir.path().join("haproxy.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = std::process::Command::new(bin)
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start haproxy");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", bind)).is_err()
            || std::net::TcpStream::connect(("127.0.0.1", stats)).is_err()
        {
            assert!(Instant::now() < deadline, "haproxy did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            address: format!("http://127.0.0.1:{bind}"),
            stats_url: format!("http://127.0.0.1:{stats}/stats;csv"),
            log,
            config,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The backend's servers, from the stats page (CSV).
    pub async fn servers(&self, client: &reqwest::Client) -> Vec<ServerStat> {
        let csv = client
            .get(&self.stats_url)
            .send()
            .await
            .expect("haproxy stats")
            .text()
            .await
            .unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (px, sv, st, stot, wretr, wredis) = (
            col("pxname"),
            col("svname"),
            col("status"),
            col("stot"),
            col("wretr"),
            col("wredis"),
        );
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| {
                f.len() > st && f[px] == "fincert" && f[sv] != "BACKEND" && f[sv] != "FRONTEND"
            })
            .map(|f| ServerStat {
                name: f[sv].to_owned(),
                status: f[st].to_owned(),
                total: f[stot].parse().unwrap_or(0),
                retries: f[wretr].parse().unwrap_or(0),
                redispatches: f[wredis].parse().unwrap_or(0),
            })
            .collect()
    }

    /// One server's stats.
    pub async fn server(&self, client: &reqwest::Client, name: &str) -> ServerStat {
        self.servers(client)
            .await
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("haproxy has no server {name}"))
    }

    /// Polls the stats every 25 ms until `name` satisfies `pred`; returns how long it took, or
    /// `None` after `limit`.
    pub async fn wait_server(
        &self,
        client: &reqwest::Client,
        name: &str,
        limit: Duration,
        pred: impl Fn(&ServerStat) -> bool,
    ) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if pred(&self.server(client, name).await) {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }

    /// Every request log line so far.
    pub fn log(&self) -> Vec<LogLine> {
        self.raw_log().lines().filter_map(parse_log_line).collect()
    }

    /// The whole log: request lines, health-check state changes, notices.
    pub fn raw_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn parse_log_line(line: &str) -> Option<LogLine> {
    let field = |k: &str| {
        line.split(' ')
            .find_map(|w| w.strip_prefix(k)?.strip_prefix('='))
            .map(str::to_owned)
    };
    Some(LogLine {
        seq: field("seq").and_then(|s| s.parse().ok()),
        server: field("srv")?,
        status: field("status")?.parse().ok()?,
        retries: field("retries")?,
        term: field("term")?,
        method: field("method")?,
        path: field("path")?,
    })
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn log_lines_parse() {
    let l = parse_log_line(
        "seq=17 srv=n2 status=200 retries=+1 term=---- method=POST path=/csc/v2/signatures/signHash",
    )
    .unwrap();
    assert_eq!(
        (l.seq, l.server.as_str(), l.status, l.retries.as_str()),
        (Some(17), "n2", 200, "+1")
    );
    assert_eq!(parse_log_line("[NOTICE] proxy started"), None);
}

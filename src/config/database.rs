//! The `[database]` section: the connection URL, pool and timeouts, and the [`Engine`] a URL
//! selects (SQLite embedded, PostgreSQL in production).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Database connection settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://...` or `postgres://...`; empty means the SQLite file in `data_dir`.
    pub url: String,
    /// Largest number of pooled connections (PostgreSQL; SQLite always uses one writer).
    pub max_connections: u32,
    /// Seconds to wait for a connection before failing the request.
    pub connect_timeout_secs: u64,
    /// Milliseconds a statement waits for a row or table lock before the request fails with
    /// 503 (PostgreSQL `lock_timeout`; SQLite's busy timeout).
    pub lock_timeout_ms: u64,
    /// Milliseconds a statement may run before it is cancelled and the request fails with
    /// 503 (PostgreSQL `statement_timeout`).
    pub statement_timeout_ms: u64,
    /// Run pending migrations when `serve` starts.
    pub migrate_on_start: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_connections: 10,
            connect_timeout_secs: 5,
            lock_timeout_ms: 2000,
            statement_timeout_ms: 5000,
            migrate_on_start: true,
        }
    }
}

/// The database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded default.
    Sqlite,
    /// Production.
    Postgres,
}

impl DatabaseSettings {
    /// Checks every value of the section that types alone do not.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.url.is_empty() {
            engine_of(&self.url)?;
        }
        if !(1..=1000).contains(&self.max_connections) {
            return Err(ConfigError::new(
                "database.max_connections",
                "must be between 1 and 1000",
            ));
        }
        if !(1..=300).contains(&self.connect_timeout_secs) {
            return Err(ConfigError::new(
                "database.connect_timeout_secs",
                "must be between 1 and 300",
            ));
        }
        if !(10..=600_000).contains(&self.lock_timeout_ms) {
            return Err(ConfigError::new(
                "database.lock_timeout_ms",
                "must be between 10 and 600000",
            ));
        }
        if !(10..=3_600_000).contains(&self.statement_timeout_ms) {
            return Err(ConfigError::new(
                "database.statement_timeout_ms",
                "must be between 10 and 3600000",
            ));
        }
        if self.statement_timeout_ms < self.lock_timeout_ms {
            return Err(ConfigError::new(
                "database.statement_timeout_ms",
                "must not be shorter than database.lock_timeout_ms",
            ));
        }
        Ok(())
    }
}

/// The engine a database URL selects, or the error naming its unsupported scheme.
pub(super) fn engine_of(url: &str) -> Result<Engine, ConfigError> {
    if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Engine::Postgres)
    } else {
        let scheme = url.split(':').next().unwrap_or_default();
        Err(ConfigError::new(
            "database.url",
            format!("unsupported scheme {scheme:?} (expected sqlite: or postgres://)"),
        ))
    }
}

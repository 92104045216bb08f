//! `fincert migrate`: apply pending migrations and exit.

use std::{process::ExitCode, sync::Arc};

use super::exit;
use crate::{
    clock::{SharedClock, SystemClock},
    config::Settings,
    startup, store,
};

/// Applies pending migrations, printing what it applied.
pub async fn run(settings: Settings) -> ExitCode {
    let clock: SharedClock = Arc::new(SystemClock);
    let result = async {
        let db = store::connect(&settings).await?;
        startup::migrate_and_audit(&db, &clock).await
    }
    .await;
    match result {
        Ok(applied) if applied.is_empty() => {
            println!("schema up to date");
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            for name in &applied {
                println!("applied {name}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fincert: migrate failed: {e}");
            ExitCode::from(exit::DEPENDENCY)
        }
    }
}

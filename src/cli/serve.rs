//! `fincert serve`: run the service until SIGTERM/SIGINT, letting in-flight requests finish.

use std::{process::ExitCode, sync::Arc};

use tokio::signal::unix::{SignalKind, signal};

use super::exit;
use crate::{clock::SystemClock, config::Settings, startup::Application};

/// Runs the HTTP service.
pub async fn run(settings: Settings) -> ExitCode {
    let listen = settings.http.listen.clone();
    let metrics_listen = settings.http.metrics_listen.clone();
    // Take the signals before anything is announced, so a stop request is never lost.
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("fincert: cannot install signal handlers: {e}");
            return ExitCode::from(exit::DEPENDENCY);
        }
    };
    let app = match Application::build(settings, Arc::new(SystemClock)).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("fincert: cannot start: {e}");
            return ExitCode::from(exit::DEPENDENCY);
        }
    };
    let handle = app.handle();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "stopping: finishing in-flight requests");
        handle.stop(true).await;
    });
    let host = listen.rsplit_once(':').map_or(listen.as_str(), |(h, _)| h);
    tracing::info!(address = %format!("{host}:{}", app.port()), "listening");
    if let (Some(port), Some(metrics)) = (app.metrics_port(), &metrics_listen) {
        let host = metrics
            .rsplit_once(':')
            .map_or(metrics.as_str(), |(h, _)| h);
        tracing::info!(address = %format!("{host}:{port}"), "metrics listening");
    }
    match app.run_until_stopped().await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fincert: server error: {e}");
            ExitCode::from(exit::DEPENDENCY)
        }
    }
}

//! `make dev`: serves the API on http://127.0.0.1:$PORT against DynamoDB Local.

use std::sync::Arc;

use devtools::template::{Template, default_path};
use devtools::{DEFAULT_DEV_KEY, local_app, server};
use shared::Config;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    shared::logging::init();
    let config = Config::from_env();
    if config.dynamodb_endpoint.is_none() {
        return Err("DYNAMODB_ENDPOINT is not set: the dev server only runs against a local DynamoDB (use `make dev`)".into());
    }
    let dev_key = std::env::var("DEV_API_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| DEFAULT_DEV_KEY.into());
    let app = Arc::new(local_app(config, &dev_key).await?);
    let routes = Template::load(&default_path())?.routes();
    let router = server::router(app, routes.clone())?;

    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("{host}:{port}")).await?;
    let addr = listener.local_addr()?;
    eprintln!(
        "\nContacts API on http://{addr}  (DynamoDB: {})",
        std::env::var("DYNAMODB_ENDPOINT").unwrap_or_default()
    );
    eprintln!("X-SM-Key: {dev_key}\n");
    for r in &routes {
        eprintln!("  {:6} {}", r.method, r.path);
    }
    eprintln!("\nCtrl-C stops it.\n");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

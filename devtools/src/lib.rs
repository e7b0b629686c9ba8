//! Local development support: table creation and routes read from
//! `template.yaml`, and the dev server that serves them on DynamoDB Local.

pub mod fake_provider;
pub mod faultproxy;
pub mod openapi;
pub mod server;
pub mod template;

use shared::auth::hash_key;
use shared::{App, Config};

/// The key `make dev` registers when `DEV_API_KEY` is unset. Local only:
/// it is never registered anywhere else.
pub const DEFAULT_DEV_KEY: &str = "sm_dev_local_key";

/// Builds the app for local use: creates missing tables from the template
/// and registers `dev_key`.
pub async fn local_app(config: Config, dev_key: &str) -> Result<App, template::Error> {
    let app = App::new(config);
    let template = template::Template::load(&template::default_path())?;
    template::ensure_tables(&app.store.client, &app.config, &template).await?;
    app.store
        .put_api_key(&hash_key(dev_key), "dev")
        .await
        .map_err(|e| format!("registering the dev key: {e:?}"))?;
    Ok(app)
}

//! What lives for the whole container: configuration and the store.

use crate::config::Config;
use crate::store::Store;

/// Built once per Lambda container (or dev server) and shared by requests.
#[derive(Clone, Debug)]
pub struct App {
    pub config: Config,
    pub store: Store,
}

impl App {
    pub async fn new(config: Config) -> Self {
        let client = config.dynamodb_client().await;
        let store = Store::new(client, &config);
        App { config, store }
    }

    /// The app configured by the process environment.
    pub async fn from_env() -> Self {
        Self::new(Config::from_env()).await
    }
}

//! Admin command for API keys: `api-key create [NAME]`, `api-key revoke KEY`,
//! `api-key list`. Uses the same configuration as the functions
//! (`API_KEYS_TABLE`, and `DYNAMODB_ENDPOINT` for a local table).

use shared::auth::{KEY_PREFIX, generate_key, hash_key};
use shared::{App, Config};

const USAGE: &str = "usage: api-key create [NAME] | api-key revoke KEY_OR_HASH | api-key list";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let app = App::new(Config::from_env()).await;
    let store = &app.store;
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["create"] | ["create", _] => {
            let key = generate_key();
            let name = args.get(1).map_or("unnamed", String::as_str);
            store.put_api_key(&hash_key(&key), name).await.map(|_| {
                eprintln!("Created key '{name}'. It is shown once; store it now:");
                println!("{key}");
            })
        }
        ["revoke", key] => {
            let hash = if key.starts_with(KEY_PREFIX) {
                hash_key(key)
            } else {
                key.to_string()
            };
            store.revoke_api_key(&hash).await.map(|found| {
                if found {
                    eprintln!("Revoked.");
                } else {
                    eprintln!("No such key.");
                    std::process::exit(1);
                }
            })
        }
        ["list"] => store.list_api_keys().await.map(|keys| {
            for k in keys {
                let state = k
                    .revoked_at
                    .map_or("active".to_string(), |t| format!("revoked {t}"));
                println!(
                    "{}…  {:20} created {}  {state}",
                    &k.key_hash[..12],
                    k.name,
                    k.created_at
                );
            }
        }),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e:?}");
        std::process::exit(1);
    }
}

//! Admin command for API keys: `api-key create [NAME]`, `api-key revoke
//! KEY_OR_HASH_PREFIX`, `api-key list`. Uses the same configuration as the functions
//! (`API_KEYS_TABLE`, and `DYNAMODB_ENDPOINT` for a local table).

use shared::auth::{KEY_PREFIX, generate_key, hash_key};
use shared::{App, Config};

const USAGE: &str =
    "usage: api-key create [NAME] | api-key revoke KEY_OR_HASH_PREFIX | api-key list";

/// The hash a `revoke` argument names: the key itself (`sm_…`), or a hash
/// or the start of one as `list` shows it, if exactly one key has it.
async fn hash_of(store: &shared::store::Store, arg: &str) -> Result<String, String> {
    if arg.starts_with(KEY_PREFIX) {
        return Ok(hash_key(arg));
    }
    let prefix = arg.trim_end_matches('…');
    if prefix.len() < 8 {
        return Err("give the key, or at least 8 characters of its hash".into());
    }
    let keys = store
        .list_api_keys()
        .await
        .map_err(|e| format!("error: {e:?}"))?;
    let mut matching = keys.iter().filter(|k| k.key_hash.starts_with(prefix));
    match (matching.next(), matching.next()) {
        (Some(k), None) => Ok(k.key_hash.clone()),
        (None, _) => Err("No such key.".into()),
        (Some(_), Some(_)) => {
            Err("More than one key has that hash prefix; give more of it.".into())
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let app = App::from_aws_config(Config::from_env()).await;
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
        ["revoke", key] => match hash_of(store, key).await {
            Err(why) => {
                eprintln!("{why}");
                std::process::exit(1);
            }
            Ok(hash) => store.revoke_api_key(&hash).await.map(|found| {
                if found {
                    eprintln!("Revoked.");
                } else {
                    eprintln!("No such key.");
                    std::process::exit(1);
                }
            }),
        },
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

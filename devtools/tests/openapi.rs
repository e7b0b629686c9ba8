//! The committed `openapi.json` and `template.yaml` agree with the code.

use std::collections::BTreeSet;

use devtools::template::{Template, default_path};
use shared::Route;

#[test]
fn committed_openapi_json_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json");
    let committed = std::fs::read_to_string(path).expect("openapi.json is committed");
    assert!(
        committed == devtools::openapi::to_json(),
        "openapi.json is out of date with the code: run `make openapi` and commit it"
    );
}

#[test]
fn the_description_is_openapi_3_1_with_every_route() {
    let doc: serde_json::Value = serde_json::from_str(&devtools::openapi::to_json()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for route in Route::ALL {
        let op = &doc["paths"][route.path()][route.method().as_str().to_lowercase()];
        assert!(op.is_object(), "{route:?} is missing");
        assert!(op["responses"]["401"].is_object());
    }
    let create = &doc["paths"]["/api/contacts"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(
        create["anyOf"][0]["additionalProperties"], false,
        "unknown fields are refused"
    );
    assert!(
        create["anyOf"][0]["properties"]["engagement_score"].is_null(),
        "patch-only fields are not creatable"
    );
}

#[test]
fn template_routes_are_the_code_routes() {
    let from_template: BTreeSet<(String, String, String)> = Template::load(&default_path())
        .unwrap()
        .routes()
        .into_iter()
        .map(|r| (r.method, r.path, r.binary))
        .collect();
    let from_code: BTreeSet<(String, String, String)> = Route::ALL
        .iter()
        .map(|r| {
            (
                r.method().to_string(),
                r.path().to_string(),
                r.binary().to_string(),
            )
        })
        .collect();
    assert_eq!(from_template, from_code);
}

//! `make openapi`: writes the generated OpenAPI description to `openapi.json`
//! (or to the path given).

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json").to_string());
    if let Err(e) = std::fs::write(&path, devtools::openapi::to_json()) {
        eprintln!("writing {path}: {e}");
        std::process::exit(1);
    }
    eprintln!("wrote {path}");
}

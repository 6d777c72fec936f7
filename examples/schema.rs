//! Prints the configuration's JSON Schema, derived from its types, as
//! `schema/config.schema.json` holds it.
//!
//! `cargo run --example schema --features schema > schema/config.schema.json`

fn main() {
    let schema = callhook::config_schema();
    // A JSON value always serialises.
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).unwrap_or_default()
    );
}

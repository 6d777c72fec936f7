//! The committed JSON Schema of the configuration is the one derived from
//! its types, and every example configuration is valid against it, checked
//! by an independent validator (the `jsonschema` crate).

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn committed() -> serde_json::Value {
    let path = root().join("schema/config.schema.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    assert_eq!(
        committed(),
        callhook::config_schema(),
        "regenerate it: cargo run --example schema --features schema > schema/config.schema.json"
    );
}

#[test]
fn every_example_configuration_is_valid() {
    let validator = jsonschema::validator_for(&committed()).unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("examples/configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let config: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&config)
                .map(|e| format!("{e} at {}", e.instance_path))
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 5, "{checked} configurations checked");
    // And the schema is no pushover: a misspelt key is refused.
    let bad = serde_json::json!({"services": [], "webhoks": []});
    assert!(!validator.is_valid(&bad));
}

//! A service's templates keep no source, so a render error is located in
//! the service's configuration: these properties check that it names the
//! very pair or header its placeholder is in, and the line and column of
//! the placeholder there, for every kind of body, a `GET`'s query and the
//! headers.

use callhook::{CallData, Catalog, ErrorKind, ServiceConfig};
use proptest::prelude::*;
use serde_json::{json, Value};

const ID: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b";

/// How the service carries its pairs.
#[derive(Debug, Clone, Copy)]
enum Carrier {
    Form,
    Query,
    JsonPairs,
    XmlPairs,
    Soap,
    Headers,
}

fn service(carrier: Carrier, pairs: &[Value]) -> ServiceConfig {
    let mut config = json!({
        "id": ID, "name": "t", "method": "POST",
        "url": "https://crm.example.com/calls", "missing": "error",
    });
    match carrier {
        Carrier::Form => config["body"] = json!({"kind": "form", "pairs": pairs}),
        Carrier::Query => {
            config["method"] = "GET".into();
            config["body"] = json!({"kind": "form", "pairs": pairs});
        }
        Carrier::JsonPairs => config["body"] = json!({"kind": "json", "pairs": pairs}),
        Carrier::XmlPairs => config["body"] = json!({"kind": "xml", "pairs": pairs}),
        Carrier::Soap => {
            config["body"] = json!({
                "kind": "soap", "namespace": "urn:x", "operation": "Log",
                "action": "urn:x/Log", "parameters": pairs,
            });
        }
        Carrier::Headers => config["headers"] = Value::Array(pairs.to_vec()),
    }
    serde_json::from_value(config).expect("a service configuration")
}

fn path(carrier: Carrier, index: usize) -> String {
    match carrier {
        Carrier::Soap => format!("body.parameters.{index}.value"),
        Carrier::Headers => format!("headers.{index}.value"),
        _ => format!("body.pairs.{index}.value"),
    }
}

fn carrier() -> impl Strategy<Value = Carrier> {
    prop::sample::select(vec![
        Carrier::Form,
        Carrier::Query,
        Carrier::JsonPairs,
        Carrier::XmlPairs,
        Carrier::Soap,
        Carrier::Headers,
    ])
}

/// Expected line and column of byte `offset` in `text`, counted plainly.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

proptest! {
    #[test]
    fn a_render_error_names_its_pair_and_locates_its_placeholder(
        carrier in carrier(),
        count in 1usize..6,
        pick in 0usize..6,
        statics in prop::collection::vec(any::<bool>(), 6),
        prefix in "[a-zé ]{0,12}(\n[a-zé ]{0,12}){0,2}",
    ) {
        let failing = pick % count;
        // Header values stay on one line.
        let prefix = if matches!(carrier, Carrier::Headers) {
            prefix.replace('\n', " ")
        } else {
            prefix
        };
        let pairs: Vec<Value> = (0..count)
            .map(|i| {
                let value = if i == failing {
                    format!("{prefix}#ani#")
                } else if statics[i] {
                    "fixed".to_owned()
                } else {
                    "#agent_id#".to_owned()
                };
                json!({"key": format!("k{i}"), "value": value})
            })
            .collect();
        let compiled = service(carrier, &pairs).compile(Catalog::standard()).unwrap();
        let data = CallData::new().with("agent_id", "1001");
        let err = compiled.request(&data).unwrap_err();
        prop_assert_eq!(err.kind(), ErrorKind::MissingValue, "{}", err);
        prop_assert_eq!(err.service(), Some(ID));
        let expected_path = path(carrier, failing);
        prop_assert_eq!(err.field(), Some(expected_path.as_str()), "{}", err);
        let at = err.position().expect("a position");
        let value = format!("{prefix}#ani#");
        prop_assert_eq!(at.offset, prefix.len());
        prop_assert_eq!((at.line, at.column), line_and_column(&value, prefix.len()));
    }

    #[test]
    fn a_render_error_in_a_whole_template_is_located_in_it(
        xml in any::<bool>(),
        lines in prop::collection::vec("[a-z ]{0,10}", 0..4),
    ) {
        let filler: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let (kind, template) = if xml {
            ("xml", format!("<call>{filler}<ani>#ani#</ani></call>"))
        } else {
            // Only white space may stand between JSON members.
            let filler = filler.replace(|c: char| c != '\n', " ");
            ("json", format!("{{\"a\": 1,{filler} \"ani\": \"é #ani#\"}}"))
        };
        let config: ServiceConfig = serde_json::from_value(json!({
            "id": ID, "name": "t", "method": "POST", "url": "https://crm.example.com/calls",
            "missing": "error", "body": {"kind": kind, "template": template},
        }))
        .unwrap();
        let err = config
            .compile(Catalog::standard())
            .unwrap()
            .request(&CallData::new())
            .unwrap_err();
        prop_assert_eq!(err.field(), Some("body.template"));
        let at = err.position().expect("a position");
        let offset = template.find("#ani#").unwrap();
        prop_assert_eq!(at.offset, offset);
        prop_assert_eq!((at.line, at.column), line_and_column(&template, offset));
    }
}

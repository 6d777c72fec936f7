//! Call data, stored numbers and received values carried exactly, and bounded:
//! integers never change, values and bodies have size limits.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.

#[allow(unused_imports)]
use super::*;

use callhook::{FieldSpec, FieldType, Value};

/// The standard catalog with a field of each type a number can take.
fn numeric_catalog() -> Catalog {
    Catalog::standard()
        .clone()
        .with(FieldSpec::new("big", FieldType::Integer))
        .with(FieldSpec::new("count", FieldType::Integer))
        .with(FieldSpec::new("ratio", FieldType::Decimal))
        .with(FieldSpec::new("label", FieldType::Text))
}

/// Renders `source`, a JSON template over [`numeric_catalog`] and `other`
/// (a field the call data's catalog may not know: found by name).
fn render_json(source: &str, data: &CallData) -> String {
    let catalog = numeric_catalog().with(FieldSpec::new("other", FieldType::Integer));
    Template::compile(source, Context::Json, &Options::new(&catalog))
        .unwrap()
        .render_string(data)
        .unwrap()
}

/// Integers past `i64` and `u64` once became floats
/// (`1.8446744073709552e19`) on every route into call data. Guards that
/// each route (JSON text into every field type and into fields the catalog
/// does not know, a call's JSON, digits in text for an integer field, a
/// host's `u64`, `u128` and `i128`, `serde_json::Value`) carries the digits
/// as given.
#[test]
fn integers_past_i64_and_u64_keep_their_digits() {
    let catalog = numeric_catalog();
    let template = r##"{"big": #big#, "ratio": #ratio#, "label": "#label#", "other": #other#, "count": #count#}"##;
    for n in [
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "123456789012345678901234567890123456789012345678901234567890",
    ] {
        let expected =
            format!(r#"{{"big": {n}, "ratio": {n}, "label": "{n}", "other": {n}, "count": {n}}}"#);
        let text =
            format!(r#"{{"big": {n}, "ratio": {n}, "label": {n}, "other": {n}, "count": "{n}"}}"#);
        let data = CallData::from_json_in(&text, &catalog).unwrap();
        assert_eq!(render_json(template, &data), expected, "{n}");
        let call = Call::from_json_in(&format!(r#"{{"data": {text}}}"#), &catalog).unwrap();
        assert_eq!(render_json(template, &call.data), expected, "{n}");
    }
    // A host's own integers, of every width.
    #[derive(serde::Serialize)]
    struct Host {
        big: u64,
        ratio: u128,
        label: i128,
        other: u128,
        count: i128,
    }
    let data = CallData::from_serialize_in(
        &Host {
            big: u64::MAX,
            ratio: u128::MAX,
            label: i128::MIN,
            other: u128::from(u64::MAX) + 1,
            count: i128::from(i64::MIN) - 1,
        },
        &catalog,
    )
    .unwrap();
    assert_eq!(
        render_json(template, &data),
        format!(
            r#"{{"big": {}, "ratio": {}, "label": "{}", "other": {}, "count": {}}}"#,
            u64::MAX,
            u128::MAX,
            i128::MIN,
            u128::from(u64::MAX) + 1,
            i128::from(i64::MIN) - 1
        )
    );
    let data = CallData::from_serialize_in(&json!({"big": u64::MAX, "other": u64::MAX}), &catalog)
        .unwrap();
    assert_eq!(
        render_json(r##"[#big#, #other#]"##, &data),
        format!("[{0}, {0}]", u64::MAX)
    );
    let data = CallData::new().with("big", Value::from(u64::MAX));
    assert_eq!(render_json("[#big#]", &data), format!("[{}]", u64::MAX));
}

/// Decimals are carried as given: what a double holds exactly prints back
/// the same (`0.1`, `1e-7`), and a decimal with more digits than a double
/// holds, or a whole number in a decimal field past 2^53, keeps its digits
/// rather than being rounded; a number no double can hold (`1e400`) is
/// refused. Guards the JSON route and text in a decimal field.
#[test]
fn decimals_are_carried_as_given_or_refused() {
    let catalog = numeric_catalog();
    for (given, rendered) in [
        ("0.1", "0.1"),
        ("2.5", "2.5"),
        ("-0.000015", "-0.000015"),
        ("1e-7", "1e-7"),
        (
            "3.14159265358979323846264338327950288",
            "3.14159265358979323846264338327950288",
        ),
        ("12345678901234567890.5", "12345678901234567890.5"),
        ("9007199254740993", "9007199254740993"),
        ("1.00000000000000000000001e5", "1.00000000000000000000001e5"),
        // The same number, without the `+` a URL query reads as a space.
        (
            "1.00000000000000000000001e+5",
            "1.00000000000000000000001e5",
        ),
    ] {
        for text in [
            format!(r#"{{"ratio": {given}, "other": {given}, "label": {given}}}"#),
            format!(r#"{{"ratio": "{given}", "other": {given}, "label": {given}}}"#),
        ] {
            let data = CallData::from_json_in(&text, &catalog).unwrap();
            assert_eq!(
                render_json(r##"[#ratio#, #other#, "#label#"]"##, &data),
                format!(r#"[{rendered}, {rendered}, "{given}"]"#),
                "{text}"
            );
        }
    }
    let err = CallData::from_json_in(r#"{"ratio": 1e400}"#, &catalog).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Serde, "{err}");
}

/// Call data's JSON is read by its own reader now, to keep each number's
/// text: guards that it keeps the limits the reading had (128 nesting
/// levels, 256-byte names, 10,000 fields), at the limit and one past.
#[test]
fn call_data_json_keeps_its_limits() {
    let nested = |levels: usize| format!("{}1{}", "{\"a\": ".repeat(levels), "}".repeat(levels));
    CallData::from_json(&nested(127)).unwrap();
    let err = CallData::from_json(&nested(129)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Serde, "{err}");
    let name = |bytes: usize| format!("{{\"{}\": 1}}", "n".repeat(bytes));
    CallData::from_json(&name(256)).unwrap();
    let err = CallData::from_json(&name(257)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCallData, "{err}");
    let fields = |count: usize| {
        let fields: Vec<String> = (0..count).map(|i| format!("\"f{i}\": {i}")).collect();
        format!("{{{}}}", fields.join(","))
    };
    assert_eq!(CallData::from_json(&fields(10_000)).unwrap().len(), 10_000);
    let err = CallData::from_json(&fields(10_001)).unwrap_err();
    assert!(err.message().contains("10000"), "{err}");
    // A key that repeats keeps its last value, as serde_json's map did.
    let data = CallData::from_json(r#"{"ani": "1", "ani": "2"}"#).unwrap();
    assert_eq!(data.get("ani"), Some(&Value::from("2")));
    assert_eq!(data.len(), 1);
}

/// A realtime update's sequence past `i64::MAX` was clamped to
/// `9223372036854775807`. Guards that the webhook receives the sequence
/// given, and that the delivery ids of such updates differ.
#[test]
fn status_update_sequences_are_never_clamped() {
    let registry = Registry::from_config(
        &serde_json::from_value(json!({
            "services": [service(json!({
                "body": {"kind": "json", "template": "{\"seq\": #sequence#, \"text\": \"#sequence#\"}"},
            }))],
            "webhooks": [{
                "id": WEBHOOK, "event": "Call Status Change", "service": SERVICE,
                "created_at": "2024-12-02T21:00:00Z", "scopes": ["S"],
            }],
        }))
        .unwrap(),
        Catalog::standard().clone(),
    )
    .unwrap();
    let at = t("2024-12-02T21:00:00Z");
    let mut ids = Vec::new();
    for sequence in [i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
        let mut dispatch = registry.status_change(&call(), "answered", sequence, at);
        assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
        let outgoing = dispatch.requests.remove(0);
        assert_eq!(
            std::str::from_utf8(outgoing.request.body()).unwrap(),
            format!(r#"{{"seq": {sequence}, "text": "{sequence}"}}"#)
        );
        ids.push(outgoing.delivery.to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

/// A `Retry-After` too large to represent (delta-seconds past `u64`) was
/// ignored, so the schedule's short delay applied to a receiver asking for
/// the longest wait. Guards that every form of a too-long wait (seconds
/// past `u64`, past the policy's maximum, a date far in the future) is
/// clamped to `retry_after_max`.
#[test]
fn retry_after_too_large_is_clamped_to_the_longest_wait() {
    let mut policy = RetryPolicy::default();
    policy.jitter = 0.0;
    let now = t("2024-12-02T21:00:00Z");
    let longest = now + chrono::TimeDelta::from_std(policy.retry_after_max).unwrap();
    for value in [
        "99999999999999999999999999999999",
        "18446744073709551616",
        "18446744073709551615",
        "31536000",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Friday, 31-Dec-49 23:59:59 GMT",
        "Fri Dec 31 23:59:59 9999",
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, value.parse().unwrap());
        for status in [
            http::StatusCode::TOO_MANY_REQUESTS,
            http::StatusCode::SERVICE_UNAVAILABLE,
        ] {
            let answered = Outcome::response(status, &headers);
            assert_eq!(
                policy.decide(
                    &Attempt::new(
                        &Event::CallHangup,
                        1,
                        now,
                        "crm",
                        "https://crm.example/hook"
                    )
                    .with_seed(0),
                    answered,
                    now
                ),
                Decision::Retry { at: longest },
                "{value}"
            );
        }
    }
}

/// The most bytes one call value may hold (1 MiB).
const VALUE_BYTES: usize = 1 << 20;

/// The most bytes one render (a request's body) may produce (4 MiB).
const RENDER_BYTES: usize = 4 << 20;

/// One call value had no size limit. Guards that a value of exactly the
/// limit is read and one byte more is refused, naming the field and the
/// limit, on every route that reads call data (JSON text, a call's JSON,
/// a host's struct), for text and for numbers kept as digits.
#[test]
fn call_values_are_bounded() {
    let at_limit = "a".repeat(VALUE_BYTES);
    let over = "a".repeat(VALUE_BYTES + 1);
    // serde_json refuses whole numbers that long; a decimal is read.
    let digits_over = format!("0.{}1", "0".repeat(VALUE_BYTES));
    let read = |value: &str, quoted: bool| {
        let value = if quoted {
            format!("\"{value}\"")
        } else {
            value.to_owned()
        };
        let text = format!(r#"{{"customer": {{"note": {value}}}}}"#);
        [
            CallData::from_json(&text).map(|_| ()),
            Call::from_json(&format!(r#"{{"data": {text}}}"#)).map(|_| ()),
        ]
    };
    for result in read(&at_limit, true) {
        result.unwrap();
    }
    for result in read(&over, true)
        .into_iter()
        .chain(read(&digits_over, false))
    {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCallData, "{err}");
        assert_eq!(err.field(), Some("customer.note"), "{err}");
        assert!(err.message().contains("1048576 bytes"), "{err}");
        assert!(err.message().len() < 200, "{err}");
    }
    #[derive(serde::Serialize)]
    struct Host<'a> {
        note: &'a str,
    }
    CallData::from_serialize(&Host { note: &at_limit }).unwrap();
    let err = CallData::from_serialize(&Host { note: &over }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidCallData, "{err}");
    assert_eq!(err.field(), Some("note"), "{err}");
    assert!(err.message().contains("1048576 bytes"), "{err}");
}

/// A rendered body had no size limit: a template repeating a field could
/// multiply one value into gigabytes. Guards that a body of exactly the
/// limit is built and one byte more is refused as it is rendered, with an
/// error naming the limit and the field, and that dispatch reports the
/// webhook as failed rather than dropping it.
#[test]
fn rendered_bodies_are_bounded() {
    // `{"ani": "` and `"}` around the value.
    let around = 11;
    let registry = load(json!({})).unwrap();
    let at = t("2024-12-02T21:00:00Z");
    let mut fits = call();
    fits.data = CallData::new().with("ani", "a".repeat(RENDER_BYTES - around));
    let dispatch = registry.dispatch(Event::CallHangup, &fits, at);
    assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
    assert_eq!(dispatch.requests[0].request.body().len(), RENDER_BYTES);
    let mut over = call();
    over.data = CallData::new().with("ani", "a".repeat(RENDER_BYTES - around + 1));
    let dispatch = registry.dispatch(Event::CallHangup, &over, at);
    assert!(dispatch.requests.is_empty());
    let (webhook, err) = &dispatch.errors[0];
    assert_eq!(webhook, WEBHOOK);
    assert_eq!(err.kind(), ErrorKind::UnsafeValue, "{err}");
    assert!(err.message().contains("4194304 bytes"), "{err}");
    assert!(err.message().contains("`ani`"), "{err}");
    assert!(err.field().unwrap().starts_with("body"), "{err}");
    // Many small values, each within its own limit, make a body too large
    // just the same: the body is bounded, not only each value.
    let repeated = load(json!({
        "body": {"kind": "json", "template": format!("[{}\"\"]", "\"#ani#\",".repeat(8))},
    }))
    .unwrap();
    let mut many = call();
    many.data = CallData::new().with("ani", "a".repeat(VALUE_BYTES));
    let dispatch = repeated.dispatch(Event::CallHangup, &many, at);
    assert!(dispatch.requests.is_empty());
    assert_eq!(dispatch.errors[0].1.kind(), ErrorKind::UnsafeValue);
    // The engine's own renders are bounded alike.
    let plain = Template::compile("#ani##ani#", Context::Plain, &Options::default()).unwrap();
    let half = CallData::new().with("ani", "a".repeat(RENDER_BYTES / 2));
    assert_eq!(plain.render(&half).unwrap().len(), RENDER_BYTES);
    let err = plain
        .render(&CallData::new().with("ani", "a".repeat(RENDER_BYTES / 2 + 1)))
        .unwrap_err();
    assert!(err.message().contains("4194304 bytes"), "{err}");
}

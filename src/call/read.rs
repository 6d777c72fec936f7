//! Reading calls and call data from JSON text, each value typed by the
//! catalog.

use std::borrow::Cow;
use std::time::Duration;

use chrono::DateTime;

use super::convert::{convert, Raw};
use super::json::Json;
use super::{Call, CallData};
use crate::catalog::Catalog;
use crate::error::{shown, Error, ErrorKind};
use crate::limits::{FIELDS, FIELD_NAME_BYTES, SCOPES, SEGMENTS};
use crate::value::Value;

impl CallData {
    /// Reads call data from JSON text, typed by the standard catalog; see
    /// [`CallData::from_json_in`].
    ///
    /// # Errors
    ///
    /// As [`CallData::from_json_in`].
    pub fn from_json(text: &str) -> Result<CallData, Error> {
        CallData::from_json_in(text, Catalog::standard())
    }

    /// Reads call data from JSON text holding an object, converting each
    /// value to its type in `catalog`.
    ///
    /// Nested objects are flattened with dots (`{"customer": {"id": 1}}`
    /// gives `customer.id`), at most 128 levels deep; a name may be 256
    /// bytes long, a value (text, or a number's digits) 1 MiB, and there
    /// may be 10,000 fields. Timestamps are read from RFC 3339 text, ANSI
    /// SQL text (`2020-04-22 00:00:00.0000`, taken as UTC) or Unix seconds;
    /// durations from whole or fractional seconds or `HH:MM:SS` text. Fields
    /// the catalog does not know keep the type JSON gives them.
    ///
    /// Numbers never change: an integer is an `i64` where it fits and its
    /// digits ([`Value::Number`]) where not (`18446744073709551616`); a
    /// decimal is an `f64` where the `f64` prints as the number written
    /// (`0.1`, `1e-7`) and its text where it would be rounded
    /// (`3.14159265358979323846`); a number in a text field is its text as
    /// written. A number past what an `f64` can hold (`1e400`) is refused.
    ///
    /// # Errors
    ///
    /// Text that is not JSON, or nested past 128 levels, or holding a
    /// number past `f64`'s range, is an error of kind [`ErrorKind::Serde`]
    /// with its position. A value that does not convert to its field's
    /// type, a value over 1 MiB, an array, a document that is not an
    /// object, a name over 256 bytes or more than 10,000 fields is an error
    /// of kind [`ErrorKind::InvalidCallData`] naming the field.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{CallData, Catalog, FieldSpec, FieldType, Value};
    ///
    /// let catalog = Catalog::standard()
    ///     .clone()
    ///     .with(FieldSpec::new("billsec", FieldType::Duration));
    /// let data = CallData::from_json_in(r#"{"billsec": "00:01:35"}"#, &catalog)?;
    /// assert_eq!(data.get("billsec"), Some(&Value::Duration(std::time::Duration::from_secs(95))));
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn from_json_in(text: &str, catalog: &Catalog) -> Result<CallData, Error> {
        CallData::from_value_in(&Json::parse(text)?, catalog)
    }

    fn from_value_in(value: &Json<'_>, catalog: &Catalog) -> Result<CallData, Error> {
        let Json::Object(map) = value else {
            return Err(Error::new(
                ErrorKind::InvalidCallData,
                "call data must be a JSON object",
            ));
        };
        let mut data = CallData::new_in(catalog);
        flatten_into(catalog, &mut data, "", map)?;
        Ok(data)
    }
}

impl Call {
    /// Reads a call from its JSON form, typed by the standard catalog; see
    /// [`Call::from_json_in`].
    ///
    /// # Errors
    ///
    /// As [`Call::from_json_in`].
    pub fn from_json(text: &str) -> Result<Call, Error> {
        Call::from_json_in(text, Catalog::standard())
    }

    /// Reads a call from its JSON form, typed by `catalog`: an object with
    /// `data` (required), `id`, `scopes` and `segments`.
    ///
    /// # Errors
    ///
    /// Text that is not JSON is an error of kind [`ErrorKind::Serde`] with
    /// its position; a call of the wrong shape, or data that does not
    /// convert (see [`CallData::from_json_in`]), is an error of kind
    /// [`ErrorKind::InvalidCallData`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog};
    ///
    /// let call = Call::from_json_in(r#"{"id": "c-1", "data": {"ani": "555"}}"#, Catalog::standard())?;
    /// assert_eq!(call.id, "c-1");
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn from_json_in(text: &str, catalog: &Catalog) -> Result<Call, Error> {
        Call::from_value_in(&Json::parse(text)?, catalog)
    }

    fn from_value_in(value: &Json<'_>, catalog: &Catalog) -> Result<Call, Error> {
        let invalid = |message: &str| Error::new(ErrorKind::InvalidCallData, message.to_owned());
        let Json::Object(map) = value else {
            return Err(invalid("a call must be a JSON object"));
        };
        if let Some(key) = map
            .iter()
            .map(|(k, _)| k)
            .find(|k| !matches!(&***k, "id" | "scopes" | "data" | "segments"))
        {
            return Err(invalid(&format!(
                "unknown key `{key}` in a call, expected `id`, `scopes`, `data` or `segments`"
            )));
        }
        let id = match Json::get(map, "id") {
            None => String::new(),
            Some(Json::Str(s)) => s.clone().into_owned(),
            Some(_) => return Err(invalid("a call's `id` must be a string")),
        };
        let too_many = |what: &str, n: usize, most: usize, name: &str| {
            Error::new(
                ErrorKind::InvalidCallData,
                format!(
                    "a call has {} {what}; at most {} are allowed (`limits::{name}`)",
                    crate::limits::count(n),
                    crate::limits::count(most)
                ),
            )
            .in_field(what)
        };
        let scopes = match Json::get(map, "scopes") {
            None => Vec::new(),
            Some(Json::Array(items)) if items.len() > SCOPES => {
                return Err(too_many("scopes", items.len(), SCOPES, "SCOPES"))
            }
            Some(Json::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Json::Str(s) => Some(s.clone().into_owned()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid("a call's `scopes` must be an array of strings"))?,
            Some(_) => return Err(invalid("a call's `scopes` must be an array of strings")),
        };
        let data = CallData::from_value_in(
            Json::get(map, "data").ok_or_else(|| invalid("a call needs a `data` object"))?,
            catalog,
        )?;
        let segments = match Json::get(map, "segments") {
            None => Vec::new(),
            Some(Json::Array(items)) if items.len() > SEGMENTS => {
                return Err(too_many("segments", items.len(), SEGMENTS, "SEGMENTS"))
            }
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    CallData::from_value_in(item, catalog)
                        .map_err(|e| e.in_field(&format!("segments.{i}")))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("a call's `segments` must be an array of objects")),
        };
        Ok(Call {
            id,
            scopes,
            data,
            segments,
        })
    }
}

pub(super) fn flatten_into(
    catalog: &Catalog,
    data: &mut CallData,
    prefix: &str,
    map: &[(Cow<'_, str>, Json<'_>)],
) -> Result<(), Error> {
    for (key, value) in map {
        let length = if prefix.is_empty() {
            key.len()
        } else {
            prefix.len() + 1 + key.len()
        };
        if length > FIELD_NAME_BYTES {
            return Err(Error::new(
                ErrorKind::InvalidCallData,
                format!(
                    "field name `{}` is longer than {FIELD_NAME_BYTES} bytes (`limits::FIELD_NAME_BYTES`)",
                    shown(&format!("{prefix}.{key}"))
                ),
            ));
        }
        if data.len() >= FIELDS {
            return Err(Error::new(
                ErrorKind::InvalidCallData,
                format!("call data holds more than {FIELDS} fields (`limits::FIELDS`)"),
            ));
        }
        let name = if prefix.is_empty() {
            key.clone().into_owned()
        } else {
            format!("{prefix}.{key}")
        };
        if let Json::Object(inner) = value {
            // `std::time::Duration` and `SystemTime` serialise as these
            // objects; they are one value each, not fields of their own.
            if let Some(value) = std_time(inner) {
                data.insert(name, value);
            } else {
                flatten_into(catalog, data, &name, inner)?;
            }
            continue;
        }
        let typed = convert(catalog, &name, value)?;
        data.insert(name, typed);
    }
    Ok(())
}

/// A `Duration` (`{"secs", "nanos"}`) or `SystemTime`
/// (`{"secs_since_epoch", "nanos_since_epoch"}`) as serde writes them;
/// `None` for any other map, or numbers out of range (negative, past what
/// a time holds), which the caller reads as a map.
pub(super) fn std_time(map: &[(Cow<'_, str>, Json<'_>)]) -> Option<Value> {
    let field = |name: &str| match Json::get(map, name)? {
        Json::Number(Raw::I64(n), _) => u64::try_from(*n).ok(),
        Json::Number(Raw::U64(n), _) => Some(*n),
        _ => None,
    };
    if map.len() != 2 {
        return None;
    }
    if let (Some(secs), Some(nanos)) = (field("secs"), field("nanos")) {
        return Some(Value::Duration(
            Duration::from_secs(secs).checked_add(Duration::from_nanos(nanos))?,
        ));
    }
    let (secs, nanos) = (field("secs_since_epoch")?, field("nanos_since_epoch")?);
    let time = DateTime::from_timestamp(i64::try_from(secs).ok()?, u32::try_from(nanos).ok()?)?;
    Some(Value::Timestamp(time.fixed_offset()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A value that fails its type is quoted in the error, but not that of
    /// a secret or personal field (errors are logged), read from JSON text
    /// or from a host's `Serialize` alike.
    #[test]
    fn personal_and_secret_values_are_not_quoted_in_errors() {
        use crate::catalog::{Catalog, FieldSpec};
        use crate::value::FieldType;
        let catalog = Catalog::standard()
            .clone()
            .with(FieldSpec::new("caller_since", FieldType::Timestamp).personal())
            .with(FieldSpec::new("pin_set_at", FieldType::Timestamp).secret())
            .with(FieldSpec::new("opened_at", FieldType::Timestamp));
        for (field, shown) in [
            ("caller_since", Some("personal data")),
            ("pin_set_at", Some("a secret")),
            ("opened_at", None),
        ] {
            let data = json!({ field: "Ada-Lovelace-1815" });
            for err in [
                CallData::from_json_in(&data.to_string(), &catalog).unwrap_err(),
                CallData::from_serialize_in(&data, &catalog).unwrap_err(),
            ] {
                let text = format!("{err} {err:?}");
                match shown {
                    Some(why) => {
                        assert!(!text.contains("Lovelace"), "{text}");
                        assert!(
                            text.contains(&format!("({why}: its value is not shown)")),
                            "{text}"
                        );
                    }
                    None => assert!(text.contains("Ada-Lovelace-1815"), "{text}"),
                }
            }
        }
    }

    #[test]
    fn json_is_typed_by_the_catalog() {
        let data = CallData::from_serialize(&json!({
            "call_start": "2020-04-22 00:00:00.0000",
            "created_at": "2024-12-02T21:04:40.701+02:00",
            "duration": 60,
            "duration_time": "00:06:57",
            "sip_status": 200,
            "contact_number": null,
            "custom": {"ticket": 42, "vip": true},
        }))
        .unwrap();
        let Some(Value::Timestamp(start)) = data.get("call_start") else {
            panic!()
        };
        assert_eq!(start.offset().local_minus_utc(), 0);
        let Some(Value::Timestamp(created)) = data.get("created_at") else {
            panic!()
        };
        assert_eq!(created.offset().local_minus_utc(), 7200);
        assert_eq!(
            data.get("duration"),
            Some(&Value::Duration(Duration::from_secs(60)))
        );
        assert_eq!(
            data.get("duration_time"),
            Some(&Value::Duration(Duration::from_secs(417)))
        );
        assert_eq!(data.get("sip_status"), Some(&Value::from("200")));
        assert_eq!(data.get("contact_number"), Some(&Value::Null));
        assert_eq!(data.get("custom.ticket"), Some(&Value::Integer(42)));
        assert_eq!(data.get("custom.vip"), Some(&Value::Bool(true)));
    }

    #[test]
    fn bad_call_data_names_the_field() {
        let err = CallData::from_json(r#"{"call_start": "yesterday"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCallData);
        assert_eq!(err.field(), Some("call_start"));
        assert!(CallData::from_json(r#"{"duration": -1}"#).is_err());
        assert!(CallData::from_json(r#"{"duration_time": "1:99:00"}"#).is_err());
        assert!(CallData::from_json(r#"{"tags": [1]}"#).is_err());
        assert!(CallData::from_json("[1]").is_err());
        let err = CallData::from_json("{\n  \"a\": }").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Serde);
        assert_eq!(err.position().map(|p| p.line), Some(2));
    }

    /// A small document cannot flatten into a huge one.
    #[test]
    fn names_and_fields_are_bounded() {
        let key = "k".repeat(100_000);
        let leaves: Vec<String> = (0..20_000).map(|i| format!("\"{i}\": 1")).collect();
        let text = format!("{{\"{key}\": {{{}}}}}", leaves.join(","));
        let err = CallData::from_json(&text).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCallData);
        assert!(err.message().len() < 200, "{}", err.message());
        let many: Vec<String> = (0..10_001).map(|i| format!("\"f{i}\": 1")).collect();
        let err = CallData::from_json(&format!("{{{}}}", many.join(","))).unwrap_err();
        assert!(err.message().contains("10000"), "{err}");
        let fine = format!("{{\"{}\": 1}}", "n".repeat(FIELD_NAME_BYTES));
        assert!(CallData::from_json(&fine).is_ok());
    }

    #[test]
    fn calls_read_scopes_and_segments() {
        let call = Call::from_json(
            r#"{"id": "c", "scopes": ["a"], "data": {"ani": "1"}, "segments": [{"agent_id": "7"}]}"#,
        )
        .unwrap();
        assert_eq!(call.scopes, ["a"]);
        assert_eq!(call.segment_data(0).get("ani"), Some(&Value::from("1")));
        assert!(Call::from_json(r#"{"data": {}, "scopes": [1]}"#).is_err());
        assert!(Call::from_json(r#"{"data": {}, "extra": 1}"#).is_err());
        assert!(Call::from_json(r#"{"id": "c"}"#).is_err());
    }
}

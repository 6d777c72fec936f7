//! Typing a scalar by the catalog: [`Raw`] values, as JSON or a host's
//! `Serialize` gives them, converted to their field's type.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime};

use super::json::{self, Json};
use crate::catalog::{Catalog, FieldSpec};
use crate::error::{shown, Error, ErrorKind};
use crate::limits::VALUE_BYTES;
use crate::value::{FieldType, Value};

/// A scalar as JSON or a host's `Serialize` gives it, before the catalog
/// types it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw<'a> {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    /// A number as written, where none of the above carries it exactly.
    Number(&'a str),
    Str(&'a str),
}

impl fmt::Display for Raw<'_> {
    /// As JSON writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Raw::Null => f.write_str("null"),
            Raw::Bool(b) => write!(f, "{b}"),
            Raw::I64(n) => write!(f, "{n}"),
            Raw::U64(n) => write!(f, "{n}"),
            Raw::F64(n) => write!(f, "{n}"),
            Raw::Number(n) => f.write_str(n),
            Raw::Str(s) => write!(f, "{}", serde_json::Value::from(*s)),
        }
    }
}

pub(super) fn convert(catalog: &Catalog, name: &str, value: &Json<'_>) -> Result<Value, Error> {
    let field_type = catalog.get(name).map(FieldSpec::field_type);
    let raw = match value {
        Json::Null => Raw::Null,
        Json::Bool(b) => Raw::Bool(*b),
        Json::Str(s) => Raw::Str(s),
        // A number in a text field is the text it was written as.
        Json::Number(_, text) if field_type == Some(FieldType::Text) => Raw::Number(text),
        Json::Number(n, _) => *n,
        // Objects are flattened before this; either is refused here.
        Json::Array(_) | Json::Object(_) => return Err(not_scalar(name)),
    };
    let spec = catalog.get(name);
    convert_raw(field_type, || hidden(spec), name, raw)
}

pub(crate) fn not_scalar(name: &str) -> Error {
    Error::new(
        ErrorKind::InvalidCallData,
        format!(
            "field `{}` is not a scalar; call data values must be scalars",
            shown(name)
        ),
    )
    .in_field(name)
}

/// Why a value of the field `spec` describes is not quoted in an error, if
/// it is not: a secret, or personal data (errors are logged, and a log is
/// a stored record).
pub(crate) fn hidden(spec: Option<&FieldSpec>) -> Option<&'static str> {
    match spec {
        Some(spec) if spec.is_secret() => Some("a secret"),
        Some(spec) if spec.is_personal() => Some("personal data"),
        _ => None,
    }
}

/// A scalar typed by its field's type in `catalog`; a field the catalog
/// does not know keeps the type the scalar has. A value that does not fit
/// is quoted in the error, unless `hidden` says why not ([`hidden`], asked
/// only then).
pub(crate) fn convert_raw(
    field_type: Option<FieldType>,
    hidden: impl Fn() -> Option<&'static str>,
    name: &str,
    raw: Raw<'_>,
) -> Result<Value, Error> {
    if let Raw::Str(text) | Raw::Number(text) = raw {
        if text.len() > VALUE_BYTES {
            return Err(Error::new(
                ErrorKind::InvalidCallData,
                format!(
                    "field `{}` is longer than the limit of {VALUE_BYTES} bytes for one value (`limits::VALUE_BYTES`)",
                    shown(name)
                ),
            )
            .in_field(name));
        }
    }
    let invalid = |expected: &str| {
        let message = if let Some(why) = hidden() {
            format!(
                "field `{}` is not a valid {expected} ({why}: its value is not shown)",
                shown(name)
            )
        } else {
            format!(
                "field `{}` is not a valid {expected}: `{}`",
                shown(name),
                shown(&raw.to_string())
            )
        };
        Error::new(ErrorKind::InvalidCallData, message).in_field(name)
    };
    Ok(match (raw, field_type) {
        (Raw::Null, _) => Value::Null,
        (_, Some(FieldType::Timestamp)) => {
            parse_timestamp(raw).ok_or_else(|| invalid("timestamp"))?
        }
        (_, Some(FieldType::Duration)) => parse_duration(raw).ok_or_else(|| invalid("duration"))?,
        (Raw::Str(s), Some(FieldType::Integer)) => {
            integer_text(s.trim()).ok_or_else(|| invalid("integer"))?
        }
        (Raw::Str(s), Some(FieldType::Decimal)) => {
            let s = s.trim();
            let n: f64 = s.parse().map_err(|_| invalid("decimal"))?;
            if n.is_finite() && crate::value::is_json_number(s) && !json::prints_as(s, n) {
                Value::Number(number_text(s))
            } else {
                Value::Decimal(n)
            }
        }
        (Raw::Str(s), _) => Value::Text(s.to_owned()),
        (_, Some(FieldType::Text)) => Value::Text(raw.to_string()),
        (Raw::Bool(b), _) => Value::Bool(b),
        // A whole number in a decimal field is a decimal where an `f64`
        // holds it and prints it digit for digit (up to 2^53), and kept
        // whole beyond, where it would print rounded.
        (Raw::I64(n), Some(FieldType::Decimal)) if n.unsigned_abs() <= EXACT_IN_F64 => {
            Value::Decimal(n as f64)
        }
        (Raw::U64(n), Some(FieldType::Decimal)) if n <= EXACT_IN_F64 => Value::Decimal(n as f64),
        (Raw::I64(n), _) => Value::Integer(n),
        (Raw::U64(n), _) => Value::from(n),
        (Raw::F64(n), _) => Value::Decimal(n),
        (Raw::Number(n), _) => Value::Number(number_text(n)),
    })
}

/// A JSON number's text as a [`Value::Number`] keeps it: an exponent's `+`
/// dropped (`1e+5` is `1e5`), since a `+` in a URL query reads as a space.
pub(super) fn number_text(text: &str) -> String {
    text.replace("e+", "e").replace("E+", "E")
}

/// The largest whole number every smaller one of which an `f64` holds
/// exactly: 2^53.
pub(super) const EXACT_IN_F64: u64 = 1 << 53;

/// Text that is a whole number, as an integer: an `i64` where it fits, its
/// digits ([`Value::Number`], without a `+` or leading zeros) where not.
pub(super) fn integer_text(text: &str) -> Option<Value> {
    if let Ok(n) = text.parse::<i64>() {
        return Some(Value::Integer(n));
    }
    let (sign, digits) = match text.as_bytes().first()? {
        b'-' => ("-", &text[1..]),
        b'+' => ("", &text[1..]),
        _ => ("", text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    // Text that fit an `i64` parsed above, so some digit is not zero.
    Some(Value::Number(format!("{sign}{digits}")))
}

pub(super) fn parse_timestamp(raw: Raw<'_>) -> Option<Value> {
    match raw {
        Raw::Str(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(Value::Timestamp(t));
            }
            for pattern in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
                if let Ok(t) = NaiveDateTime::parse_from_str(s, pattern) {
                    return Some(Value::Timestamp(t.and_utc().fixed_offset()));
                }
            }
            None
        }
        Raw::I64(n) => Some(Value::Timestamp(
            DateTime::from_timestamp(n, 0)?.fixed_offset(),
        )),
        // Seconds past `i64`, like those past chrono's range, are no time:
        // `None`, which the caller refuses.
        Raw::U64(n) => Some(Value::Timestamp(
            DateTime::from_timestamp(i64::try_from(n).ok()?, 0)?.fixed_offset(),
        )),
        _ => None,
    }
}

/// `None` (refused by the caller) for what is no duration: a negative or
/// out-of-range number, or text that is not `H:MM:SS`.
pub(super) fn parse_duration(raw: Raw<'_>) -> Option<Value> {
    match raw {
        Raw::U64(secs) => Some(Value::Duration(Duration::from_secs(secs))),
        Raw::I64(secs) => Some(Value::Duration(Duration::from_secs(
            u64::try_from(secs).ok()?,
        ))),
        Raw::F64(secs) => Duration::try_from_secs_f64(secs).ok().map(Value::Duration),
        Raw::Number(secs) => Duration::try_from_secs_f64(secs.parse().ok()?)
            .ok()
            .map(Value::Duration),
        Raw::Str(s) => {
            let mut parts = s.trim().split(':');
            let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() {
                return None;
            }
            let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            if !(digits(h) && digits(m) && digits(sec)) || m.len() != 2 || sec.len() != 2 {
                return None;
            }
            let (h, m, sec): (u64, u64, u64) =
                (h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?);
            if m > 59 || sec > 59 {
                return None;
            }
            Some(Value::Duration(Duration::from_secs(
                h.checked_mul(3600)?.checked_add(m * 60 + sec)?,
            )))
        }
        _ => None,
    }
}

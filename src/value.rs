//! The typed values of a call, and the types a catalog declares.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};

/// One typed value of a call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// Known to have no value (JSON `null`).
    Null,
    /// Text.
    Text(String),
    /// A whole number.
    Integer(i64),
    /// A number with a fractional part.
    Decimal(f64),
    /// A number as the text it was given in, where [`Value::Integer`] or
    /// [`Value::Decimal`] would change it: a whole number past the range of
    /// `i64` (`18446744073709551616`), or a decimal with more digits than
    /// an `f64` holds. It prints exactly as given, so a number is carried
    /// or refused, never rounded. The text is a JSON number with no `+`
    /// (call data writes `1e+5` as `1e5`); other text renders escaped, as
    /// text.
    Number(String),
    /// True or false.
    Bool(bool),
    /// A point in time, keeping the UTC offset it was given with.
    Timestamp(DateTime<FixedOffset>),
    /// A length of time.
    Duration(Duration),
}

impl Value {
    /// The type of this value, or `None` for [`Value::Null`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{FieldType, Value};
    ///
    /// assert_eq!(Value::from(95).field_type(), Some(FieldType::Integer));
    /// assert_eq!(Value::Null.field_type(), None);
    /// ```
    #[must_use]
    pub fn field_type(&self) -> Option<FieldType> {
        Some(match self {
            Value::Null => return None,
            Value::Text(_) => FieldType::Text,
            Value::Integer(_) => FieldType::Integer,
            Value::Decimal(_) => FieldType::Decimal,
            Value::Number(text) if is_whole(text) => FieldType::Integer,
            Value::Number(_) => FieldType::Decimal,
            Value::Bool(_) => FieldType::Boolean,
            Value::Timestamp(_) => FieldType::Timestamp,
            Value::Duration(_) => FieldType::Duration,
        })
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Integer(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Integer(v.into())
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Integer(v.into())
    }
}
impl From<u64> for Value {
    /// A whole number; one past `i64::MAX` is kept as its digits
    /// ([`Value::Number`]).
    fn from(v: u64) -> Value {
        i64::try_from(v).map_or_else(|_| Value::Number(v.to_string()), Value::Integer)
    }
}
impl From<u128> for Value {
    /// A whole number; one past `i64::MAX` is kept as its digits
    /// ([`Value::Number`]).
    fn from(v: u128) -> Value {
        i64::try_from(v).map_or_else(|_| Value::Number(v.to_string()), Value::Integer)
    }
}
impl From<i128> for Value {
    /// A whole number; one outside `i64` is kept as its digits
    /// ([`Value::Number`]).
    fn from(v: i128) -> Value {
        i64::try_from(v).map_or_else(|_| Value::Number(v.to_string()), Value::Integer)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::from(v as u64)
    }
}
impl From<i16> for Value {
    fn from(v: i16) -> Value {
        Value::Integer(v.into())
    }
}
impl From<u16> for Value {
    fn from(v: u16) -> Value {
        Value::Integer(v.into())
    }
}
impl From<u8> for Value {
    fn from(v: u8) -> Value {
        Value::Integer(v.into())
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::Decimal(v.into())
    }
}
impl From<std::time::SystemTime> for Value {
    /// A timestamp in UTC.
    fn from(v: std::time::SystemTime) -> Value {
        Value::Timestamp(DateTime::<Utc>::from(v).fixed_offset())
    }
}
impl From<chrono::NaiveDateTime> for Value {
    /// A timestamp, the date and time taken as UTC.
    fn from(v: chrono::NaiveDateTime) -> Value {
        Value::Timestamp(v.and_utc().fixed_offset())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Decimal(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}
impl From<DateTime<FixedOffset>> for Value {
    fn from(v: DateTime<FixedOffset>) -> Value {
        Value::Timestamp(v)
    }
}
impl From<DateTime<Utc>> for Value {
    fn from(v: DateTime<Utc>) -> Value {
        Value::Timestamp(v.fixed_offset())
    }
}
impl From<Duration> for Value {
    fn from(v: Duration) -> Value {
        Value::Duration(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// Whether a JSON number's text is a whole number (no fraction, no
/// exponent).
pub(crate) fn is_whole(number: &str) -> bool {
    !number.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

/// Whether `text` is a JSON number: `-`, then `0` or digits not led by
/// `0`, then an optional fraction and exponent.
pub(crate) fn is_json_number(text: &str) -> bool {
    // The sign is optional.
    let bytes = text.strip_prefix('-').unwrap_or(text).as_bytes();
    let digits = |from: usize| {
        bytes[from.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let whole = digits(0);
    if whole == 0 || (whole > 1 && bytes[0] == b'0') {
        return false;
    }
    let mut at = whole;
    if bytes.get(at) == Some(&b'.') {
        let fraction = digits(at + 1);
        if fraction == 0 {
            return false;
        }
        at += 1 + fraction;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let exponent = digits(at);
        if exponent == 0 {
            return false;
        }
        at += exponent;
    }
    at == bytes.len()
}

/// The declared type of a catalog field; in configuration, its name in
/// lower case (`"type": "duration"`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FieldType {
    /// Text.
    Text,
    /// A whole number.
    Integer,
    /// A number with a fractional part.
    Decimal,
    /// True or false.
    Boolean,
    /// A point in time.
    Timestamp,
    /// A length of time.
    Duration,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldType::Text => "text",
            FieldType::Integer => "integer",
            FieldType::Decimal => "decimal",
            FieldType::Boolean => "boolean",
            FieldType::Timestamp => "timestamp",
            FieldType::Duration => "duration",
        })
    }
}

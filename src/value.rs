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
    /// A whole number; one past `i64::MAX` becomes a decimal.
    fn from(v: u64) -> Value {
        i64::try_from(v).map_or(Value::Decimal(v as f64), Value::Integer)
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

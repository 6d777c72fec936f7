//! Call data: the typed values of one call, or of one agent segment of a
//! call, and the call as a host reports it.

mod json;
mod serialize;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime};
use serde::Serialize;

use crate::catalog::{Catalog, FieldKey, FieldSpec, Positions};
use crate::error::{shown, Error, ErrorKind};
use crate::limits::{FIELDS, FIELD_NAME_BYTES, SCOPES, SEGMENTS, VALUE_BYTES};
use crate::secret::REDACTED;
use crate::value::{FieldType, Value};

use json::Json;

/// Where a render looks values up: one [`CallData`], or several layered
/// (dispatch puts its own fields over a segment's over the call's).
pub(crate) trait Lookup {
    /// The value of the field `key` names in `positions`, those of the
    /// catalog its template was checked against.
    fn lookup(&self, positions: &Positions, key: &FieldKey) -> Option<&Value>;

    /// A built-in field's value where it is text the lookup borrows (the
    /// event name, the delivery id), asked before [`Lookup::lookup`] for
    /// built-in fields only: dispatch sets them without making a `Value`.
    fn builtin_text(&self, _key: &FieldKey) -> Option<&str> {
        None
    }
}

/// Call data as shown to people: the values of secret fields read as
/// [`REDACTED`].
pub(crate) struct Redacted<'a, L: ?Sized>(pub(crate) &'a L);

impl<L: Lookup + ?Sized> Lookup for Redacted<'_, L> {
    fn lookup(&self, positions: &Positions, key: &FieldKey) -> Option<&Value> {
        static SHOWN: OnceLock<Value> = OnceLock::new();
        match self.0.lookup(positions, key)? {
            Value::Null => Some(&Value::Null),
            _ if key.secret => Some(SHOWN.get_or_init(|| Value::Text(REDACTED.to_owned()))),
            value => Some(value),
        }
    }

    fn builtin_text(&self, key: &FieldKey) -> Option<&str> {
        let text = self.0.builtin_text(key)?;
        Some(if key.secret { REDACTED } else { text })
    }
}

impl Lookup for CallData {
    #[inline]
    fn lookup(&self, positions: &Positions, key: &FieldKey) -> Option<&Value> {
        if self.catalog.id == positions.id {
            match self.by_position.get(key.position as usize) {
                Some(&entry) if entry != 0 => self.entries.get(entry as usize - 1).map(|e| &e.1),
                _ => None,
            }
        } else {
            self.get(key.name(positions))
        }
    }
}

/// A field's name as call data keeps it: a catalog position, read from the
/// catalog's names, so setting a known field copies no name.
#[derive(Debug, Clone, PartialEq)]
enum Name {
    Known(u32),
    Other(Box<str>),
}

/// The values of one call, or of one agent segment of a call.
///
/// Build it in code, from JSON text, or from any `Serialize` value (the
/// host's own call struct, or a `serde_json::Value`):
///
/// ```
/// use callhook::{CallData, Value};
///
/// let call = CallData::new()
///     .with("agent_id", "1001")
///     .with("duration", std::time::Duration::from_secs(95));
/// assert_eq!(call.get("agent_id"), Some(&Value::from("1001")));
///
/// let from_json = CallData::from_json(r#"{"agent_id": "1001", "duration": 95}"#)?;
/// assert_eq!(from_json, call);
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Clone)]
pub struct CallData {
    entries: Vec<(Name, Value)>,
    /// Entry index by name, for fields the catalog does not know (those it
    /// knows are found by position).
    index: HashMap<Box<str>, usize>,
    /// The catalog whose fields are also indexed by position.
    catalog: Arc<Positions>,
    /// Entry index + 1 (0: not set) by catalog position: templates compiled
    /// against the same catalog look their fields up here, by index.
    by_position: Vec<u32>,
}

impl Default for CallData {
    fn default() -> CallData {
        CallData::new_in(Catalog::standard())
    }
}

impl CallData {
    /// Empty call data, for templates checked against the standard catalog.
    #[must_use]
    pub fn new() -> CallData {
        CallData::default()
    }

    /// Empty call data for templates checked against `catalog`: such
    /// templates find its fields by index rather than by name. Any other
    /// template still finds them, by name.
    #[must_use]
    pub fn new_in(catalog: &Catalog) -> CallData {
        CallData {
            entries: Vec::new(),
            index: HashMap::new(),
            catalog: Arc::clone(catalog.positions()),
            by_position: Vec::new(),
        }
    }

    /// Sets a field, replacing any value it had, and returns the data.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> CallData {
        self.insert(name, value);
        self
    }

    /// Sets a field, returning the value it had.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        let name: String = name.into();
        let position = self.catalog.of.get(name.as_str()).copied();
        self.insert_at(&name, position, value.into())
    }

    /// Sets a field whose catalog position (if it has one) is known.
    #[inline]
    pub(crate) fn insert_at(
        &mut self,
        name: &str,
        position: Option<u32>,
        value: Value,
    ) -> Option<Value> {
        let entry = self.entries.len();
        let name = match position {
            // A catalog field is found by its position: no name index.
            Some(position) => {
                let position = position as usize;
                if self.by_position.len() <= position {
                    self.by_position
                        .resize(self.catalog.of.len().max(position + 1), 0);
                }
                match self.by_position[position] {
                    0 => self.by_position[position] = entry as u32 + 1,
                    i => {
                        let old = &mut self.entries[i as usize - 1].1;
                        return Some(std::mem::replace(old, value));
                    }
                }
                Name::Known(position as u32)
            }
            None => {
                if let Some(&i) = self.index.get(name) {
                    return Some(std::mem::replace(&mut self.entries[i].1, value));
                }
                self.index.insert(name.into(), entry);
                Name::Other(name.into())
            }
        };
        self.entries.push((name, value));
        None
    }

    /// Makes room for `fields` more fields (a struct says how many it has).
    pub(crate) fn reserve(&mut self, fields: usize) {
        self.entries.reserve(fields.min(FIELDS));
    }

    fn name<'a>(&'a self, name: &'a Name) -> &'a str {
        match name {
            Name::Known(position) => self
                .catalog
                .names
                .get(*position as usize)
                .map_or("", |name| name),
            Name::Other(name) => name,
        }
    }

    /// The value of a field, if the call has it.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Value> {
        let entry = match self.catalog.of.get(name) {
            Some(&position) => {
                (*self.by_position.get(position as usize)? as usize).checked_sub(1)?
            }
            None => *self.index.get(name)?,
        };
        self.entries.get(entry).map(|e| &e.1)
    }

    /// The fields in the order they were first set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (self.name(k), v))
    }

    /// How many fields are set.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no field is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// This data with every field of `other` set over it: the call's data
    /// overlaid with one agent segment's.
    #[must_use]
    pub fn overlaid(&self, other: &CallData) -> CallData {
        let mut merged = self.clone();
        for (name, value) in other.iter() {
            merged.insert(name, value.clone());
        }
        merged
    }

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

    /// Reads call data from any `Serialize` value that serialises as an
    /// object (the host's own call struct, a `serde_json::Value`), typed by
    /// the standard catalog; see [`CallData::from_json_in`].
    ///
    /// # Errors
    ///
    /// As [`CallData::from_serialize_in`].
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<CallData, Error> {
        CallData::from_serialize_in(value, Catalog::standard())
    }

    /// Reads call data from any `Serialize` value that serialises as a
    /// struct or map, typed by `catalog` as [`CallData::from_json_in`] types
    /// JSON, written straight into the call data. A `std::time::Duration`
    /// is a duration and a `SystemTime` a timestamp, and integers of every
    /// width keep their value (past `i64`, as digits: [`Value::Number`]).
    ///
    /// # Errors
    ///
    /// A value that does not serialise, or does not convert as
    /// [`CallData::from_json_in`] describes, is an error of kind
    /// [`ErrorKind::InvalidCallData`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{CallData, Catalog, Value};
    ///
    /// #[derive(serde::Serialize)]
    /// struct Hangup<'a> {
    ///     agent_id: &'a str,
    ///     duration: u32,
    /// }
    ///
    /// let data = CallData::from_serialize_in(&Hangup { agent_id: "7", duration: 3 }, Catalog::standard())?;
    /// assert_eq!(data.get("duration"), Some(&Value::Duration(std::time::Duration::from_secs(3))));
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn from_serialize_in<T: Serialize + ?Sized>(
        value: &T,
        catalog: &Catalog,
    ) -> Result<CallData, Error> {
        // Written straight into call data, with no JSON value between.
        let mut data = CallData::new_in(catalog);
        serialize::write(value, &mut data, catalog)?;
        Ok(data)
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

impl PartialEq for CallData {
    fn eq(&self, other: &CallData) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(name, value)| other.get(name) == Some(value))
    }
}

/// Secret fields' values print as [`REDACTED`].
impl fmt::Debug for CallData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = Value::Text(REDACTED.to_owned());
        f.debug_map()
            .entries(self.iter().map(|(name, value)| {
                if self.catalog.secret.contains(name) {
                    (name, &shown)
                } else {
                    (name, value)
                }
            }))
            .finish()
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for CallData {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> CallData {
        let mut data = CallData::new();
        for (k, v) in iter {
            data.insert(k, v);
        }
        data
    }
}

/// One call as a host reports it: its id, the scopes it belongs to, its data,
/// and the data of each agent segment.
///
/// Scopes are what webhooks subscribe to: the PBX's environments, RingCX's
/// campaigns and queues. Segments are RingCX's agent sessions: a transferred
/// call has one per agent, each with its own agent fields and recording,
/// which overlay the call's data ([`Call::segment_data`]).
///
/// Its JSON form is what the sample files in `examples/calls/` hold:
///
/// ```
/// use callhook::Call;
///
/// let call = Call::from_json(r#"{
///     "id": "c-1",
///     "scopes": ["queue:Support"],
///     "data": {"ani": "15551234567"},
///     "segments": [{"agent_id": "1001"}, {"agent_id": "1002"}]
/// }"#)?;
/// assert_eq!(call.segments.len(), 2);
/// assert_eq!(call.segment_data(1).get("agent_id"), Some(&"1002".into()));
/// assert_eq!(call.segment_data(1).get("ani"), Some(&"15551234567".into()));
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Call {
    /// The platform's id of the call.
    pub id: String,
    /// The scopes (environments, campaigns, queues) the call belongs to.
    pub scopes: Vec<String>,
    /// The call's own fields.
    pub data: CallData,
    /// Each agent segment's fields, in order.
    pub segments: Vec<CallData>,
}

impl Call {
    /// A call with its id and fields, in no scope and with no agent
    /// segments; set [`scopes`](Call::scopes) and
    /// [`segments`](Call::segments) on it when the call has them.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, CallData};
    ///
    /// let mut call = Call::new("c-1", CallData::new().with("ani", "15551234567"));
    /// call.scopes.push("queue:Support".into());
    /// assert_eq!(call.data.get("ani"), Some(&"15551234567".into()));
    /// ```
    #[must_use]
    pub fn new(id: impl Into<String>, data: CallData) -> Call {
        Call {
            id: id.into(),
            scopes: Vec::new(),
            data,
            segments: Vec::new(),
        }
    }

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

    /// The call's data overlaid with segment `index`'s, or the call's data
    /// alone if there is no such segment.
    #[must_use]
    pub fn segment_data(&self, index: usize) -> CallData {
        match self.segments.get(index) {
            Some(segment) => self.data.overlaid(segment),
            None => self.data.clone(),
        }
    }
}

fn flatten_into(
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
/// (`{"secs_since_epoch", "nanos_since_epoch"}`) as serde writes them.
fn std_time(map: &[(Cow<'_, str>, Json<'_>)]) -> Option<Value> {
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

fn convert(catalog: &Catalog, name: &str, value: &Json<'_>) -> Result<Value, Error> {
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
    convert_raw(
        field_type,
        || spec.is_some_and(FieldSpec::is_secret),
        name,
        raw,
    )
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

/// A scalar typed by its field's type in `catalog`; a field the catalog
/// does not know keeps the type the scalar has. A value that does not fit
/// is quoted in the error, unless the field is `secret` (asked only then).
pub(crate) fn convert_raw(
    field_type: Option<FieldType>,
    secret: impl Fn() -> bool,
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
        let message = if secret() {
            format!(
                "field `{}` is not a valid {expected} (a secret: its value is not shown)",
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
fn number_text(text: &str) -> String {
    text.replace("e+", "e").replace("E+", "E")
}

/// The largest whole number every smaller one of which an `f64` holds
/// exactly: 2^53.
const EXACT_IN_F64: u64 = 1 << 53;

/// Text that is a whole number, as an integer: an `i64` where it fits, its
/// digits ([`Value::Number`], without a `+` or leading zeros) where not.
fn integer_text(text: &str) -> Option<Value> {
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

fn parse_timestamp(raw: Raw<'_>) -> Option<Value> {
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
        Raw::U64(n) => Some(Value::Timestamp(
            DateTime::from_timestamp(i64::try_from(n).ok()?, 0)?.fixed_offset(),
        )),
        _ => None,
    }
}

fn parse_duration(raw: Raw<'_>) -> Option<Value> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn insert_replace_and_lookup_many_fields() {
        let mut data = CallData::new();
        for i in 0..100 {
            assert_eq!(data.insert(format!("f{i}"), i), None);
        }
        assert_eq!(data.insert("f7", "seven"), Some(Value::Integer(7)));
        assert_eq!(data.len(), 100);
        for i in 0..100 {
            assert!(data.get(&format!("f{i}")).is_some());
        }
        assert_eq!(data.get("f100"), None);
        assert_eq!(data.iter().next().unwrap().0, "f0");
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
    fn host_structs_serialise_into_call_data() {
        #[derive(Serialize)]
        struct Call<'a> {
            agent_id: &'a str,
            duration: u32,
            ring_duration: Duration,
            wrap_up: Duration,
            created_at: std::time::SystemTime,
            call_start: chrono::DateTime<chrono::Utc>,
            billsec: u64,
        }
        let start = DateTime::from_timestamp(1_733_173_480, 0).unwrap();
        let data = CallData::from_serialize(&Call {
            agent_id: "7",
            duration: 3,
            ring_duration: Duration::from_millis(1_500),
            wrap_up: Duration::from_secs(30),
            created_at: std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_733_173_480),
            call_start: start,
            billsec: 4_000_000_000,
        })
        .unwrap();
        assert_eq!(
            data.get("duration"),
            Some(&Value::Duration(Duration::from_secs(3)))
        );
        // Durations and times are one value, whatever the catalog knows.
        assert_eq!(
            data.get("ring_duration"),
            Some(&Value::Duration(Duration::from_millis(1_500)))
        );
        assert_eq!(
            data.get("wrap_up"),
            Some(&Value::Duration(Duration::from_secs(30)))
        );
        assert_eq!(data.get("wrap_up.secs"), None);
        assert_eq!(data.get("created_at"), Some(&Value::from(start)));
        assert_eq!(data.get("call_start"), Some(&Value::from(start)));
        assert_eq!(data.get("billsec"), Some(&Value::Integer(4_000_000_000)));
    }

    /// The serializer reads what serde_json's `Value` would have read, but
    /// the time types, and refuses what is not a scalar.
    #[test]
    fn host_values_of_every_shape() {
        #[derive(Serialize)]
        enum Channel {
            Voice,
            Chat { _room: u8 },
        }
        #[derive(Serialize)]
        struct Inner {
            ticket: u16,
            vip: Option<bool>,
        }
        #[derive(Serialize)]
        struct Host {
            channel: Channel,
            crm: Inner,
            tags: std::collections::BTreeMap<u32, &'static str>,
            nothing: (),
            grade: char,
            big: u128,
        }
        let data = CallData::from_serialize(&Host {
            channel: Channel::Voice,
            crm: Inner {
                ticket: 42,
                vip: None,
            },
            tags: [(7, "gold")].into_iter().collect(),
            nothing: (),
            grade: 'A',
            big: u128::from(u64::MAX) + 1,
        })
        .unwrap();
        assert_eq!(data.get("channel"), Some(&Value::from("Voice")));
        assert_eq!(data.get("crm.ticket"), Some(&Value::Integer(42)));
        assert_eq!(data.get("crm.vip"), Some(&Value::Null));
        assert_eq!(data.get("tags.7"), Some(&Value::from("gold")));
        assert_eq!(data.get("nothing"), Some(&Value::Null));
        assert_eq!(data.get("grade"), Some(&Value::from("A")));
        // Past `u64`, a host's integer keeps its digits, never rounded.
        assert_eq!(
            data.get("big"),
            Some(&Value::Number("18446744073709551616".into()))
        );
        let err = CallData::from_serialize(&json!({"tags": [1, 2]})).unwrap_err();
        assert_eq!(err.field(), Some("tags"));
        assert!(CallData::from_serialize(&Channel::Chat { _room: 1 }).is_err());
        assert!(CallData::from_serialize(&[1, 2]).is_err());
        // Typed by the catalog as JSON is.
        let err = CallData::from_serialize(&json!({"call_start": "yesterday"})).unwrap_err();
        assert_eq!(err.field(), Some("call_start"));
    }

    /// A struct's fields are found by remembered position: the same struct
    /// converted against catalogs that number its fields differently, in
    /// turn, lands every value on its own field.
    #[test]
    fn struct_fields_land_right_whatever_the_catalog() {
        #[derive(serde::Serialize)]
        struct Host {
            agent_id: &'static str,
            duration: u32,
            not_in_any_catalog: &'static str,
        }
        let host = Host {
            agent_id: "7",
            duration: 3,
            not_in_any_catalog: "x",
        };
        let shifted = Catalog::standard()
            .clone()
            .with(crate::catalog::FieldSpec::new("aaa", FieldType::Text))
            .with(crate::catalog::FieldSpec::new(
                "agent_a",
                FieldType::Integer,
            ));
        for _ in 0..3 {
            for catalog in [Catalog::standard(), &shifted] {
                let data = CallData::from_serialize_in(&host, catalog).unwrap();
                assert_eq!(data.get("agent_id"), Some(&Value::from("7")));
                assert_eq!(
                    data.get("duration"),
                    Some(&Value::Duration(std::time::Duration::from_secs(3)))
                );
                assert_eq!(data.get("not_in_any_catalog"), Some(&Value::from("x")));
                assert_eq!(data.get("aaa"), None);
                let names: Vec<&str> = data.iter().map(|(name, _)| name).collect();
                assert_eq!(names, ["agent_id", "duration", "not_in_any_catalog"]);
            }
        }
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

//! Call data and the catalog of the fields it may hold.
//!
//! [`CallData`] is the values of one call, or of one agent segment of a call,
//! keyed by field name and typed ([`Value`]). The [`Catalog`] says which
//! fields exist, their [`FieldType`], a one-line description, the events that
//! carry them and how they print by default; templates are checked against it
//! when they are compiled.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde::Serialize;

use crate::error::{nearest, Error, ErrorKind};
use crate::event::{Event, EventSet};
use crate::template::Format;

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

/// The declared type of a catalog field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// FNV-1a: field names are short, so a simple hash beats SipHash here, and
/// templates precompute it at compile time.
pub(crate) const fn hash_name(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// A field name as a compiled template holds it: resolved, when it was
/// compiled, to its position in the catalog it was checked against, so that
/// call data built for the same catalog answers by index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldKey {
    pub(crate) name: Box<str>,
    hash: u64,
    catalog: u64,
    position: u32,
}

/// Where a render looks values up: one [`CallData`], or several layered.
pub(crate) trait Lookup {
    fn lookup(&self, key: &FieldKey) -> Option<&Value>;
}

impl Lookup for CallData {
    #[inline]
    fn lookup(&self, key: &FieldKey) -> Option<&Value> {
        if self.catalog_id == key.catalog {
            match self.by_position.get(key.position as usize) {
                Some(&entry) if entry != 0 => self.entries.get(entry as usize - 1).map(|e| &e.1),
                _ => None,
            }
        } else {
            self.get_hashed(&key.name, key.hash)
        }
    }
}

/// Several call data layered: the first that has a field wins. Dispatch puts
/// its own fields over a segment's over the call's, without copying any.
pub(crate) struct Layers<'a, const N: usize>(pub(crate) [&'a CallData; N]);

impl<const N: usize> Lookup for Layers<'_, N> {
    #[inline]
    fn lookup(&self, key: &FieldKey) -> Option<&Value> {
        self.0.iter().find_map(|data| data.lookup(key))
    }
}

/// The positions of a catalog's fields, under an id that changes whenever
/// the fields do, so a position is only ever read against its own catalog.
#[derive(Debug, Default)]
struct Positions {
    id: u64,
    of: HashMap<String, u32>,
}

fn next_catalog_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The values of one call, or of one agent segment of a call.
///
/// Build it in code, from a `serde_json::Value`, or from any `Serialize` value
/// (the host's own call struct):
///
/// ```
/// use callhook::{CallData, Value};
///
/// let call = CallData::new()
///     .with("agent_id", "1001")
///     .with("duration", std::time::Duration::from_secs(95));
/// assert_eq!(call.get("agent_id"), Some(&Value::from("1001")));
///
/// let from_json = CallData::from_json(&serde_json::json!({
///     "agent_id": "1001",
///     "duration": 95,
/// }))?;
/// assert_eq!(from_json, call);
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Clone)]
pub struct CallData {
    entries: Vec<(Box<str>, Value)>,
    /// Open-addressed index into `entries` (entry index + 1; 0 is empty),
    /// so a lookup with a precomputed hash is one probe in the common case.
    slots: Vec<u32>,
    /// The catalog whose fields are also indexed by position, and its id
    /// (kept inline: it is compared on every lookup).
    catalog: Arc<Positions>,
    catalog_id: u64,
    /// Entry index + 1 (0: not set) by catalog position: templates compiled
    /// against the same catalog look their fields up here, by index.
    by_position: Vec<u32>,
}

impl Default for CallData {
    fn default() -> CallData {
        CallData::for_catalog(Catalog::standard())
    }
}

impl CallData {
    /// Empty call data, for templates checked against the standard catalog.
    pub fn new() -> CallData {
        CallData::default()
    }

    /// Empty call data for templates checked against `catalog`: such
    /// templates find its fields by index rather than by name. Any other
    /// template still finds them, by name.
    pub fn for_catalog(catalog: &Catalog) -> CallData {
        CallData {
            entries: Vec::new(),
            slots: Vec::new(),
            catalog: Arc::clone(&catalog.positions),
            catalog_id: catalog.positions.id,
            by_position: Vec::new(),
        }
    }

    /// Sets a field, replacing any value it had, and returns the data.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> CallData {
        self.insert(name, value);
        self
    }

    /// Sets a field, returning the value it had.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        let name: String = name.into();
        let value = value.into();
        let hash = hash_name(&name);
        if let Some(i) = self.find(&name, hash) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        if let Some(&position) = self.catalog.of.get(name.as_str()) {
            let position = position as usize;
            if self.by_position.len() <= position {
                self.by_position
                    .resize(self.catalog.of.len().max(position + 1), 0);
            }
            self.by_position[position] = self.entries.len() as u32 + 1;
        }
        self.entries.push((name.into_boxed_str(), value));
        if self.entries.len() * 2 > self.slots.len() {
            self.reindex();
        } else {
            self.place(self.entries.len() - 1, hash);
        }
        None
    }

    fn reindex(&mut self) {
        let size = (self.entries.len() * 2).next_power_of_two().max(8);
        self.slots = vec![0; size];
        for i in 0..self.entries.len() {
            let hash = hash_name(&self.entries[i].0);
            self.place(i, hash);
        }
    }

    fn place(&mut self, index: usize, hash: u64) {
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        while self.slots[slot] != 0 {
            slot = (slot + 1) & mask;
        }
        self.slots[slot] = index as u32 + 1;
    }

    fn find(&self, name: &str, hash: u64) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        loop {
            let entry = self.slots[slot];
            if entry == 0 {
                return None;
            }
            let i = entry as usize - 1;
            if &*self.entries[i].0 == name {
                return Some(i);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The value of a field, if the call has it.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.get_hashed(name, hash_name(name))
    }

    #[inline]
    pub(crate) fn get_hashed(&self, name: &str, hash: u64) -> Option<&Value> {
        self.find(name, hash).map(|i| &self.entries[i].1)
    }

    /// The fields in the order they were first set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }

    /// How many fields are set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// This data with every field of `other` set over it: the call's data
    /// overlaid with one agent segment's.
    pub fn overlaid(&self, other: &CallData) -> CallData {
        let mut merged = self.clone();
        for (name, value) in other.iter() {
            merged.insert(name, value.clone());
        }
        merged
    }

    /// Reads call data from a JSON object, typed by the standard catalog
    /// ([`Catalog::standard`]); see [`Catalog::call_data`].
    pub fn from_json(value: &serde_json::Value) -> Result<CallData, Error> {
        Catalog::standard().call_data(value)
    }

    /// Reads call data from any `Serialize` value that serialises as a JSON
    /// object, typed by the standard catalog.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<CallData, Error> {
        Catalog::standard().call_data_from(value)
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

impl fmt::Debug for CallData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
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
/// let call = Call::from_json(&serde_json::json!({
///     "id": "c-1",
///     "scopes": ["queue:Support"],
///     "data": {"ani": "15551234567"},
///     "segments": [{"agent_id": "1001"}, {"agent_id": "1002"}],
/// }))?;
/// assert_eq!(call.segments.len(), 2);
/// assert_eq!(call.segment_data(1).get("agent_id"), Some(&"1002".into()));
/// assert_eq!(call.segment_data(1).get("ani"), Some(&"15551234567".into()));
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
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
    /// Reads a call from its JSON form, typed by the standard catalog.
    pub fn from_json(value: &serde_json::Value) -> Result<Call, Error> {
        Call::from_json_in(value, Catalog::standard())
    }

    /// Reads a call from its JSON form, typed by `catalog`: an object with
    /// `data` (required), `id`, `scopes` and `segments`.
    pub fn from_json_in(value: &serde_json::Value, catalog: &Catalog) -> Result<Call, Error> {
        let invalid = |message: &str| Error::new(ErrorKind::InvalidCallData, message.to_owned());
        let serde_json::Value::Object(map) = value else {
            return Err(invalid("a call must be a JSON object"));
        };
        if let Some(key) = map
            .keys()
            .find(|k| !matches!(k.as_str(), "id" | "scopes" | "data" | "segments"))
        {
            return Err(invalid(&format!(
                "unknown key `{key}` in a call, expected `id`, `scopes`, `data` or `segments`"
            )));
        }
        let id = match map.get("id") {
            None => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(_) => return Err(invalid("a call's `id` must be a string")),
        };
        let scopes = match map.get("scopes") {
            None => Vec::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|_| invalid("a call's `scopes` must be an array of strings"))?,
        };
        let data = catalog.call_data(
            map.get("data")
                .ok_or_else(|| invalid("a call needs a `data` object"))?,
        )?;
        let segments = match map.get("segments") {
            None => Vec::new(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    catalog
                        .call_data(item)
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
    pub fn segment_data(&self, index: usize) -> CallData {
        match self.segments.get(index) {
            Some(segment) => self.data.overlaid(segment),
            None => self.data.clone(),
        }
    }
}

/// What the catalog knows of one field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    name: String,
    field_type: FieldType,
    description: String,
    events: EventSet,
    listed: bool,
    format: Option<Format>,
}

impl FieldSpec {
    /// A field of the given type, carried by every event, listed in
    /// pick-lists, with its type's default format.
    pub fn new(name: impl Into<String>, field_type: FieldType) -> FieldSpec {
        FieldSpec {
            name: name.into(),
            field_type,
            description: String::new(),
            events: EventSet::ALL,
            listed: true,
            format: None,
        }
    }

    /// Sets the one-line description.
    pub fn describe(mut self, description: impl Into<String>) -> FieldSpec {
        self.description = description.into();
        self
    }

    /// Sets the events whose call data carries this field.
    pub fn carried_by(mut self, events: EventSet) -> FieldSpec {
        self.events = events;
        self
    }

    /// Marks the field as accepted when typed by hand but not offered in
    /// pick-lists (RingCX's agent recording tag).
    pub fn unlisted(mut self) -> FieldSpec {
        self.listed = false;
        self
    }

    /// Sets how the field prints when a placeholder names no format.
    pub fn format(mut self, format: Format) -> FieldSpec {
        self.format = Some(format);
        self
    }

    /// The field name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The declared type.
    pub fn field_type(&self) -> FieldType {
        self.field_type
    }

    /// The one-line description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The events whose call data carries this field.
    pub fn events(&self) -> EventSet {
        self.events
    }

    /// Whether the field is offered in pick-lists.
    pub fn is_listed(&self) -> bool {
        self.listed
    }

    /// How the field prints when a placeholder names no format.
    pub fn default_format(&self) -> Format {
        self.format.clone().unwrap_or(match self.field_type {
            FieldType::Timestamp => Format::Rfc3339,
            FieldType::Duration => Format::Seconds,
            _ => Format::Natural,
        })
    }
}

/// The fields templates may name.
///
/// [`Catalog::standard`] holds every field the three seed platforms name;
/// hosts extend a copy with their own:
///
/// ```
/// use callhook::{Catalog, FieldSpec, FieldType};
///
/// let catalog = Catalog::standard()
///     .clone()
///     .with(FieldSpec::new("crm_ticket", FieldType::Integer).describe("the CRM ticket number"));
/// assert!(catalog.get("crm_ticket").is_some());
/// assert!(catalog.get("agent_id").is_some());
/// ```
#[derive(Clone, Default)]
pub struct Catalog {
    fields: BTreeMap<String, FieldSpec>,
    positions: Arc<Positions>,
}

impl PartialEq for Catalog {
    fn eq(&self, other: &Catalog) -> bool {
        self.fields == other.fields
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.fields.iter()).finish()
    }
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// The standard catalog: the fields of RingCX, the PBX and AVANSER.
    pub fn standard() -> &'static Catalog {
        static STANDARD: OnceLock<Catalog> = OnceLock::new();
        STANDARD.get_or_init(standard_catalog)
    }

    /// Adds or replaces a field and returns the catalog.
    pub fn with(mut self, spec: FieldSpec) -> Catalog {
        self.insert(spec);
        self
    }

    /// Adds or replaces a field.
    pub fn insert(&mut self, spec: FieldSpec) {
        self.fields.insert(spec.name.clone(), spec);
        self.positions = Arc::new(Positions {
            id: next_catalog_id(),
            of: self
                .fields
                .keys()
                .enumerate()
                .map(|(i, name)| (name.clone(), i as u32))
                .collect(),
        });
    }

    /// The key a template holds for field `name`.
    pub(crate) fn key(&self, name: &str) -> FieldKey {
        FieldKey {
            name: name.into(),
            hash: hash_name(name),
            catalog: self.positions.id,
            position: self.positions.of.get(name).copied().unwrap_or(u32::MAX),
        }
    }

    /// The field of that name.
    pub fn get(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.get(name)
    }

    /// Every field, by name.
    pub fn iter(&self) -> impl Iterator<Item = &FieldSpec> {
        self.fields.values()
    }

    /// The fields to offer in a pick-list for `event`: listed, and carried by
    /// that event.
    pub fn pick_list(&self, event: Event) -> impl Iterator<Item = &FieldSpec> {
        self.iter()
            .filter(move |f| f.listed && f.events.contains(event))
    }

    /// The known name nearest to `name`, for "did you mean" suggestions.
    pub fn suggest(&self, name: &str) -> Option<String> {
        nearest(name, self.fields.keys().map(String::as_str))
    }

    /// Reads call data from a JSON object, converting each value to its
    /// catalog type.
    ///
    /// Nested objects are flattened with dots (`{"customer": {"id": 1}}`
    /// gives `customer.id`). Timestamps are read from RFC 3339 text, ANSI SQL
    /// text (`2020-04-22 00:00:00.0000`, taken as UTC) or Unix seconds;
    /// durations from whole or fractional seconds or `HH:MM:SS` text. A value
    /// that does not convert, an array, or a non-object is an error of kind
    /// [`ErrorKind::InvalidCallData`] naming the field. Fields the catalog
    /// does not know keep the type JSON gives them.
    pub fn call_data(&self, value: &serde_json::Value) -> Result<CallData, Error> {
        let serde_json::Value::Object(map) = value else {
            return Err(Error::new(
                ErrorKind::InvalidCallData,
                "call data must be a JSON object",
            ));
        };
        let mut data = CallData::for_catalog(self);
        self.flatten_into(&mut data, "", map)?;
        Ok(data)
    }

    /// Reads call data from any `Serialize` value that serialises as an
    /// object; see [`Catalog::call_data`].
    pub fn call_data_from<T: Serialize + ?Sized>(&self, value: &T) -> Result<CallData, Error> {
        let json = serde_json::to_value(value).map_err(|e| {
            Error::new(
                ErrorKind::InvalidCallData,
                format!("call data does not serialise: {e}"),
            )
        })?;
        self.call_data(&json)
    }

    fn flatten_into(
        &self,
        data: &mut CallData,
        prefix: &str,
        map: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), Error> {
        for (key, value) in map {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if let serde_json::Value::Object(inner) = value {
                self.flatten_into(data, &name, inner)?;
                continue;
            }
            let typed = self.convert(&name, value)?;
            data.insert(name, typed);
        }
        Ok(())
    }

    fn convert(&self, name: &str, value: &serde_json::Value) -> Result<Value, Error> {
        use serde_json::Value as J;
        let field_type = self.get(name).map(|f| f.field_type);
        let invalid = |expected: &str| {
            Error::new(
                ErrorKind::InvalidCallData,
                format!("field `{name}` is not a valid {expected}: `{value}`"),
            )
            .in_field(name)
        };
        Ok(match (value, field_type) {
            (J::Null, _) => Value::Null,
            // Objects are flattened before this; either is refused here.
            (J::Array(_) | J::Object(_), _) => {
                return Err(Error::new(
                    ErrorKind::InvalidCallData,
                    format!("field `{name}` is not a scalar; call data values must be scalars"),
                )
                .in_field(name))
            }
            (_, Some(FieldType::Timestamp)) => {
                parse_timestamp(value).ok_or_else(|| invalid("timestamp"))?
            }
            (_, Some(FieldType::Duration)) => {
                parse_duration(value).ok_or_else(|| invalid("duration"))?
            }
            (J::String(s), Some(FieldType::Integer)) => {
                Value::Integer(s.trim().parse().map_err(|_| invalid("integer"))?)
            }
            (J::String(s), Some(FieldType::Decimal)) => {
                Value::Decimal(s.trim().parse().map_err(|_| invalid("decimal"))?)
            }
            (J::Number(n), Some(FieldType::Text)) => Value::Text(n.to_string()),
            (J::Bool(b), Some(FieldType::Text)) => Value::Text(b.to_string()),
            (J::String(s), _) => Value::Text(s.clone()),
            (J::Bool(b), _) => Value::Bool(*b),
            (J::Number(n), Some(FieldType::Decimal)) => {
                Value::Decimal(n.as_f64().ok_or_else(|| invalid("decimal"))?)
            }
            (J::Number(n), _) => match n.as_i64() {
                Some(i) => Value::Integer(i),
                None => Value::Decimal(n.as_f64().ok_or_else(|| invalid("number"))?),
            },
        })
    }
}

fn parse_timestamp(value: &serde_json::Value) -> Option<Value> {
    match value {
        serde_json::Value::String(s) => {
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
        serde_json::Value::Number(n) => {
            let t = DateTime::from_timestamp(n.as_i64()?, 0)?;
            Some(Value::Timestamp(t.fixed_offset()))
        }
        _ => None,
    }
}

fn parse_duration(value: &serde_json::Value) -> Option<Value> {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(secs) = n.as_u64() {
                return Some(Value::Duration(Duration::from_secs(secs)));
            }
            Duration::try_from_secs_f64(n.as_f64()?)
                .ok()
                .map(Value::Duration)
        }
        serde_json::Value::String(s) => {
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

fn standard_catalog() -> Catalog {
    use Event::*;
    use FieldType::*;
    let pbx_answered = EventSet::of(&[CallAnswer, CallHangup, CallReporting]);
    let pbx_ended = EventSet::of(&[CallHangup, CallReporting]);
    let ringcx_agent = EventSet::RINGCX.without(EventSet::of(&[Dequeue]));
    let recorded = EventSet::of(&[
        CallHangup,
        CallReporting,
        AgentTermination,
        TransferTermination,
        PostCall,
        PostDisposition,
    ]);
    let ringcx_recorded = recorded.without(EventSet::PBX);
    let avanser = EventSet::of(&[CallStatusChange, CallReporting, PostCall]);
    let f = FieldSpec::new;
    let fields = [
        // Filled in by the dispatcher for every delivery.
        f("event", Text)
            .describe("the canonical name of the event being delivered, such as `Call:Hangup`"),
        f("event_time", Timestamp).describe("when the event being delivered happened"),
        f("delivery_id", Text).describe("the id of this delivery, the same on every retry of it"),
        // RingCX tags.
        f("agent_id", Text)
            .describe("internal identifier of the agent")
            .carried_by(ringcx_agent),
        f("agent_username", Text)
            .describe("the agent's username, usually an email address")
            .carried_by(ringcx_agent),
        f("ani", Text)
            .describe("the customer's number")
            .carried_by(EventSet::RINGCX.union(avanser)),
        f("dnis", Text)
            .describe("the number the customer called to reach the agent")
            .carried_by(EventSet::RINGCX.union(avanser)),
        f("call_start", Timestamp)
            .describe("when the call started, printed by default in ANSI SQL 92 form")
            .carried_by(EventSet::RINGCX.union(avanser))
            .format(Format::Ansi),
        f("agent_disposition", Text)
            .describe("the disposition the agent chose, such as `SALE`")
            .carried_by(EventSet::of(&[AgentTermination, PostDisposition, PostCall])),
        f("duration", Duration)
            .describe("length of the call in seconds")
            .carried_by(pbx_ended.union(ringcx_recorded)),
        f("recording_url", Text)
            .describe("URL of the call recording (per agent segment on RingCX)")
            .carried_by(recorded),
        f("sess_agent_perspective_recording_url", Text)
            .describe("URL of the dual-channel agent recording, typed by hand only")
            .carried_by(ringcx_recorded)
            .unlisted(),
        // PBX call fields.
        f("direction", Text)
            .describe("direction of the call: `incoming` or `outgoing`")
            .carried_by(EventSet::PBX),
        f("uuid", Text)
            .describe("unique id of the call")
            .carried_by(EventSet::PBX),
        f("type", Text)
            .describe("call type, such as `did_to_que`")
            .carried_by(EventSet::PBX),
        f("created_at", Timestamp)
            .describe("start of the call")
            .carried_by(EventSet::PBX),
        f("contact_number", Text)
            .describe("number of the contact")
            .carried_by(EventSet::PBX),
        f("caller_id_number", Text)
            .describe("caller id number")
            .carried_by(EventSet::PBX),
        f("ring_duration", Duration)
            .describe("how long the call rang, in seconds")
            .carried_by(pbx_answered),
        f("destination", Text)
            .describe("the number dialled")
            .carried_by(EventSet::PBX),
        f("start_at", Text)
            .describe("local time the call started, `HH:MM:SS`")
            .carried_by(EventSet::PBX),
        f("answer_at", Text)
            .describe("local time the call was answered, `HH:MM:SS`")
            .carried_by(pbx_answered),
        f("environment_name", Text)
            .describe("name of the environment the call belongs to")
            .carried_by(EventSet::PBX),
        f("user_fullname", Text)
            .describe("full name of the user")
            .carried_by(EventSet::PBX),
        f("user_name", Text)
            .describe("username of the user")
            .carried_by(EventSet::PBX),
        f("extension_username", Text)
            .describe("username of the extension")
            .carried_by(EventSet::PBX),
        f("cause", Text)
            .describe("cause of the call's end: `answer`, `busy` or `no_answer`")
            .carried_by(pbx_ended),
        f("sip_status", Text)
            .describe("SIP status from the terminator")
            .carried_by(pbx_ended),
        f("duration_time", Duration)
            .describe("total duration, printed by default as `HH:MM:SS`")
            .carried_by(pbx_ended)
            .format(Format::Hms),
        f("billing_duration", Duration)
            .describe("billed duration in seconds")
            .carried_by(pbx_ended),
        f("billing_duration_time", Duration)
            .describe("billed duration, printed by default as `HH:MM:SS`")
            .carried_by(pbx_ended)
            .format(Format::Hms),
        f("did_number", Text)
            .describe("the DID number called")
            .carried_by(EventSet::PBX),
        f("did_name", Text)
            .describe("the DID's name")
            .carried_by(EventSet::PBX),
        f("queue_disposition", Text)
            .describe("queue outcome: `timeout`, `abandoned` or `answer`")
            .carried_by(pbx_ended),
        f("ivr_name", Text)
            .describe("name of the IVR")
            .carried_by(EventSet::PBX),
        f("call_state", Text)
            .describe("state of the call")
            .carried_by(EventSet::PBX),
        f("queue_name", Text)
            .describe("name of the queue")
            .carried_by(EventSet::PBX),
        // AVANSER.
        f("uniqueid", Text).describe("AVANSER's unique id of the call, the same in every update"),
        f("status", Text)
            .describe("the call's status at this update: `ringing`, `answered`, ..., `hangup`")
            .carried_by(avanser),
        f("sequence", Integer)
            .describe("number of this realtime update within the call, from 1")
            .carried_by(EventSet::of(&[CallStatusChange])),
    ];
    let mut catalog = Catalog::new();
    for spec in fields {
        catalog.insert(spec);
    }
    catalog
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
        let data = CallData::from_json(&json!({
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
        let err = CallData::from_json(&json!({"call_start": "yesterday"})).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCallData);
        assert_eq!(err.field(), Some("call_start"));
        assert!(CallData::from_json(&json!({"duration": -1})).is_err());
        assert!(CallData::from_json(&json!({"duration_time": "1:99:00"})).is_err());
        assert!(CallData::from_json(&json!({"tags": [1]})).is_err());
        assert!(CallData::from_json(&json!([1])).is_err());
    }

    #[test]
    fn host_structs_serialise_into_call_data() {
        #[derive(Serialize)]
        struct Call<'a> {
            agent_id: &'a str,
            duration: u32,
        }
        let data = CallData::from_serialize(&Call {
            agent_id: "7",
            duration: 3,
        })
        .unwrap();
        assert_eq!(
            data.get("duration"),
            Some(&Value::Duration(Duration::from_secs(3)))
        );
    }

    #[test]
    fn catalog_covers_the_seeds() {
        let c = Catalog::standard();
        for name in [
            "agent_id",
            "agent_username",
            "ani",
            "dnis",
            "call_start",
            "duration",
            "recording_url",
            "sess_agent_perspective_recording_url",
            "uniqueid",
            "queue_name",
        ] {
            assert!(c.get(name).is_some(), "{name}");
        }
        assert!(!c
            .get("recording_url")
            .unwrap()
            .events()
            .contains(Event::CallRinging));
        assert!(!c
            .pick_list(Event::AgentTermination)
            .any(|f| f.name() == "sess_agent_perspective_recording_url"));
        assert!(c
            .pick_list(Event::AgentTermination)
            .any(|f| f.name() == "recording_url"));
        assert_eq!(c.suggest("agnet_id").as_deref(), Some("agent_id"));
    }
}

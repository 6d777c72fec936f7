//! Call data: the typed values of one call, or of one agent segment of a
//! call, and the call as a host reports it.

mod convert;
mod json;
mod lookup;
mod read;
mod serialize;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::catalog::{Catalog, Positions};
use crate::error::Error;
use crate::limits::FIELDS;
use crate::secret::REDACTED;
use crate::value::Value;

pub(crate) use convert::{convert_raw, hidden, not_scalar, Raw};
pub(crate) use lookup::{Lookup, Recorded, Redacted};

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
}

impl CallData {
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
    /// [`ErrorKind::InvalidCallData`](crate::ErrorKind::InvalidCallData).
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

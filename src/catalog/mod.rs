//! The catalog of the fields call data may hold: each field's type, a
//! one-line description, the events that carry it and how it prints by
//! default. Templates are checked against it when they are compiled.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::error::{nearest, shown, Error, ErrorKind};
use crate::event::{Event, EventSet, EventSpec};
use crate::format::Format;
use crate::value::FieldType;
use seeds::{standard_catalog, PRESETS};

mod seeds;

/// A field as a compiled template holds it: resolved, when it was compiled,
/// to its position in the catalog it was checked against, so that call data
/// built for the same catalog answers by index, and to the field dispatch
/// fills in itself, if it is one.
///
/// Eight bytes: the name is read from the catalog's positions, which the
/// template shares, so a template holds no copy of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldKey {
    pub(crate) position: u32,
    pub(crate) builtin: Option<Builtin>,
    /// The field's value is a secret: redacted where requests are shown.
    pub(crate) secret: bool,
    /// The field is personal data: redacted in the records a host stores
    /// (debug records), shown in previews for a person.
    pub(crate) personal: bool,
}

impl FieldKey {
    /// The field's name in `positions`, those of the catalog the key was
    /// made by.
    pub(crate) fn name(self, positions: &Positions) -> &str {
        positions
            .names
            .get(self.position as usize)
            .map_or("", |name| name)
    }
}

/// The fields dispatch sets on every request, over the call's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    Event,
    EventTime,
    DeliveryId,
    Status,
    Sequence,
}

impl Builtin {
    fn of(name: &str) -> Option<Builtin> {
        Some(match name {
            "event" => Builtin::Event,
            "event_time" => Builtin::EventTime,
            "delivery_id" => Builtin::DeliveryId,
            "status" => Builtin::Status,
            "sequence" => Builtin::Sequence,
            _ => return None,
        })
    }
}

/// The positions of a catalog's fields, under an id that changes whenever
/// the fields do, so a position is only ever read against its own catalog.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    pub(crate) id: u64,
    /// Each field's position, by name. Hashed with foldhash: compiling a
    /// service and building call data look up every field name here, and
    /// with SipHash a lookup took 265 instructions, 125 now. The names are
    /// the host's own, so there is no attacker-chosen set of keys to
    /// collide.
    pub(crate) of: HashMap<String, u32, foldhash::fast::RandomState>,
    /// Each field's name, by position.
    pub(crate) names: Box<[Box<str>]>,
    /// Each field, by position: one hash lookup finds a placeholder's
    /// field and its position.
    specs: Box<[FieldSpec]>,
    /// Each field's type, by position.
    pub(crate) types: Vec<FieldType>,
    /// The fields whose values are secrets.
    pub(crate) secret: std::collections::HashSet<String>,
}

/// Positions are equal when they are the same numbering: the id changes
/// whenever the fields do.
impl PartialEq for Positions {
    fn eq(&self, other: &Positions) -> bool {
        self.id == other.id
    }
}

fn next_catalog_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What the catalog knows of one field: its name and type, a one-line
/// description, how it prints by default, whether it is offered in
/// pick-lists, whether the platform knows it mid-call (realtime webhooks may
/// only send such fields), and whether its value is a secret (redacted in
/// previews, debug records and `Debug`, as recording URLs that carry access
/// tokens are) or personal data (a caller's number).
///
/// In configuration, a `fields` entry:
///
/// ```json
/// {"name": "billsec", "type": "duration", "description": "billed seconds", "mid_call": false}
/// ```
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    name: String,
    #[serde(rename = "type")]
    field_type: FieldType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    description: String,
    #[serde(skip, default = "every_event")]
    #[cfg_attr(feature = "schema", schemars(skip))]
    events: EventSet,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    listed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "format_text")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    format: Option<Format>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    mid_call: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    secret: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    personal: bool,
    /// The seed platforms it belongs to (none for a host's own field).
    #[serde(skip)]
    presets: u8,
}

fn every_event() -> EventSet {
    EventSet::ALL
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A format as written after `|` in a placeholder (`hms`, `strftime:%d`).
mod format_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::format::Format;

    pub(super) fn serialize<S: Serializer>(f: &Option<Format>, s: S) -> Result<S::Ok, S::Error> {
        match f {
            Some(f) => s.serialize_str(&f.to_string()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Format>, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map(Some)
            .map_err(|e: crate::error::Error| serde::de::Error::custom(e.to_string()))
    }
}

impl FieldSpec {
    /// A field of the given type, carried by every event, listed in
    /// pick-lists, with its type's default format, not known mid-call, and
    /// neither secret nor personal.
    #[must_use]
    pub fn new(name: impl Into<String>, field_type: FieldType) -> FieldSpec {
        FieldSpec {
            name: name.into(),
            field_type,
            description: String::new(),
            events: EventSet::ALL,
            listed: true,
            format: None,
            mid_call: false,
            secret: false,
            personal: false,
            presets: 0,
        }
    }

    /// Sets the one-line description.
    #[must_use]
    pub fn describe(mut self, description: impl Into<String>) -> FieldSpec {
        self.description = description.into();
        self
    }

    /// Sets the seed events whose call data carries this field (for
    /// pick-lists).
    #[must_use]
    pub fn carried_by(mut self, events: EventSet) -> FieldSpec {
        self.events = events;
        self
    }

    /// Marks the field as accepted when typed by hand but not offered in
    /// pick-lists (as RingCX's agent recording tag is).
    #[must_use]
    pub fn unlisted(mut self) -> FieldSpec {
        self.listed = false;
        self
    }

    /// Sets how the field prints when a placeholder names no format.
    #[must_use]
    pub fn format(mut self, format: Format) -> FieldSpec {
        self.format = Some(format);
        self
    }

    /// Marks the field as known while the call is still going on, so
    /// realtime webhooks may send it.
    #[must_use]
    pub fn known_mid_call(mut self) -> FieldSpec {
        self.mid_call = true;
        self
    }

    /// Marks the field's value as a secret: redacted in previews, debug
    /// records and `Debug`.
    #[must_use]
    pub fn secret(mut self) -> FieldSpec {
        self.secret = true;
        self
    }

    /// Marks the field as personal data (a caller's number or name):
    /// redacted, like secrets, in the records a host stores (debug
    /// records), and shown in previews made for a person.
    #[must_use]
    pub fn personal(mut self) -> FieldSpec {
        self.personal = true;
        self
    }

    /// Whether the platform knows the field while the call is going on.
    #[must_use]
    pub fn is_known_mid_call(&self) -> bool {
        self.mid_call
    }

    /// Whether the field's value is a secret.
    #[must_use]
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// Whether the field is personal data.
    #[must_use]
    pub fn is_personal(&self) -> bool {
        self.personal
    }

    /// The field name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The declared type.
    #[must_use]
    pub fn field_type(&self) -> FieldType {
        self.field_type
    }

    /// The one-line description.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The events whose call data carries this field.
    #[must_use]
    pub fn events(&self) -> EventSet {
        self.events
    }

    /// Whether the field is offered in pick-lists.
    #[must_use]
    pub fn is_listed(&self) -> bool {
        self.listed
    }

    /// How the field prints when a placeholder names no format.
    #[must_use]
    pub fn default_format(&self) -> Format {
        // No format of its own: its type's, as documented.
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
    events: BTreeMap<String, (EventSpec, u8)>,
    positions: Arc<Positions>,
}

impl PartialEq for Catalog {
    fn eq(&self, other: &Catalog) -> bool {
        self.fields == other.fields && self.events == other.events
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("fields", &self.fields)
            .field("events", &self.events.keys())
            .finish()
    }
}

impl Catalog {
    /// An empty catalog.
    #[must_use]
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// The standard catalog: the fields and events of RingCX, the PBX and
    /// AVANSER, the three presets together.
    pub fn standard() -> &'static Catalog {
        static STANDARD: OnceLock<Catalog> = OnceLock::new();
        STANDARD.get_or_init(standard_catalog)
    }

    /// Adds or replaces a field and returns the catalog.
    #[must_use]
    pub fn with(mut self, spec: FieldSpec) -> Catalog {
        self.insert(spec);
        self
    }

    /// Adds or replaces a field.
    pub fn insert(&mut self, spec: FieldSpec) {
        self.fields.insert(spec.name.clone(), spec);
        self.renumber();
    }

    /// Gives the fields new positions, under a new id.
    fn renumber(&mut self) {
        self.positions = Arc::new(Positions {
            id: next_catalog_id(),
            of: self
                .fields
                .keys()
                .enumerate()
                .map(|(i, name)| (name.clone(), i as u32))
                .collect(),
            names: self
                .fields
                .keys()
                .map(|name| name.as_str().into())
                .collect(),
            specs: self.fields.values().cloned().collect(),
            types: self.fields.values().map(|f| f.field_type).collect(),
            secret: self
                .fields
                .values()
                .filter(|f| f.secret)
                .map(|f| f.name.clone())
                .collect(),
        });
    }

    /// Adds or replaces an event and returns the catalog.
    #[must_use]
    pub fn with_event(mut self, spec: EventSpec) -> Catalog {
        self.insert_event(spec);
        self
    }

    /// Adds or replaces an event.
    pub fn insert_event(&mut self, spec: EventSpec) {
        self.events.insert(spec.name.clone(), (spec, 0));
    }

    /// What the catalog knows of an event, if it knows it.
    #[must_use]
    pub fn event(&self, event: &Event) -> Option<&EventSpec> {
        self.events.get(event.name()).map(|(spec, _)| spec)
    }

    /// Every event the catalog knows, by name.
    pub fn events(&self) -> impl Iterator<Item = &EventSpec> {
        self.events.values().map(|(spec, _)| spec)
    }

    /// The catalog with only the seed fields and events of the presets
    /// named (`ringcx`, `pbx`, `avanser`); fields and events of a host's own
    /// stay.
    ///
    /// # Errors
    ///
    /// An unknown preset is an error of kind [`ErrorKind::InvalidConfig`]
    /// suggesting the nearest.
    pub fn presets<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Result<Catalog, Error> {
        let mut bits = 0;
        for name in names {
            let Some((_, bit)) = PRESETS.iter().find(|(preset, _)| *preset == name) else {
                return Err(Error::new(
                    ErrorKind::InvalidConfig,
                    format!(
                        "unknown preset `{}`, expected `ringcx`, `pbx` or `avanser`",
                        shown(name)
                    ),
                )
                .with_suggestion(nearest(name, PRESETS.iter().map(|(p, _)| *p))));
            };
            bits |= bit;
        }
        let mut catalog = self.clone();
        catalog
            .fields
            .retain(|_, f| f.presets == 0 || f.presets & bits != 0);
        catalog.events.retain(|_, (_, p)| *p == 0 || *p & bits != 0);
        catalog.renumber();
        Ok(catalog)
    }

    /// The key a template holds for field `name`.
    /// The key of a field of this catalog; `None` for a name it does not
    /// have.
    #[cfg(test)]
    pub(crate) fn key(&self, name: &str) -> Option<FieldKey> {
        let (position, spec) = self.field(name)?;
        Some(self.key_at(position, spec))
    }

    /// The field of that name and its position, with one hash lookup.
    pub(crate) fn field(&self, name: &str) -> Option<(u32, &FieldSpec)> {
        let position = *self.positions.of.get(name)?;
        Some((position, self.positions.specs.get(position as usize)?))
    }

    /// The key of the field at `position`, whose spec is `spec`.
    pub(crate) fn key_at(&self, position: u32, spec: &FieldSpec) -> FieldKey {
        FieldKey {
            position,
            builtin: Builtin::of(&spec.name),
            secret: spec.secret,
            personal: spec.personal,
        }
    }

    /// The positions of the fields, shared with call data built for this
    /// catalog.
    pub(crate) fn positions(&self) -> &Arc<Positions> {
        &self.positions
    }

    /// The field of that name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.get(name)
    }

    /// Every field, by name.
    pub fn iter(&self) -> impl Iterator<Item = &FieldSpec> {
        self.fields.values()
    }

    /// The fields to offer in a pick-list for `event`: listed, and carried by
    /// that event.
    pub fn pick_list<'a>(&'a self, event: &'a Event) -> impl Iterator<Item = &'a FieldSpec> {
        self.iter()
            .filter(move |f| f.listed && f.events.contains(event))
    }

    /// The known name nearest to `name`, for "did you mean" suggestions.
    pub fn suggest(&self, name: &str) -> Option<String> {
        nearest(name, self.fields.keys().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            .contains(&Event::CallRinging));
        assert!(!c
            .pick_list(&Event::AgentTermination)
            .any(|f| f.name() == "sess_agent_perspective_recording_url"));
        assert!(c
            .pick_list(&Event::AgentTermination)
            .any(|f| f.name() == "recording_url"));
        assert_eq!(c.suggest("agnet_id").as_deref(), Some("agent_id"));
    }

    #[test]
    fn keys_know_their_position_and_the_builtin_fields() {
        let c = Catalog::standard();
        let key = c.key("agent_id").unwrap();
        assert_eq!(c.positions().of["agent_id"], key.position);
        assert_eq!(key.name(c.positions()), "agent_id");
        assert_eq!(key.builtin, None);
        assert_eq!(
            c.key("delivery_id").unwrap().builtin,
            Some(Builtin::DeliveryId)
        );
        assert!(c.key("nope").is_none());
    }
}

//! The catalog of the fields call data may hold: each field's type, a
//! one-line description, the events that carry it and how it prints by
//! default. Templates are checked against it when they are compiled.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::error::nearest;
use crate::event::{Event, EventSet};
use crate::format::Format;
use crate::value::FieldType;

/// A field name as a compiled template holds it: resolved, when it was
/// compiled, to its position in the catalog it was checked against, so that
/// call data built for the same catalog answers by index, and to the
/// field dispatch fills in itself, if it is one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldKey {
    pub(crate) name: Box<str>,
    pub(crate) catalog: u64,
    pub(crate) position: u32,
    pub(crate) builtin: Option<Builtin>,
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
    pub(crate) of: HashMap<String, u32>,
}

fn next_catalog_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
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
    #[must_use]
    pub fn carried_by(mut self, events: EventSet) -> FieldSpec {
        self.events = events;
        self
    }

    /// Marks the field as accepted when typed by hand but not offered in
    /// pick-lists (RingCX's agent recording tag).
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
    #[must_use]
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// The standard catalog: the fields of RingCX, the PBX and AVANSER.
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
            catalog: self.positions.id,
            position: self.positions.of.get(name).copied().unwrap_or(u32::MAX),
            builtin: Builtin::of(name),
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
    pub fn pick_list(&self, event: Event) -> impl Iterator<Item = &FieldSpec> {
        self.iter()
            .filter(move |f| f.listed && f.events.contains(event))
    }

    /// The known name nearest to `name`, for "did you mean" suggestions.
    pub fn suggest(&self, name: &str) -> Option<String> {
        nearest(name, self.fields.keys().map(String::as_str))
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

    #[test]
    fn keys_know_their_position_and_the_builtin_fields() {
        let c = Catalog::standard();
        let key = c.key("agent_id");
        assert_eq!(key.catalog, c.positions().id);
        assert_eq!(c.positions().of["agent_id"], key.position);
        assert_eq!(key.builtin, None);
        assert_eq!(c.key("delivery_id").builtin, Some(Builtin::DeliveryId));
        assert_eq!(c.key("nope").position, u32::MAX);
    }
}

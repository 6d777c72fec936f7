//! The points in a call's life at which webhooks fire: the seeds' events,
//! and any a configuration declares.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{nearest, shown, Error, ErrorKind};

/// A trigger: something that happened to a call.
///
/// The three seed platforms' events are variants; a platform's own events
/// are [`Event::Custom`], declared in the configuration's `events` (see
/// [`EventSpec`]). Each event parses from and prints as its name, which is
/// also its serde form:
///
/// ```
/// use callhook::Event;
///
/// let event: Event = "Call:Hangup".parse()?;
/// assert_eq!(event, Event::CallHangup);
/// assert_eq!(Event::AgentTermination.to_string(), "Agent Termination");
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Event {
    /// PBX `Call:Ringing`: the call is ringing.
    CallRinging,
    /// PBX `Call:Answer`: the call has been answered.
    CallAnswer,
    /// PBX `Call:Hangup`: the call has ended.
    CallHangup,
    /// PBX `Call:Reporting`: all billing and reporting data is collected.
    CallReporting,
    /// PBX `Ivr:Start`: an IVR started.
    IvrStart,
    /// PBX `Ivr:End`: an IVR ended.
    IvrEnd,
    /// RingCX `Dequeue`: the call left the queue.
    Dequeue,
    /// RingCX `Agent Connect`: an agent was connected.
    AgentConnect,
    /// RingCX `Agent Termination`: an agent's segment ended (once per
    /// segment, so a transferred call fires it more than once).
    AgentTermination,
    /// RingCX `Transfer Termination`: a transferred leg ended.
    TransferTermination,
    /// RingCX `Post Call`: the call is over and its data final.
    PostCall,
    /// RingCX `Post Disposition`: the agent set the disposition.
    PostDisposition,
    /// AVANSER realtime `Call Status Change`: the call's status changed
    /// (ringing, answered, ..., hangup).
    CallStatusChange,
    /// An event a configuration declares, by its name as written
    /// (`Voicemail Left`).
    Custom(Arc<str>),
}

impl Event {
    /// Every event, in declaration order.
    pub const ALL: [Event; 13] = [
        Event::CallRinging,
        Event::CallAnswer,
        Event::CallHangup,
        Event::CallReporting,
        Event::IvrStart,
        Event::IvrEnd,
        Event::Dequeue,
        Event::AgentConnect,
        Event::AgentTermination,
        Event::TransferTermination,
        Event::PostCall,
        Event::PostDisposition,
        Event::CallStatusChange,
    ];

    /// The name, as the seeds spell theirs and a configuration declares its
    /// own.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Event::CallRinging => "Call:Ringing",
            Event::CallAnswer => "Call:Answer",
            Event::CallHangup => "Call:Hangup",
            Event::CallReporting => "Call:Reporting",
            Event::IvrStart => "Ivr:Start",
            Event::IvrEnd => "Ivr:End",
            Event::Dequeue => "Dequeue",
            Event::AgentConnect => "Agent Connect",
            Event::AgentTermination => "Agent Termination",
            Event::TransferTermination => "Transfer Termination",
            Event::PostCall => "Post Call",
            Event::PostDisposition => "Post Disposition",
            Event::CallStatusChange => "Call Status Change",
            Event::Custom(name) => name,
        }
    }

    /// The event of this name: a seed's, or else one declared by that name.
    #[must_use]
    pub fn named(name: &str) -> Event {
        Event::ALL
            .iter()
            .find(|e| e.name() == name)
            .cloned()
            // Not a seed's: a platform's own, which a registry checks
            // against the events the configuration declares.
            .unwrap_or_else(|| Event::Custom(name.into()))
    }

    /// What the seeds say of their own events: whether the call's data is
    /// complete when it fires, whether it fires once per agent segment, and
    /// whether it is a realtime status update. A declared event's are in
    /// its [`EventSpec`].
    #[must_use]
    pub fn seed_spec(&self) -> Option<EventSpec> {
        let spec = EventSpec::new(self.name());
        Some(match self {
            Event::Custom(_) => return None,
            Event::CallReporting
            | Event::TransferTermination
            | Event::PostCall
            | Event::PostDisposition => spec.with_final(),
            Event::AgentTermination => spec.with_final().with_per_segment(),
            Event::AgentConnect => spec.with_per_segment(),
            Event::CallStatusChange => spec.with_realtime(),
            _ => spec,
        })
    }

    /// Whether the call's data is complete when this seed event fires, so
    /// that fields such as the recording URL can be expected. Declared
    /// events say so in their [`EventSpec`].
    #[must_use]
    pub fn is_final(&self) -> bool {
        self.seed_spec().is_some_and(|spec| spec.is_final)
    }

    pub(crate) fn bit(&self) -> u32 {
        match self {
            Event::Custom(_) => 0,
            // The seeds' events, in declaration order. `ALL` lists every
            // variant but `Custom`, so the position is always found; bit 31
            // (past the 13 seeds) is never given.
            _ => 1 << Event::ALL.iter().position(|e| e == self).unwrap_or(31),
        }
    }
}

/// What a platform says of one of its events: its name, and whether it is
/// final (the call's data complete), fires once per agent segment of a
/// transferred call, or is a realtime status update (whose webhooks may only
/// send fields known mid-call).
///
/// In configuration, an `events` entry:
/// `{"name": "Voicemail Left", "final": true}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EventSpec {
    /// The name, as written.
    pub name: String,
    /// The call's data is complete when it fires.
    #[serde(default, rename = "final", skip_serializing_if = "std::ops::Not::not")]
    pub is_final: bool,
    /// It fires once per agent segment of a call that has them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_segment: bool,
    /// It is a realtime status update.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub realtime: bool,
}

impl EventSpec {
    /// An event that is none of final, per segment or realtime.
    #[must_use]
    pub fn new(name: impl Into<String>) -> EventSpec {
        EventSpec {
            name: name.into(),
            is_final: false,
            per_segment: false,
            realtime: false,
        }
    }

    /// Marks the event final: the call's data is complete when it fires.
    #[must_use]
    pub fn with_final(mut self) -> EventSpec {
        self.is_final = true;
        self
    }

    /// Marks the event as firing once per agent segment.
    #[must_use]
    pub fn with_per_segment(mut self) -> EventSpec {
        self.per_segment = true;
        self
    }

    /// Marks the event as a realtime status update.
    #[must_use]
    pub fn with_realtime(mut self) -> EventSpec {
        self.realtime = true;
        self
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Event {
    type Err = Error;

    /// Parses a seed event's name; an unknown name is an error of kind
    /// [`ErrorKind::UnknownEvent`] that lists the known names. Declared
    /// events are known to a registry, which checks a webhook's event
    /// against its own list ([`Event::named`] makes one of any name).
    fn from_str(s: &str) -> Result<Event, Error> {
        if let Some(event) = Event::ALL.iter().find(|e| e.name() == s) {
            return Ok(event.clone());
        }
        Err(unknown_event(s, Event::ALL.iter().map(Event::name)))
    }
}

/// The error for an event name none of `known` is.
pub(crate) fn unknown_event<'a>(name: &str, known: impl Iterator<Item = &'a str> + Clone) -> Error {
    // Each of many webhooks can name an unknown event: the message lists a
    // bounded number of the known ones, not all a configuration declares.
    const LISTED: usize = 40;
    let mut listed: Vec<String> = known
        .clone()
        .take(LISTED)
        .map(|e| format!("`{e}`"))
        .collect();
    let more = known.clone().skip(LISTED).count();
    if more > 0 {
        listed.push(format!("and {more} more"));
    }
    Error::new(
        ErrorKind::UnknownEvent,
        format!(
            "unknown event `{}`, expected one of {}",
            shown(name),
            listed.join(", ")
        ),
    )
    .with_suggestion(nearest(name, known))
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Any name reads: a seed's becomes its variant, any other a
/// [`Event::Custom`], which a registry checks against the events it knows.
impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Ok(Event::named(&name))
    }
}

/// The schema of an event: serde writes it as its name, and any name reads
/// (a custom event is checked against the configuration's `events`).
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Event {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Event".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "a seed event (`Call:Hangup`, `Agent Termination`...) or one the configuration declares in `events`"
        })
    }
}

/// A set of events, as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EventSet(u32);

impl EventSet {
    /// No events.
    pub const EMPTY: EventSet = EventSet(0);
    /// Every event.
    pub const ALL: EventSet = EventSet((1 << Event::ALL.len()) - 1);
    /// The PBX events: `Call:*` and `Ivr:*`.
    pub const PBX: EventSet = EventSet(0b11_1111);
    /// The RingCX lifecycle points.
    pub const RINGCX: EventSet = EventSet(0b1111_1100_0000);
    /// AVANSER's realtime `Call Status Change`.
    pub const AVANSER: EventSet = EventSet(1 << 12);

    /// The set of the given seed events (declared events are in no set).
    #[must_use]
    pub fn of(events: &[Event]) -> EventSet {
        EventSet(events.iter().fold(0, |bits, e| bits | e.bit()))
    }

    /// Whether `event` is in the set.
    #[must_use]
    pub fn contains(self, event: &Event) -> bool {
        self.0 & event.bit() != 0
    }

    /// The union of two sets.
    #[must_use]
    pub const fn union(self, other: EventSet) -> EventSet {
        EventSet(self.0 | other.0)
    }

    /// The events of this set that are not in `other`.
    #[must_use]
    pub const fn without(self, other: EventSet) -> EventSet {
        EventSet(self.0 & !other.0)
    }

    /// The events in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Event> {
        Event::ALL.into_iter().filter(move |e| self.contains(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_round_trips_through_its_name_and_serde() {
        for event in Event::ALL {
            assert_eq!(event.name().parse::<Event>().unwrap(), event);
            assert_eq!(Event::named(event.name()), event);
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(json, format!("\"{}\"", event.name()));
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
        }
    }

    #[test]
    fn unknown_event_lists_the_known_ones_and_suggests() {
        let err = "Call:Hangpu".parse::<Event>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownEvent);
        assert_eq!(err.suggestion(), Some("Call:Hangup"));
        assert!(err.message().contains("`Agent Termination`"));
        // Any name reads as a declared event, for a registry to check.
        assert_eq!(
            serde_json::from_str::<Event>("\"Voicemail Left\"").unwrap(),
            Event::Custom("Voicemail Left".into())
        );
        assert_eq!(Event::named("Voicemail Left").to_string(), "Voicemail Left");
    }

    #[test]
    fn seed_events_say_what_they_are() {
        assert!(Event::PostCall.is_final());
        assert!(Event::AgentTermination.seed_spec().unwrap().per_segment);
        assert!(Event::CallStatusChange.seed_spec().unwrap().realtime);
        assert!(!Event::CallRinging.is_final());
        assert_eq!(Event::named("Voicemail Left").seed_spec(), None);
    }

    #[test]
    fn event_sets() {
        assert!(EventSet::PBX.contains(&Event::IvrEnd));
        assert!(!EventSet::PBX.contains(&Event::PostCall));
        assert_eq!(EventSet::PBX, EventSet::of(&Event::ALL[..6]));
        assert_eq!(EventSet::RINGCX, EventSet::of(&Event::ALL[6..12]));
        assert_eq!(EventSet::AVANSER, EventSet::of(&[Event::CallStatusChange]));
        assert!(!EventSet::ALL.contains(&Event::named("Voicemail Left")));
        assert_eq!(EventSet::ALL.iter().count(), Event::ALL.len());
        assert_eq!(
            EventSet::ALL
                .without(EventSet::PBX)
                .without(EventSet::RINGCX)
                .iter()
                .collect::<Vec<_>>(),
            vec![Event::CallStatusChange]
        );
    }
}

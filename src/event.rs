//! The points in a call's life at which webhooks fire.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{nearest, shown, Error, ErrorKind};

/// A trigger: something that happened to a call.
///
/// Each event parses from and prints as its canonical name, which is also its
/// serde form:
///
/// ```
/// use callhook::Event;
///
/// let event: Event = "Call:Hangup".parse()?;
/// assert_eq!(event, Event::CallHangup);
/// assert_eq!(Event::AgentTermination.to_string(), "Agent Termination");
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// The canonical name, as the seeds spell it.
    #[must_use]
    pub const fn name(self) -> &'static str {
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
        }
    }

    /// Whether the call's data is complete when this event fires, so that
    /// fields such as the recording URL can be expected.
    #[must_use]
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Event::CallReporting
                | Event::AgentTermination
                | Event::TransferTermination
                | Event::PostCall
                | Event::PostDisposition
        )
    }

    pub(crate) const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Event {
    type Err = Error;

    /// Parses a canonical name; an unknown name is an error of kind
    /// [`ErrorKind::UnknownEvent`] that lists the known names.
    fn from_str(s: &str) -> Result<Event, Error> {
        if let Some(event) = Event::ALL.iter().find(|e| e.name() == s) {
            return Ok(*event);
        }
        let known: Vec<String> = Event::ALL.iter().map(|e| format!("`{e}`")).collect();
        Err(Error::new(
            ErrorKind::UnknownEvent,
            format!(
                "unknown event `{}`, expected one of {}",
                shown(s),
                known.join(", ")
            ),
        )
        .with_suggestion(nearest(s, Event::ALL.iter().map(|e| e.name()))))
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
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
    pub const PBX: EventSet = EventSet::of(&[
        Event::CallRinging,
        Event::CallAnswer,
        Event::CallHangup,
        Event::CallReporting,
        Event::IvrStart,
        Event::IvrEnd,
    ]);
    /// The RingCX lifecycle points.
    pub const RINGCX: EventSet = EventSet::of(&[
        Event::Dequeue,
        Event::AgentConnect,
        Event::AgentTermination,
        Event::TransferTermination,
        Event::PostCall,
        Event::PostDisposition,
    ]);

    /// The set of the given events.
    #[must_use]
    pub const fn of(events: &[Event]) -> EventSet {
        let mut bits = 0;
        let mut i = 0;
        while i < events.len() {
            bits |= events[i].bit();
            i += 1;
        }
        EventSet(bits)
    }

    /// Whether `event` is in the set.
    #[must_use]
    pub const fn contains(self, event: Event) -> bool {
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
        Event::ALL.into_iter().filter(move |e| self.contains(*e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_round_trips_through_its_name_and_serde() {
        for event in Event::ALL {
            assert_eq!(event.name().parse::<Event>().unwrap(), event);
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
        assert!(serde_json::from_str::<Event>("\"Hangup\"").is_err());
    }

    #[test]
    fn event_sets() {
        assert!(EventSet::PBX.contains(Event::IvrEnd));
        assert!(!EventSet::PBX.contains(Event::PostCall));
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

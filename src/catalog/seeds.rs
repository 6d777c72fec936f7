//! The seeds: the fields, events and presets of RingCX, the PBX and
//! AVANSER, from which the standard catalog is built.

use super::{Catalog, FieldSpec};
use crate::event::{Event, EventSet};
use crate::format::Format;
use crate::value::FieldType;

/// The seed platform a field or event belongs to, as a bit: a
/// configuration's `preset` picks some.
pub(super) const RINGCX: u8 = 1;
pub(super) const PBX: u8 = 2;
pub(super) const AVANSER: u8 = 4;

/// The presets a configuration may name, and their bits.
pub(super) const PRESETS: [(&str, u8); 3] =
    [("ringcx", RINGCX), ("pbx", PBX), ("avanser", AVANSER)];

pub(super) fn standard_catalog() -> Catalog {
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
    // Which seed names each field (by its sample configuration and its
    // documentation), which are known while the call goes on, and which
    // hold secrets or personal data.
    // Dispatch sets these itself (the last two on realtime updates).
    const ALL_SEEDS: &[&str] = &["event", "event_time", "delivery_id", "status", "sequence"];
    const RINGCX_FIELDS: &[&str] = &[
        "agent_id",
        "agent_username",
        "ani",
        "dnis",
        "call_start",
        "agent_disposition",
        "duration",
        "recording_url",
        "sess_agent_perspective_recording_url",
    ];
    const AVANSER_FIELDS: &[&str] = &[
        "uniqueid",
        "status",
        "sequence",
        "ani",
        "dnis",
        "call_start",
        "duration",
        "recording_url",
    ];
    const NOT_MID_CALL: &[&str] = &[
        "agent_disposition",
        "duration",
        "recording_url",
        "sess_agent_perspective_recording_url",
        "cause",
        "sip_status",
        "duration_time",
        "billing_duration",
        "billing_duration_time",
        "queue_disposition",
    ];
    const SECRET: &[&str] = &["recording_url", "sess_agent_perspective_recording_url"];
    const PERSONAL: &[&str] = &[
        "ani",
        "dnis",
        "agent_username",
        "contact_number",
        "caller_id_number",
        "destination",
        "user_fullname",
    ];
    let mut catalog = Catalog::new();
    for mut spec in fields {
        let name = spec.name.as_str();
        spec.presets = if ALL_SEEDS.contains(&name) {
            RINGCX | PBX | AVANSER
        } else {
            let mut bits = 0;
            if RINGCX_FIELDS.contains(&name) {
                bits |= RINGCX;
            }
            if AVANSER_FIELDS.contains(&name) {
                bits |= AVANSER;
            }
            // The PBX's fields are those its events carry.
            if spec.events.contains(&CallHangup) && !RINGCX_FIELDS.contains(&name)
                || ["duration", "recording_url"].contains(&name)
            {
                bits |= PBX;
            }
            bits
        };
        spec.mid_call = !NOT_MID_CALL.contains(&name);
        spec.secret = SECRET.contains(&name);
        spec.personal = PERSONAL.contains(&name);
        catalog.fields.insert(spec.name.clone(), spec);
    }
    for event in Event::ALL {
        let bits = if EventSet::PBX.contains(&event) {
            PBX
        } else {
            0
        } | if EventSet::RINGCX.contains(&event) {
            RINGCX
        } else {
            0
        } | if matches!(event, CallStatusChange | CallReporting | PostCall) {
            AVANSER
        } else {
            0
        };
        if let Some(spec) = event.seed_spec() {
            catalog.events.insert(spec.name.clone(), (spec, bits));
        }
    }
    catalog.renumber();
    catalog
}

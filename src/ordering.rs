//! Ordering of realtime updates: [`Sequences`], the host's record of the
//! newest status sequence delivered per call and webhook, so that an older
//! update, sent late by a parallel worker, is skipped
//! ([`Skip::Superseded`](crate::Skip::Superseded)) rather than undo a newer
//! one at the receiver.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorKind};
use crate::limits::{self, SEQUENCES, SEQUENCE_ID_BYTES};

/// The highest status sequence delivered for each (call id, webhook), with
/// when: host-owned, stored as JSON ([`Sequences::to_json`]) where its
/// workers share it, and folded together ([`Sequences::merge`]).
///
/// It holds at most [`limits::SEQUENCES`] pairs, forgetting the one
/// delivered to longest ago past that; a host prunes finished calls with
/// [`Sequences::forget_before`]. Ids longer than
/// [`limits::SEQUENCE_ID_BYTES`] are not tracked.
///
/// # Examples
///
/// ```
/// use callhook::Sequences;
///
/// let mut sequences = Sequences::new();
/// let now = "2024-12-02T21:00:00Z".parse().unwrap();
/// sequences.delivered("call-1", "webhook-1", 7, now);
/// assert_eq!(sequences.superseded("call-1", "webhook-1", 5), Some(7));
/// assert_eq!(sequences.superseded("call-1", "webhook-1", 8), None);
/// assert_eq!(sequences.superseded("call-1", "webhook-2", 5), None);
/// assert_eq!(Sequences::from_json(&sequences.to_json())?, sequences);
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sequences {
    delivered: BTreeMap<(Box<str>, Box<str>), Delivered>,
}

/// The newest delivery of one (call, webhook).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Delivered {
    sequence: u64,
    at: DateTime<Utc>,
}

/// One pair as stored: a list of these, as JSON maps are keyed by text.
#[derive(Serialize, Deserialize)]
struct Row<'a> {
    #[serde(borrow)]
    call_id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    webhook: std::borrow::Cow<'a, str>,
    sequence: u64,
    at: DateTime<Utc>,
}

impl Serialize for Sequences {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Stored<'a> {
            delivered: Vec<Row<'a>>,
        }
        Stored {
            delivered: self
                .delivered
                .iter()
                .map(|((call_id, webhook), d)| Row {
                    call_id: (&**call_id).into(),
                    webhook: (&**webhook).into(),
                    sequence: d.sequence,
                    at: d.at,
                })
                .collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Sequences {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sequences, D::Error> {
        #[derive(Deserialize)]
        struct Stored {
            #[serde(default, deserialize_with = "bounded")]
            delivered: Sequences,
        }
        Ok(Stored::deserialize(d)?.delivered)
    }
}

/// The list of pairs, refused as soon as it holds more than
/// [`limits::SEQUENCES`] or an id longer than
/// [`limits::SEQUENCE_ID_BYTES`].
fn bounded<'de, D: Deserializer<'de>>(d: D) -> Result<Sequences, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Sequences;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of delivered sequences")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Sequences, A::Error> {
            let mut sequences = Sequences::new();
            while let Some(row) = seq.next_element::<Row<'_>>()? {
                if row.call_id.len() > SEQUENCE_ID_BYTES || row.webhook.len() > SEQUENCE_ID_BYTES {
                    return Err(serde::de::Error::custom(format!(
                        "a call id or webhook is longer than {} bytes (`limits::SEQUENCE_ID_BYTES`)",
                        limits::count(SEQUENCE_ID_BYTES)
                    )));
                }
                sequences.keep(&row.call_id, &row.webhook, row.sequence, row.at);
                if sequences.delivered.len() > SEQUENCES {
                    return Err(serde::de::Error::custom(format!(
                        "more than {} delivered sequences (`limits::SEQUENCES`)",
                        limits::count(SEQUENCES)
                    )));
                }
            }
            Ok(sequences)
        }
    }
    d.deserialize_seq(Visitor)
}

impl Sequences {
    /// Nothing delivered.
    #[must_use]
    pub fn new() -> Sequences {
        Sequences::default()
    }

    /// The (call, webhook) pairs held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.delivered.len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.delivered.is_empty()
    }

    /// The newer sequence already delivered to `webhook` for `call_id`,
    /// if one was: a delivery of `sequence` is then superseded, and
    /// skipped. `None` for a sequence as new or newer (the same sequence
    /// again is a retry of a delivery whose success was not heard, and
    /// goes).
    #[must_use]
    pub fn superseded(&self, call_id: &str, webhook: &str, sequence: u64) -> Option<u64> {
        let delivered = self.delivered.get(&(call_id.into(), webhook.into()))?;
        (delivered.sequence > sequence).then_some(delivered.sequence)
    }

    /// Records that `sequence` was delivered to `webhook` for `call_id`
    /// at `now`; an older sequence than the one held changes nothing.
    pub fn delivered(&mut self, call_id: &str, webhook: &str, sequence: u64, now: DateTime<Utc>) {
        if call_id.len() > SEQUENCE_ID_BYTES || webhook.len() > SEQUENCE_ID_BYTES {
            return;
        }
        let key: (Box<str>, Box<str>) = (call_id.into(), webhook.into());
        if self.delivered.len() >= SEQUENCES && !self.delivered.contains_key(&key) {
            // Full, and a new pair: the tenth delivered to longest ago
            // (most likely finished calls) make room.
            limits::trim_to(&mut self.delivered, limits::trimmed(SEQUENCES), |d| d.at);
        }
        self.keep(call_id, webhook, sequence, now);
    }

    /// Keeps the higher of `sequence` and the one held.
    fn keep(&mut self, call_id: &str, webhook: &str, sequence: u64, at: DateTime<Utc>) {
        let entry = self
            .delivered
            .entry((call_id.into(), webhook.into()))
            .or_insert(Delivered { sequence, at });
        if sequence > entry.sequence || (sequence == entry.sequence && at > entry.at) {
            *entry = Delivered { sequence, at };
        }
    }

    /// Forgets every pair last delivered before `at`: a host prunes the
    /// calls that have ended (their updates are all sent, or expired).
    pub fn forget_before(&mut self, at: DateTime<Utc>) {
        self.delivered.retain(|_, d| d.at >= at);
    }

    /// Forgets every pair of `call_id`: a host erasing a call's data
    /// (a person's) erases its ids here too.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::Sequences;
    ///
    /// let mut sequences = Sequences::new();
    /// let now = "2024-12-02T21:00:00Z".parse().unwrap();
    /// sequences.delivered("call-1", "webhook-1", 7, now);
    /// sequences.delivered("call-2", "webhook-1", 2, now);
    /// sequences.forget_call("call-1");
    /// assert_eq!(sequences.superseded("call-1", "webhook-1", 5), None);
    /// assert_eq!(sequences.len(), 1);
    /// ```
    pub fn forget_call(&mut self, call_id: &str) {
        self.delivered.retain(|(call, _), _| &**call != call_id);
    }

    /// Takes in `newer`'s pairs, keeping the higher sequence of each:
    /// how a host folds the state one worker wrote into the one it holds.
    pub fn merge(&mut self, newer: Sequences) {
        // Everything first, then one trim: trimming per pair would read
        // the whole map for each.
        for ((call_id, webhook), d) in newer.delivered {
            if call_id.len() <= SEQUENCE_ID_BYTES && webhook.len() <= SEQUENCE_ID_BYTES {
                self.keep(&call_id, &webhook, d.sequence, d.at);
            }
        }
        limits::trim_to(&mut self.delivered, SEQUENCES, |d| d.at);
    }

    /// The state as JSON, to store where the host's workers share it. It
    /// holds call ids and webhook ids, no call data.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Text, numbers and dates: serde_json cannot fail on them.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a state written by [`Sequences::to_json`].
    ///
    /// # Errors
    ///
    /// Text that is not such a state (not JSON, a field missing or of the
    /// wrong type, more than [`limits::SEQUENCES`] pairs, an id longer
    /// than [`limits::SEQUENCE_ID_BYTES`]) is an error of kind
    /// [`ErrorKind::Serde`].
    pub fn from_json(text: &str) -> Result<Sequences, Error> {
        serde_json::from_str(text).map_err(|e| {
            Error::new(
                ErrorKind::Serde,
                format!("the text is not a stored sequence state: {e}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        "2024-12-02T21:00:00Z".parse::<DateTime<Utc>>().unwrap()
            + chrono::TimeDelta::seconds(seconds)
    }

    #[test]
    fn forgetting_a_call_forgets_its_pairs_with_every_webhook_and_no_other() {
        let mut s = Sequences::new();
        s.delivered("c1", "w1", 5, at(0));
        s.delivered("c1", "w2", 6, at(1));
        s.delivered("c10", "w1", 7, at(2));
        s.delivered("c2", "w1", 8, at(3));
        s.forget_call("c1");
        assert_eq!(s.len(), 2);
        assert_eq!(s.superseded("c1", "w1", 0), None);
        assert_eq!(s.superseded("c1", "w2", 0), None);
        assert_eq!(s.superseded("c10", "w1", 0), Some(7));
        assert_eq!(s.superseded("c2", "w1", 0), Some(8));
        assert!(!s.to_json().contains("\"c1\""));
        // A call not held: nothing changes.
        s.forget_call("c3");
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn an_older_sequence_is_superseded_the_same_or_newer_is_not() {
        let mut s = Sequences::new();
        assert_eq!(s.superseded("c1", "w1", 0), None);
        s.delivered("c1", "w1", 5, at(0));
        assert_eq!(s.superseded("c1", "w1", 4), Some(5));
        assert_eq!(s.superseded("c1", "w1", 0), Some(5));
        assert_eq!(s.superseded("c1", "w1", 5), None);
        assert_eq!(s.superseded("c1", "w1", 6), None);
        // Per call and per webhook.
        assert_eq!(s.superseded("c2", "w1", 1), None);
        assert_eq!(s.superseded("c1", "w2", 1), None);
        // An older delivery, late, changes nothing.
        s.delivered("c1", "w1", 3, at(9));
        assert_eq!(s.superseded("c1", "w1", 4), Some(5));
        s.delivered("c1", "w1", 8, at(10));
        assert_eq!(s.superseded("c1", "w1", 7), Some(8));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn finished_calls_are_forgotten() {
        let mut s = Sequences::new();
        s.delivered("old", "w", 1, at(0));
        s.delivered("new", "w", 1, at(100));
        s.forget_before(at(50));
        assert_eq!(s.superseded("old", "w", 0), None);
        assert_eq!(s.superseded("new", "w", 0), Some(1));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn json_round_trips_and_hostile_json_is_refused() {
        let mut s = Sequences::new();
        s.delivered("call \"1\"", "w1", u64::MAX, at(0));
        s.delivered("c2", "w2", 0, at(1));
        let json = s.to_json();
        let back = Sequences::from_json(&json).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.to_json(), json);
        assert_eq!(Sequences::from_json("{}").unwrap(), Sequences::new());
        let long = format!(
            r#"{{"delivered": [{{"call_id": "{}", "webhook": "w", "sequence": 1, "at": "2024-12-02T21:00:00Z"}}]}}"#,
            "c".repeat(SEQUENCE_ID_BYTES + 1)
        );
        for hostile in [
            "",
            "7",
            r#"{"delivered": {}}"#,
            r#"{"delivered": [{"call_id": "c", "webhook": "w", "sequence": -1, "at": "2024-12-02T21:00:00Z"}]}"#,
            r#"{"delivered": [{"call_id": "c", "webhook": "w", "sequence": 1}]}"#,
            r#"{"delivered": [{"call_id": "c", "webhook": "w", "sequence": 1, "at": "soon"}]}"#,
            &long,
        ] {
            let err = Sequences::from_json(hostile).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Serde, "{hostile}");
        }
        // One pair past the limit.
        let rows: Vec<String> = (0..=SEQUENCES)
            .map(|i| {
                format!(
                    r#"{{"call_id":"c{i}","webhook":"w","sequence":1,"at":"2024-12-02T21:00:00Z"}}"#
                )
            })
            .collect();
        let crowded = format!(r#"{{"delivered": [{}]}}"#, rows.join(","));
        let err = Sequences::from_json(&crowded).unwrap_err();
        assert!(err.to_string().contains("limits::SEQUENCES"), "{err}");
        let full = format!(r#"{{"delivered": [{}]}}"#, rows[1..].join(","));
        assert_eq!(Sequences::from_json(&full).unwrap().len(), SEQUENCES);
        // The same pair twice keeps the higher sequence.
        let twice = r#"{"delivered": [
            {"call_id": "c", "webhook": "w", "sequence": 9, "at": "2024-12-02T21:00:00Z"},
            {"call_id": "c", "webhook": "w", "sequence": 2, "at": "2024-12-02T21:00:05Z"}]}"#;
        assert_eq!(
            Sequences::from_json(twice).unwrap().superseded("c", "w", 3),
            Some(9)
        );
    }

    #[test]
    fn bounded_forgetting_the_oldest() {
        let mut s = Sequences::new();
        for i in 0..SEQUENCES {
            s.delivered(&format!("c{i}"), "w", 1, at(i as i64));
        }
        assert_eq!(s.len(), SEQUENCES);
        // Full: the tenth delivered to longest ago make room.
        s.delivered("c-new", "w", 1, at(-1));
        assert_eq!(s.len(), limits::trimmed(SEQUENCES) + 1);
        assert_eq!(s.superseded("c0", "w", 0), None);
        assert_eq!(
            s.superseded(&format!("c{}", SEQUENCES / 10 - 1), "w", 0),
            None
        );
        assert_eq!(
            s.superseded(&format!("c{}", SEQUENCES / 10), "w", 0),
            Some(1)
        );
        assert_eq!(s.superseded("c-new", "w", 0), Some(1));
        // A pair held already takes no room.
        s.delivered("c50000", "w", 2, at(0));
        assert_eq!(s.superseded("c50000", "w", 1), Some(2));
        assert_eq!(s.len(), limits::trimmed(SEQUENCES) + 1);
        // Ids past the limit are not tracked.
        let long = "x".repeat(SEQUENCE_ID_BYTES + 1);
        s.delivered(&long, "w", 5, at(0));
        assert_eq!(s.superseded(&long, "w", 1), None);
    }

    /// Found in review: each pair merged into a full state read the whole
    /// state to find the oldest, so merging two full states took minutes.
    /// Now one trim after all are in; the newest are kept.
    #[test]
    fn merging_two_full_states_keeps_the_newest_at_the_limit() {
        let mut ours = Sequences::new();
        let mut theirs = Sequences::new();
        for i in 0..SEQUENCES {
            ours.delivered(&format!("a{i}"), "w", 1, at(i as i64));
            theirs.delivered(&format!("b{i}"), "w", 1, at(i as i64 + 1));
        }
        ours.merge(theirs);
        assert_eq!(ours.len(), SEQUENCES);
        let last = SEQUENCES - 1;
        assert_eq!(ours.superseded(&format!("b{last}"), "w", 0), Some(1));
        assert_eq!(ours.superseded(&format!("a{last}"), "w", 0), Some(1));
        assert_eq!(ours.superseded("a0", "w", 0), None);
    }

    #[test]
    fn merge_keeps_the_higher_sequence() {
        let mut ours = Sequences::new();
        ours.delivered("c", "w", 5, at(0));
        let mut theirs = Sequences::new();
        theirs.delivered("c", "w", 3, at(1));
        theirs.delivered("d", "w", 1, at(1));
        ours.merge(theirs);
        assert_eq!(ours.superseded("c", "w", 4), Some(5));
        assert_eq!(ours.superseded("d", "w", 0), Some(1));
    }
}

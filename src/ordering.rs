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
                if sequences.delivered.len() >= SEQUENCES {
                    return Err(serde::de::Error::custom(format!(
                        "more than {} delivered sequences (`limits::SEQUENCES`)",
                        limits::count(SEQUENCES)
                    )));
                }
                if row.call_id.len() > SEQUENCE_ID_BYTES || row.webhook.len() > SEQUENCE_ID_BYTES {
                    return Err(serde::de::Error::custom(format!(
                        "a call id or webhook is longer than {} bytes (`limits::SEQUENCE_ID_BYTES`)",
                        limits::count(SEQUENCE_ID_BYTES)
                    )));
                }
                sequences.keep(&row.call_id, &row.webhook, row.sequence, row.at);
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
        if self.delivered.len() >= SEQUENCES
            && self.superseded(call_id, webhook, u64::MAX).is_none()
        {
            // Full, and a new pair: the pair delivered to longest ago
            // (most likely a finished call) makes room.
            let oldest = self
                .delivered
                .iter()
                .min_by_key(|(_, d)| d.at)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                self.delivered.remove(&oldest);
            }
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

    /// Takes in `newer`'s pairs, keeping the higher sequence of each:
    /// how a host folds the state one worker wrote into the one it holds.
    pub fn merge(&mut self, newer: Sequences) {
        for ((call_id, webhook), d) in newer.delivered {
            self.delivered(&call_id, &webhook, d.sequence, d.at);
        }
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

//! When to retry a delivery: a pure policy.
//!
//! The host sends; callhook tells it what comes next. [`RetryPolicy::decide`]
//! is pure: from the attempt number, the outcome and the current time (and a
//! seed for jitter) it says whether the delivery is done, when to retry, or
//! to give up.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::limits::{self, RETRY_ATTEMPTS, SHORTEST_RETRY_DELAY};

/// How an attempt ended, as the host tells it: built through its
/// constructors ([`Outcome::response`], [`Outcome::transport_error`],
/// [`Outcome::address_refused`]) and the `with_` methods, so that what an
/// outcome can hold may grow without breaking a host.
///
/// Besides how the attempt ended, an outcome holds what a delivery log
/// records of it: how long it took and the first bytes of the response, as
/// many as the host read. [`RetryPolicy::decide`] reads only how it ended
/// and the response's headers. Its `Debug` shows the response's length,
/// not its bytes.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use callhook::Outcome;
///
/// let headers = http::HeaderMap::new();
/// let answered = Outcome::response(http::StatusCode::ACCEPTED, &headers)
///     .with_latency(Duration::from_millis(85))
///     .with_response_start(b"queued");
/// assert_eq!(answered.status(), Some(http::StatusCode::ACCEPTED));
/// assert_eq!(answered.response_start(), b"queued");
/// assert!(Outcome::transport_error().is_transport_error());
/// ```
#[derive(Clone, Copy)]
pub struct Outcome<'a> {
    ended: Ended<'a>,
    latency: Option<Duration>,
    response_start: &'a [u8],
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy)]
enum Ended<'a> {
    /// The endpoint answered.
    Response {
        status: StatusCode,
        headers: &'a HeaderMap,
    },
    /// No answer: connection refused, reset, timed out, TLS failure.
    TransportError,
    /// Not sent: the address the URL's host resolved to is one the
    /// registry's address policy refuses.
    AddressRefused,
}

impl<'a> Outcome<'a> {
    const fn of(ended: Ended<'a>) -> Outcome<'a> {
        Outcome {
            ended,
            latency: None,
            response_start: &[],
        }
    }

    /// The endpoint answered with `status` and `headers` (read for
    /// `Retry-After`).
    #[must_use]
    pub const fn response(status: StatusCode, headers: &'a HeaderMap) -> Outcome<'a> {
        Outcome::of(Ended::Response { status, headers })
    }

    /// No answer: the connection was refused or reset, it timed out, TLS
    /// failed. Retried.
    #[must_use]
    pub const fn transport_error() -> Outcome<'a> {
        Outcome::of(Ended::TransportError)
    }

    /// Not sent: the URL's host resolved to an address that
    /// [`Registry::address_policy`](crate::Registry::address_policy)
    /// refuses. Given up at once ([`GiveUp::AddressRefused`]): retrying
    /// would only ask again.
    #[must_use]
    pub const fn address_refused() -> Outcome<'a> {
        Outcome::of(Ended::AddressRefused)
    }

    /// The outcome, with how long the attempt took (from sending to the
    /// end of the response, or to the failure).
    #[must_use]
    pub const fn with_latency(mut self, latency: Duration) -> Outcome<'a> {
        self.latency = Some(latency);
        self
    }

    /// The outcome, with the first bytes of the response's body, as many
    /// as the host read (a delivery log keeps a few hundred).
    #[must_use]
    pub const fn with_response_start(mut self, bytes: &'a [u8]) -> Outcome<'a> {
        self.response_start = bytes;
        self
    }

    /// The response's status, if the endpoint answered.
    #[must_use]
    pub const fn status(&self) -> Option<StatusCode> {
        match self.ended {
            Ended::Response { status, .. } => Some(status),
            Ended::TransportError | Ended::AddressRefused => None,
        }
    }

    /// The response's headers, if the endpoint answered.
    #[must_use]
    pub const fn headers(&self) -> Option<&'a HeaderMap> {
        match self.ended {
            Ended::Response { headers, .. } => Some(headers),
            Ended::TransportError | Ended::AddressRefused => None,
        }
    }

    /// Whether no answer came.
    #[must_use]
    pub const fn is_transport_error(&self) -> bool {
        matches!(self.ended, Ended::TransportError)
    }

    /// Whether the address policy refused the send.
    #[must_use]
    pub const fn is_address_refused(&self) -> bool {
        matches!(self.ended, Ended::AddressRefused)
    }

    /// How long the attempt took, if the host said.
    #[must_use]
    pub const fn latency(&self) -> Option<Duration> {
        self.latency
    }

    /// The first bytes of the response's body, as the host gave them
    /// (none unless it did).
    #[must_use]
    pub const fn response_start(&self) -> &'a [u8] {
        self.response_start
    }
}

/// The response's bytes are the receiver's and may hold anything; the
/// length is enough to debug with.
impl fmt::Debug for Outcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Outcome");
        match self.ended {
            Ended::Response { status, .. } => d.field("status", &status),
            Ended::TransportError => d.field("ended", &"transport error"),
            Ended::AddressRefused => d.field("ended", &"address refused"),
        };
        d.field("latency", &self.latency)
            .field(
                "response_start",
                &format_args!("{} bytes", self.response_start.len()),
            )
            .finish()
    }
}

/// Why a delivery was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUp {
    /// The endpoint refused the request for good (a 4xx other than 401,
    /// 408 and 429, or a redirect, which is not followed).
    Rejected(StatusCode),
    /// The endpoint answered `401 Unauthorized`: the request's credentials
    /// were refused. Told apart from [`GiveUp::Rejected`] so a host can
    /// renew them (a token) before a new delivery.
    Unauthorized,
    /// The address the URL's host resolved to is one the address policy
    /// refuses; nothing was sent ([`Outcome::address_refused`]).
    AddressRefused,
    /// The policy's last attempt failed.
    AttemptsExhausted,
    /// The next attempt would come after the event's expiry.
    Expired,
}

/// What a [`Decision::Disable`] asks the host to disable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisableTarget {
    /// The URL the request went to: the delivery's service
    /// ([`Registry::set_service_enabled`](crate::Registry::set_service_enabled)),
    /// since a service has one URL, and every webhook using it with it.
    Url,
    /// The webhook whose delivery this was
    /// ([`Registry::set_webhook_enabled`](crate::Registry::set_webhook_enabled)),
    /// leaving the service to the other webhooks using it.
    Webhook,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Decision {
    /// The endpoint took it (2xx).
    Delivered,
    /// Try again at this time.
    Retry {
        /// When.
        at: DateTime<Utc>,
    },
    /// Stop trying this delivery.
    GiveUp(GiveUp),
    /// Stop trying this delivery, and disable `target`: the endpoint
    /// answered `410 Gone`, which disables the URL.
    #[non_exhaustive]
    Disable {
        /// What to disable.
        target: DisableTarget,
        /// Why this delivery was given up (for `410 Gone`,
        /// [`GiveUp::Rejected`] with that status).
        reason: GiveUp,
    },
}

/// When and how often a failed delivery is retried.
///
/// The defaults follow the dedicated webhook services: 2xx is delivered;
/// transport errors, 408, 429 and 5xx are retried after 5 s, 5 min, 30 min,
/// 2 h, 5 h, 10 h and 10 h (eight attempts in all), each delay varied by
/// ±20 % jitter; `Retry-After` (seconds or an HTTP date) is honoured between
/// 1 s and 24 h; 410 Gone disables the URL; 401 gives up as
/// [`GiveUp::Unauthorized`], other 4xx as rejected; a send the address
/// policy refused gives up at once. Updates
/// that are worthless later expire an hour after the first attempt
/// (`Call:Ringing`, `Call:Answer`, `Ivr:*`, `Dequeue`, `Agent Connect`,
/// `Call Status Change`); final reports do not.
///
/// In configuration, durations are written `"5s"`, `"5m"`, `"2h"`, `"1d"`:
///
/// ```json
/// {"schedule": ["10s", "1m", "10m"], "max_attempts": 4, "expiry": {"Call:Ringing": "5m"}}
/// ```
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The delay before each retry; the last repeats if there are more
    /// attempts than delays.
    #[serde(with = "durations")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<DurationText>"))]
    pub schedule: Vec<Duration>,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Jitter, as a fraction of each delay (0.2 is ±20 %).
    pub jitter: f64,
    /// The shortest `Retry-After` honoured.
    #[serde(with = "duration")]
    #[cfg_attr(feature = "schema", schemars(with = "DurationText"))]
    pub retry_after_min: Duration,
    /// The longest `Retry-After` honoured.
    #[serde(with = "duration")]
    #[cfg_attr(feature = "schema", schemars(with = "DurationText"))]
    pub retry_after_max: Duration,
    /// Per event: how long after the first attempt a delivery is still
    /// worth making.
    #[serde(with = "expiry")]
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, DurationText>"))]
    pub expiry: BTreeMap<Event, Duration>,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        let schedule = vec![
            Duration::from_secs(5),
            minutes(5),
            minutes(30),
            minutes(120),
            minutes(300),
            minutes(600),
            minutes(600),
        ];
        let expiry = [
            Event::CallRinging,
            Event::CallAnswer,
            Event::IvrStart,
            Event::IvrEnd,
            Event::Dequeue,
            Event::AgentConnect,
            Event::CallStatusChange,
        ]
        .into_iter()
        .map(|e| (e, minutes(60)))
        .collect();
        RetryPolicy {
            max_attempts: schedule.len() as u32 + 1,
            schedule,
            jitter: 0.2,
            retry_after_min: Duration::from_secs(1),
            retry_after_max: minutes(24 * 60),
            expiry,
        }
    }
}

/// SplitMix64: a tiny, well-mixed generator, so jitter is reproducible from
/// the seed `decide` is given (an envelope's is its delivery id, hashed).
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl RetryPolicy {
    /// The longest delay, expiry or `Retry-After` bound a policy may hold:
    /// a year.
    pub const LONGEST: Duration = Duration::from_secs(365 * 86_400);

    /// Checks the policy is usable; loading a service checks its policy.
    ///
    /// # Errors
    ///
    /// An empty schedule, no attempts or more than
    /// [`limits::RETRY_ATTEMPTS`], jitter outside `0..=1`, a delay or
    /// `retry_after_min` shorter than [`limits::SHORTEST_RETRY_DELAY`],
    /// `retry_after_min` above `retry_after_max`, or any duration longer
    /// than [`RetryPolicy::LONGEST`] is an error of kind
    /// [`ErrorKind::InvalidConfig`] naming the field (and the limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::RetryPolicy;
    ///
    /// assert!(RetryPolicy::default().check().is_ok());
    /// let mut policy = RetryPolicy::default();
    /// policy.schedule.clear();
    /// assert!(policy.check().is_err());
    /// ```
    pub fn check(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        let mut problem = |field: String, message: String| {
            problems.push(Error::new(ErrorKind::InvalidConfig, message).in_field(&field));
        };
        if self.schedule.is_empty() {
            problem(
                "schedule".into(),
                "`schedule` needs at least one delay".into(),
            );
        }
        if self.max_attempts == 0 {
            problem(
                "max_attempts".into(),
                "`max_attempts` must be at least 1".into(),
            );
        }
        if self.max_attempts > RETRY_ATTEMPTS {
            problem(
                "max_attempts".into(),
                format!(
                    "`max_attempts` is {}; at most {} are allowed (`limits::RETRY_ATTEMPTS`)",
                    limits::count(self.max_attempts as usize),
                    limits::count(RETRY_ATTEMPTS as usize)
                ),
            );
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            problem("jitter".into(), "`jitter` must be between 0 and 1".into());
        }
        if self.retry_after_min > self.retry_after_max {
            problem(
                "retry_after_min".into(),
                "`retry_after_min` is more than `retry_after_max`".into(),
            );
        }
        let durations = self
            .schedule
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("schedule.{i}"), *d))
            .chain([
                ("retry_after_min".to_owned(), self.retry_after_min),
                ("retry_after_max".to_owned(), self.retry_after_max),
            ])
            .chain(self.expiry.iter().map(|(e, d)| (format!("expiry.{e}"), *d)));
        for (field, duration) in durations {
            // The longest `Retry-After` may be short only if it is not
            // below the shortest, which is checked above.
            let shortest = field.starts_with("schedule.") || field == "retry_after_min";
            if shortest && duration < SHORTEST_RETRY_DELAY {
                problem(
                    field,
                    format!(
                        "{} is shorter than the shortest delay allowed, {} \
                         (`limits::SHORTEST_RETRY_DELAY`)",
                        print_duration(&duration),
                        print_duration(&SHORTEST_RETRY_DELAY)
                    ),
                );
            } else if duration > Self::LONGEST {
                problem(
                    field,
                    format!(
                        "{} is longer than the longest delay allowed, {}",
                        print_duration(&duration),
                        print_duration(&Self::LONGEST)
                    ),
                );
            }
        }
        match problems.len() {
            0 => Ok(()),
            _ => Err(Error::many(ErrorKind::InvalidConfig, problems)),
        }
    }

    /// Decides what follows attempt number `attempt` (1 for the first) of a
    /// delivery of `event` first attempted at `first_attempt_at`, which
    /// ended with `outcome` at `now`. `seed` makes the jitter reproducible
    /// ([`Envelope::record`](crate::Envelope::record) passes a hash of the
    /// delivery id).
    ///
    /// Whatever the policy holds, checked or not, a retry waits at least
    /// [`limits::SHORTEST_RETRY_DELAY`] and none follows attempt
    /// [`limits::RETRY_ATTEMPTS`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Decision, Event, Outcome, RetryPolicy};
    ///
    /// let policy = RetryPolicy::default();
    /// let now = "2024-12-02T21:00:00Z".parse().unwrap();
    /// let decision = policy.decide(Event::CallHangup, 1, Outcome::transport_error(), now, now, 7);
    /// assert!(matches!(decision, Decision::Retry { .. }));
    /// ```
    #[must_use]
    pub fn decide(
        &self,
        event: Event,
        attempt: u32,
        outcome: Outcome<'_>,
        first_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
        seed: u64,
    ) -> Decision {
        let retry_after = match outcome.ended {
            Ended::Response { status, .. } if status.is_success() => return Decision::Delivered,
            Ended::Response { status, .. } if status == StatusCode::GONE => {
                return Decision::Disable {
                    target: DisableTarget::Url,
                    reason: GiveUp::Rejected(status),
                }
            }
            Ended::Response { status, .. } if status == StatusCode::UNAUTHORIZED => {
                return Decision::GiveUp(GiveUp::Unauthorized)
            }
            Ended::Response { status, headers } => {
                let retryable = status.is_server_error()
                    || status.is_informational()
                    || status == StatusCode::REQUEST_TIMEOUT
                    || status == StatusCode::TOO_MANY_REQUESTS;
                if !retryable {
                    return Decision::GiveUp(GiveUp::Rejected(status));
                }
                // A `Retry-After` that is not text cannot be read; the
                // schedule applies, as for no `Retry-After` at all.
                headers
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| self.retry_after(v, now))
            }
            Ended::TransportError => None,
            // Asking again resolves to the same refused address.
            Ended::AddressRefused => return Decision::GiveUp(GiveUp::AddressRefused),
        };
        // A policy that was never checked (built in code, or stored before
        // the limits) is held to them here all the same: a failing
        // receiver is never sent requests back to back, nor for ever.
        if attempt >= self.max_attempts.min(RETRY_ATTEMPTS) {
            return Decision::GiveUp(GiveUp::AttemptsExhausted);
        }
        // No `Retry-After`, or none that could be read: the schedule's
        // delay, which is the rule, not a fallback from an error.
        let delay = retry_after
            .unwrap_or_else(|| self.scheduled_delay(attempt, seed))
            .max(SHORTEST_RETRY_DELAY);
        // Whatever a policy or a stored envelope holds, a time past the end
        // of the calendar is never reached: the delivery is given up, not a
        // panic.
        let Some(at) = add(now, delay) else {
            return Decision::GiveUp(GiveUp::Expired);
        };
        if let Some(expiry) = self.expiry.get(&event) {
            if add(first_attempt_at, *expiry).is_some_and(|limit| at > limit) {
                return Decision::GiveUp(GiveUp::Expired);
            }
        }
        Decision::Retry { at }
    }

    /// The jittered delay after attempt `attempt`.
    fn scheduled_delay(&self, attempt: u32, seed: u64) -> Duration {
        let index = (attempt.max(1) as usize - 1).min(self.schedule.len().saturating_sub(1));
        // Only an unchecked policy has an empty schedule: no delay of its
        // own, and `decide` holds it to the shortest delay allowed.
        let base = self.schedule.get(index).copied().unwrap_or_default();
        let random = splitmix64(seed ^ u64::from(attempt).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        // 53 random bits as a fraction in [0, 1).
        let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
        let factor = 1.0 + self.jitter * (2.0 * unit - 1.0);
        // Only an unchecked jitter (NaN, or far past 1) makes a delay that
        // is no duration: the delay is then the schedule's, unvaried.
        Duration::try_from_secs_f64(base.as_secs_f64() * factor).unwrap_or(base)
    }

    /// A `Retry-After` value (delay-seconds or any HTTP-date form of RFC
    /// 9110), held within the policy's bounds.
    fn retry_after(&self, value: &str, now: DateTime<Utc>) -> Option<Duration> {
        let value = value.trim();
        let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            // Delay-seconds too many for a `u64` ask for longer than any
            // policy waits: the longest wait, not the schedule's.
            value
                .parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs)
        } else {
            // A date in the past asks for no wait (held to the shortest
            // below), as RFC 9110 reads it.
            (http_date(value)? - now).to_std().unwrap_or_default()
        };
        // Not `clamp`, which panics on a policy whose bounds cross.
        Some(wait.max(self.retry_after_min).min(self.retry_after_max))
    }
}

/// `at` plus `delay`, or `None` past the end of the calendar.
fn add(at: DateTime<Utc>, delay: Duration) -> Option<DateTime<Utc>> {
    // A delay too long for a `TimeDelta` is past the calendar's end too.
    at.checked_add_signed(chrono::TimeDelta::from_std(delay).ok()?)
}

/// An HTTP-date in any of RFC 9110's three forms: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
fn http_date(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = DateTime::parse_from_rfc2822(value) {
        return Some(date.with_timezone(&Utc));
    }
    let naive = chrono::NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(value, "%a %b %e %H:%M:%S %Y"))
        // Not a date in any form: the caller uses the schedule.
        .ok()?;
    Some(naive.and_utc())
}

/// Parses `"90s"`, `"5m"`, `"2h"`, `"1d"` (or a bare number of seconds).
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        // All digits: a bare number of seconds, no unit.
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    // Not a number: `None`, which the caller reports as an error.
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// Prints a duration in the largest whole unit.
fn print_duration(d: &Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".to_owned(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn duration_error<E: serde::de::Error>(text: &str) -> E {
    E::custom(format!(
        "invalid duration `{text}`, expected a number and `s`, `m`, `h` or `d`, such as `5m`"
    ))
}

pub(crate) mod duration {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&print_duration(d))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).ok_or_else(|| duration_error(&text))
    }
}

mod durations {
    use super::*;

    pub(super) fn serialize<S: Serializer>(ds: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ds.iter().map(print_duration))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| parse_duration(t).ok_or_else(|| duration_error(t)))
            .collect()
    }
}

mod expiry {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        map: &BTreeMap<Event, Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(map.iter().map(|(e, d)| (e, print_duration(d))))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<Event, Duration>, D::Error> {
        BTreeMap::<Event, String>::deserialize(d)?
            .into_iter()
            .map(|(e, t)| Ok((e, parse_duration(&t).ok_or_else(|| duration_error(&t))?)))
            .collect()
    }
}

/// A duration as configurations write it (`90s`, `5m`, `2h`, `1d`), for
/// the schema of the fields serde writes through [`duration`],
/// [`durations`] and [`expiry`].
#[cfg(feature = "schema")]
pub(crate) struct DurationText;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for DurationText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^[0-9]+[smhd]?$"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn status(code: u16, headers: &HeaderMap) -> Outcome<'_> {
        Outcome::response(StatusCode::from_u16(code).unwrap(), headers)
    }

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("5 m"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(print_duration(&Duration::from_secs(7200)), "2h");
        assert_eq!(print_duration(&Duration::from_secs(90)), "90s");
    }

    #[test]
    fn policy_serde_round_trip() {
        let policy = RetryPolicy::default();
        let json = serde_json::to_string(&policy).unwrap();
        assert!(
            json.contains(r#""schedule":["5s","5m","30m","2h","5h","10h","10h"]"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<RetryPolicy>(&json).unwrap(), policy);
        let custom: RetryPolicy =
            serde_json::from_str(r#"{"schedule": ["10s"], "max_attempts": 2}"#).unwrap();
        assert_eq!(custom.max_attempts, 2);
        assert_eq!(custom.jitter, 0.2);
        assert!(serde_json::from_str::<RetryPolicy>(r#"{"schedule": ["soon"]}"#).is_err());
        assert!(RetryPolicy {
            schedule: vec![],
            ..RetryPolicy::default()
        }
        .check()
        .is_err());
    }

    #[test]
    fn jitter_is_bounded_and_reproducible() {
        let p = RetryPolicy::default();
        for seed in 0..200 {
            let d = p.scheduled_delay(2, seed).as_secs_f64();
            assert!((240.0..=360.0).contains(&d), "{d}");
            assert_eq!(p.scheduled_delay(2, seed), p.scheduled_delay(2, seed));
        }
        let none = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        assert_eq!(none.scheduled_delay(1, 7), Duration::from_secs(5));
        assert_eq!(none.scheduled_delay(99, 7), Duration::from_secs(36_000));
    }

    #[test]
    fn decisions_by_status_class() {
        let p = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let h = HeaderMap::new();
        let now = t("2024-12-02T21:00:00Z");
        let decide = |o| p.decide(Event::CallReporting, 1, o, now, now, 0);
        assert_eq!(decide(status(200, &h)), Decision::Delivered);
        assert_eq!(decide(status(204, &h)), Decision::Delivered);
        assert_eq!(
            decide(status(410, &h)),
            Decision::Disable {
                target: DisableTarget::Url,
                reason: GiveUp::Rejected(StatusCode::GONE)
            }
        );
        assert_eq!(
            decide(status(401, &h)),
            Decision::GiveUp(GiveUp::Unauthorized)
        );
        assert_eq!(
            decide(Outcome::address_refused()),
            Decision::GiveUp(GiveUp::AddressRefused)
        );
        let retry = Decision::Retry {
            at: t("2024-12-02T21:00:05Z"),
        };
        for code in [408, 429, 500, 502, 503] {
            assert_eq!(decide(status(code, &h)), retry, "{code}");
        }
        assert_eq!(decide(Outcome::transport_error()), retry);
        for code in [400, 403, 404, 422, 301] {
            assert!(
                matches!(
                    decide(status(code, &h)),
                    Decision::GiveUp(GiveUp::Rejected(_))
                ),
                "{code}"
            );
        }
        assert_eq!(
            p.decide(
                Event::CallReporting,
                8,
                Outcome::transport_error(),
                now,
                now,
                0
            ),
            Decision::GiveUp(GiveUp::AttemptsExhausted)
        );
    }

    #[test]
    fn retry_after_in_seconds_and_dates_within_bounds() {
        let p = RetryPolicy::default();
        let now = t("2015-10-21T07:27:00Z");
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::RETRY_AFTER, v.parse().unwrap());
            p.decide(Event::PostCall, 1, status(429, &h), now, now, 0)
        };
        assert_eq!(
            with("120"),
            Decision::Retry {
                at: t("2015-10-21T07:29:00Z")
            }
        );
        assert_eq!(
            with("Wed, 21 Oct 2015 07:28:00 GMT"),
            Decision::Retry {
                at: t("2015-10-21T07:28:00Z")
            }
        );
        assert_eq!(
            with("0"),
            Decision::Retry {
                at: t("2015-10-21T07:27:01Z")
            }
        );
        assert_eq!(
            with("9999999"),
            Decision::Retry {
                at: t("2015-10-22T07:27:00Z")
            }
        );
        // Too many seconds for a `u64` is the longest wait, not garbage.
        assert_eq!(
            with("99999999999999999999"),
            Decision::Retry {
                at: t("2015-10-22T07:27:00Z")
            }
        );
        // A date in the past means "now", within bounds.
        assert_eq!(
            with("Wed, 21 Oct 2015 07:00:00 GMT"),
            Decision::Retry {
                at: t("2015-10-21T07:27:01Z")
            }
        );
        // Garbage falls back to the schedule.
        assert!(matches!(with("soon"), Decision::Retry { .. }));
    }

    #[test]
    fn retry_after_in_every_http_date_form() {
        let p = RetryPolicy::default();
        let now = t("1994-11-06T08:48:37Z");
        for value in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                p.retry_after(value, now),
                Some(Duration::from_secs(60)),
                "{value}"
            );
        }
    }

    /// Policies built in code or deserialised without `check`, and stored
    /// envelopes holding any time, never make `decide` panic.
    #[test]
    fn decisions_are_total() {
        let h = HeaderMap::new();
        let mut after = HeaderMap::new();
        after.insert(http::header::RETRY_AFTER, "5".parse().unwrap());
        let huge = Duration::from_secs(100_000_000 * 86_400);
        let policies = [
            RetryPolicy {
                schedule: vec![huge],
                expiry: [(Event::CallRinging, huge)].into_iter().collect(),
                ..RetryPolicy::default()
            },
            RetryPolicy {
                retry_after_min: Duration::from_secs(10),
                retry_after_max: Duration::from_secs(1),
                ..RetryPolicy::default()
            },
            RetryPolicy {
                jitter: 1e300,
                ..RetryPolicy::default()
            },
            RetryPolicy {
                jitter: f64::NAN,
                schedule: vec![],
                ..RetryPolicy::default()
            },
        ];
        let times = [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            t("2024-12-02T21:00:00Z"),
        ];
        for p in &policies {
            for first in times {
                for now in times {
                    for outcome in [
                        Outcome::transport_error(),
                        status(503, &h),
                        status(429, &after),
                    ] {
                        let _ = p.decide(Event::CallRinging, 1, outcome, first, now, 7);
                    }
                }
            }
        }
        let long: RetryPolicy = serde_json::from_str(r#"{"schedule": ["100000000d"]}"#).unwrap();
        let err = long.check().unwrap_err();
        assert_eq!(err.field(), Some("schedule.0"));
        assert!(err.message().contains("longer than the longest"), "{err}");
        let late: RetryPolicy =
            serde_json::from_str(r#"{"expiry": {"Call:Ringing": "100000000d"}}"#).unwrap();
        assert_eq!(
            late.check().unwrap_err().field(),
            Some("expiry.Call:Ringing")
        );
    }

    #[test]
    fn ringing_updates_expire_final_reports_do_not() {
        let p = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let first = t("2024-12-02T21:00:00Z");
        let now = t("2024-12-02T21:40:00Z");
        // Third attempt failed: the next would be 30 min later, past the hour.
        assert_eq!(
            p.decide(
                Event::CallRinging,
                3,
                Outcome::transport_error(),
                first,
                now,
                0
            ),
            Decision::GiveUp(GiveUp::Expired)
        );
        assert_eq!(
            p.decide(
                Event::CallReporting,
                3,
                Outcome::transport_error(),
                first,
                now,
                0
            ),
            Decision::Retry {
                at: t("2024-12-02T22:10:00Z")
            }
        );
        let earlier = t("2024-12-02T21:20:00Z");
        assert_eq!(
            p.decide(
                Event::CallRinging,
                3,
                Outcome::transport_error(),
                first,
                earlier,
                0
            ),
            Decision::Retry {
                at: t("2024-12-02T21:50:00Z")
            }
        );
    }
}

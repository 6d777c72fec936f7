//! When to retry a delivery: a pure policy.
//!
//! The host sends; callhook tells it what comes next. [`RetryPolicy::decide`]
//! is pure: from the attempt ([`Attempt`]: its number, the delivery's
//! event, service and URL, a seed for jitter), the outcome and the current
//! time it says whether the delivery is done, when to retry, to give up or
//! to disable what failed, and every decision names what it concerns.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::endpoint::Endpoint;
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::limits::{self, RETRY_ATTEMPTS, SHORTEST_RETRY_DELAY, TRANSPORT_ERROR_BYTES};
use crate::secret::redact_query;

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
/// let timed_out = Outcome::transport_error().with_error("timed out");
/// assert_eq!(timed_out.error(), Some("timed out"));
/// ```
#[derive(Clone, Copy)]
pub struct Outcome<'a> {
    ended: Ended<'a>,
    latency: Option<Duration>,
    response_start: &'a [u8],
    error: Option<&'a str>,
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
            error: None,
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

    /// The outcome, with a short description of a transport error in fixed
    /// words the sender chose: `"timed out"`, `"connection refused"`,
    /// `"tls handshake failed"`. An attempt log keeps it
    /// ([`Outcome::error`]).
    ///
    /// Only such words are kept: text longer than
    /// [`limits::TRANSPORT_ERROR_BYTES`], or holding anything but ASCII
    /// letters, digits, spaces, `-` and `'`, is dropped, and
    /// [`Outcome::error`] says `None`. An HTTP client's own message often
    /// names the URL, whose query may hold a secret or a person's data,
    /// and none of it may reach a log.
    #[must_use]
    pub const fn with_error(mut self, error: &'a str) -> Outcome<'a> {
        self.error = Some(error);
        self
    }

    /// The transport error's description, as [`Outcome::with_error`] gave
    /// it, if it is fixed words (see there).
    #[must_use]
    pub fn error(&self) -> Option<&'a str> {
        self.error.filter(|text| is_fixed_words(text))
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
        d.field("error", &self.error())
            .field("latency", &self.latency)
            .field(
                "response_start",
                &format_args!("{} bytes", self.response_start.len()),
            )
            .finish()
    }
}

/// Whether `text` is short and holds only words: what
/// [`Outcome::with_error`] keeps.
fn is_fixed_words(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= TRANSPORT_ERROR_BYTES
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'-' | b'\''))
}

/// Why a delivery was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUp {
    /// The endpoint refused the request for good: today only `410 Gone`,
    /// the reason of a [`Decision::Disable`] of the URL. Other 4xx and
    /// redirects (3xx, never followed) are retried on the schedule, as the
    /// Standard Webhooks specification says.
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
    /// The endpoint has failed as long or as often as the service's
    /// [`HealthPolicy`](crate::HealthPolicy) allows: the reason of a
    /// [`Decision::Disable`] of the webhook.
    Unhealthy(DisableReason),
    /// The stored request could not be prepared for sending as the
    /// registry is now: its service sends to another origin, path or
    /// method ([`ErrorKind::ServiceChanged`](crate::ErrorKind::ServiceChanged)),
    /// or is gone from the registry. Nothing was sent; the host dispatches
    /// the call's event again to build the request as the service is now.
    /// callhook itself never decides it: an outbox or a host does, after
    /// [`Registry::prepare`](crate::Registry::prepare) refused.
    NotPrepared,
}

/// Why an endpoint's health disables a webhook: which rule of the
/// service's [`HealthPolicy`](crate::HealthPolicy) it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisableReason {
    /// `failures` failed attempts within `within`
    /// ([`HealthPolicy::disable_after`](crate::HealthPolicy::disable_after)).
    #[non_exhaustive]
    FailuresWithin {
        /// The failures counted.
        failures: u32,
        /// The window they fell in.
        within: Duration,
    },
    /// Every attempt has failed since `since`, longer than
    /// [`HealthPolicy::disable_after_failing_for`](crate::HealthPolicy::disable_after_failing_for)
    /// allows.
    #[non_exhaustive]
    FailingFor {
        /// The first failure after the last success.
        since: DateTime<Utc>,
    },
}

impl fmt::Display for DisableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisableReason::FailuresWithin { failures, within } => write!(
                f,
                "{} failures within {}",
                limits::count(*failures as usize),
                print_duration(within)
            ),
            DisableReason::FailingFor { since } => {
                write!(f, "failing since {}", since.to_rfc3339())
            }
        }
    }
}

/// What a [`Decision::Disable`] asks the host to disable, by name.
///
/// `Debug` and `Display` show a URL with every query value redacted, as
/// previews do: a query may hold a secret or a person's data.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisableTarget {
    /// The URL the request went to (the endpoint answered `410 Gone`):
    /// the service's, or one of its fallback URLs. The host disables the
    /// service
    /// ([`Registry::set_service_enabled`](crate::Registry::set_service_enabled))
    /// or takes that URL out of its configuration.
    #[non_exhaustive]
    Url {
        /// The id of the service whose URL it is.
        service: String,
        /// The URL, as the request was sent (query values and all: only
        /// its `Debug` and `Display` redact them).
        url: String,
    },
    /// The webhook whose delivery this was
    /// ([`Registry::set_webhook_enabled`](crate::Registry::set_webhook_enabled)),
    /// leaving the service to the other webhooks using it: its endpoint's
    /// health broke a rule of the service's
    /// [`HealthPolicy`](crate::HealthPolicy).
    #[non_exhaustive]
    Webhook {
        /// The webhook's id.
        webhook: String,
    },
}

impl fmt::Debug for DisableTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisableTarget::Url { service, url } => f
                .debug_struct("Url")
                .field("service", service)
                .field("url", &redact_query(url, &|_| true))
                .finish(),
            DisableTarget::Webhook { webhook } => {
                f.debug_struct("Webhook").field("webhook", webhook).finish()
            }
        }
    }
}

impl fmt::Display for DisableTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisableTarget::Url { service, url } => write!(
                f,
                "URL `{}` of service `{service}`",
                redact_query(url, &|_| true)
            ),
            DisableTarget::Webhook { webhook } => write!(f, "webhook `{webhook}`"),
        }
    }
}

/// Why a delivery is not sent now, and never will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Skip {
    /// A realtime update of the call older than one already delivered to
    /// the same webhook ([`Sequences::superseded`](crate::Sequences::superseded)):
    /// sending it would undo the newer one.
    #[non_exhaustive]
    Superseded {
        /// This delivery's status sequence.
        sequence: u64,
        /// The newer sequence already delivered.
        delivered: u64,
    },
}

/// What to do with a delivery, before an attempt or after one. Every
/// decision concerns the delivery it was made for, and those that ask
/// more of the host name exactly what: the URL or webhook to disable, the
/// endpoint to wait for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    /// answered `410 Gone`, which disables the URL, or its health broke
    /// the service's [`HealthPolicy`](crate::HealthPolicy), which disables
    /// the webhook.
    #[non_exhaustive]
    Disable {
        /// What to disable.
        target: DisableTarget,
        /// Why this delivery was given up (for `410 Gone`,
        /// [`GiveUp::Rejected`] with that status; for health,
        /// [`GiveUp::Unhealthy`]).
        reason: GiveUp,
    },
    /// Not sent, and not to be: see [`Skip`].
    Skip(Skip),
    /// Not sent now, and not counted as an attempt: the endpoint's circuit
    /// breaker is open, or it asked for no requests before `until`
    /// (`Retry-After`). Try again at `until`.
    #[non_exhaustive]
    Wait {
        /// When the endpoint may be sent to again.
        until: DateTime<Utc>,
        /// The endpoint waited for.
        endpoint: Endpoint,
    },
}

/// One attempt of a delivery, as [`RetryPolicy::decide`] reads it: which
/// attempt it was, of what, and where it went.
///
/// # Examples
///
/// ```
/// use callhook::{Attempt, Event};
///
/// let first = "2024-12-02T21:00:00Z".parse().unwrap();
/// let attempt = Attempt::new(&Event::CallHangup, 1, first, "crm", "https://crm.example/hook")
///     .with_seed(7);
/// assert_eq!(attempt.number, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt<'a> {
    /// The delivery's event.
    pub event: &'a Event,
    /// The attempt's number, 1 for the first.
    pub number: u32,
    /// When the delivery was first attempted.
    pub first_attempt_at: DateTime<Utc>,
    /// The id of the delivery's service.
    pub service: &'a str,
    /// The URL the attempt went to (a fallback's, if it was sent to one).
    pub url: &'a str,
    /// Makes the jitter reproducible:
    /// [`Envelope::record`](crate::Envelope::record) gives a hash of the
    /// delivery id. 0 unless set.
    pub seed: u64,
}

impl<'a> Attempt<'a> {
    /// Attempt `number` (1 for the first) of a delivery of `event`
    /// through `service`, first attempted at `first_attempt_at`, sent to
    /// `url`.
    #[must_use]
    pub const fn new(
        event: &'a Event,
        number: u32,
        first_attempt_at: DateTime<Utc>,
        service: &'a str,
        url: &'a str,
    ) -> Attempt<'a> {
        Attempt {
            event,
            number,
            first_attempt_at,
            service,
            url,
            seed: 0,
        }
    }

    /// The attempt, with the jitter's seed.
    #[must_use]
    pub const fn with_seed(mut self, seed: u64) -> Attempt<'a> {
        self.seed = seed;
        self
    }
}

/// When and how often a failed delivery is retried.
///
/// Statuses are read as the Standard Webhooks specification says: 2xx is
/// delivered; `410 Gone` disables the URL ([`DisableTarget::Url`]);
/// `429`, `502`, `503` and `504` back off honouring `Retry-After` (seconds
/// or an HTTP date, held between 1 s and 24 h), and the endpoint is
/// throttled until then ([`RetryPolicy::throttled_until`], which
/// [`Endpoints`](crate::Endpoints) keeps); every other failure (3xx, a
/// redirect never followed; other 4xx and 5xx; transport errors) is
/// retried on the schedule. `401` gives up as [`GiveUp::Unauthorized`],
/// unless the service authenticates by OAuth2, whose token
/// [`Envelope::record_in`](crate::Envelope::record_in) renews once first
/// (the auth issue's rule, unchanged); a send the address policy refused
/// gives up at once, as asking again reaches the same address.
///
/// The default schedule follows the dedicated webhook services: retries
/// after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (eight attempts in
/// all), each delay varied by ±20 % jitter. Updates
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

    /// Decides what follows `attempt`, which ended with `outcome` at `now`
    /// (see the policy's documentation for the rule of each status).
    ///
    /// Whatever the policy holds, checked or not, a retry waits at least
    /// [`limits::SHORTEST_RETRY_DELAY`] and none follows attempt
    /// [`limits::RETRY_ATTEMPTS`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Attempt, Decision, DisableTarget, Event, Outcome, RetryPolicy};
    ///
    /// let policy = RetryPolicy::default();
    /// let now = "2024-12-02T21:00:00Z".parse().unwrap();
    /// let attempt = Attempt::new(&Event::CallHangup, 1, now, "crm", "https://crm.example/hook");
    /// let decision = policy.decide(&attempt, Outcome::transport_error(), now);
    /// assert!(matches!(decision, Decision::Retry { .. }));
    ///
    /// let headers = http::HeaderMap::new();
    /// let gone = Outcome::response(http::StatusCode::GONE, &headers);
    /// let Decision::Disable { target: DisableTarget::Url { url, .. }, .. } =
    ///     policy.decide(&attempt, gone, now)
    /// else {
    ///     panic!("410 disables the URL");
    /// };
    /// assert_eq!(url, "https://crm.example/hook");
    /// ```
    #[must_use]
    pub fn decide(
        &self,
        attempt: &Attempt<'_>,
        outcome: Outcome<'_>,
        now: DateTime<Utc>,
    ) -> Decision {
        let retry_after = match outcome.ended {
            Ended::Response { status, .. } if status.is_success() => return Decision::Delivered,
            Ended::Response { status, .. } if status == StatusCode::GONE => {
                return Decision::Disable {
                    target: DisableTarget::Url {
                        service: attempt.service.to_owned(),
                        url: attempt.url.to_owned(),
                    },
                    reason: GiveUp::Rejected(status),
                }
            }
            Ended::Response { status, .. } if status == StatusCode::UNAUTHORIZED => {
                return Decision::GiveUp(GiveUp::Unauthorized)
            }
            // Every other answer is retried: 3xx (a redirect is never
            // followed, and may be fixed), 4xx (a receiver's bug, often
            // fixed within the schedule), 5xx. Only those that throttle
            // are waited for as they ask.
            Ended::Response { .. } => self.retry_after_of(outcome, now),
            Ended::TransportError => None,
            // Asking again resolves to the same refused address.
            Ended::AddressRefused => return Decision::GiveUp(GiveUp::AddressRefused),
        };
        // A policy that was never checked (built in code, or stored before
        // the limits) is held to them here all the same: a failing
        // receiver is never sent requests back to back, nor for ever.
        if attempt.number >= self.max_attempts.min(RETRY_ATTEMPTS) {
            return Decision::GiveUp(GiveUp::AttemptsExhausted);
        }
        // No `Retry-After`, or none that could be read: the schedule's
        // delay, which is the rule, not a fallback from an error.
        let delay = retry_after
            .unwrap_or_else(|| self.scheduled_delay(attempt.number, attempt.seed))
            .max(SHORTEST_RETRY_DELAY);
        // Whatever a policy or a stored envelope holds, a time past the end
        // of the calendar is never reached: the delivery is given up, not a
        // panic.
        let Some(at) = add(now, delay) else {
            return Decision::GiveUp(GiveUp::Expired);
        };
        if let Some(expiry) = self.expiry.get(attempt.event) {
            if add(attempt.first_attempt_at, *expiry).is_some_and(|limit| at > limit) {
                return Decision::GiveUp(GiveUp::Expired);
            }
        }
        Decision::Retry { at }
    }

    /// Until when the endpoint that answered `outcome` at `now` asked not
    /// to be sent to: for `429`, `502`, `503` and `504` with a
    /// `Retry-After` that can be read, `now` plus that wait, held within
    /// [`RetryPolicy::retry_after_min`] and
    /// [`RetryPolicy::retry_after_max`]. `None` for any other outcome, and
    /// for these without a `Retry-After`: the schedule and the circuit
    /// breaker then pace the endpoint.
    ///
    /// [`Endpoints::record`](crate::Endpoints::record) takes it, so that no
    /// delivery to that endpoint is sent before then.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Outcome, RetryPolicy};
    ///
    /// let now = "2024-12-02T21:00:00Z".parse().unwrap();
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert(http::header::RETRY_AFTER, "120".parse().unwrap());
    /// let busy = Outcome::response(http::StatusCode::TOO_MANY_REQUESTS, &headers);
    /// let until = RetryPolicy::default().throttled_until(busy, now);
    /// assert_eq!(until, Some("2024-12-02T21:02:00Z".parse().unwrap()));
    /// ```
    #[must_use]
    pub fn throttled_until(
        &self,
        outcome: Outcome<'_>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        add(
            now,
            self.retry_after_of(outcome, now)?.max(SHORTEST_RETRY_DELAY),
        )
    }

    /// The wait a throttling answer asks for, within the policy's bounds.
    fn retry_after_of(&self, outcome: Outcome<'_>, now: DateTime<Utc>) -> Option<Duration> {
        let Ended::Response { status, headers } = outcome.ended else {
            return None;
        };
        if !throttles(status) {
            return None;
        }
        // A `Retry-After` that is not text cannot be read; the schedule
        // applies, as for no `Retry-After` at all.
        headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| self.retry_after(v, now))
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

/// Whether `status` asks the sender to slow down, so that its
/// `Retry-After` is honoured: the Standard Webhooks specification's list.
fn throttles(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
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
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
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
pub(crate) fn print_duration(d: &Duration) -> String {
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

/// A duration written `"90s"`, `"5m"`: serde's `with` for one.
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

/// An optional duration, `null` for none: serde's `with` for one.
pub(crate) mod optional_duration {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&print_duration(d)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| parse_duration(&text).ok_or_else(|| duration_error(&text)))
            .transpose()
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

    const URL: &str = "https://crm.example/hook";

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
        let attempt = Attempt::new(&Event::CallReporting, 1, now, "crm", URL);
        let decide = |o| p.decide(&attempt, o, now);
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(decide(status(code, &h)), Decision::Delivered, "{code}");
        }
        assert_eq!(
            decide(status(410, &h)),
            Decision::Disable {
                target: DisableTarget::Url {
                    service: "crm".into(),
                    url: URL.into()
                },
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
        // Standard Webhooks: every other failure is retried on the
        // schedule, redirects (never followed) and 4xx included.
        for code in [
            100, 300, 301, 302, 303, 307, 308, 400, 403, 404, 405, 408, 409, 413, 422, 429, 431,
            451, 500, 501, 502, 503, 504, 505, 599,
        ] {
            assert_eq!(decide(status(code, &h)), retry, "{code}");
        }
        assert_eq!(decide(Outcome::transport_error()), retry);
        assert_eq!(
            decide(Outcome::transport_error().with_error("timed out")),
            retry
        );
        let last = Attempt::new(&Event::CallReporting, 8, now, "crm", URL);
        for outcome in [Outcome::transport_error(), status(301, &h), status(404, &h)] {
            assert_eq!(
                p.decide(&last, outcome, now),
                Decision::GiveUp(GiveUp::AttemptsExhausted)
            );
        }
    }

    /// `Retry-After` is honoured for the statuses that throttle, and only
    /// for them; the throttle time is the same wait, from `now`.
    #[test]
    fn retry_after_only_where_the_endpoint_throttles() {
        let p = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let now = t("2024-12-02T21:00:00Z");
        let mut after = HeaderMap::new();
        after.insert(http::header::RETRY_AFTER, "120".parse().unwrap());
        let attempt = Attempt::new(&Event::CallReporting, 1, now, "crm", URL);
        let later = t("2024-12-02T21:02:00Z");
        for code in [429, 502, 503, 504] {
            assert_eq!(
                p.decide(&attempt, status(code, &after), now),
                Decision::Retry { at: later },
                "{code}"
            );
            assert_eq!(p.throttled_until(status(code, &after), now), Some(later));
            // Without one, the schedule, and no throttle.
            let none = HeaderMap::new();
            assert_eq!(
                p.decide(&attempt, status(code, &none), now),
                Decision::Retry {
                    at: t("2024-12-02T21:00:05Z")
                }
            );
            assert_eq!(p.throttled_until(status(code, &none), now), None);
        }
        for code in [301, 400, 408, 500, 501, 505] {
            assert_eq!(
                p.decide(&attempt, status(code, &after), now),
                Decision::Retry {
                    at: t("2024-12-02T21:00:05Z")
                },
                "{code}"
            );
            assert_eq!(p.throttled_until(status(code, &after), now), None);
        }
        for outcome in [
            status(200, &after),
            status(410, &after),
            Outcome::transport_error(),
            Outcome::address_refused(),
        ] {
            assert_eq!(p.throttled_until(outcome, now), None);
        }
        // Held within the policy's bounds, as the retry is.
        let mut long = HeaderMap::new();
        long.insert(http::header::RETRY_AFTER, "9999999".parse().unwrap());
        assert_eq!(
            p.throttled_until(status(503, &long), now),
            Some(t("2024-12-03T21:00:00Z"))
        );
        // A throttle past the calendar's end is none, not a panic.
        assert_eq!(
            p.throttled_until(status(503, &after), DateTime::<Utc>::MAX_UTC),
            None
        );
    }

    #[test]
    fn a_disabled_url_is_named_and_shown_redacted() {
        let p = RetryPolicy::default();
        let now = t("2024-12-02T21:00:00Z");
        let url = "https://crm.example/hook?token=s3cret&caller=%2B4915112345";
        let attempt = Attempt::new(&Event::CallHangup, 1, now, "svc-1", url);
        let h = HeaderMap::new();
        let decision = p.decide(&attempt, status(410, &h), now);
        let Decision::Disable { target, .. } = &decision else {
            panic!("{decision:?}");
        };
        assert_eq!(
            *target,
            DisableTarget::Url {
                service: "svc-1".into(),
                url: url.into()
            }
        );
        for shown in [format!("{decision:?}"), target.to_string()] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(!shown.contains("4915112345"), "{shown}");
            assert!(shown.contains("crm.example/hook"), "{shown}");
            assert!(shown.contains("svc-1"), "{shown}");
        }
        let webhook = DisableTarget::Webhook {
            webhook: "wh-1".into(),
        };
        assert_eq!(webhook.to_string(), "webhook `wh-1`");
        let reason = DisableReason::FailuresWithin {
            failures: 6,
            within: Duration::from_secs(60),
        };
        assert_eq!(reason.to_string(), "6 failures within 1m");
    }

    #[test]
    fn transport_errors_keep_fixed_words_only() {
        for words in [
            "timed out",
            "connection refused",
            "tls handshake failed",
            "dns-lookup failed",
        ] {
            assert_eq!(
                Outcome::transport_error().with_error(words).error(),
                Some(words)
            );
        }
        for message in [
            "",
            "error sending request for url (https://crm.example/?token=s3cret)",
            "connection refused: 10.0.0.1:443",
            "timed out\nFAKE LOG LINE",
            "tls handshake failed.",
            &"a".repeat(TRANSPORT_ERROR_BYTES + 1),
        ] {
            let outcome = Outcome::transport_error().with_error(message);
            assert_eq!(outcome.error(), None, "{message}");
            assert!(
                message.is_empty() || !format!("{outcome:?}").contains(message),
                "{message}"
            );
        }
        assert_eq!(Outcome::transport_error().error(), None);
        let words = Outcome::transport_error().with_error("timed out");
        assert!(format!("{words:?}").contains("timed out"));
    }

    #[test]
    fn decisions_that_wait_or_skip_name_what_they_concern() {
        let endpoint = Endpoint::of(&URL.parse().unwrap()).unwrap();
        let wait = Decision::Wait {
            until: t("2024-12-02T21:01:00Z"),
            endpoint,
        };
        assert!(format!("{wait:?}").contains("https://crm.example:443"));
        let skip = Decision::Skip(Skip::Superseded {
            sequence: 3,
            delivered: 5,
        });
        assert_ne!(skip, wait);
    }

    #[test]
    fn retry_after_in_seconds_and_dates_within_bounds() {
        let p = RetryPolicy::default();
        let now = t("2015-10-21T07:27:00Z");
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::RETRY_AFTER, v.parse().unwrap());
            p.decide(
                &Attempt::new(&Event::PostCall, 1, now, "crm", URL).with_seed(0),
                status(429, &h),
                now,
            )
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
                        let _ = p.decide(
                            &Attempt::new(&Event::CallRinging, 1, first, "crm", URL).with_seed(7),
                            outcome,
                            now,
                        );
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
                &Attempt::new(&Event::CallRinging, 3, first, "crm", URL).with_seed(0),
                Outcome::transport_error(),
                now
            ),
            Decision::GiveUp(GiveUp::Expired)
        );
        assert_eq!(
            p.decide(
                &Attempt::new(&Event::CallReporting, 3, first, "crm", URL).with_seed(0),
                Outcome::transport_error(),
                now
            ),
            Decision::Retry {
                at: t("2024-12-02T22:10:00Z")
            }
        );
        let earlier = t("2024-12-02T21:20:00Z");
        assert_eq!(
            p.decide(
                &Attempt::new(&Event::CallRinging, 3, first, "crm", URL).with_seed(0),
                Outcome::transport_error(),
                earlier
            ),
            Decision::Retry {
                at: t("2024-12-02T21:50:00Z")
            }
        );
    }
}

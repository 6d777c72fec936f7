//! Endpoint health: the host's record of how each [`Endpoint`] has been
//! answering, the circuit breaker that pauses deliveries to a failing one,
//! and the rules that disable a webhook whose endpoint keeps failing.
//!
//! Pure, like the retry policy: time is passed in, and the state
//! ([`Endpoints`]) is the host's, stored as JSON where its workers share
//! it, as the [`TokenCache`](crate::TokenCache) is.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::endpoint::Endpoint;
use crate::error::{Error, ErrorKind};
use crate::limits::{self, ENDPOINTS, HEALTH_FAILURES, SHORTEST_RETRY_DELAY};
use crate::retry::{self, DisableReason, Outcome, RetryPolicy};

/// How a service judges its endpoints' health (`"health"` in its
/// configuration): when to pause deliveries (the circuit breaker) and when
/// to disable a webhook. Every rule may be turned off with `null`.
///
/// The defaults: a webhook is disabled after 6 failures within 60 s
/// (Kazoo's rule: a flood of failures) or after its endpoint has failed
/// for 5 days without a success (Svix's: a receiver gone for good); the
/// breaker opens after 5 consecutive failures and lets one probe through
/// after a 60 s cool-down. The cool-down is as long as the failure window
/// so that, once the breaker has paused an endpoint, its failed probe is
/// not the sixth failure of the window: a short outage pauses deliveries,
/// and only one that keeps failing at full rate (failures in flight as
/// the breaker opens) or for days disables the webhook. 5 is below 6 for
/// the same reason.
///
/// Durations are written as the retry policy's are:
///
/// ```json
/// {"disable_after": {"failures": 6, "within": "60s"}, "disable_after_failing_for": "5d",
///  "breaker": {"failures": 5, "cool_down": "60s"}}
/// ```
///
/// # Examples
///
/// ```
/// use callhook::HealthPolicy;
///
/// let policy: HealthPolicy = serde_json::from_str(r#"{"disable_after": null}"#)?;
/// assert_eq!(policy.disable_after, None);
/// assert_eq!(policy.breaker, HealthPolicy::default().breaker);
/// assert!(policy.check().is_ok());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HealthPolicy {
    /// Disable the webhook after this many failures within this window.
    pub disable_after: Option<FailureWindow>,
    /// Disable the webhook once its endpoint has failed, without a
    /// success, for this long.
    #[serde(with = "retry::optional_duration")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<retry::DurationText>"))]
    pub disable_after_failing_for: Option<Duration>,
    /// The circuit breaker; none never pauses an endpoint.
    pub breaker: Option<Breaker>,
}

impl Default for HealthPolicy {
    fn default() -> HealthPolicy {
        HealthPolicy {
            disable_after: Some(FailureWindow::new(6, Duration::from_secs(60))),
            disable_after_failing_for: Some(Duration::from_secs(5 * 86_400)),
            breaker: Some(Breaker::new(5, Duration::from_secs(60))),
        }
    }
}

/// `failures` failures within `within`: [`HealthPolicy::disable_after`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FailureWindow {
    /// Failures counted; at most [`limits::HEALTH_FAILURES`].
    pub failures: u32,
    /// The window they must fall in.
    #[serde(with = "retry::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "retry::DurationText"))]
    pub within: Duration,
}

impl FailureWindow {
    /// `failures` failures within `within`.
    #[must_use]
    pub const fn new(failures: u32, within: Duration) -> FailureWindow {
        FailureWindow { failures, within }
    }
}

/// The circuit breaker: [`HealthPolicy::breaker`].
///
/// Closed, every delivery is sent. After `failures` consecutive failures
/// it opens: deliveries wait ([`Admission::Wait`]) for `cool_down`; then
/// one is let through as a probe ([`Admission::Probe`]) while the others
/// keep waiting. The probe's success closes it; its failure opens it again
/// for another `cool_down`. A probe never heard of (its worker died) is
/// replaced by another after `cool_down`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Breaker {
    /// Consecutive failures that open it; at most
    /// [`limits::HEALTH_FAILURES`].
    pub failures: u32,
    /// How long it stays open before a probe.
    #[serde(with = "retry::duration")]
    #[cfg_attr(feature = "schema", schemars(with = "retry::DurationText"))]
    pub cool_down: Duration,
}

impl Breaker {
    /// A breaker opening after `failures` consecutive failures, for
    /// `cool_down`.
    #[must_use]
    pub const fn new(failures: u32, cool_down: Duration) -> Breaker {
        Breaker {
            failures,
            cool_down,
        }
    }
}

impl HealthPolicy {
    /// Checks the policy is usable; loading a service checks its policy.
    ///
    /// # Errors
    ///
    /// A count of failures of 0 or above [`limits::HEALTH_FAILURES`], a
    /// duration shorter than [`limits::SHORTEST_RETRY_DELAY`] or longer
    /// than [`RetryPolicy::LONGEST`] is an error of kind
    /// [`ErrorKind::InvalidConfig`] naming the field (and the limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Breaker, HealthPolicy};
    ///
    /// assert!(HealthPolicy::default().check().is_ok());
    /// let mut policy = HealthPolicy::default();
    /// policy.breaker = Some(Breaker::new(0, std::time::Duration::from_secs(30)));
    /// assert_eq!(policy.check().unwrap_err().field(), Some("breaker.failures"));
    /// ```
    pub fn check(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        let mut failures = |field: &str, n: u32| {
            if n == 0 || n > HEALTH_FAILURES {
                problems.push(
                    Error::new(
                        ErrorKind::InvalidConfig,
                        format!(
                            "`{field}` is {}; it must be between 1 and {} \
                             (`limits::HEALTH_FAILURES`)",
                            limits::count(n as usize),
                            limits::count(HEALTH_FAILURES as usize)
                        ),
                    )
                    .in_field(field),
                );
            }
        };
        if let Some(window) = &self.disable_after {
            failures("disable_after.failures", window.failures);
        }
        if let Some(breaker) = &self.breaker {
            failures("breaker.failures", breaker.failures);
        }
        let durations = [
            ("disable_after.within", self.disable_after.map(|w| w.within)),
            ("disable_after_failing_for", self.disable_after_failing_for),
            ("breaker.cool_down", self.breaker.map(|b| b.cool_down)),
        ];
        for (field, duration) in durations {
            let Some(duration) = duration else { continue };
            let message = if duration < SHORTEST_RETRY_DELAY {
                format!(
                    "{} is shorter than the shortest allowed, {} (`limits::SHORTEST_RETRY_DELAY`)",
                    retry::print_duration(&duration),
                    retry::print_duration(&SHORTEST_RETRY_DELAY)
                )
            } else if duration > RetryPolicy::LONGEST {
                format!(
                    "{} is longer than the longest allowed, {}",
                    retry::print_duration(&duration),
                    retry::print_duration(&RetryPolicy::LONGEST)
                )
            } else {
                continue;
            };
            problems.push(Error::new(ErrorKind::InvalidConfig, message).in_field(field));
        }
        match problems.len() {
            0 => Ok(()),
            _ => Err(Error::many(ErrorKind::InvalidConfig, problems)),
        }
    }
}

/// The state of an endpoint's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum BreakerState {
    /// Deliveries are sent.
    #[default]
    Closed,
    /// Deliveries wait until `until`.
    #[non_exhaustive]
    Open {
        /// When a probe may go.
        until: DateTime<Utc>,
    },
    /// One delivery went as a probe at `probe_since`; the others wait for
    /// its outcome.
    #[non_exhaustive]
    HalfOpen {
        /// When the probe was let through.
        probe_since: DateTime<Utc>,
    },
}

/// What is known of one endpoint's health: a pure, serialisable state
/// that [`Endpoints::record`] updates from each outcome, and
/// [`Endpoints::admit`] reads before each send.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct EndpointHealth {
    /// Failures since the last success.
    #[serde(skip_serializing_if = "is_zero")]
    consecutive_failures: u32,
    /// The first failure since the last success.
    #[serde(skip_serializing_if = "Option::is_none")]
    failing_since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_success: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_failure: Option<DateTime<Utc>>,
    /// The times of the latest failures, oldest first: as many as the
    /// policy's [`HealthPolicy::disable_after`] counts, and those within
    /// its window.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    recent_failures: Vec<DateTime<Utc>>,
    breaker: BreakerState,
    #[serde(skip_serializing_if = "Option::is_none")]
    throttled_until: Option<DateTime<Utc>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An endpoint's health as stored, before it is checked. Unknown fields
/// are ignored, so a newer writer's state loads in an older worker.
#[derive(Deserialize)]
struct StoredHealth {
    #[serde(default)]
    consecutive_failures: u32,
    #[serde(default)]
    failing_since: Option<DateTime<Utc>>,
    #[serde(default)]
    last_success: Option<DateTime<Utc>>,
    #[serde(default)]
    last_failure: Option<DateTime<Utc>>,
    #[serde(default)]
    recent_failures: Vec<DateTime<Utc>>,
    #[serde(default)]
    breaker: BreakerState,
    #[serde(default)]
    throttled_until: Option<DateTime<Utc>>,
}

impl<'de> Deserialize<'de> for EndpointHealth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EndpointHealth, D::Error> {
        let stored = StoredHealth::deserialize(d)?;
        if stored.recent_failures.len() > HEALTH_FAILURES as usize {
            return Err(serde::de::Error::custom(format!(
                "an endpoint holds more than {} recent failures (`limits::HEALTH_FAILURES`)",
                limits::count(HEALTH_FAILURES as usize)
            )));
        }
        let mut recent_failures = stored.recent_failures;
        // The window is read from the oldest; a hand-edited list is put
        // in order rather than refused.
        recent_failures.sort_unstable();
        Ok(EndpointHealth {
            consecutive_failures: stored.consecutive_failures,
            failing_since: stored.failing_since,
            last_success: stored.last_success,
            last_failure: stored.last_failure,
            recent_failures,
            breaker: stored.breaker,
            throttled_until: stored.throttled_until,
        })
    }
}

impl EndpointHealth {
    /// Failures since the last success.
    #[must_use]
    pub const fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// The first failure since the last success, if the endpoint is
    /// failing.
    #[must_use]
    pub const fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.failing_since
    }

    /// The last success.
    #[must_use]
    pub const fn last_success(&self) -> Option<DateTime<Utc>> {
        self.last_success
    }

    /// The last failure.
    #[must_use]
    pub const fn last_failure(&self) -> Option<DateTime<Utc>> {
        self.last_failure
    }

    /// The latest failures' times, oldest first (as many as the policy's
    /// [`HealthPolicy::disable_after`] counts).
    #[must_use]
    pub fn recent_failures(&self) -> &[DateTime<Utc>] {
        &self.recent_failures
    }

    /// The circuit breaker's state.
    #[must_use]
    pub const fn breaker(&self) -> BreakerState {
        self.breaker
    }

    /// Until when the endpoint asked not to be sent to (`Retry-After`).
    #[must_use]
    pub const fn throttled_until(&self) -> Option<DateTime<Utc>> {
        self.throttled_until
    }

    /// Whether the endpoint is failing (a failure since the last success).
    #[must_use]
    pub const fn is_failing(&self) -> bool {
        self.consecutive_failures > 0
    }

    /// The last time anything was heard of the endpoint.
    fn last_heard(&self) -> Option<DateTime<Utc>> {
        self.last_success.max(self.last_failure)
    }

    /// Whether the state says no more than "healthy": it may be
    /// forgotten first.
    fn is_quiet(&self, now: DateTime<Utc>) -> bool {
        !self.is_failing()
            && self.breaker == BreakerState::Closed
            && self.throttled_until.is_none_or(|until| until <= now)
    }

    /// What an attempt at `now` may do.
    fn admission(&self, policy: &HealthPolicy, now: DateTime<Utc>) -> Admission {
        let throttled = self.throttled_until.filter(|until| *until > now);
        let breaker = match self.breaker {
            BreakerState::Closed => None,
            BreakerState::Open { until } if until > now => Some(until),
            // Cooled down: the first to ask is the probe, unless the
            // endpoint is throttled, when that wait comes first.
            BreakerState::Open { .. } => {
                return throttled.map_or(Admission::Probe, |until| Admission::Wait { until })
            }
            BreakerState::HalfOpen { probe_since } => {
                // A breaker the policy no longer has never waits.
                let cool_down = policy.breaker.map_or(Duration::ZERO, |b| b.cool_down);
                let until = add(probe_since, cool_down);
                match until {
                    Some(until) if until > now => Some(until),
                    // The probe was never heard of: another goes.
                    _ => {
                        return throttled
                            .map_or(Admission::Probe, |until| Admission::Wait { until })
                    }
                }
            }
        };
        match throttled.max(breaker) {
            Some(until) => Admission::Wait { until },
            None => Admission::Send,
        }
    }

    /// Takes in an attempt's outcome; see [`Endpoints::record`].
    fn record(
        &mut self,
        policy: &HealthPolicy,
        outcome: Outcome<'_>,
        throttle_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> HealthVerdict {
        if let Some(until) = throttle_until {
            self.throttled_until = self.throttled_until.max(Some(until));
        }
        if self.throttled_until.is_some_and(|until| until <= now) {
            self.throttled_until = None;
        }
        match Health::of(outcome) {
            Health::NotSent => {}
            Health::Throttled => {
                // The endpoint answered: a probe that was told to slow
                // down closes the breaker, and the throttle paces it.
                if matches!(self.breaker, BreakerState::HalfOpen { .. }) {
                    self.breaker = BreakerState::Closed;
                }
            }
            Health::Success => {
                self.consecutive_failures = 0;
                self.failing_since = None;
                self.last_success = Some(now);
                self.recent_failures.clear();
                self.breaker = BreakerState::Closed;
            }
            Health::Failure => return self.failed(policy, now),
        }
        self.verdict()
    }

    fn failed(&mut self, policy: &HealthPolicy, now: DateTime<Utc>) -> HealthVerdict {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let since = *self.failing_since.get_or_insert(now);
        self.last_failure = Some(now);
        if let Some(breaker) = policy.breaker {
            let reopen = match self.breaker {
                BreakerState::Closed => self.consecutive_failures >= breaker.failures.max(1),
                BreakerState::HalfOpen { .. } => true,
                // Failures of requests sent before it opened keep it as
                // it is.
                BreakerState::Open { .. } => false,
            };
            if reopen {
                if let Some(until) = add(now, breaker.cool_down) {
                    self.breaker = BreakerState::Open { until };
                }
            }
        } else {
            self.breaker = BreakerState::Closed;
        }
        let reason = match policy.disable_after {
            Some(window) => {
                let counted = window.failures.clamp(1, HEALTH_FAILURES) as usize;
                self.recent_failures.push(now);
                // Times from a worker whose clock runs behind may come out
                // of order: keep the list sorted, oldest first.
                self.recent_failures.sort_unstable();
                let start = sub(now, window.within);
                self.recent_failures
                    .retain(|at| start.is_none_or(|start| *at > start));
                let over = self.recent_failures.len().saturating_sub(counted);
                self.recent_failures.drain(..over);
                (self.recent_failures.len() >= counted).then_some(DisableReason::FailuresWithin {
                    failures: window.failures,
                    within: window.within,
                })
            }
            None => {
                self.recent_failures.clear();
                None
            }
        };
        let reason = reason.or_else(|| {
            let limit = policy.disable_after_failing_for?;
            let failing = (now - since).to_std().ok()?;
            (failing >= limit).then_some(DisableReason::FailingFor { since })
        });
        match reason {
            Some(reason) => HealthVerdict::Disable(reason),
            None => self.verdict(),
        }
    }

    fn verdict(&self) -> HealthVerdict {
        if self.is_failing() {
            HealthVerdict::Failing
        } else {
            HealthVerdict::Healthy
        }
    }
}

/// How an outcome counts for health.
enum Health {
    Success,
    Failure,
    /// `429 Too Many Requests`: the endpoint is up and asks for fewer
    /// requests, which its throttle gives it; not a failure, or a busy
    /// receiver would be disabled for saying so.
    Throttled,
    /// Nothing was sent (the address policy refused the address): it says
    /// nothing of the endpoint.
    NotSent,
}

impl Health {
    fn of(outcome: Outcome<'_>) -> Health {
        match outcome.status() {
            Some(status) if status.is_success() => Health::Success,
            Some(http::StatusCode::TOO_MANY_REQUESTS) => Health::Throttled,
            Some(_) => Health::Failure,
            None if outcome.is_address_refused() => Health::NotSent,
            None => Health::Failure,
        }
    }
}

/// What [`Endpoints::admit`] allows before a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Admission {
    /// Send it.
    Send,
    /// Send it: it is the probe of an open breaker, and its outcome
    /// closes or reopens it. The other deliveries to the endpoint wait.
    Probe,
    /// Do not send it before `until`: the breaker is open, or the
    /// endpoint is throttled. Not an attempt
    /// ([`Decision::Wait`](crate::Decision::Wait)).
    #[non_exhaustive]
    Wait {
        /// When to ask again.
        until: DateTime<Utc>,
    },
}

/// What [`Endpoints::record`] concludes of an endpoint after an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HealthVerdict {
    /// Its last answer was a success (or it has never failed).
    Healthy,
    /// It has failed since its last success, within the policy's rules.
    Failing,
    /// It broke a rule of the policy: disable the webhook whose delivery
    /// this was ([`DisableTarget::Webhook`](crate::DisableTarget::Webhook),
    /// reason [`GiveUp::Unhealthy`](crate::GiveUp::Unhealthy)).
    Disable(DisableReason),
}

/// The health of every endpoint a host delivers to: host-owned, stored as
/// JSON ([`Endpoints::to_json`]) where its workers share it, and folded
/// together ([`Endpoints::merge`]) as a [`TokenCache`](crate::TokenCache)
/// is. It holds at most [`limits::ENDPOINTS`] endpoints.
///
/// Before each send, [`Endpoints::admit`]; after it,
/// [`Endpoints::record`].
///
/// # Examples
///
/// ```
/// use callhook::{Admission, Endpoint, Endpoints, HealthPolicy, HealthVerdict, Outcome};
///
/// let endpoint = Endpoint::of(&"https://crm.example/hook".parse().unwrap()).unwrap();
/// let policy = HealthPolicy::default();
/// let mut endpoints = Endpoints::new();
/// let now = "2024-12-02T21:00:00Z".parse().unwrap();
/// assert_eq!(endpoints.admit(&endpoint, &policy, now), Admission::Send);
/// for _ in 0..5 {
///     let verdict = endpoints.record(&endpoint, &policy, Outcome::transport_error(), None, now);
///     assert_eq!(verdict, HealthVerdict::Failing);
/// }
/// // Five consecutive failures open the breaker for a minute.
/// let Admission::Wait { until, .. } = endpoints.admit(&endpoint, &policy, now) else {
///     panic!("the breaker is open");
/// };
/// assert_eq!(until.to_rfc3339(), "2024-12-02T21:01:00+00:00");
/// let stored = endpoints.to_json();
/// assert_eq!(Endpoints::from_json(&stored)?, endpoints);
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Endpoints {
    endpoints: BTreeMap<Endpoint, EndpointHealth>,
}

impl<'de> Deserialize<'de> for Endpoints {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Endpoints, D::Error> {
        #[derive(Deserialize)]
        struct Stored {
            #[serde(default, deserialize_with = "bounded")]
            endpoints: BTreeMap<Endpoint, EndpointHealth>,
        }
        Ok(Endpoints {
            endpoints: Stored::deserialize(d)?.endpoints,
        })
    }
}

/// A map of at most [`limits::ENDPOINTS`] entries, refused as soon as it
/// holds more, so a hostile document is not read whole first.
fn bounded<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<Endpoint, EndpointHealth>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = BTreeMap<Endpoint, EndpointHealth>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of endpoints to their health")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut endpoints = BTreeMap::new();
            while let Some((endpoint, health)) = map.next_entry::<Endpoint, EndpointHealth>()? {
                if endpoints.len() >= ENDPOINTS {
                    return Err(serde::de::Error::custom(format!(
                        "more than {} endpoints (`limits::ENDPOINTS`)",
                        limits::count(ENDPOINTS)
                    )));
                }
                endpoints.insert(endpoint, health);
            }
            Ok(endpoints)
        }
    }
    d.deserialize_map(Visitor)
}

impl Endpoints {
    /// No endpoint known.
    #[must_use]
    pub fn new() -> Endpoints {
        Endpoints::default()
    }

    /// The endpoints known.
    #[must_use]
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// Whether none is known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// What is known of `endpoint`.
    #[must_use]
    pub fn get(&self, endpoint: &Endpoint) -> Option<&EndpointHealth> {
        self.endpoints.get(endpoint)
    }

    /// Every endpoint known, with its health, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Endpoint, &EndpointHealth)> {
        self.endpoints.iter()
    }

    /// Forgets `endpoint` (a host that removed its last webhook to it).
    pub fn remove(&mut self, endpoint: &Endpoint) {
        self.endpoints.remove(endpoint);
    }

    /// Whether a delivery to `endpoint` may be sent at `now`, under the
    /// delivery's service's `policy`: [`Admission::Send`] unless the
    /// endpoint is throttled or its breaker open ([`Admission::Wait`]);
    /// once an open breaker has cooled down, the first to ask is let
    /// through as the probe ([`Admission::Probe`]), and the breaker is
    /// half-open from then (the reason this takes `&mut self`): others
    /// wait for the probe, for at most a `cool_down`.
    pub fn admit(
        &mut self,
        endpoint: &Endpoint,
        policy: &HealthPolicy,
        now: DateTime<Utc>,
    ) -> Admission {
        let Some(health) = self.endpoints.get_mut(endpoint) else {
            return Admission::Send;
        };
        let admission = health.admission(policy, now);
        if admission == Admission::Probe {
            health.breaker = BreakerState::HalfOpen { probe_since: now };
        }
        admission
    }

    /// Takes in the `outcome` of an attempt to `endpoint` at `now`, under
    /// the delivery's service's `policy`, with `throttle_until` the
    /// endpoint asked for ([`RetryPolicy::throttled_until`]), and says
    /// what it makes of the endpoint.
    ///
    /// What counts: a 2xx is a success, which resets the failures and
    /// closes the breaker; `429` is no failure (the receiver is up and
    /// asks for fewer requests: the throttle gives it that); a send the
    /// address policy refused says nothing of the endpoint; every other
    /// answer and every transport error is a failure, counted by the
    /// breaker and the rules that disable ([`HealthVerdict::Disable`]).
    ///
    /// Past [`limits::ENDPOINTS`], a new endpoint takes the place of the
    /// one least recently heard of, a healthy one if any is.
    pub fn record(
        &mut self,
        endpoint: &Endpoint,
        policy: &HealthPolicy,
        outcome: Outcome<'_>,
        throttle_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> HealthVerdict {
        if let Some(health) = self.endpoints.get_mut(endpoint) {
            return health.record(policy, outcome, throttle_until, now);
        }
        let mut health = EndpointHealth::default();
        let verdict = health.record(policy, outcome, throttle_until, now);
        // A healthy endpoint never heard of failing needs no entry until
        // it fails, except to say when it last answered.
        self.insert(endpoint.clone(), health, now);
        verdict
    }

    /// Inserts a new entry, forgetting one first if the map is full.
    fn insert(&mut self, endpoint: Endpoint, health: EndpointHealth, now: DateTime<Utc>) {
        if self.endpoints.len() >= ENDPOINTS {
            let forgotten = self
                .endpoints
                .iter()
                .min_by_key(|(_, h)| (!h.is_quiet(now), h.last_heard()))
                .map(|(e, _)| e.clone());
            if let Some(forgotten) = forgotten {
                self.endpoints.remove(&forgotten);
            }
        }
        self.endpoints.insert(endpoint, health);
    }

    /// Takes in `newer`'s endpoints, each replacing ours unless ours was
    /// heard of later: how a host folds the state one worker wrote into
    /// the one it holds.
    pub fn merge(&mut self, newer: Endpoints) {
        for (endpoint, health) in newer.endpoints {
            match self.endpoints.get_mut(&endpoint) {
                Some(ours) if ours.last_heard() > health.last_heard() => {}
                Some(ours) => *ours = health,
                None => {
                    let now = health.last_heard().unwrap_or(DateTime::<Utc>::MIN_UTC);
                    self.insert(endpoint, health, now);
                }
            }
        }
    }

    /// The state as JSON, to store where the host's workers share it. It
    /// holds origins and times, nothing secret.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Text keys, numbers and dates: serde_json cannot fail on them.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a state written by [`Endpoints::to_json`].
    ///
    /// # Errors
    ///
    /// Text that is not such a state (not JSON, a key that is not an
    /// endpoint, a field of the wrong type, more than
    /// [`limits::ENDPOINTS`] endpoints or [`limits::HEALTH_FAILURES`]
    /// failures on one) is an error of kind [`ErrorKind::Serde`].
    pub fn from_json(text: &str) -> Result<Endpoints, Error> {
        serde_json::from_str(text).map_err(|e| {
            Error::new(
                ErrorKind::Serde,
                format!("the text is not a stored endpoint health state: {e}"),
            )
        })
    }
}

/// `at` plus `d`, or `None` past the calendar's end.
fn add(at: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
    at.checked_add_signed(TimeDelta::from_std(d).ok()?)
}

/// `at` minus `d`, or `None` before the calendar's start.
fn sub(at: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
    at.checked_sub_signed(TimeDelta::from_std(d).ok()?)
}

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
    ///
    /// A stored state is not trusted to bound its own waits (an edited
    /// one, or one written under a skewed clock, could say 2099): an open
    /// breaker waits at most the policy's cool-down from `now`, one the
    /// policy no longer has not at all, and a throttle at most
    /// [`limits::LONGEST_THROTTLE`].
    fn admission(&self, policy: &HealthPolicy, now: DateTime<Utc>) -> Admission {
        let throttled = self
            .throttled_until
            .filter(|until| *until > now)
            .map(|until| add(now, limits::LONGEST_THROTTLE).map_or(until, |cap| until.min(cap)));
        let cool_down = policy.breaker.map(|b| b.cool_down);
        let capped = |until: DateTime<Utc>| match cool_down.and_then(|d| add(now, d)) {
            Some(cap) => until.min(cap),
            None => until,
        };
        let breaker = match self.breaker {
            BreakerState::Closed => None,
            // A breaker the policy no longer has never waits.
            _ if cool_down.is_none() => None,
            BreakerState::Open { until } if until > now => Some(capped(until)),
            // Cooled down: the first to ask is the probe, unless the
            // endpoint is throttled, when that wait comes first.
            BreakerState::Open { .. } => {
                return throttled.map_or(Admission::Probe, |until| Admission::Wait { until })
            }
            BreakerState::HalfOpen { probe_since } => {
                let until = cool_down.and_then(|d| add(probe_since, d));
                match until {
                    Some(until) if until > now => Some(capped(until)),
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
    /// A rule that disables says so again at each failure while it holds
    /// (the endpoint is shared: each webhook whose delivery to it fails is
    /// disabled in turn), until a success resets the failures.
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
        // Nothing sent and nothing asked: nothing to keep of an endpoint
        // not known yet.
        if health != EndpointHealth::default() {
            self.insert(endpoint.clone(), health, now);
        }
        verdict
    }

    /// Inserts a new entry, forgetting the tenth least recently heard of
    /// first (healthy ones first) if the map is full.
    fn insert(&mut self, endpoint: Endpoint, health: EndpointHealth, now: DateTime<Utc>) {
        if self.endpoints.len() >= ENDPOINTS {
            limits::trim_to(&mut self.endpoints, limits::trimmed(ENDPOINTS), |h| {
                (!h.is_quiet(now), h.last_heard())
            });
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
                    self.endpoints.insert(endpoint, health);
                }
            }
        }
        // Everything first, then one trim, judged at the latest time the
        // state has heard of: trimming per entry would read the whole
        // map for each.
        if self.endpoints.len() > ENDPOINTS {
            let now = self
                .endpoints
                .values()
                .filter_map(EndpointHealth::last_heard)
                .max()
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            limits::trim_to(&mut self.endpoints, ENDPOINTS, |h| {
                (!h.is_quiet(now), h.last_heard())
            });
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

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, StatusCode};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// `seconds` after 21:00.
    fn at(seconds: i64) -> DateTime<Utc> {
        t("2024-12-02T21:00:00Z") + TimeDelta::seconds(seconds)
    }

    fn endpoint() -> Endpoint {
        Endpoint::of(&"https://crm.example/hook".parse().unwrap()).unwrap()
    }

    fn answer(code: u16, headers: &HeaderMap) -> Outcome<'_> {
        Outcome::response(StatusCode::from_u16(code).unwrap(), headers)
    }

    /// Only the breaker: the rules that disable are off.
    fn breaker_only(failures: u32, cool_down: u64) -> HealthPolicy {
        HealthPolicy {
            disable_after: None,
            disable_after_failing_for: None,
            breaker: Some(Breaker::new(failures, Duration::from_secs(cool_down))),
        }
    }

    #[test]
    fn the_breaker_opens_probes_and_closes() {
        let policy = breaker_only(3, 30);
        let mut endpoints = Endpoints::new();
        let e = endpoint();
        let h = HeaderMap::new();
        // Closed: sent, and failures below the count keep it closed.
        for i in 0..2 {
            assert_eq!(endpoints.admit(&e, &policy, at(i)), Admission::Send);
            let verdict = endpoints.record(&e, &policy, answer(503, &h), None, at(i));
            assert_eq!(verdict, HealthVerdict::Failing);
        }
        assert_eq!(endpoints.admit(&e, &policy, at(2)), Admission::Send);
        endpoints.record(&e, &policy, Outcome::transport_error(), None, at(2));
        // Open: everyone waits for the cool-down.
        assert_eq!(
            endpoints.get(&e).unwrap().breaker(),
            BreakerState::Open { until: at(32) }
        );
        for now in [2, 10, 31] {
            assert_eq!(
                endpoints.admit(&e, &policy, at(now)),
                Admission::Wait { until: at(32) }
            );
        }
        // Cooled down: one probe, and the others wait for it.
        assert_eq!(endpoints.admit(&e, &policy, at(32)), Admission::Probe);
        assert_eq!(
            endpoints.get(&e).unwrap().breaker(),
            BreakerState::HalfOpen {
                probe_since: at(32)
            }
        );
        assert_eq!(
            endpoints.admit(&e, &policy, at(33)),
            Admission::Wait { until: at(62) }
        );
        // The probe succeeds: closed, failures forgotten.
        let verdict = endpoints.record(&e, &policy, answer(200, &h), None, at(34));
        assert_eq!(verdict, HealthVerdict::Healthy);
        let health = endpoints.get(&e).unwrap();
        assert_eq!(health.breaker(), BreakerState::Closed);
        assert_eq!(health.consecutive_failures(), 0);
        assert_eq!(health.failing_since(), None);
        assert_eq!(health.last_success(), Some(at(34)));
        assert_eq!(endpoints.admit(&e, &policy, at(35)), Admission::Send);
    }

    #[test]
    fn a_failed_probe_opens_the_breaker_again() {
        let policy = breaker_only(1, 30);
        let mut endpoints = Endpoints::new();
        let e = endpoint();
        endpoints.record(&e, &policy, Outcome::transport_error(), None, at(0));
        assert_eq!(endpoints.admit(&e, &policy, at(30)), Admission::Probe);
        endpoints.record(&e, &policy, Outcome::transport_error(), None, at(31));
        assert_eq!(
            endpoints.get(&e).unwrap().breaker(),
            BreakerState::Open { until: at(61) }
        );
        assert_eq!(
            endpoints.admit(&e, &policy, at(40)),
            Admission::Wait { until: at(61) }
        );
        // A probe never heard of is replaced after a cool-down.
        assert_eq!(endpoints.admit(&e, &policy, at(61)), Admission::Probe);
        assert!(matches!(
            endpoints.admit(&e, &policy, at(70)),
            Admission::Wait { .. }
        ));
        assert_eq!(endpoints.admit(&e, &policy, at(91)), Admission::Probe);
    }

    #[test]
    fn failures_in_flight_keep_an_open_breaker_as_it_is() {
        let policy = breaker_only(2, 30);
        let mut endpoints = Endpoints::new();
        let e = endpoint();
        endpoints.record(&e, &policy, Outcome::transport_error(), None, at(0));
        endpoints.record(&e, &policy, Outcome::transport_error(), None, at(1));
        endpoints.record(&e, &policy, Outcome::transport_error(), None, at(5));
        assert_eq!(
            endpoints.get(&e).unwrap().breaker(),
            BreakerState::Open { until: at(31) }
        );
        assert_eq!(endpoints.get(&e).unwrap().consecutive_failures(), 3);
    }

    #[test]
    fn n_failures_within_the_window_disable() {
        let policy = HealthPolicy {
            breaker: None,
            ..HealthPolicy::default()
        };
        let mut endpoints = Endpoints::new();
        let e = endpoint();
        let h = HeaderMap::new();
        // Six failures, but spread over more than 60 s: failing only.
        for i in 0..6 {
            let verdict = endpoints.record(&e, &policy, answer(500, &h), None, at(i * 15));
            assert_eq!(verdict, HealthVerdict::Failing, "{i}");
        }
        // The window holds the latest failures only, as many as counted.
        assert!(endpoints.get(&e).unwrap().recent_failures().len() <= 6);
        // Six within 60 s, long after: the sixth disables.
        let mut verdicts = Vec::new();
        for i in 0..6 {
            verdicts.push(endpoints.record(&e, &policy, answer(404, &h), None, at(300 + i)));
        }
        assert_eq!(
            verdicts.last(),
            Some(&HealthVerdict::Disable(DisableReason::FailuresWithin {
                failures: 6,
                within: Duration::from_secs(60)
            }))
        );
        assert!(verdicts[..5].iter().all(|v| *v == HealthVerdict::Failing));
        assert_eq!(endpoints.get(&e).unwrap().recent_failures().len(), 6);
    }

    #[test]
    fn failing_longer_than_the_duration_disables() {
        let policy = HealthPolicy {
            breaker: None,
            disable_after: None,
            ..HealthPolicy::default()
        };
        let mut endpoints = Endpoints::new();
        let e = endpoint();
        let day = 86_400;
        endpoints.record(&e, &policy, Outcome::transport_error(), None, at(0));
        let verdict = endpoints.record(
            &e,
            &policy,
            Outcome::transport_error(),
            None,
            at(5 * day - 1),
        );
        assert_eq!(verdict, HealthVerdict::Failing);
        let verdict = endpoints.record(&e, &policy, Outcome::transport_error(), None, at(5 * day));
        assert_eq!(
            verdict,
            HealthVerdict::Disable(DisableReason::FailingFor { since: at(0) })
        );
    }

    #[test]
    fn a_success_resets_the_failures() {
        let policy = HealthPolicy::default();
        let mut endpoints = Endpoints::new();
        let e = endpoint();
        let h = HeaderMap::new();
        for i in 0..4 {
            endpoints.record(&e, &policy, Outcome::transport_error(), None, at(i));
        }
        endpoints.record(&e, &policy, answer(204, &h), None, at(4));
        let health = endpoints.get(&e).unwrap();
        assert!(!health.is_failing());
        assert!(health.recent_failures().is_empty());
        assert_eq!(health.last_failure(), Some(at(3)));
        // Counting starts again: five more are not six in the window, and
        // the long failure starts at the first of them.
        for i in 5..10 {
            let verdict = endpoints.record(&e, &policy, Outcome::transport_error(), None, at(i));
            assert_eq!(verdict, HealthVerdict::Failing);
        }
        assert_eq!(endpoints.get(&e).unwrap().failing_since(), Some(at(5)));
    }

    /// With the defaults, an outage the breaker pauses is not disabled by
    /// its probes: the cool-down is as long as the window.
    #[test]
    fn default_probes_do_not_make_the_sixth_failure() {
        let policy = HealthPolicy::default();
        let mut endpoints = Endpoints::new();
        let e = endpoint();
        let mut now = 0;
        for _ in 0..5 {
            assert_eq!(endpoints.admit(&e, &policy, at(now)), Admission::Send);
            endpoints.record(&e, &policy, Outcome::transport_error(), None, at(now));
        }
        // An hour of probes, each failing.
        for _ in 0..60 {
            let until = match endpoints.admit(&e, &policy, at(now)) {
                Admission::Wait { until } => until,
                other => panic!("{other:?}"),
            };
            now = (until - at(0)).num_seconds();
            assert_eq!(endpoints.admit(&e, &policy, at(now)), Admission::Probe);
            let verdict = endpoints.record(&e, &policy, Outcome::transport_error(), None, at(now));
            assert_eq!(verdict, HealthVerdict::Failing, "at {now}");
        }
    }

    #[test]
    fn throttling_waits_and_is_no_failure() {
        let policy = HealthPolicy::default();
        let mut endpoints = Endpoints::new();
        let e = endpoint();
        let h = HeaderMap::new();
        for i in 0..10 {
            let verdict = endpoints.record(&e, &policy, answer(429, &h), Some(at(120)), at(i));
            assert_eq!(verdict, HealthVerdict::Healthy);
        }
        assert_eq!(
            endpoints.admit(&e, &policy, at(60)),
            Admission::Wait { until: at(120) }
        );
        assert_eq!(endpoints.admit(&e, &policy, at(120)), Admission::Send);
        // A 503 with `Retry-After` throttles and is a failure.
        let verdict = endpoints.record(&e, &policy, answer(503, &h), Some(at(200)), at(130));
        assert_eq!(verdict, HealthVerdict::Failing);
        assert_eq!(endpoints.get(&e).unwrap().throttled_until(), Some(at(200)));
        // An earlier throttle never shortens a later one.
        endpoints.record(&e, &policy, answer(503, &h), Some(at(150)), at(131));
        assert_eq!(endpoints.get(&e).unwrap().throttled_until(), Some(at(200)));
        // The longer of an open breaker and a throttle is waited for: two
        // failures above and three more open it until 202.
        for i in 0..3 {
            endpoints.record(&e, &policy, Outcome::transport_error(), None, at(140 + i));
        }
        assert_eq!(
            endpoints.admit(&e, &policy, at(150)),
            Admission::Wait { until: at(202) }
        );
        // Throttled past the cool-down: the probe waits for the throttle.
        endpoints.record(&e, &policy, answer(503, &h), Some(at(400)), at(145));
        assert_eq!(
            endpoints.admit(&e, &policy, at(300)),
            Admission::Wait { until: at(400) }
        );
        assert_eq!(endpoints.admit(&e, &policy, at(400)), Admission::Probe);
    }

    #[test]
    fn a_refused_address_says_nothing_of_the_endpoint() {
        let policy = HealthPolicy::default();
        let mut endpoints = Endpoints::new();
        let e = endpoint();
        for i in 0..10 {
            let verdict = endpoints.record(&e, &policy, Outcome::address_refused(), None, at(i));
            assert_eq!(verdict, HealthVerdict::Healthy);
        }
        assert!(endpoints.is_empty());
    }

    #[test]
    fn policies_are_checked_with_fields_named() {
        assert!(HealthPolicy::default().check().is_ok());
        let off = HealthPolicy {
            disable_after: None,
            disable_after_failing_for: None,
            breaker: None,
        };
        assert!(off.check().is_ok());
        let bad = HealthPolicy {
            disable_after: Some(FailureWindow::new(HEALTH_FAILURES + 1, Duration::ZERO)),
            disable_after_failing_for: Some(Duration::from_secs(400 * 86_400)),
            breaker: Some(Breaker::new(0, Duration::from_secs(30))),
        };
        let err = bad.check().unwrap_err();
        let fields: Vec<_> = err.related().iter().filter_map(|e| e.field()).collect();
        assert_eq!(
            fields,
            [
                "disable_after.failures",
                "breaker.failures",
                "disable_after.within",
                "disable_after_failing_for"
            ]
        );
        assert!(err.to_string().contains("limits::HEALTH_FAILURES"), "{err}");
    }

    #[test]
    fn policy_json_round_trips_and_null_turns_a_rule_off() {
        let policy = HealthPolicy::default();
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(
            json,
            r#"{"disable_after":{"failures":6,"within":"1m"},"disable_after_failing_for":"5d","breaker":{"failures":5,"cool_down":"1m"}}"#
        );
        assert_eq!(serde_json::from_str::<HealthPolicy>(&json).unwrap(), policy);
        let off: HealthPolicy =
            serde_json::from_str(r#"{"breaker": null, "disable_after_failing_for": null}"#)
                .unwrap();
        assert_eq!(off.breaker, None);
        assert_eq!(off.disable_after_failing_for, None);
        assert_eq!(off.disable_after, policy.disable_after);
        let back: HealthPolicy =
            serde_json::from_str(&serde_json::to_string(&off).unwrap()).unwrap();
        assert_eq!(back, off);
        for hostile in [
            r#"{"breaker": {"failures": 5}}"#,
            r#"{"breaker": {"failures": -1, "cool_down": "30s"}}"#,
            r#"{"disable_after_failing_for": "soon"}"#,
            r#"{"disable_after": {"failures": 6, "within": "60s", "extra": 1}}"#,
            r#"{"breakers": null}"#,
            r#"{"disable_after_failing_for": "99999999999999999999d"}"#,
        ] {
            assert!(
                serde_json::from_str::<HealthPolicy>(hostile).is_err(),
                "{hostile}"
            );
        }
    }

    #[test]
    fn state_json_round_trips() {
        let policy = HealthPolicy::default();
        let mut endpoints = Endpoints::new();
        let h = HeaderMap::new();
        let a = endpoint();
        let b = Endpoint::of(&"http://10.0.0.1:8080/x".parse().unwrap()).unwrap();
        endpoints.record(&a, &policy, answer(200, &h), None, at(0));
        for i in 0..5 {
            endpoints.record(&b, &policy, answer(503, &h), Some(at(100)), at(i));
        }
        endpoints.admit(&b, &policy, at(70));
        let json = endpoints.to_json();
        assert!(json.contains(r#""https://crm.example:443":"#), "{json}");
        let back = Endpoints::from_json(&json).unwrap();
        assert_eq!(back, endpoints);
        assert_eq!(back.to_json(), json);
        assert_eq!(Endpoints::from_json("{}").unwrap(), Endpoints::new());
    }

    #[test]
    fn hostile_state_is_refused_with_an_error() {
        let many = format!(
            r#"{{"endpoints": {{"https://a.example:443": {{"recent_failures": [{}]}}}}}}"#,
            vec![r#""2024-12-02T21:00:00Z""#; HEALTH_FAILURES as usize + 1].join(",")
        );
        for hostile in [
            "",
            "7",
            r#"{"endpoints": []}"#,
            r#"{"endpoints": {"crm.example": {}}}"#,
            r#"{"endpoints": {"https://crm.example:443/path": {}}}"#,
            r#"{"endpoints": {"https://a.example:443": {"consecutive_failures": -1}}}"#,
            r#"{"endpoints": {"https://a.example:443": {"breaker": {"state": "ajar"}}}}"#,
            r#"{"endpoints": {"https://a.example:443": {"breaker": {"state": "open"}}}}"#,
            r#"{"endpoints": {"https://a.example:443": {"failing_since": "yesterday"}}}"#,
            &many,
        ] {
            let err = Endpoints::from_json(hostile).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Serde, "{hostile}");
        }
        // One endpoint past the limit.
        let entries: Vec<String> = (0..=ENDPOINTS)
            .map(|i| format!(r#""https://h{i}.example:443":{{}}"#))
            .collect();
        let crowded = format!(r#"{{"endpoints": {{{}}}}}"#, entries.join(","));
        let err = Endpoints::from_json(&crowded).unwrap_err();
        assert!(err.to_string().contains("limits::ENDPOINTS"), "{err}");
        let full = format!(r#"{{"endpoints": {{{}}}}}"#, entries[1..].join(","));
        assert_eq!(Endpoints::from_json(&full).unwrap().len(), ENDPOINTS);
        // Out of order, as a hand edit may leave it: put in order.
        let unordered = r#"{"endpoints": {"https://a.example:443": {"recent_failures": ["2024-12-02T21:00:09Z", "2024-12-02T21:00:01Z"]}}}"#;
        let read = Endpoints::from_json(unordered).unwrap();
        let (_, health) = read.iter().next().unwrap();
        assert_eq!(health.recent_failures(), [at(1), at(9)]);
    }

    /// Found in review: a stored open breaker, probe or throttle dated
    /// 2099 (an edit, a skewed clock) paused the endpoint until then, even
    /// with no breaker in the policy.
    #[test]
    fn stored_waits_are_bounded_by_the_policy_and_the_limit() {
        let e = endpoint();
        let far = "2099-01-01T00:00:00Z";
        let now = at(0);
        let cool_down = HealthPolicy::default().breaker.unwrap().cool_down;
        let open = format!(
            r#"{{"endpoints": {{"{e}": {{"breaker": {{"state": "open", "until": "{far}"}}}}}}}}"#
        );
        let mut endpoints = Endpoints::from_json(&open).unwrap();
        match endpoints.admit(&e, &HealthPolicy::default(), now) {
            Admission::Wait { until } => assert!(until <= add(now, cool_down).unwrap(), "{until}"),
            other => panic!("{other:?}"),
        }
        let no_breaker = HealthPolicy {
            breaker: None,
            ..HealthPolicy::default()
        };
        assert_eq!(endpoints.admit(&e, &no_breaker, now), Admission::Send);
        let throttled = format!(r#"{{"endpoints": {{"{e}": {{"throttled_until": "{far}"}}}}}}"#);
        let mut endpoints = Endpoints::from_json(&throttled).unwrap();
        match endpoints.admit(&e, &HealthPolicy::default(), now) {
            Admission::Wait { until } => {
                assert_eq!(until, add(now, limits::LONGEST_THROTTLE).unwrap());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_map_is_bounded_forgetting_the_quiet_first() {
        let policy = HealthPolicy::default();
        let mut endpoints = Endpoints::new();
        let h = HeaderMap::new();
        let of =
            |i: usize| Endpoint::of(&format!("https://h{i}.example/").parse().unwrap()).unwrap();
        // One failing endpoint heard of first, then healthy ones to the
        // limit and past it.
        endpoints.record(&of(0), &policy, Outcome::transport_error(), None, at(0));
        for i in 1..=ENDPOINTS {
            endpoints.record(&of(i), &policy, answer(200, &h), None, at(i as i64));
        }
        // Full when the last came: the tenth heard of longest ago went,
        // the healthy ones first.
        assert_eq!(endpoints.len(), limits::trimmed(ENDPOINTS) + 1);
        // The failing one is kept; the healthy ones heard of longest ago went.
        assert!(endpoints.get(&of(0)).is_some());
        assert!(endpoints.get(&of(1)).is_none());
        assert!(endpoints.get(&of(ENDPOINTS / 10)).is_none());
        assert!(endpoints.get(&of(ENDPOINTS / 10 + 1)).is_some());
        assert!(endpoints.get(&of(ENDPOINTS)).is_some());
    }

    #[test]
    fn merge_keeps_the_state_heard_of_last() {
        let policy = HealthPolicy::default();
        let h = HeaderMap::new();
        let e = endpoint();
        let mut ours = Endpoints::new();
        ours.record(&e, &policy, Outcome::transport_error(), None, at(10));
        let mut theirs = Endpoints::new();
        theirs.record(&e, &policy, answer(200, &h), None, at(5));
        let other = Endpoint::of(&"https://other.example/".parse().unwrap()).unwrap();
        theirs.record(&other, &policy, answer(200, &h), None, at(5));
        ours.merge(theirs.clone());
        assert!(ours.get(&e).unwrap().is_failing());
        assert!(ours.get(&other).is_some());
        theirs.record(&e, &policy, answer(200, &h), None, at(20));
        ours.merge(theirs);
        assert!(!ours.get(&e).unwrap().is_failing());
    }

    /// Whatever a policy (unchecked) or the clock holds, nothing panics.
    #[test]
    fn hostile_policies_and_times_do_not_panic() {
        let huge = Duration::from_secs(u64::MAX);
        let policies = [
            HealthPolicy {
                disable_after: Some(FailureWindow::new(0, huge)),
                disable_after_failing_for: Some(Duration::ZERO),
                breaker: Some(Breaker::new(0, huge)),
            },
            HealthPolicy {
                disable_after: Some(FailureWindow::new(u32::MAX, Duration::ZERO)),
                disable_after_failing_for: Some(huge),
                breaker: Some(Breaker::new(u32::MAX, Duration::ZERO)),
            },
        ];
        let h = HeaderMap::new();
        let times = [
            DateTime::<Utc>::MIN_UTC,
            at(0),
            DateTime::<Utc>::MAX_UTC,
            at(-5),
        ];
        for policy in &policies {
            let mut endpoints = Endpoints::new();
            let e = endpoint();
            for now in times {
                for outcome in [Outcome::transport_error(), answer(200, &h), answer(429, &h)] {
                    let _ = endpoints.admit(&e, policy, now);
                    let _ = endpoints.record(&e, policy, outcome, Some(now), now);
                }
            }
        }
    }
}

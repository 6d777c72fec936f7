//! Before and after an attempt: whether a delivery may be sent
//! (`Envelope::admit`: ordering, endpoint health), and recording the
//! attempt (`Envelope::record`, the retry policy's decision, and
//! `Envelope::record_in`, with the rule of a refused OAuth2 token, health,
//! the fallback move and ordering).

use chrono::{DateTime, Utc};

use super::log::{self, LoggedAttempt};
use super::{DeliveryState, Envelope};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::health::{Admission, HealthVerdict};
use crate::registry::Registry;
use crate::retry::{Attempt, Decision, DisableTarget, GiveUp, Outcome, RetryPolicy, Skip};

impl Envelope {
    /// Records an attempt that ended with `outcome` at `now`, and returns
    /// the policy's decision ([`RetryPolicy::decide`]); on a retry,
    /// `next_attempt_at` is set to it. The jitter seed is derived from the
    /// delivery id. An attempt the address policy refused
    /// ([`Outcome::address_refused`]) counts as an attempt and is given up.
    /// The attempt is added to the envelope's log ([`Envelope::attempts`]:
    /// its time, URL index, status or error, latency and the first bytes
    /// of the response), which keeps the latest
    /// [`limits::ENVELOPE_ATTEMPTS`](crate::limits::ENVELOPE_ATTEMPTS).
    /// Endpoint health, the fallback move and ordering need the registry
    /// and the host's state: [`Envelope::record_in`] applies them.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Decision, Envelope, Event, Outcome, Registry};
    ///
    /// let registry = Registry::from_config(
    ///     &Config::from_json(include_str!("../../examples/configs/pbx.json"))?,
    ///     Catalog::standard().clone(),
    /// )?;
    /// let call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let outgoing = &registry.dispatch(Event::CallHangup, &call, at).requests[0];
    /// let mut envelope = Envelope::new(outgoing, at);
    /// let policy = registry.retry_policy(&envelope.service)?;
    /// let decision = envelope.record(&policy, Outcome::transport_error(), at);
    /// assert!(matches!(decision, Decision::Retry { .. }));
    /// assert_eq!(envelope.attempts.len(), 1);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn record(
        &mut self,
        policy: &RetryPolicy,
        outcome: Outcome<'_>,
        now: DateTime<Utc>,
    ) -> Decision {
        self.log(&outcome, now);
        self.attempt = self.attempt.saturating_add(1);
        let attempt = Attempt::new(
            &self.event,
            self.attempt,
            self.first_attempt_at,
            &self.service,
            self.url().unwrap_or(&self.request.url),
        )
        .with_seed(jitter_seed(&self.delivery));
        let decision = policy.decide(&attempt, outcome, now);
        if let Decision::Retry { at } = decision {
            self.next_attempt_at = at;
        }
        decision
    }
}

impl Envelope {
    /// Whether the delivery may be sent at `now`, asked once before each
    /// attempt: `None` to send it, or the [`Decision`] not to, which is not
    /// an attempt.
    ///
    /// - [`Decision::Skip`] ([`Skip::Superseded`]): a realtime update older
    ///   than one already delivered for the same call and webhook
    ///   ([`DeliveryState::sequences`]); sending it would undo the newer
    ///   one. Drop the delivery.
    /// - [`Decision::Wait`]: the current URL's endpoint is paused, its
    ///   circuit breaker open or throttled by a `Retry-After`
    ///   ([`DeliveryState::endpoints`]), and the delivery has no fallback
    ///   URL left; `next_attempt_at` is set to when to ask again, and no
    ///   attempt is counted. With a fallback URL left, the delivery moves
    ///   to it ([`Envelope::current_url`]) and is admitted there.
    ///
    /// Once an open breaker has cooled down, the first delivery asking is
    /// let through as its probe (`None`), and the others wait for it.
    ///
    /// # Errors
    ///
    /// A service that no longer exists is an error of kind
    /// [`ErrorKind::Registry`](crate::ErrorKind::Registry), as
    /// [`Registry::health_policy`] says.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, DeliveryState, Envelope, Event, Registry};
    ///
    /// let registry = Registry::from_config(
    ///     &Config::from_json(include_str!("../../examples/configs/pbx.json"))?,
    ///     Catalog::standard().clone(),
    /// )?;
    /// let call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let outgoing = &registry.dispatch(Event::CallHangup, &call, at).requests[0];
    /// let mut envelope = Envelope::new(outgoing, at);
    /// let mut state = DeliveryState::default();
    /// assert_eq!(envelope.admit(&registry, &mut state, at)?, None);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    ///
    /// [`Skip::Superseded`]: crate::Skip::Superseded
    /// [`Registry::health_policy`]: crate::Registry::health_policy
    pub fn admit(
        &mut self,
        registry: &Registry,
        state: &mut DeliveryState,
        now: DateTime<Utc>,
    ) -> Result<Option<Decision>, Error> {
        let health = registry.health_policy(&self.service)?;
        if let (Some(call_id), Some(sequence)) = (&self.call_id, self.sequence) {
            if let Some(delivered) = state.sequences.superseded(call_id, &self.webhook, sequence) {
                return Ok(Some(Decision::Skip(Skip::Superseded {
                    sequence,
                    delivered,
                })));
            }
        }
        loop {
            // A URL that does not parse has no endpoint to wait for:
            // `to_outgoing` refuses it with the reason.
            let Some(endpoint) = self.endpoint() else {
                return Ok(None);
            };
            match state.endpoints.admit(&endpoint, &health, now) {
                // A paused endpoint with a fallback URL left: the delivery
                // moves on, as after failures of its own (there are at
                // most `limits::FALLBACK_URLS`, so this ends).
                Admission::Wait { .. } if self.current_url < self.fallbacks.len() => {
                    self.current_url += 1;
                    self.url_failures = 0;
                }
                Admission::Wait { until } => {
                    self.next_attempt_at = until;
                    return Ok(Some(Decision::Wait { until, endpoint }));
                }
                _ => return Ok(None),
            }
        }
    }

    /// Records an attempt that ended with `outcome` at `now`, asked once
    /// after each attempt, and returns what to do with the delivery,
    /// under its service's policies in `registry` (retry, health, fallback
    /// URLs) and the host's `state`:
    ///
    /// - The attempt is counted and logged ([`Envelope::attempts`]).
    /// - A `401` from a service that authenticates by OAuth2 drops its
    ///   token from [`DeliveryState::tokens`] ([`TokenCache::invalidate`])
    ///   and retries at once, for the next [`Registry::prepare`] to ask for
    ///   a new token, once per delivery ([`Envelope::token_refreshed`]).
    ///   Any other `401`, and a second one, gives up as
    ///   [`GiveUp::Unauthorized`]. The retry counts as an attempt, but is
    ///   made even past the policy's last.
    /// - The current URL's endpoint's health is updated
    ///   ([`DeliveryState::endpoints`]: failures, the breaker, and the
    ///   throttle a `429`, `502`, `503` or `504` asks for with
    ///   `Retry-After`). When it breaks a rule of the service's
    ///   [`HealthPolicy`](crate::HealthPolicy) on the delivery's last URL,
    ///   the decision is [`Decision::Disable`] of [`DisableTarget::Webhook`]
    ///   naming this delivery's webhook, with [`GiveUp::Unhealthy`] and the
    ///   rule; with a fallback URL left, the delivery moves to it instead.
    /// - The retry decision is the policy's ([`Envelope::record`]); a `410`
    ///   disables the URL it went to ([`DisableTarget::Url`], the fallback
    ///   URL if the delivery had moved to one).
    /// - A failure counts against the current URL ([`Envelope::url_failures`]);
    ///   after the service's `fallback_after` failures on it, the delivery
    ///   moves to its next fallback URL ([`Envelope::current_url`]), where
    ///   the retry goes. A `429` and a refused address do not count: the
    ///   endpoint is up, or nothing was sent.
    /// - On [`Decision::Delivered`], the delivery's status sequence is
    ///   recorded ([`DeliveryState::sequences`]), so older updates of the
    ///   call to the same webhook are skipped ([`Envelope::admit`]).
    ///
    /// The contract, for a host that shares `state` between workers: call
    /// this with the state the delivery was admitted and prepared with,
    /// and store it back as it stores the envelope
    /// ([`DeliveryState::merge`]).
    ///
    /// # Errors
    ///
    /// A service that no longer exists is an error of kind
    /// [`ErrorKind::Registry`](crate::ErrorKind::Registry), as [`Registry::retry_policy`] says; the
    /// envelope and the state are left as they were.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Decision, DeliveryState, Envelope, Event, GiveUp};
    /// use callhook::{Outcome, Registry};
    ///
    /// let registry = Registry::from_config(
    ///     &Config::from_json(include_str!("../../examples/configs/pbx.json"))?,
    ///     Catalog::standard().clone(),
    /// )?;
    /// let call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let outgoing = &registry.dispatch(Event::CallHangup, &call, at).requests[0];
    /// let mut envelope = Envelope::new(outgoing, at);
    /// let mut state = DeliveryState::default();
    /// let refused = http::HeaderMap::new();
    /// let outcome = Outcome::response(http::StatusCode::UNAUTHORIZED, &refused);
    /// // No OAuth2: a 401 gives up.
    /// let decision = envelope.record_in(&registry, outcome, at, &mut state)?;
    /// assert_eq!(decision, Decision::GiveUp(GiveUp::Unauthorized));
    /// # Ok::<(), callhook::Error>(())
    /// ```
    ///
    /// [`TokenCache::invalidate`]: crate::TokenCache::invalidate
    /// [`Registry::prepare`]: crate::Registry::prepare
    /// [`Registry::retry_policy`]: crate::Registry::retry_policy
    /// [`GiveUp::Unauthorized`]: crate::GiveUp::Unauthorized
    /// [`GiveUp::Unhealthy`]: crate::GiveUp::Unhealthy
    /// [`DisableTarget::Webhook`]: crate::DisableTarget::Webhook
    /// [`DisableTarget::Url`]: crate::DisableTarget::Url
    pub fn record_in(
        &mut self,
        registry: &Registry,
        outcome: Outcome<'_>,
        now: DateTime<Utc>,
        state: &mut DeliveryState,
    ) -> Result<Decision, Error> {
        let policy = registry.retry_policy(&self.service)?;
        let health = registry.health_policy(&self.service)?;
        let fallback_after = registry.fallback_after(&self.service)?;
        if outcome.status() == Some(http::StatusCode::UNAUTHORIZED) && !self.token_refreshed {
            if let Some(key) = registry.token_key(&self.service) {
                // The endpoint answered: its token was stale, which says
                // nothing of its health.
                state.tokens.invalidate(&key);
                self.log(&outcome, now);
                self.token_refreshed = true;
                self.attempt = self.attempt.saturating_add(1);
                self.next_attempt_at = now;
                return Ok(Decision::Retry { at: now });
            }
        }
        let verdict = match self.endpoint() {
            Some(endpoint) => {
                let throttle = policy.throttled_until(outcome, now);
                state
                    .endpoints
                    .record(&endpoint, &health, outcome, throttle, now)
            }
            None => HealthVerdict::Failing,
        };
        let decision = self.record(&policy, outcome, now);
        if decision == Decision::Delivered {
            self.url_failures = 0;
            if let (Some(call_id), Some(sequence)) = (&self.call_id, self.sequence) {
                state
                    .sequences
                    .delivered(call_id, &self.webhook, sequence, now);
            }
            return Ok(decision);
        }
        let tried = self.current_url;
        let counts = !outcome.is_address_refused()
            && outcome.status() != Some(http::StatusCode::TOO_MANY_REQUESTS);
        if counts {
            self.url_failures = self.url_failures.saturating_add(1);
            if self.url_failures >= fallback_after && self.current_url < self.fallbacks.len() {
                self.current_url += 1;
                self.url_failures = 0;
            }
        }
        if let HealthVerdict::Disable(reason) = verdict {
            if tried < self.fallbacks.len() {
                // The endpoint broke a rule, but the webhook has URLs not
                // tried yet: the delivery moves on rather than the webhook
                // being disabled. Only a rule broken on its last URL
                // disables it.
                if self.current_url == tried {
                    self.current_url += 1;
                    self.url_failures = 0;
                }
            } else if !matches!(decision, Decision::Disable { .. }) {
                // A `410` names the URL itself, which says more.
                return Ok(Decision::Disable {
                    target: DisableTarget::Webhook {
                        webhook: self.webhook.clone(),
                    },
                    reason: GiveUp::Unhealthy(reason),
                });
            }
        }
        Ok(decision)
    }
}

impl Envelope {
    /// The current URL's endpoint, if the URL parses.
    fn endpoint(&self) -> Option<Endpoint> {
        Endpoint::of(&self.url()?.parse().ok()?)
    }

    /// Adds the attempt that ended with `outcome` at `now` to the log.
    fn log(&mut self, outcome: &Outcome<'_>, now: DateTime<Utc>) {
        log::push(
            &mut self.attempts,
            LoggedAttempt::of(outcome, self.current_url, now),
        );
    }
}

/// FNV-1a of the delivery id: a seed that is the same on every attempt of a
/// delivery and differs between deliveries.
fn jitter_seed(delivery: &str) -> u64 {
    delivery.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

//! Recording an attempt on an envelope: the retry policy's decision, and
//! the rule of a refused OAuth2 token.

use chrono::{DateTime, Utc};

use super::Envelope;
use crate::auth::TokenCache;
use crate::error::Error;
use crate::registry::Registry;
use crate::retry::{Attempt, Decision, Outcome, RetryPolicy};

impl Envelope {
    /// Records an attempt that ended with `outcome` at `now`, and returns
    /// the policy's decision ([`RetryPolicy::decide`]); on a retry,
    /// `next_attempt_at` is set to it. The jitter seed is derived from the
    /// delivery id. An attempt the address policy refused
    /// ([`Outcome::address_refused`]) counts as an attempt and is given up.
    /// The outcome's latency and response bytes are not stored: the
    /// envelope keeps what the next attempt needs.
    pub fn record(
        &mut self,
        policy: &RetryPolicy,
        outcome: Outcome<'_>,
        now: DateTime<Utc>,
    ) -> Decision {
        self.attempt = self.attempt.saturating_add(1);
        let attempt = Attempt::new(
            &self.event,
            self.attempt,
            self.first_attempt_at,
            &self.service,
            &self.request.url,
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
    /// Records an attempt that ended with `outcome` at `now`, as
    /// [`Envelope::record`] does with the policy of the delivery's service
    /// in `registry`, and applies the rule of a refused token: a `401` from
    /// a service that authenticates by OAuth2 drops its token from
    /// `tokens` ([`TokenCache::invalidate`]) and retries at once, for the
    /// next [`Registry::prepare`] to ask for a new token, once per
    /// delivery ([`Envelope::token_refreshed`]). Any other `401`, and a
    /// second one, gives up as [`GiveUp::Unauthorized`]. The retry counts
    /// as an attempt, but is made even past the policy's last.
    ///
    /// The contract, for a host that shares `tokens` between workers: the
    /// cache is the host's, changed only here and by the token responses
    /// it gives it; call this with the cache the delivery was prepared
    /// from, and store it back as it stores the envelope.
    ///
    /// # Errors
    ///
    /// A service that no longer exists is an error of kind
    /// [`ErrorKind::Registry`](crate::ErrorKind::Registry), as [`Registry::retry_policy`] says; the
    /// envelope is left as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Decision, Envelope, Event, GiveUp, Outcome};
    /// use callhook::{Registry, TokenCache};
    ///
    /// let registry = Registry::from_config(
    ///     &Config::from_json(include_str!("../../examples/configs/pbx.json"))?,
    ///     Catalog::standard().clone(),
    /// )?;
    /// let call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let outgoing = &registry.dispatch(Event::CallHangup, &call, at).requests[0];
    /// let mut envelope = Envelope::new(outgoing, at);
    /// let mut tokens = TokenCache::default();
    /// let refused = http::HeaderMap::new();
    /// let outcome = Outcome::response(http::StatusCode::UNAUTHORIZED, &refused);
    /// // No OAuth2: a 401 gives up.
    /// let decision = envelope.record_in(&registry, outcome, at, &mut tokens)?;
    /// assert_eq!(decision, Decision::GiveUp(GiveUp::Unauthorized));
    /// # Ok::<(), callhook::Error>(())
    /// ```
    ///
    /// [`TokenCache::invalidate`]: crate::TokenCache::invalidate
    /// [`Registry::prepare`]: crate::Registry::prepare
    /// [`Registry::retry_policy`]: crate::Registry::retry_policy
    /// [`GiveUp::Unauthorized`]: crate::GiveUp::Unauthorized
    pub fn record_in(
        &mut self,
        registry: &Registry,
        outcome: Outcome<'_>,
        now: DateTime<Utc>,
        tokens: &mut TokenCache,
    ) -> Result<Decision, Error> {
        let policy = registry.retry_policy(&self.service)?;
        if outcome.status() == Some(http::StatusCode::UNAUTHORIZED) && !self.token_refreshed {
            if let Some(key) = registry.token_key(&self.service) {
                tokens.invalidate(&key);
                self.token_refreshed = true;
                self.attempt = self.attempt.saturating_add(1);
                self.next_attempt_at = now;
                return Ok(Decision::Retry { at: now });
            }
        }
        Ok(self.record(&policy, outcome, now))
    }
}

/// FNV-1a of the delivery id: a seed that is the same on every attempt of a
/// delivery and differs between deliveries.
fn jitter_seed(delivery: &str) -> u64 {
    delivery.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

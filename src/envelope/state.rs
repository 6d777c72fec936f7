//! The host's delivery state: what [`Envelope::admit`] and
//! [`Envelope::record_in`] read and change besides the envelope.
//!
//! [`Envelope::admit`]: crate::Envelope::admit
//! [`Envelope::record_in`]: crate::Envelope::record_in

use serde::{Deserialize, Serialize};

use crate::auth::TokenCache;
use crate::error::{json_position, Error, ErrorKind};
use crate::health::Endpoints;
use crate::ordering::Sequences;

/// Everything a host keeps between deliveries, beside its envelopes: the
/// OAuth2 tokens ([`TokenCache`]), the health of each endpoint
/// ([`Endpoints`]) and the newest status sequence delivered per call and
/// webhook ([`Sequences`]). Host-owned and stored as JSON
/// ([`DeliveryState::to_json`]) where its workers share it; each part
/// keeps its own bound (see [`limits`](crate::limits)).
///
/// The contract, for a host with several workers: the state is changed
/// only by [`Envelope::admit`](crate::Envelope::admit),
/// [`Envelope::record_in`](crate::Envelope::record_in) and the token
/// responses the host gives [`TokenCache::accept`]; a worker takes the
/// state current when it picks a delivery, and folds what it wrote back
/// into the stored one ([`DeliveryState::merge`]).
///
/// # Examples
///
/// ```
/// use callhook::DeliveryState;
///
/// let state = DeliveryState::default();
/// let stored = state.to_json();
/// assert_eq!(DeliveryState::from_json(&stored)?, state);
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeliveryState {
    /// OAuth2 tokens, by the key [`Registry::token_key`](crate::Registry::token_key) names.
    #[serde(default)]
    pub tokens: TokenCache,
    /// The health of each endpoint delivered to.
    #[serde(default)]
    pub endpoints: Endpoints,
    /// The newest status sequence delivered per call and webhook.
    #[serde(default)]
    pub sequences: Sequences,
}

impl DeliveryState {
    /// Takes in `newer`'s parts, each as its own `merge` does
    /// ([`TokenCache::merge`], [`Endpoints::merge`], [`Sequences::merge`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::DeliveryState;
    ///
    /// let mut ours = DeliveryState::default();
    /// let mut theirs = DeliveryState::default();
    /// let now = "2024-12-02T21:00:00Z".parse().unwrap();
    /// theirs.sequences.delivered("call-1", "webhook-1", 3, now);
    /// ours.merge(theirs);
    /// assert_eq!(ours.sequences.superseded("call-1", "webhook-1", 2), Some(3));
    /// ```
    pub fn merge(&mut self, newer: DeliveryState) {
        self.tokens.merge(newer.tokens);
        self.endpoints.merge(newer.endpoints);
        self.sequences.merge(newer.sequences);
    }

    /// The state as JSON: `{"tokens": …, "endpoints": …, "sequences": …}`,
    /// each part as its own `to_json` writes it.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Every part is text, numbers and maps keyed by text.
        serde_json::to_string(self).expect("a delivery state is always JSON")
    }

    /// Reads a state written by [`DeliveryState::to_json`]; a part left out
    /// is empty.
    ///
    /// # Errors
    ///
    /// Text that is not a delivery state, or one over a part's limit, is
    /// an error of kind [`ErrorKind::Serde`] saying what kind of problem it
    /// is and where; serde_json's message is not kept, as it may quote a
    /// token.
    pub fn from_json(text: &str) -> Result<DeliveryState, Error> {
        serde_json::from_str(text).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                    "it is not valid JSON"
                }
                serde_json::error::Category::Eof => "it ends before the state does",
                serde_json::error::Category::Data => {
                    "a part is of the wrong shape, or over its limit"
                }
            };
            Error::new(
                ErrorKind::Serde,
                format!("the text is not a stored delivery state: {what}"),
            )
            .at(json_position(text, &e))
        })
    }
}

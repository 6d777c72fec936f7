//! Send adapters for [callhook]: one call sends one prepared
//! [`Outgoing`](callhook::Outgoing) with a real HTTP client and gives back
//! what the host records, so a host writes no resolver, no address check
//! and no mapping of the client's result of its own.
//!
//! Two adapters, each behind a feature (both on by default):
//! - [`AsyncSender`] (feature `reqwest`): reqwest on tokio;
//! - [`BlockingSender`] (feature `ureq`): ureq, on the calling thread.
//!
//! Both give the same guarantees:
//! - **Address policy after DNS.** Every address a host name resolves to is
//!   checked with the registry's
//!   [`address_policy`](callhook::Registry::address_policy) before anything
//!   connects; a name with one refused address is refused whole (a name that
//!   mixes public and internal addresses is how DNS rebinding gets in). A URL
//!   whose host is an IP literal is checked before connecting, as no
//!   resolver sees it. A refusal is [`Attempted::is_address_refused`], which
//!   callhook gives up at once.
//! - **No proxy.** Proxy environment variables (`HTTP_PROXY`, `HTTPS_PROXY`,
//!   `ALL_PROXY`, lower case too) are ignored: a proxy resolves the name
//!   itself, past the check.
//! - **No redirect.** A 3xx is the answer, never a new target.
//! - **The service's timeout** ([`Registry::request_timeout`](callhook::Registry::request_timeout)),
//!   for the whole attempt: connecting, sending and reading the answer.
//! - **Certificates.** Mozilla's roots, plus the extra roots and the client
//!   certificate given in [`Options`].
//! - **The outcome.** An owned [`Attempted`]: the status, headers, latency
//!   and first bytes of the response, or a transport error in fixed words
//!   ([`Attempted::error`]), or refused by the policy;
//!   [`Attempted::outcome`] is the [`callhook::Outcome`] to record.
//! - **Events.** A `tracing` event per attempt (target `callhook_send`),
//!   naming the service, webhook, delivery and origin, never the URL's path
//!   or query (they may hold secrets and personal data).
//!
//! ```no_run
//! # #[cfg(feature = "ureq")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use callhook::{Call, Catalog, Config, DeliveryState, Envelope, Event, Registry};
//! use callhook_send::{BlockingSender, Options};
//!
//! let config = Config::from_json(r#"{"services": [], "webhooks": []}"#)?;
//! let registry = Registry::from_config(&config, Catalog::standard().clone())?;
//! let call = Call::from_json(r#"{"call_id": "c1"}"#)?;
//! let sender = BlockingSender::new(Options::new())?;
//! let mut state = DeliveryState::default();
//! let now = chrono::Utc::now();
//! for mut outgoing in registry.dispatch(Event::CallHangup, &call, now).requests {
//!     let mut envelope = Envelope::new(&outgoing, now);
//!     if envelope.admit(&registry, &mut state, now)?.is_some() {
//!         continue; // a paused endpoint or a superseded update: not sent
//!     }
//!     registry.prepare(&mut outgoing, now, &state.tokens)?;
//!     let attempted = sender.send(&registry, &outgoing)?;
//!     let decision = envelope.record_in(&registry, attempted.outcome(), chrono::Utc::now(), &mut state)?;
//!     println!("{decision:?}");
//! }
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "ureq"))]
//! # fn main() {}
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
// With neither adapter on, what they share has no user; such a build only
// checks that the crate builds.
#![cfg_attr(not(any(feature = "reqwest", feature = "ureq")), allow(dead_code))]

mod attempted;
mod guard;
mod limits;
mod options;
#[cfg(feature = "reqwest")]
mod reqwest_sender;
mod trace;
#[cfg(feature = "ureq")]
mod ureq_sender;

pub use attempted::Attempted;
pub use limits::{RESPONSE_READ_LIMIT, RESPONSE_START_LIMIT};
pub use options::Options;
#[cfg(feature = "reqwest")]
pub use reqwest_sender::AsyncSender;
#[cfg(feature = "ureq")]
pub use ureq_sender::BlockingSender;

use std::fmt;

/// Why a sender could not be built, or an attempt not started.
///
/// What happens to an attempt once started (refused, timed out, answered)
/// is never an error: it is the [`Attempted`] value.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The registry has no such service (the delivery names one removed
    /// since), so there is no timeout to send with.
    Registry(callhook::Error),
    /// A certificate or key given in [`Options`] could not be read.
    Certificate(String),
    /// The HTTP client could not be built with these options.
    Client(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Registry(e) => write!(f, "{e}"),
            Error::Certificate(message) => write!(f, "certificate: {message}"),
            Error::Client(message) => write!(f, "the HTTP client cannot be built: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Registry(e) => Some(e),
            Error::Certificate(_) | Error::Client(_) => None,
        }
    }
}

impl From<callhook::Error> for Error {
    fn from(e: callhook::Error) -> Error {
        Error::Registry(e)
    }
}

//! # callhook
//!
//! Telephony webhooks without a client. callhook turns what a call-center,
//! PBX or voice platform knows about its calls into the HTTP requests that
//! tell other systems (CRMs, billing, dashboards) about them:
//!
//! - [`Event`]s: the points in a call's life that trigger webhooks
//!   (`Call:Hangup`, `Agent Termination`, ...);
//! - [`CallData`] and the field [`Catalog`]: the typed values of a call;
//! - [`template`]s with `#field#` or `[[field]]` placeholders, compiled once
//!   and rendered many times, escaping each value for the context it lands
//!   in (JSON, XML, form, URL, header).
//!
//! The library does no I/O: no network, no clock, no files. Time is passed in;
//! requests are returned as values for the host to send with the client it
//! already has.
//!
//! ```
//! use callhook::template::{Context, Options, Template};
//! use callhook::CallData;
//!
//! // RingCX's JSON body, compiled and checked once...
//! let body = Template::compile(
//!     r##"{"agentId": "#agent_id#", "callStart": "#call_start#"}"##,
//!     Context::Json,
//!     &Options::default(),
//! )?;
//! // ...and rendered for each call.
//! let call = CallData::from_json(&serde_json::json!({
//!     "agent_id": "1001",
//!     "call_start": "2020-04-22 00:00:00.0000",
//! }))?;
//! assert_eq!(
//!     body.render_string(&call)?,
//!     r#"{"agentId": "1001", "callStart": "2020-04-22 00:00:00.0000"}"#
//! );
//! # Ok::<(), callhook::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]

pub mod auth;
pub mod body;
pub mod delivery;
mod error;
pub mod event;
pub mod field;
pub mod registry;
pub mod request;
pub mod service;
pub mod signing;
pub mod template;
pub mod webhook;

pub use delivery::{Decision, Envelope, Outcome, RetryPolicy};
pub use error::{Error, ErrorKind, Position};
pub use event::{Event, EventSet};
pub use field::{Call, CallData, Catalog, FieldSpec, FieldType, Value};
pub use registry::{Dispatch, Outgoing, Registry};
pub use service::{Config, Method, Service, ServiceConfig, Services};
pub use template::{Context, Format, Missing, Options, Syntax, Template};
pub use webhook::{RealtimeReceiver, WebhookConfig};

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

//! # callhook
//!
//! Telephony webhooks without a client. callhook turns what a call-center,
//! PBX or voice platform knows about its calls into the HTTP requests that
//! tell other systems (CRMs, billing, dashboards) about them, correct to the
//! byte and escaped for wherever each value lands.
//!
//! The library does no I/O: no network, no clock, no files. Time is passed
//! in; requests are returned as [`Request`] values (`http::Request<Vec<u8>>`)
//! for the host to send with the client it already has.
//!
//! # Contents
//!
//! 1. [The flow, end to end](#the-flow-end-to-end)
//! 2. [Configuration](#configuration): [`Config`], [`ServiceConfig`],
//!    [`WebhookConfig`], [`BodyConfig`], [`Auth`], [`SigningConfig`], [`Id`]
//! 3. [Calls and fields](#calls-and-fields): [`Call`], [`CallData`],
//!    [`Value`], [`Catalog`], [`Event`]
//! 4. [Templates](#templates): the [`template`] module
//! 5. [Delivery](#delivery): [`Registry::sign`], [`Envelope`],
//!    [`RetryPolicy`], the [`signing`] module
//! 6. [Errors](#errors): [`Error`], [`ErrorKind`]
//!
//! # The flow, end to end
//!
//! Configuration is compiled once into a [`Registry`]; each event on a call
//! is dispatched into unsigned requests; each attempt signs its request
//! with its own time, the host sends it, and what the endpoint answered
//! decides, through the [`RetryPolicy`], what comes next. A request that
//! must wait is kept as an [`Envelope`] in the host's own store.
//!
//! ```
//! use callhook::{Call, Catalog, Config, Decision, Envelope, Event, Outcome, Registry};
//!
//! // 1. Configuration, compiled and checked once: every template, URL,
//! //    header and secret. Errors name the service, the field and the column.
//! let config = Config::from_json(include_str!("../examples/configs/signed.json"))?;
//! let registry = Registry::from_config(&config, Catalog::standard().clone())?;
//!
//! // 2. A call ends: dispatch the event. Only subscribed webhooks fire.
//! let call = Call::from_json(include_str!("../examples/calls/pbx-call.json"))?;
//! let at = "2024-12-02T21:11:37Z".parse().unwrap();
//! let mut dispatch = registry.dispatch(Event::CallHangup, &call, at);
//! let mut outgoing = dispatch.requests.remove(0);
//!
//! // 3. Keep it in the host's outbox, so a crashed worker loses nothing.
//! let mut envelope = Envelope::new(&outgoing, at);
//!
//! // 4. Sign it for this attempt, and send it with any HTTP client.
//! registry.sign(&mut outgoing, at)?;
//! let request: callhook::Request = outgoing.request;
//! assert_eq!(request.method(), "POST");
//! assert!(request.headers().contains_key("webhook-signature"));
//!
//! // 5. The endpoint answered 503: the policy says when to try again.
//! let policy = registry.retry_policy(&envelope.service)?;
//! let headers = http::HeaderMap::new();
//! let answered = Outcome::response(http::StatusCode::SERVICE_UNAVAILABLE, &headers);
//! let Decision::Retry { at: retry_at } = envelope.record(&policy, answered, at) else {
//!     panic!("a 503 is retried");
//! };
//!
//! // 6. Later, any worker turns the envelope back into a request, signed
//! //    for that attempt by the same call.
//! let mut retry = envelope.to_outgoing()?;
//! registry.sign(&mut retry, retry_at)?;
//! assert_eq!(retry.request.body(), request.body());
//! # Ok::<(), callhook::Error>(())
//! ```
//!
//! # Configuration
//!
//! A [`Config`] holds services and webhooks, from JSON ([`Config::from_json`])
//! or any serde format (TOML included). A [`ServiceConfig`] is one web
//! service: method, URL template, [`BodyConfig`] (form, JSON, XML, SOAP,
//! none), headers, [`Auth`] with [`Secret`]s that never print, signing and
//! retry policy. A [`WebhookConfig`] binds one [`Event`] to one service for
//! the scopes (environments, campaigns, queues) it subscribes to. Services
//! and webhooks are named by UUIDs ([`Id`]), and each type a host stores
//! writes and reads its own JSON (`to_json`, `from_json`).
//! [`Registry::from_config`] compiles it all; an invalid configuration never
//! half-loads, and the registry then edits services and webhooks one at a
//! time.
//!
//! A single [`Service`] also builds requests on its own
//! ([`Service::request`]), shows them with secrets redacted
//! ([`Service::preview`]) and keeps debug records ([`Service::debug_record`]).
//!
//! # Calls and fields
//!
//! A [`Call`] is a call as the host reports it: its id, its scopes, its
//! [`CallData`] and the data of each agent segment. [`Value`]s are typed
//! (text, numbers, booleans, timestamps with their offset, durations), read
//! from JSON or from the host's own `Serialize` struct and checked against a
//! [`Catalog`] of known fields ([`FieldSpec`], [`FieldType`]).
//!
//! # Templates
//!
//! Every URL, body and header is a template with `#field#` or `[[field]]`
//! placeholders, compiled once by one compiler into one form and rendered
//! by one loop into the caller's buffer, escaping every value for the
//! context it lands in. The [`template`] module uses that engine directly.
//!
//! # Delivery
//!
//! [`Registry::sign`] signs a request for one attempt (Standard Webhooks or
//! Twilio-style, see [`signing`], which also verifies on the receiving
//! side). [`RetryPolicy::decide`] is pure: delivered, retry at a time, give
//! up, or disable the URL or webhook it names, reading statuses as the
//! Standard Webhooks specification does. [`Endpoints`] keeps each
//! endpoint's health (a circuit breaker, throttles, the rules that disable
//! a webhook, per service's [`HealthPolicy`]) and [`Sequences`] the
//! realtime updates delivered, so an older one is skipped. An [`Envelope`] carries one delivery
//! between attempts, as JSON ([`Envelope::to_json`], and back with
//! [`Envelope::into_outgoing`]), under its [`DeliveryId`], and
//! [`RealtimeReceiver`] sorts realtime updates for receivers.
//!
//! # Errors
//!
//! Every fallible function returns [`Error`]: an [`ErrorKind`] to match on,
//! and a message that names the service, the field path and the line and
//! column, with a "did you mean" for misspelt names and the underlying
//! crate's error as its source.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(
    rust_2018_idioms,
    unreachable_pub,
    clippy::missing_errors_doc,
    clippy::must_use_candidate
)]

// Imports run one way, down this list: each module uses only those above it.
mod error;
pub mod limits;
mod version;
mod secret;
mod request;
mod id;
mod event;
mod value;
mod address;
mod format;
mod phone;
mod zone;
mod catalog;
mod call;
pub mod template;
mod auth;
mod body;
pub mod signing;
mod signer;
mod endpoint;
mod retry;
mod health;
mod ordering;
mod preview;
mod service;
mod condition;
mod webhook;
mod config;
mod dispatch;
mod registry;
mod envelope;
mod receiver;
#[cfg(feature = "schema")]
mod schema;

pub use address::AddressPolicy;
pub use auth::jwt::{JwtAlgorithm, JwtAuth};
pub use auth::oauth2::{
    Assertion, ClientAuth, Grant, OAuth2Auth, TokenCache, TokenFields, TokenParameter, TokenRequest,
};
pub use auth::{Auth, TokenPlacement};
pub use body::{BodyConfig, Pair, SoapVersion};
pub use call::{Call, CallData};
pub use catalog::{Catalog, FieldSpec};
pub use condition::{Condition, Unmet};
pub use config::Config;
pub use dispatch::{Dispatch, Explanation, Outgoing, Verdict};
pub use endpoint::Endpoint;
pub use envelope::{DeliveryState, Envelope, LoggedAttempt, StoredHeader, StoredRequest};
pub use error::{Error, ErrorKind, Position};
pub use event::{Event, EventSet, EventSpec};
pub use health::{
    Admission, Breaker, BreakerState, EndpointHealth, Endpoints, FailureWindow, HealthPolicy,
    HealthVerdict,
};
pub use id::{DeliveryId, Id};
pub use ordering::Sequences;
pub use preview::Preview;
pub use receiver::{RealtimeReceiver, RealtimeUpdate};
pub use registry::{Prepared, Registry};
pub use request::Request;
pub use retry::{
    Attempt, Decision, DisableReason, DisableTarget, GiveUp, Outcome, RetryPolicy, Skip,
};
#[cfg(feature = "schema")]
pub use schema::config_schema;
pub use secret::{Secret, REDACTED};
pub use service::{Method, Service, ServiceConfig, USER_AGENT};
pub use signer::{HmacEncoding, HmacHash, HmacPreset, HmacSigning, SignatureLayout, SigningConfig};
pub use template::options::{Missing, Syntax};
pub use value::{FieldType, Value};
pub use version::FORMAT_VERSION;
pub use webhook::{WebhookConfig, WebhookRow};

// Hosts share a registry between threads (a snapshot for dispatch while an
// edit is made) and move requests, envelopes and errors across them.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Registry>();
    shared::<Service>();
    shared::<Outgoing>();
    shared::<Envelope>();
    shared::<Error>();
};

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

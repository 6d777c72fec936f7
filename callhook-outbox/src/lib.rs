//! A durable outbox for [callhook]: a dispatch's envelopes are written to
//! SQLite in one transaction, workers claim due rows in batches under a
//! lease, send them, and record each attempt; a worker that dies (even
//! killed with `SIGKILL`) leaves its rows to be claimed again when their
//! leases expire.
//!
//! Time is always passed in (`now`): nothing here reads a clock.
//!
//! ```
//! use callhook::{Call, CallData, Catalog, Config, Envelope, Event, Outcome, Registry};
//! use callhook_outbox::{Options, Outbox, Worker, WorkerOptions};
//!
//! let registry = Registry::from_config(&Config::from_json(r#"{
//!     "services": [{"id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "crm",
//!         "method": "POST", "url": "https://crm.example.com/calls",
//!         "body": {"kind": "json", "template": "{}"}}],
//!     "webhooks": [{"id": "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", "event": "Call:Hangup",
//!         "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "scopes": ["*"]}]
//! }"#)?, Catalog::standard().clone())?;
//! let dir = tempfile::tempdir().unwrap();
//! let mut outbox = Outbox::open(dir.path().join("outbox.db"), Options::default())?;
//! let now = "2024-12-02T21:11:37Z".parse().unwrap();
//!
//! // Dispatch: every envelope, in one transaction.
//! let dispatch = registry.dispatch(Event::CallHangup, &Call::new("call-1", CallData::new()), now);
//! let envelopes: Vec<Envelope> = dispatch.requests.iter().map(|o| Envelope::new(o, now)).collect();
//! assert_eq!(outbox.enqueue(&envelopes)?, 1);
//!
//! // A worker: claim (admit, prepare), the host sends, finish (record,
//! // one commit for the rows and the delivery state).
//! let mut worker = Worker::new("worker-1", WorkerOptions::default());
//! let batch = worker.claim(&mut outbox, &registry, now)?;
//! let headers = http::HeaderMap::new();
//! let outcomes: Vec<_> = batch
//!     .to_send()
//!     .map(|(i, _request)| (i, Outcome::response(http::StatusCode::NO_CONTENT, &headers)))
//!     .collect();
//! let finish = worker.finish(&mut outbox, &registry, batch, &outcomes, now)?;
//! assert_eq!(finish.counts.delivered, 1);
//! assert_eq!(outbox.depth()?, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the default feature `send`, [`Worker::run_blocking`] is the whole
//! loop on callhook-send's blocking adapter.
//!
//! See the README for the durability each setting promises.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
pub mod limits;
mod operator;
mod outbox;
#[cfg(feature = "postgres")]
pub mod postgres;
mod schema;
mod store;
mod worker;

pub use error::{Error, ErrorKind};
pub use operator::DeadLetter;
pub use outbox::{Claimed, Durability, Finished, Options, Outbox, RowState, Stats};
/// The rusqlite this crate is built on, for [`Outbox::enqueue_in`]'s
/// transaction and [`Outbox::connection_mut`].
pub use rusqlite;
pub use schema::SCHEMA_VERSION;
pub use store::Store;
#[cfg(feature = "send")]
pub use worker::IDLE_POLL;
pub use worker::{Batch, Counters, Finish, Worker, WorkerOptions, Written, RELEASE_DELAY};

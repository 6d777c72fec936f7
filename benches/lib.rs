//! Benchmarks and sending examples for callhook; nothing to use here.
//!
//! - `benches/instructions.sh` (needs `valgrind`): instructions and
//!   allocations per operation of the cases in `benches/instructions.rs`,
//!   each against its baseline, in one table.
//! - `cargo bench -p callhook-benches --bench render` (also `request`,
//!   `dispatch`): criterion benchmarks against baselines in the same run.
//! - `cargo bench -p callhook-benches --bench outbox`: deliveries per
//!   second sent directly and through `callhook-outbox` (SQLite; and
//!   PostgreSQL with `--features postgres` under `bash .ci/postgres`), with
//!   each stage's cost; the outbox README's "Performance".
//! - `cargo run -p callhook-benches --example send_blocking` (also
//!   `send_async`, `delivery_loop`): requests sent with the send adapters
//!   (`callhook-send`) to a receiver on 127.0.0.1.

use callhook::{Catalog, Config, Event, Registry, WebhookConfig};

/// The PBX seed's registry (6 webhooks), plus `extra` Call:Hangup webhooks
/// on the same service subscribed to other environments, so exactly one
/// webhook matches the seed call whatever `extra` is: the dispatch cases of
/// `dispatch.rs` and `instructions.rs`.
pub fn pbx_registry_with(extra: usize) -> Registry {
    let mut config =
        Config::from_json(include_str!("../examples/configs/pbx.json")).expect("seed config");
    let service = config.webhooks[2].service.clone();
    let created_at = config.webhooks[2].created_at;
    config.webhooks.extend((0..extra).map(|i| {
        let mut webhook = WebhookConfig::new(
            format!("00000000-0000-4000-8000-{i:012x}"),
            Event::CallHangup,
            service.clone(),
        )
        .with_scope(format!("ENV{i}"));
        webhook.created_at = created_at;
        webhook
    }));
    Registry::from_config(&config, Catalog::standard().clone()).expect("loads")
}

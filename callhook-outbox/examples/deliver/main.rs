//! The whole pipeline in one command:
//!
//! `cargo run -p callhook-outbox --example deliver`
//!
//! Loads `config.json` (beside this file: three services, one of them an
//! endpoint that always fails), dispatches a stream of 500 calls into a
//! SQLite outbox in a temporary directory (each call's webhooks in one
//! transaction), and runs a worker (`Worker::run_blocking` with
//! callhook-send's `BlockingSender`) that delivers them to local receivers
//! (`receiver.rs`) with retries, while a progress line runs on stderr. At
//! the end it prints what was delivered, retried, given up and disabled,
//! and the dead letters' reasons. The database is kept, for `sqlite3`.
//!
//! The configuration names its receivers `RECEIVER` and `FAILING`, which
//! are replaced with the local receivers' addresses (ports chosen at run
//! time).

mod receiver;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callhook::{Call, CallData, Catalog, Config, Envelope, Event, Registry};
use callhook_outbox::{Counters, Options, Outbox, RowState, Stats, Worker, WorkerOptions};
use callhook_send::{BlockingSender, Options as SendOptions};
use chrono::Utc;

const CALLS: u64 = 500;
/// The calls come in over about this long.
const DISPATCH_OVER: Duration = Duration::from_secs(3);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seen = receiver::Seen::default();
    let ok = receiver::start(false, Arc::clone(&seen))?;
    let failing = receiver::start(true, Arc::clone(&seen))?;
    let config = include_str!("config.json")
        .replace("RECEIVER", &ok.to_string())
        .replace("FAILING", &failing.to_string());
    let config = Config::from_json(&config)?;
    let names: BTreeMap<String, String> = config
        .services
        .iter()
        .map(|s| (s.id.to_string(), s.name.to_string()))
        .collect();
    let registry = Registry::from_config(&config, Catalog::standard().clone())?;

    let dir = std::env::temp_dir().join(format!("callhook-deliver-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("outbox.db");
    eprintln!("outbox: {}", db.display());
    let mut outbox = Outbox::open(&db, Options::default())?;

    // The dispatcher: its own connection to the same file, one
    // transaction per call (all of its webhooks or none).
    let enqueued = Arc::new(AtomicU64::new(0));
    let dispatched = Arc::new(AtomicBool::new(false));
    let dispatcher = {
        let (registry, db) = (registry.clone(), db.clone());
        let (enqueued, dispatched) = (Arc::clone(&enqueued), Arc::clone(&dispatched));
        std::thread::spawn(move || -> Result<(), callhook_outbox::Error> {
            let mut outbox = Outbox::open(&db, Options::default())?;
            let pause = DISPATCH_OVER / u32::try_from(CALLS).unwrap_or(u32::MAX);
            for n in 0..CALLS {
                let data = CallData::new()
                    .with("uuid", format!("6f1d2c3b-0000-4000-8000-{n:012}"))
                    .with("duration", 30 + n % 600);
                let call = Call::new(format!("call-{n}"), data);
                let now = Utc::now();
                let dispatch = registry.dispatch(Event::CallHangup, &call, now);
                let envelopes: Vec<Envelope> = dispatch
                    .requests
                    .iter()
                    .map(|o| Envelope::new(o, now))
                    .collect();
                let added = outbox.enqueue(&envelopes)?;
                enqueued.fetch_add(added as u64, Ordering::Relaxed);
                std::thread::sleep(pause);
            }
            dispatched.store(true, Ordering::Release);
            Ok(())
        })
    };

    let sender = BlockingSender::new(SendOptions::new())?;
    let mut worker = Worker::new(
        "deliver-1",
        WorkerOptions::default()
            .with_batch(64)
            .with_lease(Duration::from_secs(10)),
    );
    let started = Instant::now();
    let mut shown = Instant::now();
    let counters = worker.run_blocking(&mut outbox, &registry, &sender, Utc::now, |c, stats| {
        if shown.elapsed() >= Duration::from_millis(100) {
            shown = Instant::now();
            progress(c, stats, started);
        }
        // Done once every delivery enqueued has ended: the counters are
        // exact, where the stats may be a second old.
        let ended = c.delivered + c.given_up + c.disabled + c.skipped;
        !(dispatched.load(Ordering::Acquire) && ended >= enqueued.load(Ordering::Relaxed))
    })?;
    let stats = outbox.stats(Utc::now())?;
    progress(&counters, &stats, started);
    eprintln!();
    dispatcher.join().map_err(|_| "the dispatcher panicked")??;

    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{CALLS} calls, {} deliveries in {seconds:.1} s",
        enqueued.load(Ordering::Relaxed)
    );
    println!("  delivered  {:>5}", counters.delivered);
    println!(
        "  retried    {:>5}  (failed attempts scheduled again)",
        counters.retried
    );
    println!(
        "  given up   {:>5}  (attempts exhausted: dead letters)",
        counters.given_up
    );
    println!(
        "  disabled   {:>5}  (given up by the health rules: dead letters)",
        counters.disabled
    );
    println!(
        "  waited     {:>5}  (endpoint paused, no attempt)",
        counters.waited
    );
    println!(
        "  rows: {} delivered, {} given up, {} disabled, {} due",
        stats.delivered, stats.given_up, stats.disabled, stats.due
    );
    let mut seen: Vec<_> = seen
        .lock()
        .map_err(|_| "the receiver panicked")?
        .iter()
        .map(|(path, counts)| (path.clone(), *counts))
        .collect();
    seen.sort();
    for (path, (ok, failed)) in seen {
        println!("  receiver /{path}: {ok} answered 204, {failed} answered 500");
    }
    // Dead letters (the latest thousand) by service, with the latest reason: what an
    // operator reads before replaying (`Outbox::replay_webhook`).
    let mut by_webhook: BTreeMap<String, (RowState, usize, String)> = BTreeMap::new();
    for letter in outbox.dead_letters(callhook_outbox::limits::LIST)? {
        let name = letter
            .envelope
            .as_ref()
            .and_then(|e| names.get(&*e.service))
            .map_or_else(|| "?".to_owned(), Clone::clone);
        let entry = by_webhook
            .entry(name)
            .or_insert((letter.state, 0, letter.outcome.clone()));
        entry.1 += 1;
    }
    for (name, (state, n, outcome)) in by_webhook {
        println!(
            "  dead letters of {name:?}: {n}, {}: {outcome}",
            state.as_str()
        );
    }
    println!("the outbox is kept at {}", db.display());
    Ok(())
}

/// One progress line on stderr, drawn over the last.
fn progress(c: &Counters, stats: &Stats, started: Instant) {
    let rate = c.delivered as f64 / started.elapsed().as_secs_f64().max(0.001);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\rdelivered {:>5}  retried {:>4}  given up {:>4}  disabled {:>4}  queue {:>5}  {:>6.0}/s ",
        c.delivered,
        c.retried,
        c.given_up,
        c.disabled,
        stats.due + stats.claimed,
        rate
    );
    let _ = err.flush();
}

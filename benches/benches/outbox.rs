//! Deliveries per second, sent directly and through the outbox, in one run
//! (issue 23's "Performance").
//!
//! `cargo bench -p callhook-benches --bench outbox` (about a minute;
//! `-- --help` lists the settings).
//!
//! The fixed setup: one service whose JSON body renders to about 1 KB,
//! signed (Standard Webhooks), sent by reqwest through
//! `callhook_send::AsyncSender` with 16 requests in flight (so 16
//! keep-alive connections), to a hyper receiver on 127.0.0.1 answering
//! `204 No Content`. Two ways:
//!
//! - **direct**: render (dispatch), sign, send;
//! - **outbox**: dispatch into the SQLite outbox in batches (one
//!   transaction each), then a `callhook_outbox::Worker` claims a batch,
//!   prepares each delivery (`Envelope::admit`, current credentials and
//!   signature), the batch is sent with 16 in flight, and the worker
//!   records each attempt (`Envelope::record_in`) and finishes the batch
//!   in one transaction (`Store::finish_all`); one thread does it all in
//!   turn, so the stages' wall times add up;
//! - **pipelined**: the same, the store and worker on a thread of their
//!   own claiming the next batch and finishing the last while one sends;
//! - **PostgreSQL** (feature `postgres`, the server `CALLHOOK_OUTBOX_PG`
//!   names: `bash .ci/postgres cargo bench -p callhook-benches --features
//!   postgres --bench outbox`): 4 worker threads, each its own connection.
//!
//! Each configuration runs `--runs` times, interleaved, as this machine is
//! shared and noisy; the median and the spread (lowest to highest) are
//! printed, and the cost per delivery of each stage in the median run:
//! wall time between `Instant`s around the stage, divided by the
//! deliveries, so the stages add up to the whole. It is a throughput
//! program, not a timed test: nothing here asserts a rate.

use std::cell::Cell;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callhook::{
    Call, CallData, Catalog, Config, DeliveryState, Envelope, Event, Outgoing, Registry,
};
use callhook_outbox::{
    Batch, Claimed, Durability, Error as OutboxError, Finished, Options as OutboxOptions, Outbox,
    RowState, Stats, Store, Worker, WorkerOptions,
};
use callhook_send::{AsyncSender, Attempted, Options as SendOptions};
use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};

type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

/// Requests in flight at once, and so keep-alive connections.
const IN_FLIGHT: usize = 16;

const HELP: &str = "\
outbox benchmark: deliveries per second, direct and through the outbox

  --deliveries N     deliveries per run (20000)
  --runs N           runs of each configuration, interleaved (3)
  --batch N          rows claimed and finished per transaction (256)
  --enqueue-batch N  calls dispatched per enqueue transaction (100)
  --full             also the outbox at Durability::Full
  --only MODE        one configuration: direct, normal, pipelined, full or
                     postgres (feature `postgres`; by default with the
                     feature when CALLHOOK_OUTBOX_PG names a server, as
                     `bash .ci/postgres` sets it)
";

struct Settings {
    deliveries: usize,
    runs: usize,
    batch: usize,
    enqueue_batch: usize,
    modes: Vec<Mode>,
    /// The PostgreSQL server's connection string (`CALLHOOK_OUTBOX_PG`).
    pg: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Direct,
    /// One thread: claim, send, finish, in turn; the stages' wall times
    /// add up to the whole.
    Outbox(Durability),
    /// The store on a thread of its own, claiming and finishing while a
    /// batch sends (at `Durability::Normal`).
    Pipelined,
    /// PostgreSQL (feature `postgres`, the server `CALLHOOK_OUTBOX_PG`
    /// names): [`PG_WORKERS`] workers, each a thread with its own
    /// connection, runtime and client, sharing the 16 in flight.
    Postgres,
}

/// The PostgreSQL mode's workers.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
const PG_WORKERS: usize = 4;

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Outbox(Durability::Full) => "outbox, SQLite FULL",
            Mode::Outbox(_) => "outbox, SQLite NORMAL",
            Mode::Pipelined => "outbox, NORMAL, pipelined",
            Mode::Postgres => "outbox, PostgreSQL, 4 workers",
        }
    }
}

fn settings() -> Result<Settings> {
    let mut settings = Settings {
        deliveries: 20_000,
        runs: 3,
        batch: 256,
        enqueue_batch: 100,
        modes: vec![
            Mode::Direct,
            Mode::Outbox(Durability::Normal),
            Mode::Pipelined,
        ],
        pg: std::env::var("CALLHOOK_OUTBOX_PG").ok(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = || -> Result<usize> {
            let value = args.next().ok_or(format!("`{arg}` needs a number"))?;
            let n: usize = value
                .parse()
                .map_err(|_| format!("`{arg}`: `{value}` is not a number"))?;
            if n == 0 {
                return Err(format!("`{arg}` must be at least 1").into());
            }
            Ok(n)
        };
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every benchmark.
            "--bench" => {}
            "--deliveries" => settings.deliveries = number()?,
            "--runs" => settings.runs = number()?,
            "--batch" => settings.batch = number()?.min(callhook_outbox::limits::CLAIM_BATCH),
            "--enqueue-batch" => {
                settings.enqueue_batch = number()?.min(callhook_outbox::limits::ENQUEUE_BATCH);
            }
            "--full" => settings.modes.push(Mode::Outbox(Durability::Full)),
            "--only" => {
                let mode = args.next().ok_or("`--only` needs a mode")?;
                settings.modes = vec![match mode.as_str() {
                    "direct" => Mode::Direct,
                    "normal" => Mode::Outbox(Durability::Normal),
                    "full" => Mode::Outbox(Durability::Full),
                    "pipelined" => Mode::Pipelined,
                    "postgres" => Mode::Postgres,
                    _ => {
                        return Err(format!(
                            "unknown mode `{mode}`: direct, normal, pipelined, full or postgres"
                        )
                        .into())
                    }
                }];
            }
            "--help" | "-h" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument `{arg}`\n{HELP}").into()),
        }
    }
    if cfg!(feature = "postgres") && settings.pg.is_some() && settings.modes.len() > 1 {
        settings.modes.push(Mode::Postgres);
    }
    if settings.modes.contains(&Mode::Postgres) {
        if !cfg!(feature = "postgres") {
            return Err("the postgres mode needs `--features postgres`".into());
        }
        if settings.pg.is_none() {
            return Err("the postgres mode needs CALLHOOK_OUTBOX_PG (`bash .ci/postgres`)".into());
        }
    }
    Ok(settings)
}

/// The receiver: hyper's HTTP/1.1 server on its own thread and runtime,
/// answering every request `204 No Content` after reading its body, and
/// counting them.
fn start_receiver() -> Result<(SocketAddr, Arc<AtomicU64>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let received = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&received);
    std::thread::Builder::new()
        .name("receiver".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the receiver's runtime");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("the receiver's socket");
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = socket.set_nodelay(true);
                    let counter = Arc::clone(&counter);
                    tokio::task::spawn(async move {
                        let service = hyper::service::service_fn(
                            move |request: hyper::Request<hyper::body::Incoming>| {
                                let counter = Arc::clone(&counter);
                                async move {
                                    use http_body_util::BodyExt;
                                    // Read the whole body, as a receiver does.
                                    let body = request.into_body().collect().await;
                                    let status = if body.is_ok() {
                                        counter.fetch_add(1, Ordering::Relaxed);
                                        http::StatusCode::NO_CONTENT
                                    } else {
                                        http::StatusCode::BAD_REQUEST
                                    };
                                    let mut response =
                                        hyper::Response::new(http_body_util::Empty::<
                                            hyper::body::Bytes,
                                        >::new(
                                        ));
                                    *response.status_mut() = status;
                                    Ok::<_, Infallible>(response)
                                }
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                            .await;
                    });
                }
            });
        })?;
    Ok((addr, received))
}

/// About 1 KB of JSON: the call's fields and the delivery's, and a note of
/// fixed text standing in for the rest of a real call record.
fn registry(receiver: SocketAddr) -> Result<Registry> {
    let note = "lorem ipsum dolor sit amet ".repeat(30);
    let template = format!(
        "{{\"event\": \"#event#\", \"delivery\": \"#delivery_id#\", \"at\": \"#event_time#\", \
         \"call\": {{\"uuid\": \"#uuid#\", \"direction\": \"#direction#\", \"type\": \"#type#\"}}, \
         \"note\": \"{note}\"}}"
    );
    let config = serde_json::json!({
        "allowed_addresses": ["127.0.0.1"],
        "services": [{
            "id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "crm", "method": "POST",
            "url": format!("http://{receiver}/calls"),
            "body": {"kind": "json", "template": template},
            "signing": {"kind": "standard_webhooks",
                        "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}
        }],
        "webhooks": [{
            "id": "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", "event": "Call:Hangup",
            "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "scopes": ["*"]
        }]
    });
    Ok(Registry::from_config(
        &Config::from_json(&config.to_string())?,
        Catalog::standard().clone(),
    )?)
}

/// The `i`th call of run `run`: its own id, so its own delivery id.
fn call(run: usize, i: usize) -> Call {
    Call::new(
        format!("call-{run}-{i}"),
        CallData::new()
            .with("uuid", format!("bfd7e62a-5a55-4286-9453-{i:012}"))
            .with("direction", "incoming")
            .with("type", "did_to_que"),
    )
}

/// The one request a call's `Call:Hangup` makes.
fn dispatch(registry: &Registry, call: &Call) -> Result<Outgoing> {
    let mut dispatch = registry.dispatch(Event::CallHangup, call, Utc::now());
    if let Some((webhook, e)) = dispatch.errors.first() {
        return Err(format!("webhook {webhook} did not render: {e}").into());
    }
    dispatch.requests.pop().ok_or_else(|| "no request".into())
}

/// This thread's CPU time so far, from Linux's scheduler statistics (in
/// nanoseconds); zero where there are none. The machine is shared, so
/// wall time says how long a stage waited too: CPU time says what it
/// cost.
fn thread_cpu() -> Duration {
    cpu_of(Path::new("/proc/thread-self/schedstat"))
}

fn cpu_of(schedstat: &Path) -> Duration {
    std::fs::read_to_string(schedstat)
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// The CPU time of every thread of the process (the receiver's too).
fn process_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    tasks
        .filter_map(|task| Some(cpu_of(&task.ok()?.path().join("schedstat"))))
        .sum()
}

/// Wall and CPU time, added up over a run.
#[derive(Default, Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

/// A stage's start.
struct Mark {
    wall: Instant,
    cpu: Duration,
}

fn mark() -> Mark {
    Mark {
        wall: Instant::now(),
        cpu: thread_cpu(),
    }
}

impl Cost {
    fn minus(self, other: Cost) -> Cost {
        Cost {
            wall: self.wall.saturating_sub(other.wall),
            cpu: self.cpu.saturating_sub(other.cpu),
        }
    }
}

impl Mark {
    fn add_to(&self, cost: &mut Cost) {
        cost.wall += self.wall.elapsed();
        cost.cpu += thread_cpu().saturating_sub(self.cpu);
    }
}

/// Each stage's cost over a run, on the thread that drives it (the
/// receiver's is apart).
#[derive(Default, Clone)]
struct Stages {
    /// Direct: render (dispatch). Outbox: dispatch and enqueue.
    enqueue: Cost,
    claim: Cost,
    /// Direct: sign. Outbox: admit, turn back into a request, prepare.
    prepare: Cost,
    /// The client's side, on the driving thread.
    send: Cost,
    /// Outbox: `record_in` and `finish_all`.
    record: Cost,
}

#[derive(Clone)]
struct Report {
    mode: Mode,
    deliveries: usize,
    total: Duration,
    stages: Stages,
    /// Every thread's CPU time, the receiver's included.
    cpu: Duration,
}

impl Report {
    fn rate(&self) -> f64 {
        self.deliveries as f64 / self.total.as_secs_f64()
    }
}

fn sent_ok(attempted: &Attempted) -> Result<()> {
    match attempted.status() {
        Some(status) if status == http::StatusCode::NO_CONTENT => Ok(()),
        _ => Err(format!("the receiver did not take a delivery: {attempted:?}").into()),
    }
}

async fn direct(
    registry: &Registry,
    sender: &AsyncSender,
    run: usize,
    deliveries: usize,
) -> Result<Report> {
    // Render and sign are short: their wall time is their CPU time, and
    // reading the CPU clock twice per delivery would cost more than they.
    let render = Cell::new(Duration::ZERO);
    let sign = Cell::new(Duration::ZERO);
    let cpu = process_cpu();
    let start = mark();
    let mut sends = stream::iter(0..deliveries)
        .map(|i| {
            let (render, sign) = (&render, &sign);
            async move {
                let t = Instant::now();
                let mut outgoing = dispatch(registry, &call(run, i))?;
                let t2 = Instant::now();
                render.set(render.get() + (t2 - t));
                registry.sign(&mut outgoing, Utc::now())?;
                sign.set(sign.get() + t2.elapsed());
                let attempted = sender.send(registry, &outgoing).await?;
                sent_ok(&attempted)
            }
        })
        .buffer_unordered(IN_FLIGHT);
    while let Some(result) = sends.next().await {
        result?;
    }
    drop(sends);
    let mut whole = Cost::default();
    start.add_to(&mut whole);
    let (render, sign) = (render.get(), sign.get());
    let stages = Stages {
        enqueue: Cost {
            wall: render,
            cpu: render,
        },
        prepare: Cost {
            wall: sign,
            cpu: sign,
        },
        send: Cost {
            wall: whole.wall.saturating_sub(render + sign),
            cpu: whole.cpu.saturating_sub(render + sign),
        },
        ..Stages::default()
    };
    Ok(Report {
        mode: Mode::Direct,
        deliveries,
        total: whole.wall,
        stages,
        cpu: process_cpu().saturating_sub(cpu),
    })
}

/// A store that times what a worker asks of it, so a worker's claim
/// splits into the store's claim (with the state read) and the
/// preparing, and its finish into recording and `finish_all`.
struct Timed<S> {
    inner: S,
    claim: Cost,
    finish: Cost,
}

impl<S> Timed<S> {
    fn new(inner: S) -> Timed<S> {
        Timed {
            inner,
            claim: Cost::default(),
            finish: Cost::default(),
        }
    }
}

impl<S: Store> Store for Timed<S> {
    fn claim(
        &mut self,
        worker: &str,
        now: DateTime<Utc>,
        batch: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, OutboxError> {
        let t = mark();
        let claimed = self.inner.claim(worker, now, batch, lease);
        t.add_to(&mut self.claim);
        claimed
    }

    fn finish_all(
        &mut self,
        finished: &[Finished<'_>],
        state: Option<DeliveryState>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<RowState, OutboxError>>, OutboxError> {
        let t = mark();
        let written = self.inner.finish_all(finished, state, now);
        t.add_to(&mut self.finish);
        written
    }

    fn state(&mut self) -> Result<DeliveryState, OutboxError> {
        let t = mark();
        let state = self.inner.state();
        t.add_to(&mut self.claim);
        state
    }

    fn depth(&mut self) -> Result<u64, OutboxError> {
        self.inner.depth()
    }

    fn stats(&mut self, now: DateTime<Utc>) -> Result<Stats, OutboxError> {
        self.inner.stats(now)
    }
}

/// Sends a batch's deliveries, `in_flight` at a time.
async fn send_batch(
    sender: &AsyncSender,
    registry: &Registry,
    batch: &Batch,
    in_flight: usize,
) -> Result<Vec<(usize, Attempted)>> {
    let mut sends = stream::iter(batch.to_send())
        .map(|(index, outgoing)| async move {
            Ok::<_, callhook_send::Error>((index, sender.send(registry, outgoing).await?))
        })
        .buffer_unordered(in_flight);
    let mut attempts = Vec::with_capacity(batch.len());
    while let Some(attempt) = sends.next().await {
        let attempt = attempt?;
        sent_ok(&attempt.1)?;
        attempts.push(attempt);
    }
    Ok(attempts)
}

/// Records a batch's attempts and finishes it; how many were delivered.
fn finish_batch<S: Store>(
    worker: &mut Worker,
    store: &mut S,
    registry: &Registry,
    batch: Batch,
    attempts: &[(usize, Attempted)],
) -> Result<u64> {
    let outcomes = attempts
        .iter()
        .map(|(index, attempted)| (*index, attempted.outcome()))
        .collect::<Vec<_>>();
    let finish = worker.finish(store, registry, batch, &outcomes, Utc::now())?;
    if let Some(row) = finish.rows.iter().find(|row| row.result.is_err()) {
        return Err(format!("delivery {} not finished: {:?}", row.delivery, row.result).into());
    }
    Ok(finish.counts.delivered)
}

/// Dispatches every call into the outbox, `enqueue_batch` calls a
/// transaction.
fn fill(
    registry: &Registry,
    settings: &Settings,
    run: usize,
    mut enqueue: impl FnMut(&[Envelope]) -> Result<usize, OutboxError>,
) -> Result<()> {
    let mut i = 0;
    while i < settings.deliveries {
        let end = (i + settings.enqueue_batch).min(settings.deliveries);
        let now = Utc::now();
        let envelopes = (i..end)
            .map(|i| Ok(Envelope::new(&dispatch(registry, &call(run, i))?, now)))
            .collect::<Result<Vec<_>>>()?;
        enqueue(&envelopes)?;
        i = end;
    }
    Ok(())
}

fn through_outbox(
    runtime: &tokio::runtime::Runtime,
    registry: &Registry,
    sender: &AsyncSender,
    settings: &Settings,
    mode: Mode,
    run: usize,
    dir: &Path,
) -> Result<Report> {
    let (durability, pipelined) = match mode {
        Mode::Outbox(durability) => (durability, false),
        Mode::Pipelined => (Durability::Normal, true),
        Mode::Direct | Mode::Postgres => return Err("not an SQLite mode".into()),
    };
    let path = dir.join(format!(
        "outbox-{run}-{}.db",
        mode.name().replace([' ', ','], "")
    ));
    // The cap counts claimed rows per endpoint: here the batches the
    // worker holds, of which 16 deliveries are on the wire at a time.
    let options = OutboxOptions::default()
        .with_durability(durability)
        .with_max_in_flight(2 * settings.batch);
    let mut outbox = Outbox::open(&path, options)?;
    if let Ok(pragma) = std::env::var("BENCH_PRAGMA") {
        outbox.connection_mut().execute_batch(&pragma)?;
    }
    let mut stages = Stages::default();
    let cpu = process_cpu();
    let started = Instant::now();
    let t = mark();
    fill(registry, settings, run, |envelopes| {
        outbox.enqueue(envelopes)
    })?;
    t.add_to(&mut stages.enqueue);

    let mut store = Timed::new(outbox);
    let mut worker = Worker::new(
        "bench",
        WorkerOptions::default()
            .with_batch(settings.batch)
            .with_lease(Duration::from_secs(60)),
    );
    let mut claims = Cost::default();
    let mut finishes = Cost::default();
    let mut delivered = 0;
    let mut ended_threads = Duration::ZERO;
    if pipelined {
        // The store's thread claims the next batch and finishes the last
        // while this one sends: two batches out at a time.
        let (to_send, batches) = std::sync::mpsc::sync_channel::<Batch>(1);
        let (sent, results) = std::sync::mpsc::channel::<(Batch, Vec<(usize, Attempted)>)>();
        let (worker, store) = (&mut worker, &mut store);
        let store_thread = std::thread::scope(|scope| -> Result<_> {
            let store_thread = scope.spawn(move || -> Result<(Cost, Cost, u64, Duration)> {
                let (mut claims, mut finishes, mut delivered) =
                    (Cost::default(), Cost::default(), 0);
                let mut out = 0;
                let mut drained = false;
                loop {
                    while !drained && out < 2 {
                        let t = mark();
                        let batch = worker.claim(store, registry, Utc::now())?;
                        t.add_to(&mut claims);
                        if batch.is_empty() {
                            drained = true;
                        } else {
                            to_send.send(batch)?;
                            out += 1;
                        }
                    }
                    if out == 0 {
                        break;
                    }
                    let (batch, attempts) = results.recv()?;
                    out -= 1;
                    let t = mark();
                    delivered += finish_batch(worker, store, registry, batch, &attempts)?;
                    t.add_to(&mut finishes);
                }
                drop(to_send);
                // Counted here: a thread that ended is gone from
                // `process_cpu`.
                Ok((claims, finishes, delivered, thread_cpu()))
            });
            for batch in batches {
                let t = mark();
                let attempts = runtime.block_on(send_batch(sender, registry, &batch, IN_FLIGHT))?;
                t.add_to(&mut stages.send);
                sent.send((batch, attempts))?;
            }
            store_thread
                .join()
                .map_err(|_| "the store's thread panicked")?
        })?;
        let store_cpu;
        (claims, finishes, delivered, store_cpu) = store_thread;
        ended_threads += store_cpu;
    } else {
        loop {
            let t = mark();
            let batch = worker.claim(&mut store, registry, Utc::now())?;
            t.add_to(&mut claims);
            if batch.is_empty() {
                break;
            }
            let t = mark();
            let attempts = runtime.block_on(send_batch(sender, registry, &batch, IN_FLIGHT))?;
            t.add_to(&mut stages.send);
            let t = mark();
            delivered += finish_batch(&mut worker, &mut store, registry, batch, &attempts)?;
            t.add_to(&mut finishes);
        }
    }
    let total = started.elapsed();
    stages.claim = store.claim;
    stages.prepare = claims.minus(store.claim);
    stages.record = finishes;
    if delivered != settings.deliveries as u64 {
        return Err(format!("{delivered} of {} delivered", settings.deliveries).into());
    }
    if store.depth()? != 0 {
        return Err("rows left in the outbox".into());
    }
    Ok(Report {
        mode,
        deliveries: settings.deliveries,
        total,
        stages,
        cpu: process_cpu().saturating_sub(cpu) + ended_threads,
    })
}

/// The PostgreSQL outbox: dispatched into it in batches, then drained by
/// [`PG_WORKERS`] worker threads, each with its own connection, runtime
/// and client, and `IN_FLIGHT / PG_WORKERS` requests in flight. Stage
/// times are summed over the workers (wall time too, so it does not add
/// up to the whole).
#[cfg(feature = "postgres")]
fn through_postgres(registry: &Registry, settings: &Settings, run: usize) -> Result<Report> {
    use callhook_outbox::postgres::PgOutbox;

    let params = settings.pg.as_deref().ok_or("no CALLHOOK_OUTBOX_PG")?;
    let options = OutboxOptions::default().with_max_in_flight(2 * PG_WORKERS * settings.batch);
    let mut outbox = PgOutbox::connect(params, options.clone())?;
    // Each run on empty tables.
    outbox
        .client_mut()
        .batch_execute("TRUNCATE callhook_outbox_deliveries")?;
    let mut stages = Stages::default();
    let cpu = process_cpu();
    let started = Instant::now();
    let t = mark();
    fill(registry, settings, run, |envelopes| {
        outbox.enqueue(envelopes)
    })?;
    t.add_to(&mut stages.enqueue);

    let workers = std::thread::scope(|scope| {
        let handles = (0..PG_WORKERS)
            .map(|w| {
                let options = options.clone();
                scope.spawn(move || -> Result<(Stages, u64, Duration)> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let sender = AsyncSender::new(SendOptions::new())?;
                    let mut store = Timed::new(PgOutbox::connect(params, options)?);
                    let mut worker = Worker::new(
                        format!("bench-{w}"),
                        WorkerOptions::default()
                            .with_batch(settings.batch)
                            .with_lease(Duration::from_secs(60)),
                    );
                    let (mut stages, mut claims, mut delivered) =
                        (Stages::default(), Cost::default(), 0);
                    loop {
                        let t = mark();
                        let batch = worker.claim(&mut store, registry, Utc::now())?;
                        t.add_to(&mut claims);
                        if batch.is_empty() {
                            break;
                        }
                        let t = mark();
                        let attempts = runtime.block_on(send_batch(
                            &sender,
                            registry,
                            &batch,
                            IN_FLIGHT / PG_WORKERS,
                        ))?;
                        t.add_to(&mut stages.send);
                        let t = mark();
                        delivered +=
                            finish_batch(&mut worker, &mut store, registry, batch, &attempts)?;
                        t.add_to(&mut stages.record);
                    }
                    stages.claim = store.claim;
                    stages.prepare = claims.minus(store.claim);
                    Ok((stages, delivered, thread_cpu()))
                })
            })
            .collect::<Vec<_>>();
        handles
            .into_iter()
            .map(|handle| handle.join().map_err(|_| "a worker panicked")?)
            .collect::<Result<Vec<_>>>()
    })?;
    let total = started.elapsed();
    let mut delivered = 0;
    let mut ended_threads = Duration::ZERO;
    for (worker, n, cpu) in workers {
        for (sum, one) in [
            (&mut stages.claim, worker.claim),
            (&mut stages.prepare, worker.prepare),
            (&mut stages.send, worker.send),
            (&mut stages.record, worker.record),
        ] {
            sum.wall += one.wall;
            sum.cpu += one.cpu;
        }
        delivered += n;
        ended_threads += cpu;
    }
    if delivered != settings.deliveries as u64 {
        return Err(format!("{delivered} of {} delivered", settings.deliveries).into());
    }
    Ok(Report {
        mode: Mode::Postgres,
        deliveries: settings.deliveries,
        total,
        stages,
        cpu: process_cpu().saturating_sub(cpu) + ended_threads,
    })
}

#[cfg(not(feature = "postgres"))]
fn through_postgres(_: &Registry, _: &Settings, _: usize) -> Result<Report> {
    Err("the postgres mode needs `--features postgres`".into())
}

fn micros_per(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

fn median_of(reports: &[Report]) -> Report {
    let mut sorted = reports.to_vec();
    sorted.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    sorted[sorted.len() / 2].clone()
}

fn main() -> Result<()> {
    let settings = settings()?;
    let (receiver, received) = start_receiver()?;
    let registry = registry(receiver)?;
    let body = dispatch(&registry, &call(0, 0))?.request.body().len();
    let sender = AsyncSender::new(SendOptions::new())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    println!(
        "{} deliveries per run, {}-byte JSON body, {IN_FLIGHT} in flight, claim batch {}, \
         enqueue batch {}, {} runs each",
        settings.deliveries, body, settings.batch, settings.enqueue_batch, settings.runs
    );

    // Warm the connections and the allocator once.
    runtime.block_on(direct(
        &registry,
        &sender,
        usize::MAX,
        500.min(settings.deliveries),
    ))?;

    let mut reports: Vec<Vec<Report>> = vec![Vec::new(); settings.modes.len()];
    for run in 0..settings.runs {
        for (m, mode) in settings.modes.iter().enumerate() {
            let before = received.load(Ordering::Relaxed);
            let report = match *mode {
                Mode::Direct => {
                    runtime.block_on(direct(&registry, &sender, run, settings.deliveries))?
                }
                Mode::Postgres => through_postgres(&registry, &settings, run)?,
                Mode::Outbox(_) | Mode::Pipelined => through_outbox(
                    &runtime,
                    &registry,
                    &sender,
                    &settings,
                    *mode,
                    run,
                    dir.path(),
                )?,
            };
            let got = received.load(Ordering::Relaxed) - before;
            if got != settings.deliveries as u64 {
                return Err(format!("the receiver got {got} of {}", settings.deliveries).into());
            }
            println!(
                "run {}: {:<24} {:>8.0} deliveries/s ({:.2} s)",
                run + 1,
                mode.name(),
                report.rate(),
                report.total.as_secs_f64()
            );
            reports[m].push(report);
        }
    }

    println!(
        "\n{:<24} {:>10} {:>20}",
        "", "median/s", "spread (low-high)"
    );
    let mut medians = Vec::new();
    for runs in &reports {
        let median = median_of(runs);
        let low = runs.iter().map(Report::rate).fold(f64::INFINITY, f64::min);
        let high = runs.iter().map(Report::rate).fold(0.0, f64::max);
        println!(
            "{:<24} {:>10.0} {:>9.0} - {:<9.0}",
            median.mode.name(),
            median.rate(),
            low,
            high
        );
        medians.push(median);
    }
    if let Some(direct) = medians.iter().find(|r| r.mode == Mode::Direct) {
        for other in medians.iter().filter(|r| r.mode != Mode::Direct) {
            println!(
                "{} / direct: {:.0}%",
                other.mode.name(),
                100.0 * other.rate() / direct.rate()
            );
        }
    }

    println!(
        "\nµs per delivery by stage, the median run: wall time (the stages add up to the \
         whole) / CPU time of the driving thread"
    );
    println!(
        "{:<24} {:>17} {:>11} {:>11} {:>11} {:>14} {:>11} {:>10}",
        "", "dispatch+enqueue", "claim", "prepare", "send", "record+finish", "total", "all CPU"
    );
    for median in &medians {
        let s = &median.stages;
        let n = median.deliveries;
        let cell = |cost: Cost| {
            format!(
                "{:.1}/{:.1}",
                micros_per(cost.wall, n),
                micros_per(cost.cpu, n)
            )
        };
        let driving = [s.enqueue, s.claim, s.prepare, s.send, s.record]
            .iter()
            .map(|c| c.cpu)
            .sum::<Duration>();
        println!(
            "{:<24} {:>17} {:>11} {:>11} {:>11} {:>14} {:>11} {:>10.1}",
            median.mode.name(),
            cell(s.enqueue),
            cell(s.claim),
            cell(s.prepare),
            cell(s.send),
            cell(s.record),
            cell(Cost {
                wall: median.total,
                cpu: driving
            }),
            micros_per(median.cpu, n),
        );
    }
    println!(
        "(all CPU: every thread, the receiver's included; the machine has {} cores)",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!(
        "(direct: dispatch+enqueue is the render, prepare the signing; pipelined and \
         PostgreSQL: the stages overlap, so their wall times do not add up; PostgreSQL's \
         server's CPU is not counted)"
    );
    Ok(())
}

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
//!   transaction each), then a worker claims a batch, prepares each
//!   delivery (`Envelope::admit`, current credentials and signature),
//!   sends the batch with 16 in flight, records each attempt
//!   (`Envelope::record_in`) and finishes the batch in one transaction
//!   (`Store::finish_all`).
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
    Call, CallData, Catalog, Config, Decision, Envelope, Event, Outgoing, Prepared, Registry,
};
use callhook_outbox::{Durability, Finished, Options as OutboxOptions, Outbox, Store};
use callhook_send::{AsyncSender, Attempted, Options as SendOptions};
use chrono::Utc;
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
  --only MODE        one configuration: direct, normal or full
";

struct Settings {
    deliveries: usize,
    runs: usize,
    batch: usize,
    enqueue_batch: usize,
    modes: Vec<Mode>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Direct,
    Outbox(Durability),
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Direct => "direct",
            Mode::Outbox(Durability::Full) => "outbox, SQLite FULL",
            Mode::Outbox(_) => "outbox, SQLite NORMAL",
        }
    }
}

fn settings() -> Result<Settings> {
    let mut settings = Settings {
        deliveries: 20_000,
        runs: 3,
        batch: 256,
        enqueue_batch: 100,
        modes: vec![Mode::Direct, Mode::Outbox(Durability::Normal)],
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
                    _ => {
                        return Err(format!("unknown mode `{mode}`: direct, normal or full").into())
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

fn through_outbox(
    runtime: &tokio::runtime::Runtime,
    registry: &Registry,
    sender: &AsyncSender,
    settings: &Settings,
    durability: Durability,
    run: usize,
    dir: &Path,
) -> Result<Report> {
    let path = dir.join(format!("outbox-{run}-{durability:?}.db"));
    // The cap counts claimed rows per endpoint; the claim batch is what
    // the worker holds, and 16 of them are on the wire at a time.
    let options = OutboxOptions::default()
        .with_durability(durability)
        .with_max_in_flight(settings.batch);
    let mut outbox = Outbox::open(&path, options)?;
    let mut stages = Stages::default();
    let cpu = process_cpu();
    let started = Instant::now();
    let t = mark();

    // Dispatch: one transaction per batch of calls.
    let mut i = 0;
    while i < settings.deliveries {
        let end = (i + settings.enqueue_batch).min(settings.deliveries);
        let now = Utc::now();
        let envelopes = (i..end)
            .map(|i| Ok(Envelope::new(&dispatch(registry, &call(run, i))?, now)))
            .collect::<Result<Vec<_>>>()?;
        outbox.enqueue(&envelopes)?;
        i = end;
    }
    t.add_to(&mut stages.enqueue);

    // One worker: claim, prepare, send, record and finish, batch by batch.
    let lease = Duration::from_secs(60);
    let mut delivered = 0;
    loop {
        let t = mark();
        let now = Utc::now();
        let claimed = Store::claim(&mut outbox, "bench", now, settings.batch, lease)?;
        let mut state = Store::state(&mut outbox)?;
        t.add_to(&mut stages.claim);
        if claimed.is_empty() {
            break;
        }

        let t = mark();
        let mut envelopes = Vec::with_capacity(claimed.len());
        let mut decisions: Vec<Option<Decision>> = Vec::with_capacity(claimed.len());
        let mut outgoing = Vec::with_capacity(claimed.len());
        for (index, one) in claimed.iter().enumerate() {
            let mut envelope = one.envelope.clone();
            let admitted = envelope.admit(registry, &mut state, now)?;
            if admitted.is_none() {
                let mut request = envelope.to_outgoing()?;
                match registry.prepare(&mut request, now, &state.tokens)? {
                    Prepared::Ready => outgoing.push((index, request)),
                    // No OAuth2 in this setup.
                    _ => return Err("the delivery was not ready to send".into()),
                }
            }
            decisions.push(admitted);
            envelopes.push(envelope);
        }
        t.add_to(&mut stages.prepare);

        let t = mark();
        let attempts: Vec<(usize, Attempted)> = runtime.block_on(async {
            let mut sends = stream::iter(outgoing.iter())
                .map(|(index, request)| async move {
                    Ok::<_, callhook_send::Error>((*index, sender.send(registry, request).await?))
                })
                .buffer_unordered(IN_FLIGHT);
            let mut attempts = Vec::with_capacity(outgoing.len());
            while let Some(attempt) = sends.next().await {
                attempts.push(attempt?);
            }
            Ok::<_, callhook_send::Error>(attempts)
        })?;
        t.add_to(&mut stages.send);

        let t = mark();
        let now = Utc::now();
        for (index, attempted) in &attempts {
            sent_ok(attempted)?;
            let decision =
                envelopes[*index].record_in(registry, attempted.outcome(), now, &mut state)?;
            decisions[*index] = Some(decision);
        }
        let finished = claimed
            .iter()
            .zip(&envelopes)
            .zip(&decisions)
            .filter_map(|((claimed, envelope), decision)| {
                Some(Finished {
                    claimed,
                    envelope,
                    decision: decision.as_ref()?,
                })
            })
            .collect::<Vec<_>>();
        for result in Store::finish_all(&mut outbox, &finished, Some(state), now)? {
            result?;
            delivered += 1;
        }
        t.add_to(&mut stages.record);
    }
    let total = started.elapsed();
    if delivered != settings.deliveries {
        return Err(format!("{delivered} of {} delivered", settings.deliveries).into());
    }
    if Store::depth(&mut outbox)? != 0 {
        return Err("rows left in the outbox".into());
    }
    Ok(Report {
        mode: Mode::Outbox(durability),
        deliveries: settings.deliveries,
        total,
        stages,
        cpu: process_cpu().saturating_sub(cpu),
    })
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
                Mode::Outbox(durability) => through_outbox(
                    &runtime,
                    &registry,
                    &sender,
                    &settings,
                    durability,
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
    println!("(direct: dispatch+enqueue is the render, prepare the signing)");
    Ok(())
}

//! Renders web services for a call and prints the requests, without sending
//! them: a check before saving a service, as AVANSER's preview shows.
//!
//! ```text
//! cargo run --example preview -- --config FILE --call FILE [--service ID]
//!     [--event NAME [--explain] [--scope NAME]...] [--sign-at UNIX_SECONDS]
//!     [--format http|json] [--show-secrets]
//! cargo run --example preview -- --help
//! ```
//!
//! `--config` takes a JSON (or `.toml`) configuration such as
//! `examples/configs/ringcx.json`; `--call` a call such as
//! `examples/calls/ringcx-call.json`. Every enabled service is rendered, or
//! only the one named. Output is HTTP/1.1 text, or with `--format json` one
//! JSON object per line. Secrets print as `[redacted]` unless
//! `--show-secrets`. Errors in either file are all printed to stderr, and the
//! program exits 1; a usage error (an unknown argument, a missing value,
//! `--explain` or `--scope` without `--event`) exits 2, and `--help` prints
//! every option on stdout and exits 0.
//!
//! With `--event`, the call is dispatched through the webhooks of the
//! configuration instead: each request prints with its `webhook` and
//! `delivery` ids, as `Registry::preview` shows it (rendered again from the
//! call, secrets redacted, the `content-length` that is sent). `--scope`
//! (repeatable) replaces the call's scopes. For
//! `Call Status Change`, the call's `status` and `sequence` fields are the
//! update's. No matching webhook prints nothing on stdout and exits 0, and
//! says on stderr why each webhook did not fire; `--explain` prints that
//! for every webhook (as `# webhook` lines) before the requests.
//!
//! Secret references in the configuration (`{"secret_ref": "NAME"}`) are
//! read from the environment variable `NAME`.
//!
//! With `--event`, a service authenticating by OAuth2 (its own entry or a
//! named one) prints first the token request a host sends before it, with
//! no token cached (`Registry::prepare` with an empty `TokenCache`), its
//! secrets redacted; with `--sign-at` such a request stays unsigned, as
//! it would until the token is at hand. Credentials that exist only when a
//! delivery is signed (a JWT, an OAuth2 token) show as `[redacted]` where
//! they go, as does a named entry's.
//!
//! `--sign-at` signs each request, for services that sign, as if sent at
//! that time (and dispatches at that time); without it the current time is
//! used for dispatch and nothing is signed. Outside a dispatch
//! the delivery id signed is `preview_` and the call's id.

use std::process::ExitCode;

use callhook::Config;
use callhook::Preview;
use callhook::{Call, Catalog, Error, Event, Registry, TokenCache, Value, Verdict};

struct Args {
    config: String,
    call: String,
    service: Option<String>,
    event: Option<Event>,
    scopes: Vec<String>,
    sign_at: Option<chrono::DateTime<chrono::Utc>>,
    json: bool,
    show_secrets: bool,
    explain: bool,
}

const USAGE: &str = "usage: preview --config FILE --call FILE [--service ID] [--event NAME [--explain] [--scope NAME]...] [--sign-at UNIX_SECONDS] [--format http|json] [--show-secrets]";

/// What `--help` prints (on stdout, exit 0): the usage and every option.
const HELP: &str = "\
Renders the web services of a configuration for a call and prints the
requests, without sending them. Secrets print as `[redacted]`.

Options:
  --config FILE          the configuration: JSON, or TOML when FILE ends in
                         `.toml` (required); secret references
                         (`{\"secret_ref\": \"NAME\"}`) are read from the
                         environment variable NAME
  --call FILE            the call, as JSON: `id`, `scopes` and `data` (required)
  --service ID           only the service with this id (without it, every
                         enabled service; with `--event`, only this service's
                         requests)
  --event NAME           dispatch the call through the configuration's
                         webhooks for this event instead, printing each
                         request with its webhook and delivery ids
  --explain              with `--event`: first print, for every webhook, why
                         it fires or not (as `# webhook` lines)
  --scope NAME           with `--event`: a scope the call is in, replacing
                         the call's own scopes (repeatable)
  --sign-at UNIX_SECONDS sign each request, for services that sign, as if sent
                         at that time (and dispatch at that time)
  --format http|json     HTTP/1.1 text (the default), or one JSON object per
                         line
  --show-secrets         print secrets as they are sent
  -h, --help             print this help and exit

Exit status: 0 when every request rendered (or none fired), 1 when a file or
a request has an error (each printed to stderr), 2 on a usage error.";

/// Why the arguments give nothing to run.
enum Stop {
    /// `--help`: the help goes to stdout, and the program succeeds.
    Help,
    /// A usage error: the message and the usage go to stderr, exit 2.
    Usage(String),
}

impl From<String> for Stop {
    fn from(message: String) -> Stop {
        Stop::Usage(message)
    }
}

impl From<&str> for Stop {
    fn from(message: &str) -> Stop {
        Stop::Usage(message.to_owned())
    }
}

fn parse_args() -> Result<Args, Stop> {
    let mut args = std::env::args().skip(1);
    let (mut config, mut call, mut service, mut json, mut show_secrets, mut explain) =
        (None, None, None, false, false, false);
    let (mut event, mut scopes, mut sign_at) = (None, Vec::new(), None);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("`{name}` needs a value"));
        match arg.as_str() {
            "--config" => config = Some(value("--config")?),
            "--call" => call = Some(value("--call")?),
            "--service" => service = Some(value("--service")?),
            "--event" => {
                // A seed's event or one the configuration declares; the
                // registry checks which once it is loaded.
                event = Some(Event::named(&value("--event")?));
            }
            "--scope" => scopes.push(value("--scope")?),
            "--sign-at" => {
                let text = value("--sign-at")?;
                let seconds: i64 = text
                    .parse()
                    .map_err(|_| format!("`--sign-at` takes Unix seconds, not `{text}`"))?;
                sign_at = Some(
                    chrono::DateTime::from_timestamp(seconds, 0)
                        .ok_or(format!("`--sign-at` {seconds} is out of range"))?,
                );
            }
            "--format" => match value("--format")?.as_str() {
                "http" => json = false,
                "json" => json = true,
                other => {
                    return Err(
                        format!("unknown format `{other}`, expected `http` or `json`").into(),
                    )
                }
            },
            "--show-secrets" => show_secrets = true,
            "--explain" => explain = true,
            "--help" | "-h" => return Err(Stop::Help),
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    // Both act on a dispatch only: without `--event` they would be ignored,
    // and a check that silently checks less is worse than none.
    if event.is_none() {
        if explain {
            return Err("`--explain` needs `--event`: it explains which webhooks fire".into());
        }
        if !scopes.is_empty() {
            return Err("`--scope` needs `--event`: scopes choose the webhooks that fire".into());
        }
    }
    Ok(Args {
        config: config.ok_or("`--config` is required")?,
        call: call.ok_or("`--call` is required")?,
        service,
        event,
        scopes,
        sign_at,
        json,
        show_secrets,
        explain,
    })
}

fn read(path: &str) -> Result<String, Vec<String>> {
    std::fs::read_to_string(path).map_err(|e| vec![format!("cannot read `{path}`: {e}")])
}

/// Every problem of an error, one line each, prefixed with the file.
fn lines(path: &str, error: &Error) -> Vec<String> {
    if error.related().is_empty() {
        vec![format!("{path}: {error}")]
    } else {
        error
            .related()
            .iter()
            .map(|e| format!("{path}: {e}"))
            .collect()
    }
}

fn load_config(path: &str) -> Result<Registry, Vec<String>> {
    let text = read(path)?;
    let config: Config = if path.ends_with(".toml") {
        toml::from_str(&text).map_err(|e| vec![format!("{path}: {e}")])?
    } else {
        Config::from_json(&text).map_err(|e| lines(path, &e))?
    };
    // Secret references (`{"secret_ref": "NAME"}`) come from the
    // environment here; a host might read its vault instead.
    let mut config = config;
    config
        .resolve_secrets(|name| std::env::var(name).ok())
        .map_err(|e| lines(path, &e))?;
    Registry::from_config(&config, Catalog::standard().clone()).map_err(|e| lines(path, &e))
}

fn load_call(path: &str) -> Result<Call, Vec<String>> {
    let text = read(path)?;
    Call::from_json(&text).map_err(|e| lines(path, &e))
}

fn run(args: &Args) -> Result<Vec<Preview>, Vec<String>> {
    // Both files are checked before either error is reported.
    let (registry, mut call) = match (load_config(&args.config), load_call(&args.call)) {
        (Ok(r), Ok(c)) => (r, c),
        (r, c) => {
            return Err(r.err().into_iter().chain(c.err()).flatten().collect());
        }
    };
    if !args.scopes.is_empty() {
        call.scopes = args.scopes.clone();
    }
    if let Some(event) = &args.event {
        if registry.catalog().event(event).is_none() {
            let known: Vec<String> = registry
                .catalog()
                .events()
                .map(|e| format!("`{}`", e.name))
                .collect();
            return Err(vec![format!(
                "`{}` declares no event `{event}`; it knows {}",
                args.config,
                known.join(", ")
            )]);
        }
        return dispatch(&registry, event.clone(), &call, args);
    }
    let chosen: Vec<_> = match &args.service {
        Some(id) => vec![registry
            .service(id)
            .ok_or_else(|| vec![format!("no service `{id}` in `{}`", args.config)])?],
        None => registry
            .services()
            .into_iter()
            .filter(|s| s.is_enabled())
            .collect(),
    };
    let mut previews = Vec::new();
    let mut errors = Vec::new();
    for service in chosen {
        let built = match args.sign_at {
            None => service.preview(&call.data, args.show_secrets),
            Some(at) => service.request(&call.data).and_then(|mut request| {
                service.sign(&mut request, &format!("preview_{}", call.id), at)?;
                let signed = Preview::of(service.id(), &request, args.show_secrets);
                if args.show_secrets {
                    return Ok(signed);
                }
                // The body rendered again with only its secrets redacted,
                // and the headers signing added.
                let mut shown = service.preview(&call.data, false)?;
                with_headers_of(&mut shown, signed);
                Ok(shown)
            }),
        };
        match built {
            Ok(p) => previews.push(p),
            Err(e) => errors.extend(lines(&args.call, &e)),
        }
    }
    if errors.is_empty() {
        Ok(previews)
    } else {
        Err(errors)
    }
}

/// Dispatches through the registry's webhooks, as the platform would when
/// `event` happens to `call`.
fn dispatch(
    registry: &Registry,
    event: Event,
    call: &Call,
    args: &Args,
) -> Result<Vec<Preview>, Vec<String>> {
    // The host's clock: the library itself never reads one.
    let now = args
        .sign_at
        .unwrap_or_else(|| chrono::DateTime::from(std::time::SystemTime::now()));
    let realtime = registry
        .catalog()
        .event(&event)
        .is_some_and(|spec| spec.realtime);
    let status = match call.data.get("status") {
        Some(Value::Text(s)) => s.clone(),
        _ => "unknown".to_owned(),
    };
    let sequence = match call.data.get("sequence") {
        Some(Value::Integer(n)) => u64::try_from(*n).unwrap_or(1),
        _ => 1,
    };
    let (dispatched, shown) = if realtime {
        (
            registry.status_update(event.clone(), call, &status, sequence, now),
            registry.preview_status_update(event.clone(), call, &status, sequence, now),
        )
    } else {
        (
            registry.dispatch(event.clone(), call, now),
            registry.preview(event.clone(), call, now),
        )
    };
    // The requests as a person may see them, in dispatch's order: rendered
    // again from the call with secrets redacted. An outgoing request keeps
    // no call data, so its own preview shows no body unless asked to.
    let mut shown = shown.into_iter().filter_map(|(_, p)| p.ok());
    // Why each webhook does or does not fire: on stdout when asked, and a
    // summary on stderr when nothing fired.
    let explained = if realtime {
        registry.explain_status_update(event.clone(), call, &status, sequence, now)
    } else {
        registry.explain(event.clone(), call, now)
    };
    if args.explain {
        for e in &explained {
            println!(
                "# webhook {} (service {}): {}",
                e.webhook,
                e.service,
                verdict(&e.verdict)
            );
        }
        println!();
    }
    if dispatched.requests.is_empty() && dispatched.errors.is_empty() {
        eprintln!(
            "preview: no webhook fires for `{event}` on a call in scopes [{}]",
            call.scopes.join(", ")
        );
        for e in explained
            .iter()
            .filter(|e| !matches!(e.verdict, Verdict::OtherEvent(_)))
        {
            eprintln!("  webhook {}: {}", e.webhook, verdict(&e.verdict));
        }
        let other = explained
            .iter()
            .filter(|e| matches!(e.verdict, Verdict::OtherEvent(_)))
            .count();
        eprintln!("  {other} other webhook(s) are bound to other events (--explain lists them)");
    }
    let mut errors: Vec<String> = dispatched
        .errors
        .iter()
        .map(|(webhook, e)| format!("{}: webhook `{webhook}`: {e}", args.call))
        .collect();
    let mut previews = Vec::new();
    for mut outgoing in dispatched.requests {
        let redacted = shown.next();
        if args
            .service
            .as_ref()
            .is_some_and(|s| s.as_str() != &*outgoing.service)
        {
            continue;
        }
        // Dispatch leaves requests unsigned; signing is the first attempt's.
        // A host starts with no OAuth2 token: `prepare` then gives the
        // token request to send first (shown in the registry's preview),
        // and the request stays unsigned until a token is at hand.
        if let Some(at) = args.sign_at {
            if let Err(e) = registry.prepare(&mut outgoing, at, &TokenCache::new()) {
                errors.extend(lines(&args.call, &e));
                continue;
            }
        }
        let mut full = outgoing.preview(args.show_secrets);
        previews.push(match redacted {
            Some(mut redacted) if !args.show_secrets => {
                with_headers_of(&mut redacted, full);
                redacted
            }
            Some(redacted) => {
                // The token request as the registry shows it: redacted,
                // as the cache to fill is the host's, not this example's.
                full.token_request = redacted.token_request;
                full
            }
            None => full,
        });
    }
    if errors.is_empty() {
        Ok(previews)
    } else {
        Err(errors)
    }
}

/// Adds to `shown` the headers of `signed` it lacks: those signing added,
/// as the signed request's own preview shows them (sensitive values
/// redacted).
fn with_headers_of(shown: &mut Preview, signed: Preview) {
    for (name, value) in signed.headers {
        if !shown.headers.iter().any(|(n, _)| *n == name) {
            shown.headers.push((name, value));
        }
    }
}

/// A verdict in words.
fn verdict(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Fires => "fires".to_owned(),
        Verdict::OtherEvent(event) => format!("bound to `{event}`"),
        Verdict::ScopeNotSubscribed(scopes) => format!(
            "not subscribed to the call's scopes (subscribes to [{}])",
            scopes.join(", ")
        ),
        Verdict::WebhookDisabled => "disabled".to_owned(),
        Verdict::ServiceDisabled => "its service is disabled".to_owned(),
        Verdict::ConditionNotMet(unmet) => format!(
            "its condition is not met: {}",
            unmet
                .iter()
                .map(|u| format!(
                    "`{}` ({} is {}; wanted {})",
                    u.path,
                    u.field,
                    u.value
                        .as_deref()
                        .map_or("missing".to_owned(), |v| format!("`{v}`")),
                    u.expected
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        _ => format!("{verdict:?}"),
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(Stop::Help) => {
            println!("{USAGE}\n\n{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(Stop::Usage(message)) => {
            eprintln!("preview: {message}\n{USAGE}\n(`preview --help` describes each option)");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(previews) => {
            for (i, p) in previews.iter().enumerate() {
                if args.json {
                    println!("{}", p.to_json_line());
                } else {
                    if i > 0 {
                        println!();
                    }
                    println!("{}", p.to_http());
                }
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            ExitCode::FAILURE
        }
    }
}

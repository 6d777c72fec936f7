//! Renders web services for a call and prints the requests, without sending
//! them: a check before saving a service, as AVANSER's preview shows.
//!
//! ```text
//! cargo run --example preview -- --config FILE --call FILE [--service ID]
//!     [--format http|json] [--show-secrets]
//! ```
//!
//! `--config` takes a JSON (or `.toml`) configuration such as
//! `examples/configs/ringcx.json`; `--call` a call such as
//! `examples/calls/ringcx-call.json`. Every enabled service is rendered, or
//! only the one named. Output is HTTP/1.1 text, or with `--format json` one
//! JSON object per line. Secrets print as `[redacted]` unless
//! `--show-secrets`. Errors in either file are all printed to stderr, and the
//! program exits non-zero.

use std::process::ExitCode;

use callhook::request::{preview, Preview};
use callhook::service::Config;
use callhook::{Call, Catalog, Error, Services};

struct Args {
    config: String,
    call: String,
    service: Option<String>,
    json: bool,
    show_secrets: bool,
}

const USAGE: &str = "usage: preview --config FILE --call FILE [--service ID] [--format http|json] [--show-secrets]";

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut config, mut call, mut service, mut json, mut show_secrets) = (None, None, None, false, false);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("`{name}` needs a value"));
        match arg.as_str() {
            "--config" => config = Some(value("--config")?),
            "--call" => call = Some(value("--call")?),
            "--service" => service = Some(value("--service")?),
            "--format" => match value("--format")?.as_str() {
                "http" => json = false,
                "json" => json = true,
                other => return Err(format!("unknown format `{other}`, expected `http` or `json`")),
            },
            "--show-secrets" => show_secrets = true,
            "--help" | "-h" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Args {
        config: config.ok_or("`--config` is required")?,
        call: call.ok_or("`--call` is required")?,
        service,
        json,
        show_secrets,
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
        error.related().iter().map(|e| format!("{path}: {e}")).collect()
    }
}

fn load_config(path: &str) -> Result<Services, Vec<String>> {
    let text = read(path)?;
    let config: Config = if path.ends_with(".toml") {
        toml::from_str(&text).map_err(|e| vec![format!("{path}: {e}")])?
    } else {
        Config::from_json(&text).map_err(|e| lines(path, &e))?
    };
    Services::load(&config.services, Catalog::standard()).map_err(|e| lines(path, &e))
}

fn load_call(path: &str) -> Result<Call, Vec<String>> {
    let text = read(path)?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| vec![format!("{path}: {e}")])?;
    Call::from_json(&json).map_err(|e| lines(path, &e))
}

fn run(args: &Args) -> Result<Vec<Preview>, Vec<String>> {
    // Both files are checked before either error is reported.
    let (services, call) = match (load_config(&args.config), load_call(&args.call)) {
        (Ok(s), Ok(c)) => (s, c),
        (s, c) => {
            return Err(s.err().into_iter().chain(c.err()).flatten().collect());
        }
    };
    let chosen: Vec<_> = match &args.service {
        Some(id) => vec![services
            .get(id)
            .ok_or_else(|| vec![format!("no service `{id}` in `{}`", args.config)])?],
        None => services.iter().filter(|s| s.is_enabled()).collect(),
    };
    let mut previews = Vec::new();
    let mut errors = Vec::new();
    for service in chosen {
        match preview(service, &call.data, args.show_secrets) {
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

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("preview: {message}\n{USAGE}");
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

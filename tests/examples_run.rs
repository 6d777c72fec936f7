//! The examples, run as a new user runs them: the quickstart's output holds
//! no secret of the seeds in any form it could be written in, and `preview`
//! answers `--help`, usage errors and the README's commands with the exit
//! codes its help gives.
//!
//! The examples are run as built, not through `cargo run`: `cargo test`
//! builds every example (without `--test` or `--example` filters) into
//! `target/<profile>/examples/` before it runs any test, beside the
//! `deps/` directory this test runs from. Cargo holds the build directory's
//! lock while tests run, so building them from here would deadlock.
//! `cargo test --test examples_run` alone does not build them: this test
//! then fails and says so, rather than passing on stale or missing binaries.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use base64::Engine as _;
use callhook::Catalog;
use serde_json::Value;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The built example `name`, checked to be newer than every source cargo
/// built it from.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/examples_run-<hash> -> target/<profile>/examples/
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps")
        .join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "example `{name}` is not built at {} ({e}): run the whole `cargo test`, \
                 or `cargo build --examples` before `cargo test --test examples_run`",
                path.display()
            )
        });
    // What the example was built from, as cargo's dep-info beside it lists
    // it: the example, the library's modules and the files it includes,
    // but not `#[cfg(test)]` modules, whose edits rebuild no example.
    let dep_info = path.with_extension("d");
    let listed = std::fs::read_to_string(&dep_info)
        .unwrap_or_else(|e| panic!("{}: {e}", dep_info.display()));
    let sources: Vec<PathBuf> = listed
        .lines()
        .next()
        .and_then(|line| line.split_once(": "))
        .map(|(_, deps)| deps.replace("\\ ", "\u{0}"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|dep| PathBuf::from(dep.replace('\u{0}', " ")))
        .collect();
    assert!(
        sources.iter().any(|s| s.ends_with(format!("{name}.rs"))),
        "{} does not list the example's source",
        dep_info.display()
    );
    for source in sources {
        let changed = modified(&source);
        assert!(
            changed <= built,
            "example `{name}` is older than {}: run the whole `cargo test`, \
             or `cargo build --examples` first",
            source.display()
        );
    }
    path
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Runs the example `name` with `args` from the crate's root (the README's
/// commands name files relative to it), with no secret reference resolvable
/// from the environment.
fn run(name: &str, args: &[&str]) -> Output {
    Command::new(example(name))
        .args(args)
        .current_dir(MANIFEST_DIR)
        .env_remove("VOICEHUB_CRM_TOKEN")
        .output()
        .unwrap_or_else(|e| panic!("running example `{name}`: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("the examples print UTF-8")
}

fn json_files(dir: &str) -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = files_under(&Path::new(MANIFEST_DIR).join(dir))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let json =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.display().to_string(), json)
        })
        .collect()
}

/// Every secret of the example configurations and calls: credentials
/// (passwords, tokens, API keys, signing secrets, the Basic credentials as
/// sent), header values marked secret, and the calls' values of fields the
/// standard catalog or a configuration marks secret (recording URLs).
fn secrets() -> Vec<String> {
    fn walk(json: &Value, secrets: &mut Vec<String>, secret_fields: &mut Vec<String>) {
        match json {
            Value::Object(map) => {
                let kind = map.get("kind").and_then(Value::as_str);
                for key in ["password", "token", "key", "client_secret"] {
                    // `key` is a pair's name too: only a credential's is secret.
                    let is_credential =
                        key != "key" || matches!(kind, Some("api_key" | "query_key" | "jwt"));
                    if let (true, Some(Value::String(s))) = (is_credential, map.get(key)) {
                        secrets.push(s.clone());
                    }
                }
                if let (Some(Value::String(user)), Some(Value::String(password))) =
                    (map.get("username"), map.get("password"))
                {
                    secrets.push(format!("{user}:{password}"));
                }
                // A signing secret (Vonage's); `"secret": true` marks others.
                if let Some(Value::String(secret)) = map.get("secret") {
                    secrets.push(secret.clone());
                }
                // An OAuth2 entry's extra token parameters are secrets
                // whatever their names.
                if let (Some("oauth2"), Some(Value::Array(list))) = (kind, map.get("parameters")) {
                    secrets.extend(
                        list.iter()
                            .filter_map(|p| p["value"].as_str().map(str::to_owned)),
                    );
                }
                if let Some(Value::Array(list)) = map.get("secrets") {
                    secrets.extend(list.iter().filter_map(|s| s.as_str().map(str::to_owned)));
                }
                if map.get("secret") == Some(&Value::Bool(true)) {
                    if let Some(Value::String(value)) = map.get("value") {
                        secrets.push(value.clone());
                    }
                    if let (Some(Value::String(name)), Some(_)) = (map.get("name"), map.get("type"))
                    {
                        secret_fields.push(name.clone());
                    }
                }
                for value in map.values() {
                    walk(value, secrets, secret_fields);
                }
            }
            Value::Array(list) => {
                for value in list {
                    walk(value, secrets, secret_fields);
                }
            }
            _ => {}
        }
    }
    let (mut secrets, mut secret_fields) = (Vec::new(), Vec::new());
    for (_, config) in json_files("examples/configs") {
        walk(&config, &mut secrets, &mut secret_fields);
    }
    for (path, call) in json_files("examples/calls") {
        let data = call["data"].as_object().unwrap_or_else(|| panic!("{path}"));
        for (name, value) in data {
            let secret = Catalog::standard().get(name).is_some_and(|f| f.is_secret())
                || secret_fields.contains(name);
            match value {
                Value::String(s) if secret => secrets.push(s.clone()),
                _ => {}
            }
        }
    }
    secrets.sort();
    secrets.dedup();
    secrets
}

/// Every way `secret` could be written into a request: as it is, escaped
/// for JSON, percent-encoded (form and strict), and base64 (standard and
/// URL-safe) at each of the three alignments it may have inside a longer
/// encoding.
fn forms(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).unwrap();
    let mut forms = vec![
        secret.to_owned(),
        json[1..json.len() - 1].to_owned(),
        form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        secret
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect(),
    ];
    for skip in 0..3 {
        let aligned = &secret.as_bytes()[skip..];
        // Only whole groups of three bytes encode the same wherever the
        // secret starts in the stream.
        let whole = &aligned[..aligned.len() / 3 * 3];
        for engine in [
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            forms.push(engine.encode(whole));
        }
    }
    forms
}

/// Percent-decodes `text` (`+` kept), so that a secret encoded only in part
/// shows plain.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn assert_no_secret(what: &str, output: &str) {
    let decoded = percent_decoded(output);
    for secret in secrets() {
        for form in forms(&secret) {
            assert!(
                !output.contains(&form) && !decoded.contains(&form),
                "{what} prints the secret `{secret}` (as `{form}`):\n{output}"
            );
        }
    }
}

#[test]
fn the_secrets_checked_are_the_seeds() {
    let secrets = secrets();
    for expected in [
        "s3cret-pass",
        "avanser:s3cret-pass",
        "tok_live_avanser_0123456789",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "f3a9c1e07b5d48a2c6e19b0d7f4a8e25",
        // Issue 21's: an OAuth2 client secret and extra parameter, a named
        // Basic entry's credentials and a query key.
        "crm-cl13nt-s3cr3t-5f8a2c",
        "urn:crm:api:calls",
        "pbx-sync:l3gacy-crm-pa55w0rd",
        "qk-st4ts-0123456789abcdef",
        // The recording URL of the quickstart's call.
        "https://recordings.example.com/r/20200422-0001-1001.wav",
    ] {
        assert!(
            secrets.iter().any(|s| s == expected),
            "{expected} in {secrets:?}"
        );
    }
    // The base64 forms find Basic credentials as an `Authorization` header
    // sends them, whatever their alignment.
    let sent = base64::engine::general_purpose::STANDARD.encode("user:s3cret-pass");
    assert!(forms("s3cret-pass")
        .iter()
        .any(|f| sent.contains(f.as_str())));
}

#[test]
fn quickstart_prints_the_request_with_no_secret() {
    let out = run("quickstart", &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stderr), "");
    // What it says it shows: the request, its recording URL redacted.
    assert!(
        stdout.contains("POST /ringcx/call-ended.json HTTP/1.1"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""recordingUrl": "[redacted]""#),
        "{stdout}"
    );
    assert!(stdout.contains(r#""agentId": "1001""#), "{stdout}");
    assert!(
        stdout.contains("secret fields, redacted below: recording_url\n"),
        "{stdout}"
    );
    assert_no_secret("quickstart", &stdout);
}

#[test]
fn preview_help_describes_every_option_and_exits_0() {
    let out = run("preview", &["--help"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stderr), "", "help is not an error");
    assert_eq!(stdout.matches("usage: preview").count(), 1, "{stdout}");
    // Each option on a line of its own, described after it.
    for option in [
        "--config FILE",
        "--call FILE",
        "--service ID",
        "--event NAME",
        "--explain",
        "--scope NAME",
        "--sign-at UNIX_SECONDS",
        "--format http|json",
        "--show-secrets",
        "--help",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(option) || l.contains(&format!(", {option}")))
            .unwrap_or_else(|| panic!("no line describes `{option}`:\n{stdout}"));
        let description = line.split(option).nth(1).unwrap_or("").trim();
        assert!(
            !description.is_empty(),
            "`{option}` is not described:\n{stdout}"
        );
    }
}

#[test]
fn preview_explain_without_event_is_a_usage_error() {
    for args in [
        &["--explain"][..],
        &["--scope", "ITD2024"][..],
        &["--unknown"][..],
    ] {
        let mut all = vec![
            "--config",
            "examples/configs/pbx.json",
            "--call",
            "examples/calls/pbx-call.json",
        ];
        all.extend_from_slice(args);
        let out = run("preview", &all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert_eq!(text(&out.stdout), "", "{args:?}: errors go to stderr");
        let stderr = text(&out.stderr);
        // The first line names the argument at fault.
        assert!(stderr.starts_with("preview: "), "{args:?}: {stderr}");
        let first = stderr.lines().next().unwrap();
        assert!(first.contains(&format!("`{}`", args[0])), "{stderr}");
        assert_eq!(stderr.matches("usage: preview").count(), 1, "{stderr}");
    }
}

/// The README's `preview` commands, as a new user copies them: each
/// succeeds and prints requests with no secret.
#[test]
fn preview_runs_the_readme_commands_with_no_secret() {
    let readme = std::fs::read_to_string(Path::new(MANIFEST_DIR).join("README.md")).unwrap();
    let commands: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("cargo run --example preview -- "))
        .collect();
    assert!(commands.len() >= 3, "the README shows `preview` commands");
    for command in commands {
        let args: Vec<&str> = command.split_whitespace().collect();
        let out = run("preview", &args);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{command}: {out:?}");
        assert!(stdout.contains("[redacted]"), "{command}: {stdout}");
        assert_no_secret(&format!("preview {command}"), &stdout);
        assert_no_secret(&format!("preview {command} (stderr)"), &text(&out.stderr));
    }
}

/// The README's excerpt of `preview` on `oauth2.json` (the token request
/// first) is what the last of its `preview` commands prints.
#[test]
fn preview_prints_the_readme_token_request_excerpt() {
    let readme = std::fs::read_to_string(Path::new(MANIFEST_DIR).join("README.md")).unwrap();
    let command = readme
        .lines()
        .filter_map(|l| l.strip_prefix("cargo run --example preview -- "))
        .find(|l| l.contains("oauth2.json"))
        .expect("the README previews oauth2.json");
    let (_, after) = readme
        .split_once("The last command prints:\n\n```text\n")
        .expect("the README shows its output");
    let (excerpt, _) = after.split_once("```").unwrap();
    let out = run("preview", &command.split_whitespace().collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout).replace("\r\n", "\n");
    assert_eq!(stdout, excerpt);
    assert!(excerpt.contains("# token request, sent first\nPOST /oauth/token HTTP/1.1\n"));
}

/// `preview --explain` says which comparison of a webhook's condition kept
/// it from firing, with the field's value and the literal.
#[test]
fn preview_explain_names_the_unmet_condition() {
    let call =
        std::fs::read_to_string(Path::new(MANIFEST_DIR).join("examples/calls/ringcx-call.json"))
            .unwrap()
            .replace("\"SALE\"", "\"NO ANSWER\"");
    let path = std::env::temp_dir().join(format!("callhook-no-answer-{}.json", std::process::id()));
    std::fs::write(&path, call).unwrap();
    let out = run(
        "preview",
        &[
            "--config",
            "examples/configs/ringcx-conditions.json",
            "--call",
            path.to_str().unwrap(),
            "--event",
            "Post Disposition",
            "--explain",
        ],
    );
    let _ = std::fs::remove_file(&path);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "its condition is not met: `condition.in` (agent_disposition is `NO ANSWER`; \
             wanted in [\"SALE\",\"CALLBACK\"])"
        ),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("no webhook fires"), "{out:?}");
}

//! Builds the request of RingCX's JSON web service for a sample call and
//! prints it as HTTP/1.1 text with its secrets redacted: the recording URL,
//! whose link grants access to the recording, prints as `[redacted]`.
//! Nothing is sent. (`tests/examples_run.rs` checks that the output holds no
//! secret of the seeds.)
//!
//! `cargo run --example quickstart`

use callhook::{Call, Catalog, Config};

const CONFIG: &str = include_str!("configs/ringcx.json");
const SAMPLE_CALL: &str = include_str!("calls/ringcx-call.json");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Compile once, when the web service is configured: every template,
    // the URL and the headers are checked here...
    let config = Config::from_json(CONFIG)?;
    let catalog = Catalog::standard();
    let json_service = config
        .services
        .iter()
        .find(|s| s.name.contains("JSON"))
        .ok_or("the RingCX seed has a JSON service")?
        .compile(catalog)?;
    let fields = json_service.fields();
    println!("fields used: {}", fields.join(", "));
    // The catalog says which fields hold secrets: their values are redacted
    // in previews, debug records and `Debug`.
    let secret: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|f| catalog.get(f).is_some_and(|spec| spec.is_secret()))
        .collect();
    println!("secret fields, redacted below: {}\n", secret.join(", "));

    // ...and build a request for every call, for any HTTP client to send.
    let call = Call::from_json(SAMPLE_CALL)?;
    let request: callhook::Request = json_service.request(&call.data)?;
    println!(
        "{} bytes to send, shown with secrets redacted:\n",
        request.body().len()
    );
    // Rendered again from the call, so that only secrets are redacted (the
    // request alone does not say which of its bytes are secrets).
    println!("{}", json_service.preview(&call.data, false)?.to_http());
    Ok(())
}

//! Builds the request of RingCX's JSON web service for a sample call and
//! prints it as HTTP/1.1 text, secrets redacted. Nothing is sent.
//!
//! `cargo run --example quickstart`

use callhook::{Call, Catalog, Config};

const CONFIG: &str = include_str!("configs/ringcx.json");
const SAMPLE_CALL: &str = include_str!("calls/ringcx-call.json");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Compile once, when the web service is configured: every template,
    // the URL and the headers are checked here...
    let config = Config::from_json(CONFIG)?;
    let json_service = config
        .services
        .iter()
        .find(|s| s.name.contains("JSON"))
        .ok_or("the RingCX seed has a JSON service")?
        .compile(Catalog::standard())?;
    println!("fields used: {}\n", json_service.fields().join(", "));

    // ...and build a request for every call, for any HTTP client to send.
    let call = Call::from_json(SAMPLE_CALL)?;
    let request: callhook::Request = json_service.request(&call.data)?;
    println!(
        "{} bytes to send, shown with secrets redacted:\n",
        request.body().len()
    );
    // Rendered again from the call, so that only secrets are redacted.
    println!("{}", json_service.preview(&call.data, false)?.to_http());
    Ok(())
}

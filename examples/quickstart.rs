//! Renders the RingCX seed's JSON body for a sample call and prints it.
//!
//! `cargo run --example quickstart`

use callhook::template::{Context, Options, Template};
use callhook::Call;

/// The body from RingCX's "Example of Using Web Service with Webhooks".
const RINGCX_BODY: &str = include_str!("templates/ringcx-body.json");
const SAMPLE_CALL: &str = include_str!("calls/ringcx-call.json");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Compile once, when the web service is configured...
    let body = Template::compile(RINGCX_BODY, Context::Json, &Options::default())?;
    println!(
        "fields used: {}",
        body.fields().collect::<Vec<_>>().join(", ")
    );

    // ...render for every call, into a buffer that can be reused.
    let call = Call::from_json(&serde_json::from_str(SAMPLE_CALL)?)?;
    let mut out = Vec::with_capacity(512);
    body.render_into(&call.data, &mut out)?;
    println!("{}", String::from_utf8(out)?);
    Ok(())
}

//! The seed configuration of placeholder options (`examples/configs/formats.json`):
//! phone formats under a service's `phone_region`, time zones and text
//! functions, each service's request for a seed call checked to the byte
//! against `tests/fixtures/formats/<service-id>.http` (`BLESS=1 cargo test`
//! writes them). It needs the `phone` and `tz` features, which the
//! workspace's tests turn on; without them it is refused at load, naming
//! them.

mod common;

use callhook::{Call, Config};

fn config() -> Config {
    Config::from_json(&common::read_text("examples/configs/formats.json")).unwrap()
}

#[cfg(all(feature = "phone", feature = "tz"))]
#[test]
fn format_seeds_render_to_their_fixtures() {
    let registry = common::load(&config()).unwrap_or_else(|e| panic!("formats.json: {e}"));
    for (id, call) in [
        // The RingCX call with a caller in a real NANP area code: `555`
        // is none, and a number that is not valid passes through.
        ("5e1f0a2b-3c4d-4e5f-8a6b-7c8d9e0f1a01", "formats-call"),
        ("5e1f0a2b-3c4d-4e5f-8a6b-7c8d9e0f1a02", "avanser-call"),
    ] {
        let call =
            Call::from_json(&common::read_text(&format!("examples/calls/{call}.json"))).unwrap();
        let service = registry.service(id).unwrap();
        let request = service
            .request(&call.data)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let text = callhook::Preview::of(id, &request, true).to_http();
        common::assert_golden(&format!("tests/fixtures/formats/{id}.http"), &text);
    }
}

#[cfg(not(all(feature = "phone", feature = "tz")))]
#[test]
fn format_seeds_need_their_features() {
    let error = common::load(&config()).unwrap_err();
    let text = format!("{error} {:?}", error.related());
    let named = if cfg!(feature = "phone") {
        "`tz` feature"
    } else {
        "`phone` feature"
    };
    assert!(text.contains(named), "{text}");
    let _ = Call::from_json;
}

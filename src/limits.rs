//! Every count and size a configuration can carry, in one place.
//!
//! Each limit is checked when a service is loaded (or, for placeholders,
//! when a template is compiled), and a configuration past one is refused
//! with an error that names it (``(`limits::HEADERS`)``), never a panic.
//! Each is chosen well above what the platforms callhook speaks for
//! configure, and at or below what receivers accept, so a service past
//! one could not have worked anyway. Work is linear up to every limit
//! (`tests/limit_costs.rs` counts it).
//!
//! Call data, rendered bodies and received requests have limits of their
//! own, checked where they are read.

use std::time::Duration;

/// Headers a service may set in its `headers`, static and templated
/// together: 64.
///
/// Apache refuses a request of more than 100 header fields by default
/// (`LimitRequestFields`), and a request also carries callhook's own
/// (`User-Agent`, `Content-Type`, `Content-Length`, the signature's three,
/// `auth`'s) and the client's; RingCX and Genesys web services are set up
/// with a handful. `http::HeaderMap` panics past 24,576 entries, which no
/// service now comes near.
pub const HEADERS: usize = 64;

/// Bytes of one header's value template, with its value map's keys and
/// values: 8,192.
///
/// Apache refuses a header field over 8,190 bytes by default
/// (`LimitRequestFieldSize`), and nginx a header line over its 8 KiB
/// buffer (`large_client_header_buffers`).
pub const HEADER_BYTES: usize = 8_192;

/// Pairs in a body (form, JSON, XML) or a `GET`'s query, parameters of a
/// SOAP operation, and names in `secret_parameters`: 1,000.
///
/// PHP reads at most 1,000 form or query variables by default
/// (`max_input_vars`) and drops the rest; CRMs map a few dozen fields.
pub const PAIRS: usize = 1_000;

/// Entries in one pair's or header's value map: 1,000.
///
/// Maps translate codes (RingCX's dispositions, call results), which run
/// to dozens.
pub const MAP_ENTRIES: usize = 1_000;

/// Placeholders in one template: 65,535.
///
/// A slot names its default, map or strftime format by a 16-bit index, and
/// no body a person writes comes near it.
pub const PLACEHOLDERS: usize = 65_535;

/// Bytes of a body's templates: its `template`, or its pairs' keys,
/// values and maps together: 256 KiB.
///
/// The Standard Webhooks specification recommends payloads "usually
/// smaller than 20kb", pointing to large data rather than carrying it; a
/// body's templates may be a dozen times that, and values from the call
/// add to what they hold.
pub const TEMPLATE_BYTES: usize = 256 * 1024;

/// Bytes of a URL template, with a `GET`'s query pairs (keys, values and
/// maps): 8,000.
///
/// RFC 9110 (section 4.1) recommends that senders and recipients support
/// URIs of at least 8,000 octets; many servers refuse longer request lines
/// (Apache's `LimitRequestLine` is 8,190 bytes).
pub const URL_BYTES: usize = 8_000;

/// Standard Webhooks secrets a service signs with: 16, the most
/// signatures `signing::verify_standard` takes in one header. Each secret
/// signs every request; a sender rotating keys holds two or three.
pub const SIGNING_SECRETS: usize = 16;

/// Attempts of one delivery, the first included: 100.
///
/// Svix makes 8 attempts over about 28 hours, and the Standard Webhooks
/// specification's example schedule 10 over about three days; 100
/// attempts a second apart is still a storm a receiver survives.
pub const RETRY_ATTEMPTS: u32 = 100;

/// The shortest wait before a retry, scheduled or asked for by
/// `Retry-After`: one second.
///
/// A failing receiver is otherwise sent requests as fast as the host can
/// send them; Svix's shortest retry is 5 s.
pub const SHORTEST_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Fields a configuration may declare (`fields`): 10,000, as many as call
/// data may carry, so a field past it could never hold a value.
pub const FIELDS: usize = 10_000;

/// Events a configuration may declare (`events`): 256. The seeds define
/// about thirty; a platform adds its own few.
pub const EVENTS: usize = 256;

/// Headers a stored request (an envelope's) may hold: 128, room for
/// [`HEADERS`] and every header callhook and signing add. More could not
/// have been built by callhook, and `http::HeaderMap` panics past 24,576.
pub const STORED_HEADERS: usize = 128;

/// Unknown field names one service's compile answers with a "did you
/// mean" suggestion: 16. Every unknown name is still reported; past the
/// first 16, without the search through every known field, which with
/// thousands of each took minutes.
pub const SUGGESTIONS: usize = 16;

/// `n` with its thousands separated by commas, as messages print counts.
pub(crate) fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_print_with_separators() {
        assert_eq!(super::count(0), "0");
        assert_eq!(super::count(999), "999");
        assert_eq!(super::count(1_000), "1,000");
        assert_eq!(super::count(4_294_967_295), "4,294,967,295");
    }
}

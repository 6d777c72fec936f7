//! Every count and size that input can carry, in one place: a
//! configuration, call data, a render, a stored envelope and a received
//! request. The README's "Limits" table lists them with where each is
//! checked.
//!
//! A configuration's limits are checked when a service is loaded (or, for
//! placeholders, when a template is compiled); call data's when it is read;
//! a render's as it renders; a received request's by the verifiers. Input
//! past one is refused with an error that names it
//! (``(`limits::HEADERS`)``), never a panic.
//! Each is chosen well above what the platforms callhook speaks for
//! configure, and at or below what receivers accept, so a service past
//! one could not have worked anyway. Work is linear up to every limit
//! (`tests/limit_costs.rs` counts it).
//!
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
/// values, checked at load; and of the value it renders, checked as each
/// request is built: 8,192.
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

/// Attempts of one delivery, the first included: 100. Also the most
/// failures a service's `fallback_after` may wait for on one URL: a
/// delivery past it gives up before it moves on.
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

/// Named auth entries a configuration may define (`auth_configs`): 10,000.
/// RingCX's auth configurations are one per receiving system, a few per
/// tenant; each is checked at load and cloned into a snapshot with the
/// registry's table of them.
pub const AUTH_CONFIGS: usize = 10_000;

/// The longest name of a named auth entry, and of a query parameter that
/// auth adds: 256 bytes. Names are chosen by a person, and the parameter
/// goes into every URL.
pub const AUTH_NAME_BYTES: usize = 256;

/// Headers a stored request (an envelope's) may hold: 128, room for
/// [`HEADERS`] and every header callhook and signing add. More could not
/// have been built by callhook, and `http::HeaderMap` panics past 24,576.
pub const STORED_HEADERS: usize = 128;

/// Unknown field names one service's compile answers with a "did you
/// mean" suggestion: 16. Every unknown name is still reported; past the
/// first 16, without the search through every known field, which with
/// thousands of each took minutes.
pub const SUGGESTIONS: usize = 16;

/// Scopes of one webhook, and of one call: 1,000.
///
/// A webhook names the campaigns, queues or accounts it serves and a call
/// the few it belongs to; dispatch and `Registry::explain` compare the two,
/// so their sizes bound that work.
pub const SCOPES: usize = 1_000;

/// Agent segments of one call: 1,000. A call is transferred a handful of
/// times; each segment is dispatched as a request of its own.
pub const SEGMENTS: usize = 1_000;

// Call data and renders: checked where call data is read and where a
// template renders.

/// The longest field name call data may hold, nested names and their dots
/// included: a bound on the text a hostile document can flatten into.
pub const FIELD_NAME_BYTES: usize = 256;

/// The most bytes one call value may hold, as text or as a number's
/// digits: 1 MiB. Four times the 256 KiB message Amazon SNS takes by
/// default, and as much as it takes at most; a call's longest values
/// (transcripts, notes) are far shorter.
pub const VALUE_BYTES: usize = 1 << 20;

/// The most bytes one render may produce (a request's body, URL or
/// header value): 4 MiB. Four times the largest message Amazon SNS takes
/// (1 MiB, 256 KiB by default) and nginx's default `client_max_body_size`
/// (1 MiB), beyond which most receivers refuse a request anyway; GitHub
/// and GitLab, with large repository events, stop at 25 MB.
pub const RENDER_BYTES: usize = 4 << 20;

// Received requests and signing keys: checked by the verifiers in
// `signing` and when a service that signs is loaded.

/// The shortest Standard Webhooks key a service may sign with, in bytes, as
/// the specification asks (24 to 64).
pub const SHORTEST_SIGNING_KEY: usize = 24;

/// The shortest secret a service may sign with in an HMAC scheme
/// (`"kind": "hmac"`), a Vonage-style JWT or an `HS256` JWT to the
/// receiver, in bytes: a short secret is
/// one an attacker can guess. Receivers' verifiers take any.
pub const SHORTEST_HMAC_SECRET: usize = 16;

/// The most signatures a `webhook-signature` header may hold for
/// `signing::verify_standard`; a sender rotating keys sends two or three.
pub const SIGNATURES: usize = 16;

/// The shortest Twilio auth token a service may sign with, or
/// `signing::verify_twilio` take, in bytes. Twilio's are 32 hex characters; a
/// short token is one an attacker can guess.
pub const SHORTEST_TWILIO_TOKEN: usize = 16;

/// The most form parameters a Twilio-signed request may carry: what
/// `signing::verify_twilio` takes and a service signs. Twilio's own requests carry
/// well under 100.
pub const FORM_PARAMETERS: usize = 10_000;

/// The longest URL of a Twilio-signed request, in bytes: what
/// `signing::verify_twilio` takes and a service signs. Servers commonly refuse
/// request lines over 8 KiB.
pub const TWILIO_URL_BYTES: usize = 16_384;

/// The largest body of a Twilio-signed request, in bytes (1 MiB), and the
/// most bytes its form parameters may hold (they are the body, decoded):
/// what `signing::verify_twilio` takes and a service signs. Twilio's requests are a
/// few kilobytes.
pub const TWILIO_BODY_BYTES: usize = 1 << 20;

/// The longest JWT `signing::verify_vonage` reads, in bytes, before any
/// decoding: Vonage's signed-webhook tokens are under 1 KiB.
pub const JWT_BYTES: usize = 8192;

// OAuth2 to the receiver: checked when an `oauth2` auth entry is loaded,
// when a token response is read (`TokenCache::accept`) and when a stored
// `TokenCache` is read.

/// The largest token response `TokenCache::accept` reads, in bytes: 64 KiB.
/// A response holds a few tokens (Azure AD's run to a few KiB, an OpenID
/// `id_token` beside them); anything larger is refused before it is
/// parsed, which also bounds the work of a deeply nested one.
pub const TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// The longest access or refresh token callhook keeps, and the longest
/// client id, user name, scope or token-request parameter it sends, in
/// bytes: 8,000. An access token goes in a header, and with a prefix such
/// as `Bearer ` stays within [`HEADER_BYTES`].
pub const TOKEN_BYTES: usize = 8_000;

/// The longest lifetime (`expires_in`) a token response may give, in
/// seconds: 366 days. Receivers' tokens last about an hour; a larger
/// value is a broken or hostile server, and would overflow a date.
pub const TOKEN_LIFETIME_SECONDS: u64 = 366 * 24 * 60 * 60;

/// The most seconds before its expiry an access token may be refreshed
/// (an `oauth2` entry's `refresh_before`): one hour, a whole lifetime of
/// the usual token. A token is refreshed at the latest halfway through
/// its lifetime, so a short-lived one is still used.
pub const REFRESH_BEFORE_SECONDS: u32 = 3_600;

// JWT to the receiver (`{"kind": "jwt"}`): checked when a configuration
// holding one loads, and the claims again as each token is minted.

/// Claims a JWT to the receiver may configure (`claims`, top level): 100.
/// Receivers read a handful (`iss`, `sub`, `aud`, `jti`); RingCX's
/// payloads carry a few more.
pub const JWT_CLAIMS: usize = 100;

/// Bytes of a JWT's claims as JSON, `iat` and `exp` included: 4,096,
/// checked at load with placeholders as written and as each token is
/// minted with their values. With the header ([`JWT_HEADER_BYTES`]) and an
/// RSA-8192 signature, the token in base64url stays under
/// [`HEADER_BYTES`], so it fits in the header it is carried in.
pub const JWT_CLAIMS_BYTES: usize = 4_096;

/// Bytes of a JWT's header as JSON, `alg` and `typ` included: 1,024. A
/// header carries `alg`, `typ` and a `kid`.
pub const JWT_HEADER_BYTES: usize = 1_024;

/// Bytes of a JWT's key as written (an `HS256` secret, or a PEM private
/// key): 8,192, room for an RSA key of 8,192 bits in PKCS#8 PEM (about
/// 6,400 bytes); a larger one would make every token slow to sign.
pub const JWT_KEY_BYTES: usize = 8_192;

/// The fewest bits of an RSA key a service signs an `RS256` JWT with:
/// 2,048, as RFC 7518 (section 3.3) requires.
pub const SHORTEST_RSA_KEY_BITS: usize = 2_048;

// RULES (issue 22): status handling, endpoint health and ordering; checked
// when an outcome is recorded, a service's `health` policy loads, and a
// host's stored `Endpoints` or `Sequences` is read.

/// The longest description of a transport error an `Outcome` keeps
/// (`Outcome::with_error`), in bytes: 64. It is a few fixed words
/// (`"tls handshake failed"`), never a client's message.
pub const TRANSPORT_ERROR_BYTES: usize = 64;

/// The longest endpoint (`scheme://host:port`), in bytes: 300. A DNS name
/// is at most 253 bytes; the scheme and port add at most 14.
pub const ENDPOINT_BYTES: usize = 300;

/// Endpoints an `Endpoints` holds: 100,000, one per origin in use (as
/// many as the services a process may hold). When a new one comes past
/// it, the tenth least recently heard of is forgotten, healthy ones
/// first (one pass, paid once per tenth of the limit); a stored map
/// holding more is refused.
pub const ENDPOINTS: usize = 100_000;

/// The most failures a `HealthPolicy` rule may count (`disable_after`'s
/// and `breaker`'s `failures`): 1,000. An endpoint's health keeps the
/// times of as many recent failures as `disable_after` counts, so this
/// bounds each entry of a stored `Endpoints`.
pub const HEALTH_FAILURES: u32 = 1_000;

/// (Call, webhook) pairs a `Sequences` holds: 100,000, calls in progress
/// times their realtime webhooks. Past it, the tenth delivered to longest
/// ago is forgotten (one pass, paid once per tenth of the limit); a stored
/// one holding more is refused.
pub const SEQUENCES: usize = 100_000;

/// The longest call id or webhook id a `Sequences` keeps, in bytes:
/// 1,024. A longer one is not tracked (nothing is superseded for it); a
/// stored one holding one is refused.
pub const SEQUENCE_ID_BYTES: usize = 1_024;

// SERVICE (issue 22): a service's request timeout and fallback URLs.

/// The shortest request timeout a service may set: 1 second.
///
/// A receiver on another continent takes a good part of a second to
/// connect to over TLS; less would time out deliveries that would have
/// arrived.
pub const SHORTEST_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest request timeout a service may set: 5 minutes.
///
/// The Standard Webhooks specification recommends 15 to 30 seconds; a
/// sender holds a connection and a worker for as long as it waits, and a
/// receiver slower than this is better told by a retry.
pub const LONGEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Fallback URLs a service may list: 4.
///
/// Twilio, Vonage and Telnyx each take one fallback or failover URL
/// beside the primary; every one is rendered for every delivery, and a
/// delivery reaches the last only after failing on all before it
/// (`fallback_after` times each), so more would only delay giving up.
pub const FALLBACK_URLS: usize = 4;

// ENVELOPE (issue 22): what a stored envelope may hold.

/// Attempts an envelope's log keeps: 20, the latest (older ones are
/// dropped as new ones are recorded). The default retry policy makes at
/// most 8, so a delivery's whole life fits; a stored log of more is
/// refused.
pub const ENVELOPE_ATTEMPTS: usize = 20;

/// Bytes of a response an attempt log keeps: the first 256, as text
/// (bytes that are not UTF-8 shown as U+FFFD), enough for an error
/// message or a JSON error object's start.
pub const ATTEMPT_RESPONSE_BYTES: usize = 256;

// PLACEHOLDER OPTIONS (issue 24): phone formats and text functions.

/// The most digits `phone:last:N` and `phone:mask:N` may keep: 15, the
/// most an international number has (ITU-T E.164); more would keep them
/// all, which `phone:digits` says.
pub const PHONE_DIGITS: usize = 15;

/// The longest value read as a phone number: 250 bytes, libphonenumber's
/// own `MAX_INPUT_STRING_LENGTH`. A longer value is not a phone number (it
/// passes through, or is missing under `:strict`) and is never parsed, so
/// a hostile value costs no parse.
pub const PHONE_TEXT_BYTES: usize = 250;

/// The most characters `truncate:N` may keep: 1,048,576, as many as the
/// largest call value ([`VALUE_BYTES`]) has bytes, and so at least as many
/// as it has characters. Only `upper` or `lower`, which come first, can
/// lengthen a value past that (`ΐ`, two bytes, is three characters in
/// upper case); a larger `N` would matter only there, and is refused.
pub const TRUNCATE_CHARS: usize = VALUE_BYTES;

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

/// The longest an endpoint stays throttled by a stored `Retry-After`, a
/// day: a stored state is not trusted to bound its own waits. The
/// delivery that was told to wait still waits as long as its retry policy
/// honours (`retry_after_max`); the endpoint's other deliveries ask again
/// after a day at most.
pub const LONGEST_THROTTLE: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Levels of `all`, `any` and `not` in a webhook's condition, the
/// condition itself the first: 8.
///
/// Five9, Genesys and Hookdeck filters are a list or two deep; a deeper
/// condition is one no person reviews.
pub const CONDITION_DEPTH: usize = 8;

/// Comparisons in one webhook's condition: 64.
///
/// Every comparison is evaluated at dispatch, for every matching webhook;
/// platforms' filter screens hold a handful.
pub const CONDITION_TESTS: usize = 64;

/// Values in one `in` or `not_in` list of a condition: 1,000, as in a value
/// map (`MAP_ENTRIES`): dispositions and statuses run to dozens.
pub const CONDITION_LIST: usize = 1_000;

/// Bytes of one literal in a condition (text, a timestamp, a duration):
/// 1,024.
pub const CONDITION_LITERAL_BYTES: usize = 1_024;

/// Forgets the entries of `map` that come first by `order` until at most
/// `keep` are left: one pass over the map and a selection, linear in its
/// size. The bounded maps of delivery state (`Endpoints`, `Sequences`)
/// trim to nine tenths of their limit when full, so the pass is paid once
/// per tenth of the limit rather than once an insert (which made merging
/// two full states quadratic: minutes at 100,000 entries).
pub(crate) fn trim_to<K: Ord + Clone, V, O: Ord>(
    map: &mut std::collections::BTreeMap<K, V>,
    keep: usize,
    order: impl Fn(&V) -> O,
) {
    let Some(drop) = map.len().checked_sub(keep).filter(|&drop| drop > 0) else {
        return;
    };
    let mut ranked: Vec<(O, &K)> = map.iter().map(|(k, v)| (order(v), k)).collect();
    ranked.select_nth_unstable_by(drop - 1, |a, b| a.0.cmp(&b.0));
    let gone: Vec<K> = ranked[..drop].iter().map(|(_, k)| (*k).clone()).collect();
    for key in gone {
        map.remove(&key);
    }
}

/// What a full bounded map of delivery state trims to: nine tenths of
/// `limit` (see [`trim_to`]).
pub(crate) const fn trimmed(limit: usize) -> usize {
    limit - limit / 10
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

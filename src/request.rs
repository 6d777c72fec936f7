//! The request callhook builds and the host sends.

/// The request callhook builds and the host sends: an [`http::Request`] with
/// its body as bytes, for any HTTP client (ureq takes it as it is; reqwest
/// converts it with `reqwest::Request::try_from`).
pub type Request = http::Request<Vec<u8>>;

/// Headers an envelope never holds, whatever wrote it: the credentials
/// (`Authorization`, and `Proxy-Authorization`, which no request callhook
/// builds carries) and every signature header a signing scheme writes
/// (`src/signer.rs`: Standard Webhooks', Twilio's, the HMAC presets';
/// Vonage's is `Authorization`). Both are added at send time, for the
/// attempt at hand; kept, an old one would be sent beside (or instead
/// of) the current one, and would sit in the store in clear. The ids and
/// timestamps signing writes are not secrets and are replaced when it
/// signs, so a service that does not sign may send headers of those names
/// (`webhook-id`) and keep them. A custom HMAC scheme's own header name is
/// replaced when it signs, but only its registry knows it.
///
/// A service's own static header of one of these names (an
/// `Authorization` written in its `headers`) is not stored either: signing
/// adds it back from the registry (`Service::sign_with`), so it too is
/// current and never in the store. A templated one could not be rendered
/// again without the call, so a service may not have one.
pub(crate) const DROPPED_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "webhook-signature",
    "x-twilio-signature",
    "x-convoy-signature",
    "x-zm-signature",
    "x-hub-signature-256",
];

/// Whether an envelope drops a header of this name (lowercase, as `http`
/// and stored envelopes give names): see [`DROPPED_HEADERS`].
pub(crate) fn is_dropped(name: &str) -> bool {
    DROPPED_HEADERS
        .iter()
        .any(|dropped| dropped.eq_ignore_ascii_case(name))
}

//! The request callhook builds and the host sends.

/// The request callhook builds and the host sends: an [`http::Request`] with
/// its body as bytes, for any HTTP client (ureq takes it as it is; reqwest
/// converts it with `reqwest::Request::try_from`).
pub type Request = http::Request<Vec<u8>>;

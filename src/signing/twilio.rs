//! Twilio-style signatures: HMAC-SHA1 over the URL and the sorted form
//! parameters, or the URL alone with the body's `bodySHA256`.

use std::borrow::Cow;

use base64::engine::general_purpose;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{body_sha256, constant_time_eq, signature_error};
use crate::error::Error;
#[cfg(doc)]
use crate::error::ErrorKind;
use crate::limits::{FORM_PARAMETERS, SHORTEST_TWILIO_TOKEN, TWILIO_BODY_BYTES, TWILIO_URL_BYTES};

/// The Twilio-style signature of a request: base64 of HMAC-SHA1, keyed by
/// the auth token, over the URL followed by every form parameter in
/// code-point order of name, each distinct value in sorted order, as
/// `name` + `value`.
///
/// The parameters are sorted once, so the work is `n log n` in their
/// number. This computes any token's signature, however short: only
/// [`verify_twilio`] and services refuse tokens under [`SHORTEST_TWILIO_TOKEN`].
///
/// # Examples
///
/// ```
/// use callhook::signing::twilio_signature;
///
/// let params = [("CallSid".to_owned(), "CA123".to_owned())];
/// let signature = twilio_signature("12345", "https://example.com/voice", &params);
/// assert_eq!(signature.len(), 28);
/// ```
#[must_use]
pub fn twilio_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    twilio_tag(&twilio_key(token), url, &sorted_params(params))
}

/// The HMAC-SHA1 keyed once by the auth token, cloned for each URL.
fn twilio_key(token: &str) -> Hmac<Sha1> {
    <Hmac<Sha1> as Mac>::new_from_slice(token.as_bytes()).expect("HMAC accepts keys of any length")
}

/// The parameters in the order Twilio signs them: by name, then by value,
/// each pair once. Sorting the pairs whole gives each name's distinct
/// values in order without looking for them, which made verifying
/// quadratic in the number of parameters.
fn sorted_params(params: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

/// The base64 signature of `url` and parameters already sorted.
fn twilio_tag(key: &Hmac<Sha1>, url: &str, sorted: &[(&str, &str)]) -> String {
    let mut mac = key.clone();
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Refuses a Twilio auth token under [`SHORTEST_TWILIO_TOKEN`] bytes.
pub(crate) fn check_token(token: &str) -> Result<(), Error> {
    if token.len() < SHORTEST_TWILIO_TOKEN {
        return Err(signature_error(format!(
            "the Twilio auth token is {} bytes; Twilio auth tokens are at least {SHORTEST_TWILIO_TOKEN} (`limits::SHORTEST_TWILIO_TOKEN`)",
            token.len()
        )));
    }
    Ok(())
}

/// Refuses a Twilio-signed request past [`FORM_PARAMETERS`],
/// [`TWILIO_URL_BYTES`] or [`TWILIO_BODY_BYTES`], before any hashing: the same
/// bounds for what a service signs and what [`verify_twilio`] takes.
pub(crate) fn check_twilio_limits(
    url: &str,
    params: &[(String, String)],
    body: usize,
) -> Result<(), Error> {
    if params.len() > FORM_PARAMETERS {
        return Err(signature_error(format!(
            "the request has {} form parameters; a Twilio-signed request has at most \
             {FORM_PARAMETERS} (`limits::FORM_PARAMETERS`)",
            params.len()
        )));
    }
    if url.len() > TWILIO_URL_BYTES {
        return Err(signature_error(format!(
            "the URL is {} bytes; a Twilio-signed request's is at most {TWILIO_URL_BYTES} (`limits::TWILIO_URL_BYTES`)",
            url.len()
        )));
    }
    if body > TWILIO_BODY_BYTES {
        return Err(signature_error(format!(
            "the body is {body} bytes; a Twilio-signed request's is at most {TWILIO_BODY_BYTES} (`limits::TWILIO_BODY_BYTES`)"
        )));
    }
    let mut bytes = 0usize;
    for (name, value) in params {
        bytes = bytes.saturating_add(name.len()).saturating_add(value.len());
        if bytes > TWILIO_BODY_BYTES {
            return Err(signature_error(format!(
                "the form parameters hold more than {TWILIO_BODY_BYTES} bytes, the most a \
                 Twilio-signed request's body may (`limits::TWILIO_BODY_BYTES`)"
            )));
        }
    }
    Ok(())
}

/// The URL without its port, and with its port (its own, or the default
/// one added: `:443` for https, `:80` otherwise), as Twilio's Python and
/// Node validators try it: Twilio's back ends sign one or the other. Like
/// theirs, this works on the text (no other normalisation), so one of the
/// two is always the URL as given.
fn port_forms(url: &str) -> [Cow<'_, str>; 2] {
    // `scheme://authority`, as Node's validator splits it.
    let scheme_end = url
        .find("://")
        .filter(|&i| {
            let scheme = &url.as_bytes()[..i];
            scheme.first().is_some_and(u8::is_ascii_alphabetic)
                && scheme
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
        })
        .map(|i| i + 3);
    let Some(scheme_end) = scheme_end else {
        return [Cow::Borrowed(url), Cow::Borrowed(url)];
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    // A colon starts the port only after an IPv6 literal's closing bracket.
    let after_bracket = authority[host_start..].rfind(']').map_or(0, |i| i + 1);
    let port_start = authority[host_start + after_bracket..]
        .find(':')
        .map(|i| scheme_end + host_start + after_bracket + i);
    match port_start {
        Some(port) => [
            Cow::Owned(format!("{}{}", &url[..port], &url[authority_end..])),
            Cow::Borrowed(url),
        ],
        None => {
            let https = url[..scheme_end].eq_ignore_ascii_case("https://");
            let default = if https { ":443" } else { ":80" };
            [
                Cow::Borrowed(url),
                Cow::Owned(format!(
                    "{}{default}{}",
                    &url[..authority_end],
                    &url[authority_end..]
                )),
            ]
        }
    }
}

/// Every URL form Twilio's validators try for `url`: [`port_forms`], and
/// when the URL ends in an empty `?`, the same without it (Python's
/// validator drops it, as `urlparse` does; Node's keeps it).
fn twilio_urls(url: &str) -> Vec<Cow<'_, str>> {
    let mut urls = Vec::with_capacity(4);
    urls.extend(port_forms(url));
    if let Some(bare) = url.strip_suffix('?').filter(|bare| !bare.contains('?')) {
        urls.extend(port_forms(bare).map(|form| Cow::Owned(form.into_owned())));
    }
    urls.dedup();
    urls
}

/// Verifies a Twilio-style signature, as Twilio's own Python and Node
/// validators do: the URL is tried without its port and with it (the
/// default port added when it has none), and when it ends in an empty `?`,
/// without that too; for a URL carrying `bodySHA256`, that must be the
/// SHA-256 of `body` and only the URL is signed.
///
/// The work is linear in the size of the request (the parameters are sorted
/// once, the URL forms are at most four), and bounded: a token under
/// [`SHORTEST_TWILIO_TOKEN`] bytes, more than [`FORM_PARAMETERS`] parameters, a URL
/// over [`TWILIO_URL_BYTES`] bytes, or a body or parameters over
/// [`TWILIO_BODY_BYTES`] bytes are refused before anything is hashed.
///
/// Node's validator also tries the URL as `new URL()` re-encodes it (for
/// back ends that signed an escaped form); this does not, as a URL callhook
/// sends is already in that form.
///
/// # Errors
///
/// A short token, a request past a limit, a `bodySHA256` that does not match
/// the body, or a signature that matches no form of the URL, is an error of
/// kind [`ErrorKind::Signature`].
///
/// # Examples
///
/// ```
/// use callhook::signing::{twilio_signature, verify_twilio};
///
/// let token = "0123456789abcdef0123456789abcdef";
/// let params = [("CallSid".to_owned(), "CA123".to_owned())];
/// let signature = twilio_signature(token, "https://example.com/voice", &params);
/// // Received behind a port Twilio did not sign.
/// let url = "https://example.com:8443/voice";
/// verify_twilio(token, url, &params, b"CallSid=CA123", &signature)?;
/// # Ok::<(), callhook::Error>(())
/// ```
pub fn verify_twilio(
    token: &str,
    url: &str,
    params: &[(String, String)],
    body: &[u8],
    signature: &str,
) -> Result<(), Error> {
    check_token(token)?;
    check_twilio_limits(url, params, body.len())?;
    // A URL that does not parse carries no `bodySHA256`: the signature
    // over the URL and the parameters alone decides.
    let body_hash = url::Url::parse(url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "bodySHA256")
            .map(|(_, v)| v.into_owned())
    });
    let params: &[(String, String)] = match &body_hash {
        Some(expected) => {
            if !constant_time_eq(expected.as_bytes(), body_sha256(body).as_bytes()) {
                return Err(signature_error("`bodySHA256` does not match the body"));
            }
            &[]
        }
        None => params,
    };
    // Sorted and keyed once; each URL form then hashes the request once.
    let sorted = sorted_params(params);
    let key = twilio_key(token);
    let mut matched = false;
    for candidate in twilio_urls(url) {
        let expected = twilio_tag(&key, &candidate, &sorted);
        matched |= constant_time_eq(expected.as_bytes(), signature.as_bytes());
    }
    if matched {
        Ok(())
    } else {
        Err(signature_error("the `X-Twilio-Signature` does not match"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms_are_those_twilio_validators_try() {
        let forms = |url| {
            twilio_urls(url)
                .into_iter()
                .map(Cow::into_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            forms("https://a.com/x?y"),
            ["https://a.com/x?y", "https://a.com:443/x?y"]
        );
        assert_eq!(
            forms("http://a.com:80/x"),
            ["http://a.com/x", "http://a.com:80/x"]
        );
        assert_eq!(
            forms("http://a.com:8080/x"),
            ["http://a.com/x", "http://a.com:8080/x"]
        );
        // No path, user information, an IPv6 literal, an upper-case scheme.
        assert_eq!(
            forms("HTTPS://a.com"),
            ["HTTPS://a.com", "HTTPS://a.com:443"]
        );
        assert_eq!(
            forms("https://u:p@a.com:8443?q"),
            ["https://u:p@a.com?q", "https://u:p@a.com:8443?q"]
        );
        assert_eq!(
            forms("https://[::1]:8443/x"),
            ["https://[::1]/x", "https://[::1]:8443/x"]
        );
        assert_eq!(forms("https://[::1]/x")[1], "https://[::1]:443/x");
        // An empty query is tried without its `?` too; a non-empty one
        // ending in `?`, or a trailing `&`, are kept as they are.
        assert_eq!(
            forms("https://a.com:8443/x?"),
            [
                "https://a.com/x?",
                "https://a.com:8443/x?",
                "https://a.com/x",
                "https://a.com:8443/x"
            ]
        );
        assert_eq!(forms("https://a.com/x?a=?").len(), 2);
        assert_eq!(forms("https://a.com/x?a=1&").len(), 2);
        // Not a URL, or hardly one: tried as it is too, and never panics.
        for text in [
            "",
            "://",
            "a",
            "1a://b",
            "https://",
            "https://:",
            "https://@:",
            "é://:",
        ] {
            assert!(forms(text).iter().any(|form| form == text), "{text}");
        }
    }

    #[test]
    fn sorting_once_signs_as_looking_up_each_name_did() {
        // The order Twilio's libraries sign in: names by code point, each
        // name's distinct values sorted.
        let params: Vec<(String, String)> =
            [("b", "2"), ("a", "z"), ("b", "1"), ("a", "z"), ("é", "")]
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
        let mut mac = twilio_key("k");
        mac.update("https://a.com/".as_bytes());
        mac.update("azb1b2é".as_bytes());
        assert_eq!(
            twilio_signature("k", "https://a.com/", &params),
            general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        );
    }
}

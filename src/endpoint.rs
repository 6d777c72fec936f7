//! [`Endpoint`]: what a webhook's deliveries fail together at, the origin
//! of its URL.
//!
//! Its own module, above `retry`, because a [`Decision::Wait`] names the
//! endpoint waited for while the health state that makes it (`health`)
//! reads the retry module's outcomes: imports run one way.
//!
//! [`Decision::Wait`]: crate::Decision::Wait

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::ENDPOINT_BYTES;

/// A webhook target's origin: scheme, host and port, the default port
/// filled in (`https://crm.example:443`).
///
/// Health is kept per origin, not per URL, because the origin is what
/// fails together: one server (or one load balancer) answers every path
/// under it, behind one TLS name and one rate limit, so a `503` or a
/// refused connection on one path says the same of the others, and a
/// `Retry-After` from one path throttles them all. Two webhooks posting to
/// `/calls` and `/agents` of one receiver share its health; the same
/// host on another port or scheme is another endpoint.
///
/// The scheme and host are held in lowercase, as origins compare. It is
/// written (`Display`, serde) as `scheme://host:port`, which holds no path
/// or query, so no secret or personal data a URL's query may carry.
///
/// # Examples
///
/// ```
/// use callhook::Endpoint;
///
/// let uri: http::Uri = "https://CRM.example/hooks/calls?token=s3cret".parse().unwrap();
/// let endpoint = Endpoint::of(&uri).unwrap();
/// assert_eq!(endpoint.to_string(), "https://crm.example:443");
/// assert_eq!(endpoint.port(), 443);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// `scheme://host:port`, scheme and host in lowercase: kept whole so
    /// showing, comparing and storing it need no assembly.
    text: Box<str>,
    /// Where the host starts and ends in `text`.
    host: (u16, u16),
    port: u16,
}

impl Endpoint {
    /// The origin of `uri`, if it has one: an `http` or `https` URL with a
    /// host. `None` for any other, which no webhook sends to.
    #[must_use]
    pub fn of(uri: &http::Uri) -> Option<Endpoint> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let host = uri.host().filter(|h| !h.is_empty())?.to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(default);
        Endpoint::build(&scheme, &host, port)
    }

    fn build(scheme: &str, host: &str, port: u16) -> Option<Endpoint> {
        let text = format!("{scheme}://{host}:{port}");
        if text.len() > ENDPOINT_BYTES {
            return None;
        }
        let start = scheme.len() + 3;
        // Within `ENDPOINT_BYTES`, which is far below `u16::MAX`.
        let host = (
            u16::try_from(start).ok()?,
            u16::try_from(start + host.len()).ok()?,
        );
        Some(Endpoint {
            text: text.into(),
            host,
            port,
        })
    }

    /// The scheme: `http` or `https`.
    #[must_use]
    pub fn scheme(&self) -> &str {
        self.text.split_once("://").map_or("", |(scheme, _)| scheme)
    }

    /// The host, lowercase; an IPv6 address in brackets, as URLs write it.
    #[must_use]
    pub fn host(&self) -> &str {
        self.text
            .get(usize::from(self.host.0)..usize::from(self.host.1))
            .unwrap_or("")
    }

    /// The port, the scheme's default if the URL gave none.
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// `scheme://host:port`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Reads `scheme://host:port` as [`Endpoint`]'s `Display` writes it;
    /// anything more (a path, a query, no port) is refused, so a stored
    /// map holds one key per origin.
    fn parse(text: &str) -> Option<Endpoint> {
        if text.len() > ENDPOINT_BYTES {
            return None;
        }
        let uri: http::Uri = text.parse().ok()?;
        let endpoint = Endpoint::of(&uri)?;
        (*endpoint.text == *text).then_some(endpoint)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Endpoint, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Endpoint::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{}` is not an endpoint, written `https://host:443`",
                shown(&text)
            ))
        })
    }
}

/// Stored text quoted in an error: its first 100 characters, as it may be
/// anything, of any length.
fn shown(text: &str) -> String {
    let mut shown: String = text.chars().take(100).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(url: &str) -> Option<Endpoint> {
        Endpoint::of(&url.parse().unwrap())
    }

    #[test]
    fn the_origin_with_the_default_port() {
        let e = of("https://CRM.example/a/b?token=x").unwrap();
        assert_eq!(e.to_string(), "https://crm.example:443");
        assert_eq!(
            (e.scheme(), e.host(), e.port()),
            ("https", "crm.example", 443)
        );
        assert_eq!(
            of("http://crm.example/").unwrap().as_str(),
            "http://crm.example:80"
        );
        assert_eq!(
            of("HTTP://crm.example:8080/x").unwrap().as_str(),
            "http://crm.example:8080"
        );
        assert_eq!(of("https://[::1]:8443/").unwrap().host(), "[::1]");
        // Paths of one origin are one endpoint; ports and schemes are not.
        assert_eq!(of("https://crm.example/a"), of("https://crm.example:443/b"));
        assert_ne!(of("https://crm.example/"), of("http://crm.example/"));
        assert_ne!(of("https://crm.example/"), of("https://crm.example:8443/"));
        assert_eq!(of("ftp://crm.example/"), None);
        assert_eq!(of("/relative"), None);
    }

    #[test]
    fn json_is_the_text_and_nothing_else_is_read() {
        let e = of("https://crm.example/x").unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#""https://crm.example:443""#);
        assert_eq!(serde_json::from_str::<Endpoint>(&json).unwrap(), e);
        for hostile in [
            r#""https://crm.example""#,
            r#""https://crm.example:443/path""#,
            r#""https://CRM.example:443""#,
            r#""ftp://crm.example:21""#,
            r#""""#,
            r#"7"#,
        ] {
            let err = serde_json::from_str::<Endpoint>(hostile);
            assert!(err.is_err(), "{hostile}");
        }
        let long = format!("\"https://{}.example:443\"", "a".repeat(100_000));
        let err = serde_json::from_str::<Endpoint>(&long)
            .unwrap_err()
            .to_string();
        assert!(err.len() < 400, "{err}");
    }
}

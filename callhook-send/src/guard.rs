//! The address policy, applied where the adapters connect.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use callhook::AddressPolicy;

/// An address the policy refused: the error a resolver gives its client,
/// found again in the client's error to tell a refusal from a failure.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) address: IpAddr,
    pub(crate) reason: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "address {} refused: {}", self.address, self.reason)
    }
}

impl std::error::Error for Refused {}

/// A name that did not resolve: told apart from other connection failures
/// (ureq has its own, `Error::HostNotFound`).
#[cfg(feature = "reqwest")]
#[derive(Debug)]
pub(crate) struct NotResolved(pub(crate) std::io::Error);

#[cfg(feature = "reqwest")]
impl fmt::Display for NotResolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "name not resolved: {}", self.0)
    }
}

#[cfg(feature = "reqwest")]
impl std::error::Error for NotResolved {}

/// Checks every address a name resolved to. One refused address refuses
/// the name: a name that mixes public and internal addresses is what DNS
/// rebinding uses, and the client would try them in turn.
pub(crate) fn check_all(
    policy: &AddressPolicy,
    addresses: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, Refused> {
    let mut allowed = Vec::new();
    for address in addresses {
        check(policy, address.ip())?;
        allowed.push(address);
    }
    Ok(allowed)
}

fn check(policy: &AddressPolicy, ip: IpAddr) -> Result<(), Refused> {
    policy.check(ip).map_err(|e| Refused {
        address: ip,
        reason: e.message().to_owned(),
    })
}

/// Checks the URL's host when it is an IP literal, which no resolver sees
/// (the clients connect to it as written). Names pass: the resolver checks
/// what they resolve to.
///
/// The host is read as the WHATWG URL parser reads it, which reqwest uses
/// and which takes `2130706433`, `127.1` and `0x7f.1` for 127.0.0.1: read
/// as Rust's `IpAddr` reads text, those are names, which reqwest would
/// then connect to as addresses without asking the resolver.
pub(crate) fn check_literal(policy: &AddressPolicy, uri: &http::Uri) -> Result<(), Refused> {
    // A URL the WHATWG parser refuses is one neither client can send to:
    // reqwest refuses it itself, and ureq resolves whatever host it reads
    // through the guarded resolver.
    let Ok(url) = url::Url::parse(&uri.to_string()) else {
        return Ok(());
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) => check(policy, IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => check(policy, IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) | None => Ok(()),
    }
}

/// Finds a [`Refused`] in an error's chain of sources.
pub(crate) fn find_refused<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a Refused> {
    find::<Refused>(error)
}

/// Finds an error of type `T` in an error's chain of sources.
pub(crate) fn find<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    walk(error, &mut |e| e.downcast_ref::<T>())
}

/// Visits an error and its sources, in order, until `visit` finds
/// something. An I/O error's `source` is its inner error's source,
/// skipping the inner error itself, where clients put what they wrap: the
/// inner error is visited too.
fn walk<'a, R>(
    mut error: &'a (dyn std::error::Error + 'static),
    visit: &mut impl FnMut(&'a (dyn std::error::Error + 'static)) -> Option<R>,
) -> Option<R> {
    loop {
        if let Some(found) = visit(error) {
            return Some(found);
        }
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if let Some(found) = walk(inner, visit) {
                return Some(found);
            }
        }
        error = error.source()?;
    }
}

/// Every description of a transport error the adapters give
/// ([`Attempted::error`](crate::Attempted::error)).
#[cfg(test)]
pub(crate) const WORDS: &[&str] = &[
    "timed out",
    "connection refused",
    "connection reset",
    "connection closed",
    "tls handshake failed",
    "name not resolved",
    "invalid response",
    "connection failed",
    "request failed",
];

/// The words for an I/O error, if its kind says enough.
pub(crate) fn io_words(error: &std::io::Error) -> Option<&'static str> {
    use std::io::ErrorKind;
    Some(match error.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => "timed out",
        ErrorKind::ConnectionRefused => "connection refused",
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            "connection reset"
        }
        ErrorKind::UnexpectedEof => "connection closed",
        _ => return None,
    })
}

/// The words for an error's chain, from what the clients wrap: a TLS error
/// anywhere in it, else the first I/O error whose kind says enough.
pub(crate) fn chain_words(error: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    if find::<rustls::Error>(error).is_some() {
        return Some("tls handshake failed");
    }
    walk(error, &mut |e| {
        e.downcast_ref::<std::io::Error>().and_then(io_words)
    })
}

/// The URL's origin, for events: scheme, host and port, never the path or
/// the query (which may hold secrets or personal data).
pub(crate) fn origin(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let host = uri.host().unwrap_or("");
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    format!("{scheme}://{host}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_checked_and_names_are_left_to_the_resolver() {
        let strict = AddressPolicy::new();
        for uri in [
            "http://127.0.0.1:8080/hook",
            "https://[::1]/hook",
            "http://169.254.169.254/latest",
            "http://[::ffff:10.0.0.1]/",
        ] {
            let refused = check_literal(&strict, &uri.parse().unwrap());
            assert!(refused.is_err(), "{uri}");
        }
        assert!(check_literal(&strict, &"https://localhost/".parse().unwrap()).is_ok());
        assert!(check_literal(&strict, &"https://93.184.215.14/".parse().unwrap()).is_ok());
        let loopback = AddressPolicy::new().allow("127.0.0.1").unwrap();
        assert!(check_literal(&loopback, &"http://127.0.0.1:1/".parse().unwrap()).is_ok());
    }

    /// Found in review: reqwest reads `2130706433`, `127.1` and `0x7f.1` as
    /// 127.0.0.1 and connects without asking the resolver; they were taken
    /// for names and passed.
    #[test]
    fn literals_in_every_whatwg_form_are_checked() {
        let strict = AddressPolicy::new();
        for uri in [
            "http://2130706433:8080/hook",
            "http://127.1/hook",
            "http://0x7f.1/hook",
            "http://0177.0.0.1/hook",
            "http://0x7f000001/",
        ] {
            let refused = check_literal(&strict, &uri.parse().unwrap());
            assert!(refused.is_err(), "{uri}");
        }
    }

    #[test]
    fn one_refused_address_refuses_the_name() {
        let strict = AddressPolicy::new();
        let mixed: Vec<SocketAddr> = vec![
            "93.184.215.14:443".parse().unwrap(),
            "10.0.0.1:443".parse().unwrap(),
        ];
        let refused = check_all(&strict, mixed).unwrap_err();
        assert_eq!(refused.address, "10.0.0.1".parse::<IpAddr>().unwrap());
        let public: Vec<SocketAddr> = vec!["93.184.215.14:443".parse().unwrap()];
        assert_eq!(check_all(&strict, public.clone()).unwrap(), public);
    }

    #[test]
    fn a_refusal_is_found_through_wrappers() {
        let refused = Refused {
            address: "10.0.0.1".parse().unwrap(),
            reason: "private".into(),
        };
        let wrapped = std::io::Error::other(refused);
        assert!(find_refused(&wrapped).is_some());
        let plain = std::io::Error::other("no");
        assert!(find_refused(&plain).is_none());
    }

    #[test]
    fn io_errors_map_to_fixed_words() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(chain_words(&refused), Some("connection refused"));
        let tls = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert_eq!(chain_words(&tls), Some("tls handshake failed"));
        assert_eq!(chain_words(&std::io::Error::other("odd")), None);
    }

    #[test]
    fn the_origin_has_no_path_or_query() {
        let uri: http::Uri = "https://hooks.example.com/a/b?token=secret"
            .parse()
            .unwrap();
        assert_eq!(origin(&uri), "https://hooks.example.com:443");
    }
}

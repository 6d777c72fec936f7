//! Which addresses a webhook may be sent to: a guard against server-side
//! request forgery (SSRF), where a configured URL points a platform at its
//! own internal services.
//!
//! Configured URLs whose host is an IP literal are checked when a service is
//! compiled; a host name can only be checked once it is resolved, so the
//! host calls [`check_address`] (or [`AddressPolicy::check`]) on every
//! address its resolver returns, before connecting. Hosts must not follow
//! redirects either: a 3xx is an answer (the Standard Webhooks spec treats
//! it as a failure), never a new target.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Error, ErrorKind};

/// The addresses webhooks may be sent to: every public address, and the
/// internal ones an allow-list names.
///
/// Refused unless allowed: loopback, private (RFC 1918, IPv6 unique local),
/// link-local (which holds the cloud metadata service, 169.254.169.254),
/// shared CGNAT space, multicast, broadcast, unspecified, documentation and
/// benchmarking ranges, and those same addresses written as IPv4-mapped or
/// IPv4-compatible IPv6.
///
/// ```
/// use callhook::AddressPolicy;
///
/// let policy = AddressPolicy::new().allow("10.1.0.0/16")?;
/// assert!(policy.check("10.1.2.3".parse().unwrap()).is_ok());
/// assert!(policy.check("10.2.0.1".parse().unwrap()).is_err());
/// assert!(policy.check("::ffff:169.254.169.254".parse().unwrap()).is_err());
/// assert!(policy.check("93.184.215.14".parse().unwrap()).is_ok());
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allowed: Vec<(IpAddr, u8)>,
}

impl AddressPolicy {
    /// The policy that refuses every internal address.
    #[must_use]
    pub const fn new() -> AddressPolicy {
        AddressPolicy {
            allowed: Vec::new(),
        }
    }

    /// Allows an address (`127.0.0.1`, `::1`) or a range in CIDR form
    /// (`10.1.0.0/16`), and returns the policy.
    ///
    /// # Errors
    ///
    /// Text that is neither is an error of kind [`ErrorKind::InvalidConfig`].
    pub fn allow(mut self, allowed: &str) -> Result<AddressPolicy, Error> {
        let invalid = || {
            Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "`{}` is not an address or a range such as `10.1.0.0/16`",
                    crate::error::shown(allowed)
                ),
            )
        };
        let (address, prefix) = match allowed.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (allowed, None),
        };
        let address: IpAddr = address.trim().parse().map_err(|_| invalid())?;
        let most = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.trim().parse().map_err(|_| invalid())?,
            None => most,
        };
        if prefix > most {
            return Err(invalid());
        }
        self.allowed.push((address, prefix));
        Ok(self)
    }

    /// Checks one address, as the host's resolver returns it.
    ///
    /// # Errors
    ///
    /// An internal address the policy does not allow is an error of kind
    /// [`ErrorKind::InvalidUrl`] saying which range it is in.
    pub fn check(&self, ip: IpAddr) -> Result<(), Error> {
        let Some(range) = internal(ip) else {
            return Ok(());
        };
        if self
            .allowed
            .iter()
            .any(|&(network, prefix)| contains(network, prefix, ip))
        {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::InvalidUrl,
            format!(
                "`{ip}` is a {range} address; webhooks go to public addresses unless the \
                 configuration's `allowed_addresses` names it"
            ),
        ))
    }
}

/// Checks one address against the policy that refuses every internal
/// address: what a host calls on each address its resolver returns before
/// it connects, so a host name cannot lead a webhook inside.
///
/// # Errors
///
/// As [`AddressPolicy::check`].
///
/// # Examples
///
/// ```
/// use callhook::check_address;
///
/// assert!(check_address("169.254.169.254".parse().unwrap()).is_err());
/// assert!(check_address("2606:4700::1111".parse().unwrap()).is_ok());
/// ```
pub fn check_address(ip: IpAddr) -> Result<(), Error> {
    AddressPolicy::new().check(ip)
}

/// Whether `ip` is in `network/prefix`, comparing IPv4-mapped IPv6 as IPv4.
fn contains(network: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (network, unmap(ip)) {
        (IpAddr::V4(network), IpAddr::V4(ip)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(network) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(network), IpAddr::V6(ip)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(network) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

/// An IPv6 address that carries an IPv4 one (mapped `::ffff:a.b.c.d`, or
/// the deprecated compatible `::a.b.c.d`) as that IPv4 address.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let segments = v6.segments();
                let compatible =
                    segments[..6].iter().all(|&s| s == 0) && (segments[6] != 0 || segments[7] > 1);
                if compatible {
                    IpAddr::V4(Ipv4Addr::new(
                        (segments[6] >> 8) as u8,
                        segments[6] as u8,
                        (segments[7] >> 8) as u8,
                        segments[7] as u8,
                    ))
                } else {
                    ip
                }
            }
        },
        IpAddr::V4(_) => ip,
    }
}

/// The kind of internal range `ip` is in, if it is in one.
fn internal(ip: IpAddr) -> Option<&'static str> {
    match unmap(ip) {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() || a == 0 => "unspecified (\"this network\")",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        (169, 254, _) => "link-local (cloud metadata)",
        (100, 64..=127, _) => "shared (CGNAT)",
        (192, 0, 0) => "IETF protocol assignment",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() || a >= 240 => "reserved",
        _ => return None,
    })
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(match first {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if first & 0xfe00 == 0xfc00 => "private (unique local)",
        _ if first & 0xffc0 == 0xfe80 => "link-local",
        _ if first & 0xff00 == 0xff00 => "multicast",
        0x2001 if ip.segments()[1] == 0x0db8 => "documentation",
        // fd00:ec2::254, the IPv6 metadata service, is unique local above.
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        check_address(text.parse().unwrap()).is_err()
    }

    #[test]
    fn internal_ranges_are_refused_in_every_form() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.0.0.1",
        ] {
            assert!(refused(ip), "{ip}");
        }
        for ip in ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn the_allow_list_takes_addresses_and_ranges() {
        let policy = AddressPolicy::new()
            .allow("127.0.0.1")
            .unwrap()
            .allow("fd00::/8")
            .unwrap();
        assert!(policy.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(policy.check("::ffff:127.0.0.1".parse().unwrap()).is_ok());
        assert!(policy.check("127.0.0.2".parse().unwrap()).is_err());
        assert!(policy.check("fd12::1".parse().unwrap()).is_ok());
        assert!(AddressPolicy::new().allow("10.0.0.0/33").is_err());
        assert!(AddressPolicy::new().allow("nope").is_err());
        assert!(AddressPolicy::new()
            .allow("0.0.0.0/0")
            .unwrap()
            .check("10.9.9.9".parse().unwrap())
            .is_ok());
    }
}

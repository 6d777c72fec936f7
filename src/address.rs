//! Which addresses a webhook may be sent to: a guard against server-side
//! request forgery (SSRF), where a configured URL points a platform at its
//! own internal services.
//!
//! Configured URLs whose host is an IP literal, or `localhost`, are checked
//! when a service is compiled; any other host name can only be checked once
//! it is resolved, so the host calls [`AddressPolicy::check`] (the
//! registry's own policy, or `AddressPolicy::default()`, which refuses every
//! internal address) on every address its resolver returns, before
//! connecting. Hosts must not follow redirects either: a 3xx is an answer
//! (the Standard Webhooks spec treats it as a failure), never a new target.
//!
//! What is refused follows the IANA IPv4 and IPv6 Special-Purpose Address
//! Registries (RFC 6890 and its updates): every block whose "Globally
//! Reachable" is False, or N/A for a block that is not decoded. An IPv6
//! address that carries an IPv4 one (IPv4-mapped, IPv4-compatible, SIIT,
//! NAT64, 6to4, Teredo) is judged by the IPv4 address a packet to it
//! reaches.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Error, ErrorKind};

/// The addresses webhooks may be sent to: every public address, and the
/// internal ones an allow-list names.
///
/// Refused unless allowed, in IPv4: "this network" (0.0.0.0/8), private
/// (RFC 1918), shared CGNAT space, loopback, link-local (which holds the
/// cloud metadata service, 169.254.169.254), the IETF protocol assignments
/// (192.0.0.0/24, but for the anycast 192.0.0.9 and 192.0.0.10),
/// documentation, the deprecated 6to4 relay anycast (192.88.99.0/24),
/// benchmarking, multicast, reserved (240.0.0.0/4) and broadcast. In IPv6:
/// unspecified, loopback, the local-use translation prefix (64:ff9b:1::/48),
/// discard-only and dummy prefixes, the IETF protocol assignments
/// (2001::/23, but for its globally reachable blocks), documentation
/// (2001:db8::/32, 3fff::/20), SRv6 segment identifiers (5f00::/16), unique
/// local, link-local, the deprecated site-local, multicast, and space
/// outside 2000::/3 that IANA has not opened for unicast.
///
/// An IPv6 address that carries an IPv4 one is refused when that IPv4
/// address would be: IPv4-mapped and IPv4-compatible, SIIT
/// (`::ffff:0:a.b.c.d`), NAT64 (64:ff9b::/96, the IPv4 address in the last
/// 32 bits), 6to4 (2002::/16, the IPv4 address in bits 16 to 47), and
/// Teredo (2001::/32: the server in bits 32 to 63 and the client, inverted,
/// in the last 32 bits; both are checked).
///
/// A configured URL whose host is `localhost` or a name under it (RFC 6761)
/// is refused at load unless the policy allows `127.0.0.1` or `::1`.
///
/// The allow-list names addresses or ranges as written; an IPv4 entry also
/// allows the IPv6 forms that carry its addresses.
///
/// ```
/// use callhook::AddressPolicy;
///
/// let policy = AddressPolicy::new().allow("10.1.0.0/16")?;
/// assert!(policy.check("10.1.2.3".parse().unwrap()).is_ok());
/// assert!(policy.check("64:ff9b::a01:203".parse().unwrap()).is_ok());
/// assert!(policy.check("10.2.0.1".parse().unwrap()).is_err());
/// assert!(policy.check("::ffff:169.254.169.254".parse().unwrap()).is_err());
/// assert!(policy.check("2002:a9fe:a9fe::1".parse().unwrap()).is_err());
/// assert!(policy.check("93.184.215.14".parse().unwrap()).is_ok());
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allowed: Vec<(IpAddr, u8)>,
}

/// What every refusal ends with.
const UNLESS: &str = "webhooks go to public addresses unless the configuration's \
                      `allowed_addresses` names it";

impl AddressPolicy {
    /// The policy that refuses every internal address, as
    /// `AddressPolicy::default()` is.
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

    /// Checks one address, as the host's resolver returns it: what a host
    /// calls on each address before it connects, so a host name cannot lead
    /// a webhook inside.
    ///
    /// # Errors
    ///
    /// An internal address the policy does not allow is an error of kind
    /// [`ErrorKind::InvalidUrl`] naming the block it is in and its RFC (and,
    /// for an IPv6 address that carries an IPv4 one, how and which).
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::AddressPolicy;
    ///
    /// let strict = AddressPolicy::default();
    /// assert!(strict.check("169.254.169.254".parse().unwrap()).is_err());
    /// assert!(strict.check("64:ff9b::a9fe:a9fe".parse().unwrap()).is_err());
    /// assert!(strict.check("2606:4700::1111".parse().unwrap()).is_ok());
    /// ```
    pub fn check(&self, ip: IpAddr) -> Result<(), Error> {
        if self.allows(ip) {
            return Ok(());
        }
        let refused = |what: String| {
            Err(Error::new(
                ErrorKind::InvalidUrl,
                format!("`{ip}` {what}; {UNLESS}"),
            ))
        };
        match ip {
            IpAddr::V4(v4) => match block_v4(v4) {
                Some(block) => refused(format!("is {block}")),
                None => Ok(()),
            },
            IpAddr::V6(v6) => match carried(v6) {
                // A packet to it reaches the IPv4 addresses it carries (and
                // goes no further inside than they do), so they are judged.
                Some(carried) => {
                    for (how, v4) in carried.into_iter().flatten() {
                        if let Some(block) = block_v4(v4) {
                            if !self.allows(IpAddr::V4(v4)) {
                                return refused(format!("carries `{v4}` ({how}), {block}"));
                            }
                        }
                    }
                    Ok(())
                }
                None => match block_v6(v6) {
                    Some(block) => refused(format!("is {block}")),
                    None => Ok(()),
                },
            },
        }
    }

    /// Checks a URL's host name: `localhost` and the names under it, in any
    /// case and with or without the root's trailing dot, are loopback
    /// without asking DNS (RFC 6761), so they are refused unless the policy
    /// allows `127.0.0.1` or `::1`. Any other name is the host's to check
    /// once resolved.
    pub(crate) fn check_name(&self, name: &str) -> Result<(), Error> {
        const UNDER: &[u8] = b".localhost";
        // The loopback names of the usual `/etc/hosts` (Debian's, RedHat's)
        // beside RFC 6761's: a resolver answers them without DNS.
        const HOSTS_FILE: [&[u8]; 4] = [
            b"localhost.localdomain",
            b"ip6-localhost",
            b"ip6-loopback",
            b"localhost6",
        ];
        let bare = name.trim_end_matches('.').as_bytes();
        let local = bare.eq_ignore_ascii_case(&UNDER[1..])
            || HOSTS_FILE
                .iter()
                .any(|alias| bare.eq_ignore_ascii_case(alias))
            || bare
                .len()
                .checked_sub(UNDER.len())
                .is_some_and(|at| bare[at..].eq_ignore_ascii_case(UNDER));
        if !local
            || self.allows(IpAddr::V4(Ipv4Addr::LOCALHOST))
            || self.allows(IpAddr::V6(Ipv6Addr::LOCALHOST))
        {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::InvalidUrl,
            format!(
                "`{}` is this machine: `localhost` and the names under it are loopback \
                 (RFC 6761); webhooks go to public addresses unless the configuration's \
                 `allowed_addresses` names `127.0.0.1` or `::1`",
                crate::error::shown(name)
            ),
        ))
    }

    /// Whether the allow-list names `ip` as written.
    fn allows(&self, ip: IpAddr) -> bool {
        self.allowed
            .iter()
            .any(|&(network, prefix)| contains(network, prefix, ip))
    }
}

/// Whether `ip` is in `network/prefix`; an address of the other family
/// never is.
fn contains(network: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (network, ip) {
        (IpAddr::V4(network), IpAddr::V4(ip)) => in_v4(network, prefix, ip),
        (IpAddr::V6(network), IpAddr::V6(ip)) => in_v6(network, prefix, ip),
        _ => false,
    }
}

fn in_v4(network: Ipv4Addr, prefix: u8, ip: Ipv4Addr) -> bool {
    // A `/0` shifts by the whole width, which `checked_shl` refuses: it
    // fixes no bit, so the mask is 0 and every address is in it.
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(network) & mask == u32::from(ip) & mask
}

fn in_v6(network: Ipv6Addr, prefix: u8, ip: Ipv6Addr) -> bool {
    // As in `in_v4`: a `/0` fixes no bit.
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    u128::from(network) & mask == u128::from(ip) & mask
}

/// The IPv4 addresses an IPv6 address carries, each with how it carries
/// it, or `None` if it carries none. Teredo carries two; the client, where
/// the relay sends the packet, comes first.
///
/// The local-use NAT64 prefix, 64:ff9b:1::/48 (RFC 8215), is not decoded:
/// its operator chooses where in the address the IPv4 one goes (RFC 6052
/// allows six layouts), so it is refused as a block.
fn carried(ip: Ipv6Addr) -> Option<[Option<(&'static str, Ipv4Addr)>; 2]> {
    let bits = u128::from(ip);
    // The IPv4 address in bits `at..at + 32`, counting from the top.
    let v4 = |at: u32| Ipv4Addr::from((bits >> (96 - at)) as u32);
    let s = ip.segments();
    let one = |how: &'static str| Some([Some((how, v4(96))), None]);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => one("IPv4-mapped, RFC 4291"),
        [0, 0, 0, 0, 0xffff, 0, _, _] => one("SIIT, RFC 2765"),
        // `::` and `::1` are IPv6's own.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => one("IPv4-compatible, RFC 4291"),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => one("NAT64, RFC 6052"),
        [0x2002, ..] => Some([Some(("6to4, RFC 3056", v4(16))), None]),
        [0x2001, 0, ..] => Some([
            Some((
                "the Teredo client, RFC 4380",
                Ipv4Addr::from(!(bits as u32)),
            )),
            Some(("the Teredo server, RFC 4380", v4(32))),
        ]),
        _ => None,
    }
}

/// The IPv4 blocks that are not globally reachable, most specific first:
/// the first block an address is in decides, and `None` is a globally
/// reachable block inside a refused one. IANA IPv4 Special-Purpose Address
/// Registry, and multicast (RFC 5771).
const V4_BLOCKS: &[(Ipv4Addr, u8, Option<&str>)] = &[
    (
        Ipv4Addr::new(0, 0, 0, 0),
        8,
        Some("a \"this network\" address (RFC 791)"),
    ),
    (
        Ipv4Addr::new(10, 0, 0, 0),
        8,
        Some("a private address (RFC 1918)"),
    ),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        Some("a shared (CGNAT) address (RFC 6598)"),
    ),
    (
        Ipv4Addr::new(127, 0, 0, 0),
        8,
        Some("a loopback address (RFC 1122)"),
    ),
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        Some("a link-local (cloud metadata) address (RFC 3927)"),
    ),
    (
        Ipv4Addr::new(172, 16, 0, 0),
        12,
        Some("a private address (RFC 1918)"),
    ),
    // Port Control Protocol anycast (RFC 7723), TURN anycast (RFC 8155).
    (Ipv4Addr::new(192, 0, 0, 9), 32, None),
    (Ipv4Addr::new(192, 0, 0, 10), 32, None),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        Some("an IETF protocol assignment address (RFC 6890)"),
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        Some("a documentation address (RFC 5737)"),
    ),
    // Holds the 6a44 relay anycast, 192.88.99.2 (RFC 6751), also refused.
    (
        Ipv4Addr::new(192, 88, 99, 0),
        24,
        Some("a deprecated 6to4 relay anycast address (RFC 7526)"),
    ),
    (
        Ipv4Addr::new(192, 168, 0, 0),
        16,
        Some("a private address (RFC 1918)"),
    ),
    (
        Ipv4Addr::new(198, 18, 0, 0),
        15,
        Some("a benchmarking address (RFC 2544)"),
    ),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        Some("a documentation address (RFC 5737)"),
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        Some("a documentation address (RFC 5737)"),
    ),
    (
        Ipv4Addr::new(224, 0, 0, 0),
        4,
        Some("a multicast address (RFC 5771)"),
    ),
    (
        Ipv4Addr::new(255, 255, 255, 255),
        32,
        Some("the limited broadcast address (RFC 919)"),
    ),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        Some("a reserved address (RFC 1112)"),
    ),
];

/// The IPv6 blocks that are not globally reachable, as [`V4_BLOCKS`]. IANA
/// IPv6 Special-Purpose Address Registry; the deprecated site-local prefix
/// and the space IANA has not opened for unicast come from the IPv6
/// Address Space registry. IPv4-mapped, SIIT, NAT64, 6to4 and Teredo
/// addresses never get here: [`carried`] decodes them.
const V6_BLOCKS: &[(Ipv6Addr, u8, Option<&str>)] = &[
    (
        Ipv6Addr::UNSPECIFIED,
        128,
        Some("the unspecified address (RFC 4291)"),
    ),
    (
        Ipv6Addr::LOCALHOST,
        128,
        Some("the loopback address (RFC 4291)"),
    ),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        Some("a local-use IPv4/IPv6 translation address (RFC 8215)"),
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        Some("a discard-only address (RFC 6666)"),
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0),
        64,
        Some("a dummy address (RFC 9780)"),
    ),
    // Port Control Protocol anycast (RFC 7723), TURN anycast (RFC 8155),
    // DNS-SD service registration anycast (RFC 9665), AMT (RFC 7450),
    // AS112-v6 (RFC 7535), ORCHIDv2 (RFC 7343), drone remote ID entity tags
    // (RFC 9374).
    (Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, 1), 128, None),
    (Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, 2), 128, None),
    (Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, 3), 128, None),
    (Ipv6Addr::new(0x2001, 3, 0, 0, 0, 0, 0, 0), 32, None),
    (Ipv6Addr::new(0x2001, 4, 0x112, 0, 0, 0, 0, 0), 48, None),
    (Ipv6Addr::new(0x2001, 0x20, 0, 0, 0, 0, 0, 0), 28, None),
    (Ipv6Addr::new(0x2001, 0x30, 0, 0, 0, 0, 0, 0), 28, None),
    (
        Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0),
        48,
        Some("a benchmarking address (RFC 5180)"),
    ),
    (
        Ipv6Addr::new(0x2001, 0x10, 0, 0, 0, 0, 0, 0),
        28,
        Some("a deprecated ORCHID address (RFC 4843)"),
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        Some("an IETF protocol assignment address (RFC 2928)"),
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        Some("a documentation address (RFC 3849)"),
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        Some("a documentation address (RFC 9637)"),
    ),
    (
        Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0),
        16,
        Some("an SRv6 segment identifier (RFC 9602)"),
    ),
    // The global unicast space: everything else IANA has opened.
    (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3, None),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        Some("a private (unique local) address (RFC 4193)"),
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        Some("a link-local address (RFC 4291)"),
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        Some("a deprecated site-local address (RFC 3879)"),
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        Some("a multicast address (RFC 4291)"),
    ),
    // Reserved by the IETF: no network is numbered from it, so an address
    // here can only be somebody's private use.
    (
        Ipv6Addr::UNSPECIFIED,
        0,
        Some("a reserved address, outside global unicast (RFC 4291)"),
    ),
];

/// The block that refuses `ip`, if one does.
fn block_v4(ip: Ipv4Addr) -> Option<&'static str> {
    V4_BLOCKS
        .iter()
        .find(|&&(network, prefix, _)| in_v4(network, prefix, ip))
        .and_then(|&(_, _, block)| block)
}

/// The block that refuses `ip`, if one does.
fn block_v6(ip: Ipv6Addr) -> Option<&'static str> {
    V6_BLOCKS
        .iter()
        .find(|&&(network, prefix, _)| in_v6(network, prefix, ip))
        .and_then(|&(_, _, block)| block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_the_strict_one() {
        assert_eq!(AddressPolicy::default(), AddressPolicy::new());
        assert!(refused("10.0.0.1"));
    }

    fn refused(text: &str) -> bool {
        AddressPolicy::default()
            .check(text.parse().unwrap())
            .is_err()
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
    fn carried_addresses_are_decoded_from_their_places() {
        let carried = |text: &str| {
            carried(text.parse().unwrap()).map(|c| c.map(|c| c.map(|(_, v4)| v4.to_string())))
        };
        let one = |v4: &str| Some([Some(v4.to_owned()), None]);
        assert_eq!(carried("::ffff:1.2.3.4"), one("1.2.3.4"));
        assert_eq!(carried("::ffff:0:1.2.3.4"), one("1.2.3.4"));
        assert_eq!(carried("::1.2.3.4"), one("1.2.3.4"));
        assert_eq!(carried("::2"), one("0.0.0.2"));
        assert_eq!(carried("64:ff9b::102:304"), one("1.2.3.4"));
        assert_eq!(carried("2002:102:304:ffff:ffff::1"), one("1.2.3.4"));
        // RFC 4380's example: server 65.54.227.120, client 192.0.2.45.
        assert_eq!(
            carried("2001:0:4136:e378:8000:63bf:3fff:fdd2"),
            Some([
                Some("192.0.2.45".to_owned()),
                Some("65.54.227.120".to_owned())
            ])
        );
        for own in [
            "::",
            "::1",
            "64:ff9b:1::102:304",
            "64:ff9b::1:102:304",
            "2001:1::1",
        ] {
            assert_eq!(carried(own), None, "{own}");
        }
    }

    /// The first block an address is in decides, so an exception must come
    /// before the block it is cut from, and no block may hide behind one
    /// above it that holds it whole.
    #[test]
    fn blocks_are_ordered_most_specific_first() {
        fn check<A: Copy + std::fmt::Debug>(
            blocks: &[(A, u8, Option<&str>)],
            within: impl Fn(A, u8, A) -> bool,
        ) {
            for (i, &(network, prefix, block)) in blocks.iter().enumerate() {
                assert!(
                    !blocks[..i]
                        .iter()
                        .any(|&(n, p, _)| p <= prefix && within(n, p, network)),
                    "{network:?}/{prefix} is hidden"
                );
                if block.is_none() {
                    assert!(
                        blocks[i + 1..]
                            .iter()
                            .any(|&(n, p, b)| b.is_some() && p < prefix && within(n, p, network)),
                        "{network:?}/{prefix} is an exception to nothing"
                    );
                }
            }
        }
        check(V4_BLOCKS, in_v4);
        check(V6_BLOCKS, in_v6);
    }

    #[test]
    fn localhost_names_are_loopback() {
        let policy = AddressPolicy::new();
        for name in [
            "localhost",
            "localhost.",
            "LocalHost",
            "a.localhost",
            ".localhost",
        ] {
            assert!(policy.check_name(name).is_err(), "{name}");
        }
        for name in [
            "localhost.com",
            "xlocalhost",
            "localhost-x",
            "l\u{f6}calhost",
            "",
        ] {
            assert_eq!(policy.check_name(name), Ok(()), "{name}");
        }
        let loopback = AddressPolicy::new().allow("::1").unwrap();
        assert_eq!(loopback.check_name("localhost"), Ok(()));
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

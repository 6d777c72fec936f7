//! The address policy, complete: embedded IPv4 addresses decoded, every special-purpose block refused, localhost names refused.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.

use super::*;
use callhook::AddressPolicy;
use std::net::IpAddr;

/// A sample address inside each block that is not globally reachable, with
/// what the refusal must say: the block's name and its RFC. The blocks are
/// those of the IANA IPv4 and IPv6 Special-Purpose Address Registries whose
/// "Globally Reachable" is False or N/A, multicast, the deprecated
/// site-local prefix, the IPv6 space IANA has not opened for unicast, and
/// public-looking IPv6 addresses that carry an internal IPv4 address.
const REFUSED: &[(&str, &str)] = &[
    // IPv4 Special-Purpose Address Registry.
    ("0.0.0.0", "RFC 791"),
    ("0.255.255.255", "RFC 791"),
    ("10.0.0.1", "RFC 1918"),
    ("100.64.0.1", "RFC 6598"),
    ("100.127.255.255", "RFC 6598"),
    ("127.0.0.1", "RFC 1122"),
    ("127.255.0.1", "RFC 1122"),
    ("169.254.169.254", "RFC 3927"),
    ("172.16.0.1", "RFC 1918"),
    ("172.31.255.255", "RFC 1918"),
    ("192.0.0.1", "RFC 6890"),   // IPv4 service continuity, RFC 7335
    ("192.0.0.8", "RFC 6890"),   // IPv4 dummy address, RFC 7600
    ("192.0.0.170", "RFC 6890"), // NAT64/DNS64 discovery, RFC 8880
    ("192.0.0.255", "RFC 6890"),
    ("192.0.2.1", "RFC 5737"),
    ("192.88.99.1", "RFC 7526"), // deprecated 6to4 relay anycast
    ("192.88.99.2", "RFC 7526"), // 6a44 relay anycast, RFC 6751
    ("192.168.1.1", "RFC 1918"),
    ("198.18.0.1", "RFC 2544"),
    ("198.19.255.255", "RFC 2544"),
    ("198.51.100.7", "RFC 5737"),
    ("203.0.113.9", "RFC 5737"),
    ("224.0.0.1", "RFC 5771"),
    ("239.255.255.250", "RFC 5771"),
    ("240.0.0.1", "RFC 1112"),
    ("255.255.255.254", "RFC 1112"),
    ("255.255.255.255", "RFC 919"),
    // IPv6 Special-Purpose Address Registry.
    ("::", "RFC 4291"),
    ("::1", "RFC 4291"),
    ("64:ff9b:1::1", "RFC 8215"),
    ("64:ff9b:1:ffff::808:808", "RFC 8215"),
    ("100::1", "RFC 6666"),
    ("100::ffff:ffff:ffff:ffff", "RFC 6666"),
    ("100:0:0:1::1", "RFC 9780"),
    ("2001:1::4", "RFC 2928"), // IETF protocol assignments, default
    ("2001:2::1", "RFC 5180"),
    ("2001:4:113::1", "RFC 2928"),
    ("2001:10::1", "RFC 4843"),
    ("2001:1ff::1", "RFC 2928"),
    ("2001:db8::1", "RFC 3849"),
    ("2001:db8:ffff::1", "RFC 3849"),
    ("3fff::1", "RFC 9637"),
    ("3fff:fff:ffff::1", "RFC 9637"),
    ("5f00::1", "RFC 9602"),
    ("fc00::1", "RFC 4193"),
    ("fd00:ec2::254", "RFC 4193"),
    ("fe80::1", "RFC 4291"),
    ("febf::1", "RFC 4291"),
    ("ff02::1", "RFC 4291"),
    ("ff0e::1", "RFC 4291"),
    // The deprecated site-local prefix, and space outside 2000::/3 that
    // IANA has not opened for unicast (IPv6 Address Space registry).
    ("fec0::1", "RFC 3879"),
    ("feff::1", "RFC 3879"),
    ("1::1", "RFC 4291"),
    ("::1:0:0:1", "RFC 4291"),
    ("200::1", "RFC 4291"),
    ("4000::1", "RFC 4291"),
    ("64:ff9b::1:0:0:1", "RFC 4291"), // in 64:ff9b::/32, outside the /96
    ("fe00::1", "RFC 4291"),
    ("5eff::1", "RFC 4291"), // just below 5f00::/16, outside 2000::/3
    // IPv4 addresses carried in IPv6 ones: the IPv4 block is named.
    ("::ffff:127.0.0.1", "RFC 1122"),    // IPv4-mapped, RFC 4291
    ("::ffff:a9fe:a9fe", "RFC 3927"),    // IPv4-mapped, in hex
    ("::127.0.0.1", "RFC 1122"),         // IPv4-compatible, RFC 4291
    ("::ffff:0:10.0.0.1", "RFC 1918"),   // SIIT, RFC 2765
    ("64:ff9b::7f00:1", "RFC 1122"),     // NAT64, RFC 6052
    ("64:ff9b::a9fe:a9fe", "RFC 3927"),  // NAT64
    ("64:ff9b::c0a8:101", "RFC 1918"),   // NAT64
    ("2002:7f00:1::1", "RFC 1122"),      // 6to4, RFC 3056
    ("2002:a9fe:a9fe:1::1", "RFC 3927"), // 6to4
    ("2002:c000:201::1", "RFC 5737"),    // 6to4
    // Teredo (RFC 4380): the client's address is stored inverted in the
    // last 32 bits, the server's in bits 32 to 63; both are checked.
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "RFC 1122"), // client 127.0.0.1
    ("2001:0:4136:e378:8000:63bf:5601:5601", "RFC 3927"), // client 169.254.169.254
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "RFC 5737"), // client 192.0.2.45
    ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "RFC 1918"),     // server 10.0.0.1
];

/// Public addresses: just outside a refused block, in a globally reachable
/// block of the registries, or a public IPv4 address carried in IPv6.
const ALLOWED: &[&str] = &[
    "1.1.1.1",
    "8.8.8.8",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "169.253.255.255",
    "169.255.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "191.255.255.255",
    "192.0.0.9",  // Port Control Protocol anycast, RFC 7723
    "192.0.0.10", // TURN anycast, RFC 8155
    "192.0.1.0",
    "192.0.3.0",
    "192.31.196.1",  // AS112-v4, RFC 7535
    "192.52.193.1",  // AMT, RFC 7450
    "192.88.98.255", // either side of 192.88.99.0/24
    "192.88.100.0",
    "192.167.255.255",
    "192.169.0.0",
    "192.175.48.1", // direct delegation AS112, RFC 7534
    "198.17.255.255",
    "198.20.0.0",
    "198.51.99.255",
    "198.51.101.0",
    "203.0.112.255",
    "203.0.114.0",
    "223.255.255.255",
    "2606:4700::1111",
    "2000::1",
    "3ffe::1",
    "2001:1::1",     // Port Control Protocol anycast, RFC 7723
    "2001:1::2",     // TURN anycast, RFC 8155
    "2001:1::3",     // DNS-SD service registration anycast, RFC 9665
    "2001:3::1",     // AMT, RFC 7450
    "2001:4:112::1", // AS112-v6, RFC 7535
    "2001:20::1",    // ORCHIDv2, RFC 7343
    "2001:2f:ffff::1",
    "2001:30::1",  // drone remote ID entity tags, RFC 9374
    "2001:200::1", // just past 2001::/23
    "2001:db7:ffff::1",
    "2001:db9::1",
    "2003::1",
    "3fff:1000::1",    // just past 3fff::/20
    "2620:4f:8000::1", // direct delegation AS112, RFC 7534
    // Public IPv4 addresses carried in IPv6.
    "::ffff:8.8.8.8",
    "::8.8.8.8",
    "::ffff:0:8.8.8.8",
    "64:ff9b::808:808",
    "64:ff9b::c000:9",
    "2002:808:808::1",
    "2002:101:101:ffff::1",
    "2001:0:4136:e378:8000:63bf:f7f7:f7f7", // server 65.54.227.120, client 8.8.8.8
];

/// The error loading a service with `url` gives (the registry's `Debug`
/// would bury a failure's message).
fn refused(url: &str) -> callhook::Error {
    match load(json!({ "url": url })) {
        Ok(_) => panic!("{url} loaded"),
        Err(e) => e,
    }
}

/// How a URL names `ip`.
fn url(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("http://{v4}/x"),
        // As clients write it: hexadecimal, never dotted (`::ffff:808:808`).
        IpAddr::V6(v6) => url::Url::parse(&format!("http://[{v6}]/x"))
            .unwrap()
            .to_string(),
    }
}

/// Guards the address policy against every block that is not globally
/// reachable, whichever way an address is written: checked by the host
/// (`AddressPolicy::check`) and in a configured URL at load, with a message that
/// names the block by its RFC. Before the fix, NAT64, 6to4, Teredo and SIIT
/// addresses carried any IPv4 address past the policy, and most blocks of
/// the registries (192.88.99.0/24, 100::/64, 2001::/23, 3fff::/20,
/// 5f00::/16, fec0::/10, ...) were not refused at all.
#[test]
fn every_block_that_is_not_globally_reachable_is_refused() {
    for &(text, rfc) in REFUSED {
        let ip: IpAddr = text.parse().unwrap();
        let err = AddressPolicy::default().check(ip).expect_err(text);
        assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{text}: {err}");
        assert!(err.message().contains(&format!("({rfc})")), "{text}: {err}");
        assert!(err.message().contains("allowed_addresses"), "{text}: {err}");
        let loaded = refused(&url(ip));
        assert_eq!(loaded.kind(), ErrorKind::InvalidUrl, "{text}: {loaded}");
        assert!(
            loaded.message().contains(&format!("({rfc})")),
            "{text}: {loaded}"
        );
    }
    for &text in ALLOWED {
        let ip: IpAddr = text.parse().unwrap();
        assert_eq!(AddressPolicy::default().check(ip), Ok(()), "{text}");
        load(json!({ "url": url(ip) })).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

/// Guards the message of an address that carries another: it says how it
/// carries it and which address it is, so a reader sees why
/// `64:ff9b::a9fe:a9fe` is the metadata service.
#[test]
fn carried_addresses_are_named_in_the_refusal() {
    let metadata = "`169.254.169.254` (";
    for (text, carried, how) in [
        ("64:ff9b::a9fe:a9fe", metadata, "NAT64, RFC 6052"),
        ("2002:a9fe:a9fe::1", metadata, "6to4, RFC 3056"),
        (
            "2001:0:4136:e378:8000:63bf:5601:5601",
            metadata,
            "Teredo client",
        ),
        (
            "2001:0:a00:1:8000:63bf:f7f7:f7f7",
            "`10.0.0.1` (",
            "Teredo server",
        ),
        ("::ffff:0:a9fe:a9fe", metadata, "SIIT, RFC 2765"),
        ("::ffff:169.254.169.254", metadata, "IPv4-mapped, RFC 4291"),
        ("::169.254.169.254", metadata, "IPv4-compatible, RFC 4291"),
    ] {
        let ip: IpAddr = text.parse().unwrap();
        let err = AddressPolicy::new().check(ip).unwrap_err();
        let message = err.message();
        assert!(
            message.starts_with(&format!("`{ip}` carries ")),
            "{text}: {err}"
        );
        assert!(
            message.contains(carried) && message.contains(how),
            "{text}: {err}"
        );
        let block = if carried == metadata {
            "a link-local (cloud metadata) address (RFC 3927)"
        } else {
            "a private address (RFC 1918)"
        };
        assert!(message.contains(block), "{text}: {err}");
    }
}

/// Guards the allow-list for carried addresses: naming the IPv4 address
/// lets through every IPv6 form that carries it, and naming an IPv6 range
/// lets through the addresses in it as written.
#[test]
fn the_allow_list_covers_carried_addresses() {
    let policy = AddressPolicy::new().allow("10.1.0.0/16").unwrap();
    for text in [
        "10.1.2.3",
        "::ffff:10.1.2.3",
        "::ffff:0:10.1.2.3",
        "64:ff9b::a01:203",
        "2002:a01:203::1",
        // Teredo: server 10.1.0.1, client 10.1.2.3 (inverted).
        "2001:0:a01:1:8000:63bf:f5fe:fdfc",
    ] {
        assert_eq!(policy.check(text.parse().unwrap()), Ok(()), "{text}");
    }
    for text in [
        "10.2.0.1",
        "64:ff9b::a02:1",
        "2002:a02:1::1",
        // Server allowed, client 10.2.0.1 not.
        "2001:0:a01:1:8000:63bf:f5fd:fffe",
    ] {
        assert!(policy.check(text.parse().unwrap()).is_err(), "{text}");
    }
    let local_nat64 = AddressPolicy::new().allow("64:ff9b:1::/48").unwrap();
    assert_eq!(
        local_nat64.check("64:ff9b:1::a00:1".parse().unwrap()),
        Ok(())
    );
    let site = AddressPolicy::new().allow("fec0::/10").unwrap();
    assert_eq!(site.check("fec0::1".parse().unwrap()), Ok(()));
}

/// Guards `localhost` and every name under it (RFC 6761: they resolve to
/// loopback, without asking DNS), in any case, with a trailing dot, or
/// spelled so the URL parser turns it into `localhost`: refused at load, as
/// an internal address is. Before the fix they loaded, and only a host that
/// checks what its resolver returns would have caught them.
#[test]
fn localhost_names_are_refused_at_load() {
    for url in [
        "http://localhost/x",
        "https://localhost:8443/x",
        "http://localhost./x",
        "http://localhost../x",
        "http://LOCALHOST/x",
        "http://LocalHost./x",
        "http://api.localhost/x",
        "http://a.b.localhost./x",
        "http://API.LOCALHOST/x",
        "http://local%68ost/x",
        "http://LOCAL%48OST/x",
        "http://\u{ff4c}\u{ff4f}\u{ff43}\u{ff41}\u{ff4c}\u{ff48}\u{ff4f}\u{ff53}\u{ff54}/x",
    ] {
        let err = refused(url);
        assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{url}: {err}");
        assert!(err.message().contains("RFC 6761"), "{url}: {err}");
        assert!(err.message().contains("allowed_addresses"), "{url}: {err}");
        assert_eq!(err.field(), Some("url"), "{url}: {err}");
    }
    for url in [
        "http://localhost.example.com/x",
        "http://mylocalhost/x",
        "http://localhost-api.example.com/x",
        "http://xlocalhost./x",
    ] {
        load(json!({ "url": url })).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
}

/// Guards the allow-list for `localhost`: it resolves to `127.0.0.1` or
/// `::1`, so a configuration that allows either may name it (the host then
/// checks each address its resolver returns); any other allowance does not.
#[test]
fn localhost_loads_when_loopback_is_allowed() {
    for (allowed, loads) in [
        (vec!["127.0.0.1"], true),
        (vec!["::1"], true),
        (vec!["127.0.0.0/8"], true),
        (vec!["10.0.0.0/8", "::/0"], true),
        (vec!["10.0.0.0/8"], false),
        (vec!["127.0.0.2"], false),
        (vec!["fd00::/8"], false),
    ] {
        for url in ["http://localhost:8080/x", "http://api.localhost/x"] {
            let mut config = config(service(json!({ "url": url })));
            config.allowed_addresses = allowed.iter().map(|&a| a.to_owned()).collect();
            let loaded = Registry::from_config(&config, Catalog::standard().clone());
            assert_eq!(loaded.is_ok(), loads, "{url} with {allowed:?}: {loaded:?}");
        }
    }
}

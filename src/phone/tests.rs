//! Phone formats against real numbers of eight countries, and values that
//! are not phone numbers.

use super::*;

fn phone(spec: &str, region: Option<&str>) -> Phone {
    let region = region.map(region_of);
    Phone::parse(&format!("phone:{spec}"), spec, region).unwrap()
}

#[cfg(feature = "phone")]
fn region_of(text: &str) -> Region {
    region(text).unwrap()
}

#[cfg(not(feature = "phone"))]
fn region_of(text: &str) -> Region {
    panic!("no regions without the `phone` feature: {text}")
}

/// Each row: the region the number is read in (its own country's, as a
/// service there sets it), the value as a call carries it, and what
/// `e164`, `national`, `international`, `digits`, `last:4`, `mask:4`,
/// `npa` and `nxx` print (`None`: passes through unchanged).
#[cfg(feature = "phone")]
#[allow(clippy::type_complexity)]
const TABLE: &[(&str, &str, [Option<&str>; 8])] = &[
    // Australia: a mobile and a Sydney landline, as dialled at home.
    (
        "AU",
        "0400 123 456",
        [
            Some("+61400123456"),
            Some("0400 123 456"),
            Some("+61 400 123 456"),
            Some("61400123456"),
            Some("3456"),
            Some("*******3456"),
            None,
            None,
        ],
    ),
    (
        "AU",
        "(02) 9374 4000",
        [
            Some("+61293744000"),
            Some("(02) 9374 4000"),
            Some("+61 2 9374 4000"),
            Some("61293744000"),
            Some("4000"),
            Some("*******4000"),
            None,
            None,
        ],
    ),
    // The United States: NANP, so NPA and NXX.
    (
        "US",
        "+1 212-555-4567",
        [
            Some("+12125554567"),
            Some("(212) 555-4567"),
            Some("+1 212-555-4567"),
            Some("12125554567"),
            Some("4567"),
            Some("*******4567"),
            Some("212"),
            Some("555"),
        ],
    ),
    (
        "US",
        "(650) 253-0000",
        [
            Some("+16502530000"),
            Some("(650) 253-0000"),
            Some("+1 650-253-0000"),
            Some("16502530000"),
            Some("0000"),
            Some("*******0000"),
            Some("650"),
            Some("253"),
        ],
    ),
    // Great Britain: London, written with the international prefix.
    (
        "GB",
        "020 7946 0018",
        [
            Some("+442079460018"),
            Some("020 7946 0018"),
            Some("+44 20 7946 0018"),
            Some("442079460018"),
            Some("0018"),
            Some("********0018"),
            None,
            None,
        ],
    ),
    (
        "AU",
        "+44 7400 123456",
        [
            Some("+447400123456"),
            Some("07400 123456"),
            Some("+44 7400 123456"),
            Some("447400123456"),
            Some("3456"),
            Some("********3456"),
            None,
            None,
        ],
    ),
    // Israel: a Tel Aviv landline and a mobile.
    (
        "IL",
        "03-123-4567",
        [
            Some("+97231234567"),
            Some("03-123-4567"),
            Some("+972 3-123-4567"),
            Some("97231234567"),
            Some("4567"),
            Some("*******4567"),
            None,
            None,
        ],
    ),
    (
        "IL",
        "050-234-5678",
        [
            Some("+972502345678"),
            Some("050-234-5678"),
            Some("+972 50-234-5678"),
            Some("972502345678"),
            Some("5678"),
            Some("********5678"),
            None,
            None,
        ],
    ),
    // Germany: Berlin.
    (
        "DE",
        "030 12345678",
        [
            Some("+493012345678"),
            Some("030 12345678"),
            Some("+49 30 12345678"),
            Some("493012345678"),
            Some("5678"),
            Some("********5678"),
            None,
            None,
        ],
    ),
    // India: a mobile.
    (
        "IN",
        "+91 98765 43210",
        [
            Some("+919876543210"),
            Some("098765 43210"),
            Some("+91 98765 43210"),
            Some("919876543210"),
            Some("3210"),
            Some("********3210"),
            None,
            None,
        ],
    ),
    // Brazil: a São Paulo mobile.
    (
        "BR",
        "(11) 91234-5678",
        [
            Some("+5511912345678"),
            Some("(11) 91234-5678"),
            Some("+55 11 91234-5678"),
            Some("5511912345678"),
            Some("5678"),
            Some("*********5678"),
            None,
            None,
        ],
    ),
    // Japan: Tokyo.
    (
        "JP",
        "03-1234-5678",
        [
            Some("+81312345678"),
            Some("03-1234-5678"),
            Some("+81 3-1234-5678"),
            Some("81312345678"),
            Some("5678"),
            Some("*******5678"),
            None,
            None,
        ],
    ),
    // Not phone numbers: withheld callers, text, too few digits, an
    // unknown country code, nothing.
    ("AU", "anonymous", [None; 8]),
    ("US", "withheld", [None; 8]),
    ("GB", "", [None; 8]),
    ("DE", "   ", [None; 8]),
    ("JP", "+", [None; 8]),
    ("IN", "1", [None; 8]),
    ("BR", "+999 1234 5678", [None; 8]),
    // Numbers that parse but are no one's phone number: an extension,
    // emergency and short codes, a number too short for its country.
    ("AU", "1001", [None; 8]),
    ("AU", "000", [None; 8]),
    ("US", "911", [None; 8]),
    ("US", "411", [None; 8]),
    ("GB", "999", [None; 8]),
    ("GB", "+44 20 7946", [None; 8]),
    ("DE", "110", [None; 8]),
    ("US", "+1 212 555", [None; 8]),
];

#[cfg(feature = "phone")]
const FORMS_WRITTEN: [&str; 8] = [
    "e164",
    "national",
    "international",
    "digits",
    "last:4",
    "mask:4",
    "npa",
    "nxx",
];

#[cfg(feature = "phone")]
#[test]
fn real_numbers_of_eight_countries() {
    let mut wrong = Vec::new();
    for (region, value, expected) in TABLE {
        for (form, expected) in FORMS_WRITTEN.iter().zip(expected) {
            let got = phone(form, Some(region)).format(value);
            if got.as_deref() != *expected {
                wrong.push(format!(
                    "{region} {value:?} {form}: {got:?}, expected {expected:?}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Without a region, only numbers written with their country code are
/// phone numbers.
#[cfg(feature = "phone")]
#[test]
fn without_a_region_a_country_code_is_needed() {
    let e164 = phone("e164", None);
    assert_eq!(e164.format("0400 123 456"), None);
    assert_eq!(
        e164.format("+61 400 123 456").as_deref(),
        Some("+61400123456")
    );
    // Read in another country's region, a national number is that
    // country's.
    assert_eq!(
        phone("e164", Some("GB")).format("020 7946 0018").as_deref(),
        Some("+442079460018")
    );
}

#[cfg(feature = "phone")]
/// Only text of a phone number's shape reaches the `phonenumber` crate:
/// the crate's fuzz-found panics (`  2 22#:`) sit beyond the filter.
#[cfg(feature = "phone")]
#[test]
fn long_and_hostile_values_are_not_parsed() {
    let e164 = phone("e164", Some("AU"));
    let long = format!("+61 400 123 456{}", " ".repeat(limits::PHONE_TEXT_BYTES));
    assert!(!plausible(&long));
    assert_eq!(e164.format(&long), None);
    for hostile in [
        "  2 22#:",
        "+61\u{0}400",
        "+\u{661}\u{662}",
        "tel:+61-400;ext=",
        "+61 400 123 456 ext. 9999999999999999999999",
        "+61 400 123 456 ext.",
        "0400 123 456 x",
        "++61 400 123 456",
        "1-800-FLOWERS",
        "0400 123 456 # 12",
        "123456789012345678901",
        "anonymous",
        "withheld",
        "",
    ] {
        assert!(!plausible(hostile), "{hostile:?}");
        assert_eq!(e164.format(hostile), None, "{hostile:?}");
    }
    for shaped in [
        "0400 123 456",
        "+61 (0)400-123-456",
        "030/12345678",
        "  +1 212.555.4567",
        "0400 123 456 x12",
        "0400 123 456 ext. 12",
        "0400 123 456 EXT 1234567",
    ] {
        assert!(plausible(shaped), "{shaped:?}");
    }
    // An extension is read and left out of the number's E.164 form.
    assert_eq!(
        e164.format("0400 123 456 ext. 12").as_deref(),
        Some("+61400123456")
    );
}

#[test]
fn options_are_checked() {
    let parse = |spec: &str| Phone::parse(&format!("phone:{spec}"), spec, None);
    for bad in [
        "e165", "last", "last:0", "last:16", "last:x", "mask:", "npa:3", "", "strict",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
    let err = parse("e165").unwrap_err();
    assert_eq!(err.suggestion(), Some("phone:e164"));
    // A suggestion is an option that is accepted: `phone:last` alone is not.
    for (bad, near) in [
        ("last4", "phone:last:4"),
        ("mask_2", "phone:mask:2"),
        ("lst", "phone:last:4"),
        ("nationl", "phone:national"),
    ] {
        let suggested = parse(bad).unwrap_err().suggestion().map(str::to_owned);
        assert_eq!(suggested.as_deref(), Some(near), "{bad}");
        // Without the feature no option is accepted, suggested or not.
        let spec = near.strip_prefix("phone:").unwrap();
        assert_eq!(parse(spec).is_ok(), cfg!(feature = "phone"), "{near}");
    }
    #[cfg(feature = "phone")]
    {
        let strict = parse("last:4:strict").unwrap();
        assert_eq!((strict.form, strict.strict), (Form::Last(4), true));
        assert_eq!(parse("mask:15").unwrap().form, Form::Mask(15));
    }
    #[cfg(not(feature = "phone"))]
    {
        let err = parse("e164").unwrap_err();
        assert!(err.to_string().contains("`phone` feature"), "{err}");
    }
}

#[test]
fn regions_are_checked() {
    #[cfg(feature = "phone")]
    {
        assert!(region("AU").is_ok());
        let err = region("au").unwrap_err();
        assert_eq!(err.suggestion(), Some("AU"));
        assert!(region("XX").is_err());
        assert!(region(&"A".repeat(10_000)).is_err());
    }
    #[cfg(not(feature = "phone"))]
    {
        let err = region("AU").unwrap_err();
        assert!(err.to_string().contains("`phone` feature"), "{err}");
    }
    let _ = phone;
}

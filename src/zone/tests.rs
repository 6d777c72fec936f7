//! Zones resolved at compile, and conversions across daylight-saving
//! changes in both hemispheres.

use super::*;

#[cfg(feature = "tz")]
fn at(zone: &str, utc: &str) -> String {
    let zone = Zone::parse(&format!("tz:{zone}"), zone, true).unwrap();
    let t = DateTime::parse_from_rfc3339(utc).unwrap();
    zone.convert(&t).to_rfc3339()
}

/// Each transition from both sides: the last second before it and the
/// first at it, and for the repeated hour one instant in each of its two
/// passes. A UTC instant has exactly one local time; the skipped local hour
/// never appears.
#[cfg(feature = "tz")]
#[test]
fn daylight_saving_in_both_hemispheres() {
    let cases = [
        // New York springs forward on 10 March 2024 at 02:00 EST: 02:00 to
        // 02:59 local never happen.
        (
            "America/New_York",
            "2024-03-10T06:59:59Z",
            "2024-03-10T01:59:59-05:00",
        ),
        (
            "America/New_York",
            "2024-03-10T07:00:00Z",
            "2024-03-10T03:00:00-04:00",
        ),
        // It falls back on 3 November 2024 at 02:00 EDT: 01:00 to 01:59
        // happen twice, first at -04:00, then at -05:00.
        (
            "America/New_York",
            "2024-11-03T05:30:00Z",
            "2024-11-03T01:30:00-04:00",
        ),
        (
            "America/New_York",
            "2024-11-03T05:59:59Z",
            "2024-11-03T01:59:59-04:00",
        ),
        (
            "America/New_York",
            "2024-11-03T06:00:00Z",
            "2024-11-03T01:00:00-05:00",
        ),
        (
            "America/New_York",
            "2024-11-03T06:30:00Z",
            "2024-11-03T01:30:00-05:00",
        ),
        // Sydney falls back on 7 April 2024 at 03:00 AEDT: 02:00 to 02:59
        // happen twice, first at +11:00, then at +10:00.
        (
            "Australia/Sydney",
            "2024-04-06T15:30:00Z",
            "2024-04-07T02:30:00+11:00",
        ),
        (
            "Australia/Sydney",
            "2024-04-06T15:59:59Z",
            "2024-04-07T02:59:59+11:00",
        ),
        (
            "Australia/Sydney",
            "2024-04-06T16:00:00Z",
            "2024-04-07T02:00:00+10:00",
        ),
        (
            "Australia/Sydney",
            "2024-04-06T16:30:00Z",
            "2024-04-07T02:30:00+10:00",
        ),
        // It springs forward on 6 October 2024 at 02:00 AEST: 02:00 to
        // 02:59 local never happen.
        (
            "Australia/Sydney",
            "2024-10-05T15:59:59Z",
            "2024-10-06T01:59:59+10:00",
        ),
        (
            "Australia/Sydney",
            "2024-10-05T16:00:00Z",
            "2024-10-06T03:00:00+11:00",
        ),
        // The offset a timestamp arrives with does not matter, only the
        // instant.
        (
            "Australia/Sydney",
            "2024-10-06T03:00:00+11:00",
            "2024-10-06T03:00:00+11:00",
        ),
        (
            "UTC",
            "2024-10-06T03:00:00+11:00",
            "2024-10-05T16:00:00+00:00",
        ),
    ];
    for (zone, utc, local) in cases {
        assert_eq!(at(zone, utc), local, "{utc} in {zone}");
    }
}

/// Every second of the two days around each change maps to one local time,
/// local times never go back except by the hour repeated, and no local time
/// in a skipped hour appears.
#[cfg(feature = "tz")]
#[test]
fn every_second_maps_to_one_local_time() {
    use chrono::Timelike as _;
    for (zone, start, skipped_day) in [
        ("America/New_York", "2024-03-09T12:00:00Z", 10),
        ("Australia/Sydney", "2024-10-05T00:00:00Z", 6),
    ] {
        let zone = Zone::parse("tz:x", zone, false).unwrap();
        let start = DateTime::parse_from_rfc3339(start).unwrap();
        for step in 0..(48 * 3600 / 7) {
            let t = start + chrono::TimeDelta::seconds(step * 7);
            let local = zone.convert(&t);
            assert_eq!(local, t, "the same instant");
            let naive = local.naive_local();
            assert!(
                !(chrono::Datelike::day(&naive) == skipped_day && naive.hour() == 2),
                "{local} is in the skipped hour"
            );
        }
    }
}

#[test]
fn unknown_zones_are_errors_with_the_nearest_name() {
    let err = Zone::parse("tz:America/New_Yrok", "America/New_Yrok", true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TemplateSyntax);
    #[cfg(feature = "tz")]
    {
        assert_eq!(err.suggestion(), Some("America/New_York"));
        let err = Zone::parse("tz:australia/sydney", "australia/sydney", true).unwrap_err();
        assert_eq!(err.suggestion(), Some("Australia/Sydney"));
        // No search when the budget is spent, and none for a long name.
        assert_eq!(
            Zone::parse("tz:x", "America/New_Yrok", false)
                .unwrap_err()
                .suggestion(),
            None
        );
        assert!(Zone::parse("tz:x", &"A/".repeat(100_000), true).is_err());
        assert_eq!(
            Zone::parse("tz:x", "Asia/Kolkata", false).unwrap().name(),
            "Asia/Kolkata"
        );
    }
    #[cfg(not(feature = "tz"))]
    assert!(err.to_string().contains("`tz` feature"), "{err}");
}

/// An abbreviation is not a zone and names none: `AEST` is nearest `EST`
/// by spelling, half a world away, so no zone is suggested for a name
/// without `/`, and the message says how zones are written.
#[cfg(feature = "tz")]
#[test]
fn abbreviations_suggest_no_zone() {
    for abbreviation in ["AEST", "IST", "JST", "BST", "PST", "EDT", "pst"] {
        let err = Zone::parse(&format!("tz:{abbreviation}"), abbreviation, true).unwrap_err();
        assert_eq!(err.suggestion(), None, "{abbreviation}");
        assert!(
            err.to_string()
                .contains("an Area/City name such as `America/New_York`"),
            "{err}"
        );
    }
    // `utc` is a case slip of a real zone, not an abbreviation to guess at.
    let err = Zone::parse("tz:utc", "utc", true).unwrap_err();
    assert_eq!(err.suggestion(), Some("UTC"));
}

//! How a value prints: timestamp and duration formats, and the printing
//! itself.

use std::fmt;
use std::io::Write as _;
use std::str::FromStr;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Datelike as _, FixedOffset, NaiveDateTime, Timelike as _};

use crate::error::{nearest, shown, Error, ErrorKind};
use crate::value::FieldType;

/// How a placeholder prints its value, written after a `|` in the
/// placeholder: `#call_start|rfc3339#`, `[[duration|hms]]`.
///
/// | spec | applies to | prints |
/// |---|---|---|
/// | `ansi` | timestamps | ANSI SQL 92, RingCX's form: `2020-04-22 00:00:00.0000` |
/// | `rfc3339` | timestamps | `2024-12-02T21:04:40.701+00:00` |
/// | `rfc2822` | timestamps | `Mon, 02 Dec 2024 21:04:40 +0000` |
/// | `unix` | timestamps | Unix seconds, a number: `1733173480` |
/// | `unix_ms` | timestamps | Unix milliseconds, a number |
/// | `strftime:PATTERN` | timestamps | chrono's strftime, e.g. `strftime:%d/%m/%Y` |
/// | `seconds` | durations | whole seconds, a number (fractional if the duration has a fraction) |
/// | `hms` | durations | `HH:MM:SS` (hours grow past two digits when needed) |
///
/// Timestamps print in the UTC offset they carry. With no spec, a field prints
/// in its catalog format ([`FieldSpec::default_format`](crate::FieldSpec::default_format)).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Format {
    /// The value's own form: text as is, numbers in decimal, timestamps in
    /// RFC 3339, durations in seconds.
    Natural,
    /// ANSI SQL 92: `2020-04-22 00:00:00.0000`.
    Ansi,
    /// RFC 3339 with as many fractional digits as needed.
    Rfc3339,
    /// RFC 2822.
    Rfc2822,
    /// Unix seconds.
    UnixSeconds,
    /// Unix milliseconds.
    UnixMillis,
    /// A strftime pattern, checked when parsed.
    Strftime(Strftime),
    /// Seconds, for durations.
    Seconds,
    /// `HH:MM:SS`, for durations.
    Hms,
}

/// A checked strftime pattern.
#[derive(Clone)]
pub struct Strftime(std::sync::Arc<Pattern>);

/// Shared: a compiled template holds a format in each placeholder, and this
/// keeps the common formats to one word.
struct Pattern {
    pattern: Box<str>,
    items: Box<[Item<'static>]>,
}

impl Strftime {
    /// Parses a pattern.
    ///
    /// # Errors
    ///
    /// An unknown `%` specifier is an error of kind
    /// [`ErrorKind::TemplateSyntax`], with chrono's error as its source.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::template::Strftime;
    ///
    /// assert_eq!(Strftime::new("%d/%m/%Y")?.pattern(), "%d/%m/%Y");
    /// assert!(Strftime::new("%Q").is_err());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn new(pattern: &str) -> Result<Strftime, Error> {
        let items = StrftimeItems::new(pattern).parse_to_owned().map_err(|e| {
            Error::new(
                ErrorKind::TemplateSyntax,
                format!("invalid strftime pattern `{pattern}`"),
            )
            .with_source(e)
        })?;
        // chrono accepts some items for parsing only (`%#z`); refuse them
        // here rather than print nothing at render.
        if strftime(&DateTime::UNIX_EPOCH.fixed_offset(), &items).is_none() {
            return Err(Error::new(
                ErrorKind::TemplateSyntax,
                format!("strftime pattern `{pattern}` cannot be printed, only parsed"),
            ));
        }
        Ok(Strftime(std::sync::Arc::new(Pattern {
            pattern: pattern.into(),
            items: items.into_boxed_slice(),
        })))
    }

    /// The pattern as written.
    #[must_use]
    pub fn pattern(&self) -> &str {
        &self.0.pattern
    }
}

impl PartialEq for Strftime {
    fn eq(&self, other: &Strftime) -> bool {
        self.0.pattern == other.0.pattern
    }
}

impl fmt::Debug for Strftime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Strftime").field(&self.0.pattern).finish()
    }
}

impl Format {
    /// The type of value this format applies to, or `None` for
    /// [`Format::Natural`], which applies to all.
    #[must_use]
    pub fn applies_to(&self) -> Option<FieldType> {
        match self {
            Format::Natural => None,
            Format::Ansi
            | Format::Rfc3339
            | Format::Rfc2822
            | Format::UnixSeconds
            | Format::UnixMillis
            | Format::Strftime(_) => Some(FieldType::Timestamp),
            Format::Seconds | Format::Hms => Some(FieldType::Duration),
        }
    }
}

impl FromStr for Format {
    type Err = Error;

    /// Parses a format as written after `|` in a placeholder; an unknown
    /// one is an error of kind [`ErrorKind::TemplateSyntax`] suggesting the
    /// nearest known one.
    fn from_str(spec: &str) -> Result<Format, Error> {
        Ok(match spec {
            "ansi" => Format::Ansi,
            "rfc3339" => Format::Rfc3339,
            "rfc2822" => Format::Rfc2822,
            "unix" => Format::UnixSeconds,
            "unix_ms" => Format::UnixMillis,
            "seconds" => Format::Seconds,
            "hms" => Format::Hms,
            _ => match spec.strip_prefix("strftime:") {
                Some(pattern) => Format::Strftime(Strftime::new(pattern)?),
                None => return Err(unknown_format(spec)),
            },
        })
    }
}

/// The formats as written, for messages and suggestions.
const FORMATS: [&str; 7] = [
    "ansi", "rfc3339", "rfc2822", "unix", "unix_ms", "seconds", "hms",
];

/// Whether `spec` is a placeholder option that is not a format.
fn is_other_option(spec: &str) -> bool {
    spec == "upper"
        || spec == "lower"
        || ["tz:", "phone:", "truncate:", "default:"]
            .iter()
            .any(|prefix| spec.starts_with(prefix))
}

/// An unknown format where only a format may stand (a catalog field's
/// `format`): the formats listed, the nearest suggested, and a placeholder
/// option (`upper`, `tz:UTC`) said to be one.
#[cold]
fn unknown_format(spec: &str) -> Error {
    let expected = "`ansi`, `rfc3339`, `rfc2822`, `unix`, `unix_ms`, `strftime:PATTERN`, \
                    `seconds` or `hms`";
    if is_other_option(spec) {
        return Error::new(
            ErrorKind::TemplateSyntax,
            format!(
                "`{}` is a placeholder option, not a format; a field's format is one of \
                 {expected}",
                shown(spec)
            ),
        );
    }
    Error::new(
        ErrorKind::TemplateSyntax,
        format!(
            "unknown format `{}`, expected one of {expected}",
            shown(spec)
        ),
    )
    .with_suggestion(nearest(spec, FORMATS))
}

/// A placeholder option that is none of the others, read as a format:
/// an unknown one is listed among every option a placeholder takes.
pub(crate) fn placeholder_format(option: &str) -> Result<Format, Error> {
    if option.starts_with("strftime:") || FORMATS.contains(&option) {
        return option.parse();
    }
    Err(Error::new(
        ErrorKind::TemplateSyntax,
        format!(
            "unknown placeholder option `{}`, expected a format (`ansi`, `rfc3339`, \
             `rfc2822`, `unix`, `unix_ms`, `strftime:PATTERN`, `seconds`, `hms`), `tz:ZONE`, \
             `phone:FORM`, `upper`, `lower`, `truncate:N` or `default:TEXT`",
            shown(option)
        ),
    )
    .with_suggestion(nearest(
        option,
        FORMATS.into_iter().chain(["upper", "lower"]),
    )))
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Natural => f.write_str("natural"),
            Format::Ansi => f.write_str("ansi"),
            Format::Rfc3339 => f.write_str("rfc3339"),
            Format::Rfc2822 => f.write_str("rfc2822"),
            Format::UnixSeconds => f.write_str("unix"),
            Format::UnixMillis => f.write_str("unix_ms"),
            Format::Strftime(s) => write!(f, "strftime:{}", s.0.pattern),
            Format::Seconds => f.write_str("seconds"),
            Format::Hms => f.write_str("hms"),
        }
    }
}

/// What formatting produces: a bare number, ASCII that needs no escaping in
/// JSON, XML or header text (digits, letters, `-:.+, `), or any text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Printed {
    Number,
    PlainAscii,
    Text,
}

impl Format {
    /// What [`timestamp`] prints in this format, known before it runs, so a
    /// render can decide whether the output needs escaping at all.
    pub(crate) fn timestamp_printed(&self) -> Printed {
        match self {
            Format::UnixSeconds | Format::UnixMillis => Printed::Number,
            // Only strftime can print characters that need escaping.
            Format::Strftime(_) => Printed::Text,
            _ => Printed::PlainAscii,
        }
    }

    /// What [`duration`] prints in this format.
    pub(crate) fn duration_printed(&self) -> Printed {
        match self {
            Format::Hms => Printed::PlainAscii,
            _ => Printed::Number,
        }
    }
}

/// Appends `n` in decimal.
pub(crate) fn push_integer(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// The two ASCII digits of every number below 100, by the number, as a
/// little-endian `u16`: a timestamp prints up to nine pairs, each one load,
/// put together in words. The table has 128 rows so that an index masked
/// to 7 bits needs no bounds check; the rows past 99 are never read.
static PAIRS: [u16; 128] = {
    let mut pairs = [0; 128];
    let mut n = 0;
    while n < 128 {
        pairs[n] = (b'0' + (n / 10 % 10) as u8) as u16 | ((b'0' + (n % 10) as u8) as u16) << 8;
        n += 1;
    }
    pairs
};

/// The two ASCII digits of `n` (below 100), little-endian.
#[inline]
fn pair(n: u32) -> u64 {
    u64::from(PAIRS[n as usize & 127])
}

/// Two ASCII digits of `n` (below 100).
#[inline]
fn two(n: u32) -> [u8; 2] {
    PAIRS[n as usize & 127].to_le_bytes()
}

/// What follows the year in `local`'s date and time, `-MM-DD?hh:mm:ss`,
/// as two little-endian words (`-MM-DD?h`, `h:mm:ss` and a zero).
#[inline]
fn after_year(local: NaiveDateTime, separator: u8) -> (u64, u64) {
    // A leap second is :59 with more than a second of nanoseconds.
    let seconds = local.num_seconds_from_midnight();
    let (hours, minutes) = (seconds / 3600, seconds / 60 % 60);
    let date = u64::from(b'-')
        | pair(local.month()) << 8
        | u64::from(b'-') << 24
        | pair(local.day()) << 32
        | u64::from(separator) << 48
        | (pair(hours) & 0xff) << 56;
    let time = pair(hours) >> 8
        | u64::from(b':') << 8
        | pair(minutes) << 16
        | u64::from(b':') << 32
        | pair(seconds % 60) << 40;
    (date, time)
}

/// The local date and time `local` as `YYYY-MM-DD?hh:mm:ss`, for years 0
/// to 9999 (`None` outside them), built in words and written with one copy:
/// with a byte at a time the RingCX body's timestamp took 179 instructions,
/// and 272 through `Vec` writes of each part.
#[inline]
fn date_time(local: NaiveDateTime, separator: u8) -> Option<[u8; 19]> {
    let year = u32::try_from(local.year())
        .ok()
        .filter(|year| *year <= 9999)?;
    let (date, time) = after_year(local, separator);
    let mut printed = [0; 19];
    printed[..4].copy_from_slice(&(pair(year / 100) | pair(year % 100) << 16).to_le_bytes()[..4]);
    printed[4..12].copy_from_slice(&date.to_le_bytes());
    printed[12..].copy_from_slice(&time.to_le_bytes()[..7]);
    Some(printed)
}

/// Appends the local date and time `local` as `YYYY-MM-DD?hh:mm:ss`, the
/// year with a sign and at least four digits outside 0 to 9999, as
/// RFC 3339 and chrono print it.
fn push_date_time(out: &mut Vec<u8>, local: NaiveDateTime, separator: u8) {
    match date_time(local, separator) {
        Some(printed) => out.extend_from_slice(&printed),
        None => {
            // Writing to a Vec cannot fail.
            let _ = write!(out, "{:+05}", local.year());
            let (date, time) = after_year(local, separator);
            out.extend_from_slice(&date.to_le_bytes());
            out.extend_from_slice(&time.to_le_bytes()[..7]);
        }
    }
}

/// `t` printed with strftime `items`, or `None` where chrono cannot print
/// one of them.
fn strftime(t: &DateTime<FixedOffset>, items: &[Item<'static>]) -> Option<String> {
    let mut printed = String::new();
    fmt::Write::write_fmt(
        &mut printed,
        format_args!("{}", t.format_with_items(items.iter())),
    )
    // chrono reports an item it cannot print only as `fmt::Error`: the
    // `None` this function documents.
    .ok()?;
    Some(printed)
}

/// Appends a timestamp in `format`; it prints what
/// [`Format::timestamp_printed`] says.
pub(crate) fn timestamp(t: &DateTime<FixedOffset>, format: &Format, out: &mut Vec<u8>) {
    // At the edges of chrono's range the local time may not exist (found by
    // fuzzing: `MAX_UTC` at +01:00); print the same instant in UTC instead.
    let Some(local) = t.naive_utc().checked_add_offset(*t.offset()) else {
        return timestamp(&t.to_utc().fixed_offset(), format, out);
    };
    // Leap seconds are carried in the nanosecond field above 1e9.
    let nanos = u64::from(t.timestamp_subsec_nanos() % 1_000_000_000);
    match format {
        Format::Ansi => {
            // Four digits of fraction: ten-thousandths of a second.
            let fraction = (nanos / 100_000) as u32;
            let ([f0, f1], [f2, f3]) = (two(fraction / 100), two(fraction % 100));
            match date_time(local, b' ') {
                // One copy of the whole, RingCX's form.
                Some(printed) => {
                    let mut ansi = [0; 24];
                    ansi[..19].copy_from_slice(&printed);
                    ansi[19..].copy_from_slice(&[b'.', f0, f1, f2, f3]);
                    out.extend_from_slice(&ansi);
                }
                None => {
                    push_date_time(out, local, b' ');
                    out.extend_from_slice(&[b'.', f0, f1, f2, f3]);
                }
            }
        }
        Format::Rfc2822 => {
            let _ = write!(out, "{}", t.format("%a, %d %b %Y %H:%M:%S %z"));
        }
        Format::UnixSeconds => push_integer(out, t.timestamp()),
        Format::UnixMillis => push_integer(out, t.timestamp_millis()),
        Format::Strftime(pattern) => {
            // Some items chrono parses cannot be printed (`%#z`); a failed
            // write leaves nothing rather than panicking in `io::Write`.
            if let Some(printed) = strftime(t, &pattern.0.items) {
                out.extend_from_slice(printed.as_bytes());
            }
        }
        // RFC 3339 is a timestamp's natural form; formats of other types fall
        // back to it.
        _ => {
            let offset = t.offset().local_minus_utc();
            let minutes = offset.unsigned_abs() / 60;
            let sign = if offset < 0 { b'-' } else { b'+' };
            let ([h0, h1], [m0, m1]) = (two(minutes / 60), two(minutes % 60));
            let zone = [sign, h0, h1, b':', m0, m1];
            let (fraction, len) = fraction(nanos as u32);
            match date_time(local, b'T') {
                // One copy of the whole.
                Some(printed) => {
                    let mut rfc3339 = [0; 35];
                    rfc3339[..19].copy_from_slice(&printed);
                    rfc3339[19..29].copy_from_slice(&fraction);
                    rfc3339[19 + len..25 + len].copy_from_slice(&zone);
                    out.extend_from_slice(&rfc3339[..25 + len]);
                }
                None => {
                    push_date_time(out, local, b'T');
                    out.extend_from_slice(&fraction[..len]);
                    out.extend_from_slice(&zone);
                }
            }
        }
    }
}

/// The fraction of a second `nanos` (below 10⁹) as RFC 3339 and chrono
/// print it, and how many of the bytes it is: nothing for none, else `.`
/// and 3, 6 or 9 digits, as few as hold it exactly.
#[inline]
fn fraction(nanos: u32) -> ([u8; 10], usize) {
    let digit = |n: u32| b'0' + (n % 10) as u8;
    if nanos == 0 {
        ([0; 10], 0)
    } else if nanos.is_multiple_of(1_000_000) {
        let millis = nanos / 1_000_000;
        let [a, b] = two(millis % 100);
        ([b'.', digit(millis / 100), a, b, 0, 0, 0, 0, 0, 0], 4)
    } else if nanos.is_multiple_of(1_000) {
        let micros = nanos / 1_000;
        let ([a, b], [c, d], [e, f]) = (
            two(micros / 10_000),
            two(micros / 100 % 100),
            two(micros % 100),
        );
        ([b'.', a, b, c, d, e, f, 0, 0, 0], 7)
    } else {
        let ([a, b], [c, d], [e, f], [g, h]) = (
            two(nanos / 1_000_000 % 100),
            two(nanos / 10_000 % 100),
            two(nanos / 100 % 100),
            two(nanos % 100),
        );
        (
            [b'.', digit(nanos / 100_000_000), a, b, c, d, e, f, g, h],
            10,
        )
    }
}

/// Appends a duration in `format`; it prints what
/// [`Format::duration_printed`] says.
pub(crate) fn duration(d: &std::time::Duration, format: &Format, out: &mut Vec<u8>) {
    if let Format::Hms = format {
        let secs = d.as_secs();
        let ([i0, i1], [s0, s1]) = (two((secs / 60 % 60) as u32), two((secs % 60) as u32));
        match u32::try_from(secs / 3600) {
            // Under 100 hours: one copy of the whole.
            Ok(hours @ 0..=99) => {
                let [h0, h1] = two(hours);
                out.extend_from_slice(&[h0, h1, b':', i0, i1, b':', s0, s1]);
            }
            _ => {
                push_integer(out, secs / 3600);
                out.extend_from_slice(&[b':', i0, i1, b':', s0, s1]);
            }
        }
    } else if d.subsec_nanos() == 0 {
        push_integer(out, d.as_secs());
    } else {
        let _ = write!(out, "{}", d.as_secs_f64());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    fn ts(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn show_at(t: &DateTime<FixedOffset>, f: &str) -> String {
        let mut out = Vec::new();
        timestamp(t, &f.parse().unwrap(), &mut out);
        String::from_utf8(out).unwrap()
    }

    fn show(t: &str, f: &str) -> String {
        show_at(&ts(t), f)
    }

    fn show_duration(d: Duration, f: &Format) -> String {
        let mut out = Vec::new();
        duration(&d, f, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn timestamp_formats() {
        let t = "2024-12-02T21:04:40.701+02:00";
        assert_eq!(show(t, "ansi"), "2024-12-02 21:04:40.7010");
        assert_eq!(show(t, "rfc3339"), t);
        assert_eq!(
            show("2020-04-22T00:00:00Z", "rfc3339"),
            "2020-04-22T00:00:00+00:00"
        );
        assert_eq!(
            show("2020-04-22T00:00:00.000001Z", "rfc3339"),
            "2020-04-22T00:00:00.000001+00:00"
        );
        assert_eq!(show(t, "rfc2822"), "Mon, 02 Dec 2024 21:04:40 +0200");
        assert_eq!(show(t, "unix"), "1733166280");
        assert_eq!(show(t, "unix_ms"), "1733166280701");
        assert_eq!(show(t, "strftime:%d/%m/%Y"), "02/12/2024");
        let long = format!("strftime:{}", "%Y-%m-%d ".repeat(20));
        assert_eq!(show(t, &long).len(), 11 * 20);
    }

    #[test]
    fn duration_formats() {
        assert_eq!(
            show_duration(Duration::from_secs(417), &Format::Hms),
            "00:06:57"
        );
        assert_eq!(
            show_duration(Duration::from_secs(360_000), &Format::Hms),
            "100:00:00"
        );
        assert_eq!(
            show_duration(Duration::from_millis(1500), &Format::Seconds),
            "1.5"
        );
    }

    /// Every format, for timestamps at the edges (years outside 0..=9999,
    /// before 1970, leap seconds, negative offsets) and durations.
    pub(crate) fn samples() -> (Vec<Format>, Vec<DateTime<FixedOffset>>, Vec<Duration>) {
        let formats = [
            "ansi",
            "rfc3339",
            "rfc2822",
            "unix",
            "unix_ms",
            "strftime:%d/%m/%Y \"%H\" <&>",
            "seconds",
            "hms",
        ]
        .iter()
        .map(|f| f.parse().unwrap())
        .chain([Format::Natural])
        .collect();
        let timestamps = [
            "2024-12-02T21:04:40.701+02:00",
            "1969-12-31T23:59:59.999999999-09:30",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.123456+14:00",
            "2016-12-31T23:59:60Z",
        ]
        .iter()
        .map(|t| ts(t))
        .chain([
            DateTime::<chrono::Utc>::MIN_UTC.fixed_offset(),
            DateTime::<chrono::Utc>::MAX_UTC.fixed_offset(),
        ])
        .collect();
        let durations = [
            Duration::ZERO,
            Duration::from_secs(417),
            Duration::from_millis(1500),
            Duration::from_secs(360_000),
            Duration::MAX,
        ]
        .to_vec();
        (formats, timestamps, durations)
    }

    /// RFC 3339 and ANSI agree with chrono's own printing, at offsets either
    /// side of UTC, at the four-digit years' edges and chrono's extremes.
    #[test]
    fn dates_agree_with_chrono() {
        let offsets = [0, 19_800, -34_200, 50_400, -43_200]
            .map(|seconds| FixedOffset::east_opt(seconds).unwrap());
        let instant = |date: &str| ts(&format!("{date}T00:00:00Z")).timestamp();
        let sparse = (instant("0000-01-01")..instant("9999-12-31")).step_by(37 * 86_400 + 3_607);
        for (step, at) in sparse.enumerate() {
            let utc = DateTime::from_timestamp(at, 123_456_789).unwrap();
            let t = utc.with_timezone(&offsets[step % offsets.len()]);
            assert_eq!(
                show_at(&t, "ansi"),
                t.format("%Y-%m-%d %H:%M:%S%.f").to_string()[..24],
                "{t}"
            );
            assert_eq!(show_at(&t, "rfc3339"), t.to_rfc3339(), "{t}");
        }
        for t in [
            DateTime::<chrono::Utc>::MIN_UTC.fixed_offset(),
            DateTime::<chrono::Utc>::MAX_UTC.fixed_offset(),
            ts("0000-01-01T00:00:00Z") - chrono::TimeDelta::seconds(1),
            ts("9999-12-31T23:59:59Z") + chrono::TimeDelta::seconds(1),
        ] {
            assert_eq!(show_at(&t, "rfc3339"), t.to_rfc3339(), "{t}");
        }
    }

    #[test]
    fn years_outside_four_digits_keep_their_sign() {
        let t = DateTime::<chrono::Utc>::MIN_UTC.fixed_offset();
        assert!(
            show_at(&t, "ansi").starts_with('-'),
            "{}",
            show_at(&t, "ansi")
        );
        assert!(show_at(&t, "ansi").ends_with(".0000"));
        let t = DateTime::<chrono::Utc>::MAX_UTC.fixed_offset();
        assert!(show_at(&t, "rfc3339").starts_with("+262"));
    }

    #[test]
    fn bad_specs_are_errors() {
        assert!("strftime:%Q".parse::<Format>().is_err());
        let err = "rfc333".parse::<Format>().unwrap_err();
        assert_eq!(err.suggestion(), Some("rfc3339"));
    }

    /// A catalog field's `format` takes formats only: `upper` is named as
    /// the placeholder option it is, not suggested as itself, and the
    /// list names no option a field's format refuses.
    #[test]
    fn a_placeholder_option_is_not_a_format() {
        for option in [
            "upper",
            "lower",
            "tz:UTC",
            "phone:e164",
            "truncate:3",
            "default:x",
        ] {
            let err = option.parse::<Format>().unwrap_err();
            assert_eq!(err.suggestion(), None, "{option}");
            assert!(
                err.to_string()
                    .contains("is a placeholder option, not a format"),
                "{err}"
            );
        }
        let err = "uper".parse::<Format>().unwrap_err();
        assert_eq!(err.suggestion(), None);
        for word in ["tz:", "phone:", "truncate:", "upper", "default:"] {
            assert!(!err.to_string().contains(word), "{err}");
        }
        // In a placeholder every option stands, and is listed.
        let err = placeholder_format("uper").unwrap_err();
        assert_eq!(err.suggestion(), Some("upper"));
        assert!(err.to_string().contains("`phone:FORM`"), "{err}");
        assert!(placeholder_format("strftime:%Q").is_err());
        assert_eq!(placeholder_format("hms").unwrap(), Format::Hms);
    }

    /// Fuzzer finding: a local time past chrono's range panicked in
    /// `naive_local`; the instant is printed in UTC instead.
    #[test]
    fn timestamp_at_the_edge_of_chrono_prints_in_utc() {
        let edge =
            DateTime::<chrono::Utc>::MAX_UTC.with_timezone(&FixedOffset::east_opt(3600).unwrap());
        let mut out = Vec::new();
        timestamp(&edge, &Format::Rfc3339, &mut out);
        let printed = String::from_utf8(out).unwrap();
        assert!(printed.ends_with("+00:00"), "{printed}");
        for format in ["ansi", "rfc2822", "unix", "unix_ms", "strftime:%Y-%m-%d %z"] {
            let mut out = Vec::new();
            timestamp(&edge, &format.parse().unwrap(), &mut out);
            assert!(!out.is_empty(), "{format}");
        }
    }

    /// Fuzzer finding: `%#z` is accepted by chrono for parsing only, and
    /// printing it panicked at render; it is now refused at compile.
    #[test]
    fn strftime_items_that_only_parse_are_refused() {
        let err = Strftime::new("%#z").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TemplateSyntax);
        assert!(err.to_string().contains("cannot be printed"), "{err}");
        assert!("strftime:%#z".parse::<Format>().is_err());
        assert!(Strftime::new("%z %:z").is_ok());
    }
}

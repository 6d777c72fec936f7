//! How a value prints: timestamp and duration formats.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset};

use crate::error::{Error, ErrorKind};
use crate::field::FieldType;

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
pub struct Strftime {
    pattern: String,
    items: Vec<Item<'static>>,
}

impl Strftime {
    /// Parses a pattern; an unknown `%` specifier is an error.
    pub fn new(pattern: &str) -> Result<Strftime, Error> {
        let items = StrftimeItems::new(pattern).parse_to_owned().map_err(|_| {
            Error::new(
                ErrorKind::TemplateSyntax,
                format!("invalid strftime pattern `{pattern}`"),
            )
        })?;
        Ok(Strftime {
            pattern: pattern.to_owned(),
            items,
        })
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

impl PartialEq for Strftime {
    fn eq(&self, other: &Strftime) -> bool {
        self.pattern == other.pattern
    }
}

impl fmt::Debug for Strftime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Strftime").field(&self.pattern).finish()
    }
}

impl Format {
    /// The type of value this format applies to, or `None` for
    /// [`Format::Natural`], which applies to all.
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
                None => {
                    return Err(Error::new(
                        ErrorKind::TemplateSyntax,
                        format!(
                            "unknown format `{spec}`, expected one of `ansi`, `rfc3339`, \
                             `rfc2822`, `unix`, `unix_ms`, `strftime:PATTERN`, `seconds`, \
                             `hms` or `default:TEXT`"
                        ),
                    )
                    .with_suggestion(crate::error::nearest(
                        spec,
                        [
                            "ansi", "rfc3339", "rfc2822", "unix", "unix_ms", "seconds", "hms",
                        ],
                    )))
                }
            },
        })
    }
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
            Format::Strftime(s) => write!(f, "strftime:{}", s.pattern),
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

/// Where formatted output goes: straight into the render's output when it
/// needs no escaping there, or into a [`Scratch`] to be escaped.
pub(crate) trait Sink: fmt::Write {
    /// Appends ASCII bytes.
    fn push_ascii(&mut self, bytes: &[u8]);

    /// Appends `n` in decimal, zero-padded to at least `width` digits.
    #[inline]
    fn push_padded(&mut self, n: u64, width: usize) {
        let mut digits = [b'0'; 20];
        let start = decimal(n, &mut digits);
        let start = start.min(digits.len() - width.min(digits.len()));
        self.push_ascii(&digits[start..]);
    }

    /// Appends `n` in decimal.
    #[inline]
    fn push_signed(&mut self, n: i64) {
        if n < 0 {
            self.push_ascii(b"-");
        }
        self.push_padded(n.unsigned_abs(), 1);
    }

    /// Appends a number below 100 as two digits.
    #[inline]
    fn push_two(&mut self, n: u32) {
        self.push_ascii(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
    }
}

/// A render's output, written to directly.
pub(crate) struct Direct<'a>(pub(crate) &'a mut Vec<u8>);

impl fmt::Write for Direct<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl Sink for Direct<'_> {
    #[inline]
    fn push_ascii(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// A fixed-size buffer for formatted values that still need escaping, so
/// that rendering a timestamp does not allocate. Longer output (only
/// strftime can make it) spills to the heap.
pub(crate) struct Scratch {
    buf: [u8; 64],
    len: usize,
    spill: Option<String>,
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        Scratch {
            buf: [0; 64],
            len: 0,
            spill: None,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match &self.spill {
            Some(s) => s,
            // Only whole `&str`s and ASCII are ever written, so this cannot
            // fail.
            None => std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default(),
        }
    }
}

impl Sink for Scratch {
    #[inline]
    fn push_ascii(&mut self, bytes: &[u8]) {
        if self.spill.is_none() && self.len + bytes.len() <= self.buf.len() {
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            // ASCII is UTF-8.
            let _ = self.write_str(std::str::from_utf8(bytes).unwrap_or_default());
        }
    }
}

impl fmt::Write for Scratch {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if let Some(spill) = &mut self.spill {
            spill.push_str(s);
        } else if self.len + s.len() <= self.buf.len() {
            self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
            self.len += s.len();
        } else {
            let mut spill = String::with_capacity(self.len + s.len() + 32);
            spill.push_str(std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default());
            spill.push_str(s);
            self.spill = Some(spill);
        }
        Ok(())
    }
}

/// "00" to "99", for writing two digits at a time.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `n` in decimal at the end of `digits`, two digits at a time, and
/// returns where it starts.
#[inline]
pub(crate) fn decimal(mut n: u64, digits: &mut [u8; 20]) -> usize {
    let mut i = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    i
}

/// Writes `n` (below 100) as two ASCII digits into `at`.
#[inline]
fn two_digits(at: &mut [u8], n: u32) {
    let pair = (n % 100) as usize * 2;
    at[..2].copy_from_slice(&PAIRS[pair..pair + 2]);
}

/// Days in 400 Gregorian years, after which the calendar repeats.
const ERA_DAYS: u64 = 146_097;
/// Eras added to a time before the calendar arithmetic, so it works on
/// unsigned numbers for all of chrono's range (about 262,000 years either
/// side of 1970).
const SHIFT_ERAS: u64 = 700;

/// The proleptic Gregorian date and the second of the day of a Unix time:
/// Howard Hinnant's `civil_from_days`. It is a few multiplications, where
/// chrono's calendar accessors each decode the date again.
fn civil(unix_seconds: i64) -> (i64, u32, u32, u32) {
    let shifted = unix_seconds.wrapping_add((SHIFT_ERAS * ERA_DAYS * 86_400) as i64) as u64;
    let second_of_day = (shifted % 86_400) as u32;
    // Days from 0000-03-01 (plus the shift), so leap days end a year.
    let z = shifted / 86_400 + 719_468;
    let era = z / ERA_DAYS;
    let day_of_era = z % ERA_DAYS;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March is 0
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = (year_of_era + era * 400) as i64 - (SHIFT_ERAS * 400) as i64 + i64::from(month <= 2);
    (year, month, day, second_of_day)
}

/// The local date and time of `t` as `YYYY-MM-DD?hh:mm:ss`, followed by
/// `.` and four digits of `fraction` (ten-thousandths of a second) where it
/// is given, written in one go for the years 0 to 9999.
fn push_date_time<S: Sink>(
    s: &mut S,
    t: &DateTime<FixedOffset>,
    separator: u8,
    fraction: Option<u32>,
) {
    // A leap second is :59 with more than a second of nanoseconds, so the
    // Unix time is already that of :59.
    let (year, month, day, seconds) =
        civil(t.timestamp() + i64::from(t.offset().local_minus_utc()));
    let (hour, minute, second) = (seconds / 3_600, seconds / 60 % 60, seconds % 60);
    if !(0..=9999).contains(&year) {
        let _ = write!(s, "{year:+05}-{month:02}-{day:02}");
        s.push_ascii(&[separator]);
        s.push_two(hour);
        s.push_ascii(b":");
        s.push_two(minute);
        s.push_ascii(b":");
        s.push_two(second);
        if let Some(fraction) = fraction {
            s.push_ascii(b".");
            s.push_two(fraction / 100);
            s.push_two(fraction % 100);
        }
        return;
    }
    let mut b = *b"0000-00-00T00:00:00.0000";
    let year = year as u32;
    two_digits(&mut b[0..2], year / 100);
    two_digits(&mut b[2..4], year % 100);
    two_digits(&mut b[5..7], month);
    two_digits(&mut b[8..10], day);
    b[10] = separator;
    two_digits(&mut b[11..13], hour);
    two_digits(&mut b[14..16], minute);
    two_digits(&mut b[17..19], second);
    match fraction {
        Some(fraction) => {
            two_digits(&mut b[20..22], fraction / 100);
            two_digits(&mut b[22..24], fraction % 100);
            s.push_ascii(&b);
        }
        None => s.push_ascii(&b[..19]),
    }
}

/// Formats a timestamp into `s`; it prints what
/// [`Format::timestamp_printed`] says.
pub(crate) fn timestamp<S: Sink>(t: &DateTime<FixedOffset>, format: &Format, s: &mut S) {
    // Leap seconds are carried in the nanosecond field above 1e9.
    let nanos = u64::from(t.timestamp_subsec_nanos() % 1_000_000_000);
    match format {
        Format::Ansi => push_date_time(s, t, b' ', Some((nanos / 100_000) as u32)),
        Format::Rfc2822 => {
            let _ = write!(s, "{}", t.format("%a, %d %b %Y %H:%M:%S %z"));
        }
        Format::UnixSeconds => s.push_signed(t.timestamp()),
        Format::UnixMillis => s.push_signed(t.timestamp_millis()),
        Format::Strftime(pattern) => {
            let _ = write!(s, "{}", t.format_with_items(pattern.items.iter()));
        }
        // RFC 3339 is a timestamp's natural form; formats of other types fall
        // back to it.
        _ => {
            push_date_time(s, t, b'T', None);
            if nanos != 0 {
                s.push_ascii(b".");
                if nanos % 1_000_000 == 0 {
                    s.push_padded(nanos / 1_000_000, 3);
                } else if nanos % 1_000 == 0 {
                    s.push_padded(nanos / 1_000, 6);
                } else {
                    s.push_padded(nanos, 9);
                }
            }
            let offset = t.offset().local_minus_utc();
            let minutes = offset.unsigned_abs() / 60;
            let mut zone = *b"+00:00";
            if offset < 0 {
                zone[0] = b'-';
            }
            two_digits(&mut zone[1..3], minutes / 60);
            two_digits(&mut zone[4..6], minutes % 60);
            s.push_ascii(&zone);
        }
    }
}

/// Formats a duration into `s`; it prints what [`Format::duration_printed`]
/// says.
pub(crate) fn duration<S: Sink>(d: &std::time::Duration, format: &Format, s: &mut S) {
    if let Format::Hms = format {
        let secs = d.as_secs();
        s.push_padded(secs / 3600, 2);
        let mut rest = *b":00:00";
        two_digits(&mut rest[1..3], (secs / 60 % 60) as u32);
        two_digits(&mut rest[4..6], (secs % 60) as u32);
        s.push_ascii(&rest);
    } else if d.subsec_nanos() == 0 {
        s.push_padded(d.as_secs(), 1);
    } else {
        let _ = write!(s, "{}", d.as_secs_f64());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    fn ts(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn show(t: &str, f: &str) -> String {
        let mut s = Scratch::new();
        timestamp(&ts(t), &f.parse().unwrap(), &mut s);
        s.as_str().to_owned()
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
        let mut s = Scratch::new();
        duration(&Duration::from_secs(417), &Format::Hms, &mut s);
        assert_eq!(s.as_str(), "00:06:57");
        let mut s = Scratch::new();
        duration(&Duration::from_secs(360_000), &Format::Hms, &mut s);
        assert_eq!(s.as_str(), "100:00:00");
        let mut s = Scratch::new();
        duration(&Duration::from_millis(1500), &Format::Seconds, &mut s);
        assert_eq!(s.as_str(), "1.5");
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

    #[test]
    fn direct_and_scratch_print_the_same() {
        let (formats, timestamps, durations) = samples();
        for format in &formats {
            for t in &timestamps {
                let (mut direct, mut scratch) = (Vec::new(), Scratch::new());
                timestamp(t, format, &mut Direct(&mut direct));
                timestamp(t, format, &mut scratch);
                assert_eq!(direct, scratch.as_str().as_bytes(), "{format} of {t}");
                assert!(!direct.is_empty(), "{format} of {t}");
            }
            for d in &durations {
                let (mut direct, mut scratch) = (Vec::new(), Scratch::new());
                duration(d, format, &mut Direct(&mut direct));
                duration(d, format, &mut scratch);
                assert_eq!(direct, scratch.as_str().as_bytes(), "{format} of {d:?}");
            }
        }
    }

    /// The calendar arithmetic agrees with chrono's, day by day across
    /// the four-digit years and at chrono's extremes, at offsets either side
    /// of UTC.
    #[test]
    fn dates_agree_with_chrono() {
        let offsets = [0, 19_800, -34_200, 50_400, -43_200]
            .map(|seconds| FixedOffset::east_opt(seconds).unwrap());
        let instant = |date: &str| ts(&format!("{date}T00:00:00Z")).timestamp();
        // Every day of 1900 to 2100, then every 37th day of the rest, at a
        // time of day that moves.
        let every_day = (instant("1900-01-01")..instant("2100-12-31")).step_by(86_400 + 3_607);
        let sparse = (instant("0000-01-01")..instant("9999-12-31")).step_by(37 * 86_400 + 3_607);
        for (step, at) in every_day.chain(sparse).enumerate() {
            let utc = DateTime::from_timestamp(at, 123_456_789).unwrap();
            let offset = offsets[step % offsets.len()];
            let t = utc.with_timezone(&offset);
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

    fn show_at(t: &DateTime<FixedOffset>, f: &str) -> String {
        let mut s = Scratch::new();
        timestamp(t, &f.parse().unwrap(), &mut s);
        s.as_str().to_owned()
    }

    #[test]
    fn decimals_two_digits_at_a_time() {
        for n in [0, 7, 10, 99, 100, 101, 999, 1000, 123_456_789, u64::MAX] {
            let mut digits = [0; 20];
            let start = decimal(n, &mut digits);
            assert_eq!(
                std::str::from_utf8(&digits[start..]).unwrap(),
                n.to_string()
            );
        }
    }

    #[test]
    fn bad_specs_are_errors() {
        assert!("strftime:%Q".parse::<Format>().is_err());
        let err = "rfc333".parse::<Format>().unwrap_err();
        assert_eq!(err.suggestion(), Some("rfc3339"));
    }
}

//! The time-zone placeholder option, `|tz:America/New_York`: a timestamp
//! converted to a named IANA zone before its time format prints it.
//!
//! The zones and their rules are the IANA database compiled into
//! `chrono-tz` (feature `tz`; tzdata 2025b in chrono-tz 0.10.4). Without the
//! feature the option is a configuration error naming it: no `Zone` is
//! ever built.

use chrono::{DateTime, FixedOffset};

#[cfg(feature = "tz")]
use crate::error::nearest;
use crate::error::{shown, Error, ErrorKind};

/// A named IANA zone, resolved when the template is compiled.
#[cfg(feature = "tz")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Zone(chrono_tz::Tz);

/// Without the `tz` feature no zone is ever resolved.
#[cfg(not(feature = "tz"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {}

/// Whether `option` (one `|`-separated option) is a time-zone option.
pub(crate) fn is_option(option: &str) -> bool {
    option.starts_with("tz:")
}

impl Zone {
    /// Resolves the zone named in `option` (`tz:NAME`), exactly as the IANA
    /// database spells it. An unknown Area/City name is an error suggesting
    /// the nearest known one (compared ignoring case) where `suggest` allows
    /// a search; a name without `/` (an abbreviation such as `PST`) gets a
    /// suggestion only for a case slip (`utc`).
    pub(crate) fn parse(option: &str, name: &str, suggest: bool) -> Result<Zone, Error> {
        #[cfg(feature = "tz")]
        {
            name.parse::<chrono_tz::Tz>().map(Zone).map_err(|_| {
                let names = || chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
                // Only an Area/City name is searched for its nearest: an
                // abbreviation (`AEST`, `IST`, `PST`) is nearest by spelling
                // to zones half a world away (`EST`), so it gets no guess,
                // only a case slip of a real name (`utc`) does.
                let near = if !suggest {
                    None
                } else if name.contains('/') {
                    nearest(name, names())
                } else {
                    names()
                        .find(|zone| zone.eq_ignore_ascii_case(name))
                        .map(str::to_owned)
                };
                let hint = if name.contains('/') {
                    "zones are IANA names such as `America/New_York` or `UTC`"
                } else {
                    "an abbreviation is not a zone: write an Area/City name such as \
                     `America/New_York`, or `UTC`"
                };
                Error::new(
                    ErrorKind::TemplateSyntax,
                    format!(
                        "unknown time zone `{}` in `{}`; {hint}",
                        shown(name),
                        shown(option)
                    ),
                )
                .with_suggestion(near)
            })
        }
        #[cfg(not(feature = "tz"))]
        {
            let _ = (name, suggest);
            Err(Error::new(
                ErrorKind::TemplateSyntax,
                format!(
                    "placeholder option `{}` needs callhook's `tz` feature, which this build \
                     does not have",
                    shown(option)
                ),
            ))
        }
    }

    /// The instant `t` with the zone's UTC offset at that instant: every
    /// instant has exactly one, so daylight-saving changes are right on
    /// both sides (a skipped local hour is never printed, a repeated one
    /// printed twice with its two offsets).
    pub(crate) fn convert(self, t: &DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        #[cfg(feature = "tz")]
        {
            t.with_timezone(&self.0).fixed_offset()
        }
        #[cfg(not(feature = "tz"))]
        {
            let _ = t;
            match self {}
        }
    }

    /// The zone's IANA name.
    #[cfg(all(test, feature = "tz"))]
    pub(crate) fn name(self) -> &'static str {
        self.0.name()
    }
}

#[cfg(test)]
mod tests;

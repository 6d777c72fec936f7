//! Phone-number placeholder options (`|phone:e164`...), and a service's
//! default region for numbers written without a country code.
//!
//! Parsing and formatting are libphonenumber's, through the `phonenumber`
//! crate (feature `phone`). Without the feature the option and the region
//! are configuration errors naming it: nothing here is ever built.

use std::fmt;

use crate::error::{nearest, shown, Error, ErrorKind};
use crate::limits;

/// What a phone option prints of a number that parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `+61400123456`.
    E164,
    /// The number as dialled inside its country: `0400 123 456`.
    National,
    /// `+61 400 123 456`.
    International,
    /// The E.164 digits without `+`: `61400123456`.
    Digits,
    /// The last N of the E.164 digits.
    Last(u8),
    /// The E.164 digits, all but the last N as `*`.
    Mask(u8),
    /// The North American area code (NPA): `212` of `+1 212 555 4567`.
    Npa,
    /// The North American exchange (NXX): `555` of `+1 212 555 4567`.
    Nxx,
}

/// The forms as written, for messages and suggestions.
const FORMS: [&str; 8] = [
    "e164",
    "national",
    "international",
    "digits",
    "last",
    "mask",
    "npa",
    "nxx",
];

/// One placeholder's phone option: the form, whether a value that is not a
/// phone number counts as missing (`:strict`) rather than passing through,
/// and the region numbers without a country code are read in.
#[derive(Clone, PartialEq)]
pub(crate) struct Phone {
    pub(crate) form: Form,
    pub(crate) strict: bool,
    pub(crate) region: Option<Region>,
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Phone")
            .field("form", &self.form)
            .field("strict", &self.strict)
            .finish_non_exhaustive()
    }
}

/// A region (ISO 3166-1 alpha-2, as libphonenumber names them).
#[cfg(feature = "phone")]
pub(crate) type Region = phonenumber::country::Id;

/// Without the `phone` feature no region is ever read.
#[cfg(not(feature = "phone"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Region {}

fn syntax(message: String) -> Error {
    Error::new(ErrorKind::TemplateSyntax, message)
}

/// The error for a phone option or region in a build without the feature.
fn needs_feature(kind: ErrorKind, what: &str) -> Error {
    Error::new(
        kind,
        format!("{what} needs callhook's `phone` feature, which this build does not have"),
    )
}

/// Parses `N` of `last:N` or `mask:N`: 1 to [`limits::PHONE_DIGITS`].
fn digits_count(option: &str, text: Option<&str>) -> Result<u8, Error> {
    let Some(text) = text else {
        return Err(syntax(format!(
            "`{}` needs a number of digits, as in `phone:last:4`",
            shown(option)
        )));
    };
    match text.parse::<usize>() {
        Ok(n @ 1..=limits::PHONE_DIGITS) => Ok(u8::try_from(n).unwrap_or(u8::MAX)),
        _ => Err(syntax(format!(
            "`{}`: the number of digits is from 1 to {} (`limits::PHONE_DIGITS`)",
            shown(option),
            limits::PHONE_DIGITS
        ))),
    }
}

/// The nearest phone option to the unknown form `name`, written whole:
/// `last4` is `phone:last:4` (the count after its own `:`), and a bare
/// `last` or `mask` takes an example count, since alone it is refused.
fn suggestion(name: &str) -> Option<String> {
    for form in ["last", "mask"] {
        if let Some(n) = name.strip_prefix(form) {
            let n = n.trim_start_matches(['_', '-']);
            if !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit()) {
                return Some(format!("phone:{form}:{n}"));
            }
        }
    }
    nearest(name, FORMS).map(|form| match form.as_str() {
        "last" | "mask" => format!("phone:{form}:4"),
        _ => format!("phone:{form}"),
    })
}

impl Phone {
    /// Parses the text after `phone:`: a form, `N` for `last` and `mask`,
    /// and `:strict` last.
    pub(crate) fn parse(option: &str, spec: &str, region: Option<Region>) -> Result<Phone, Error> {
        let (spec, strict) = match spec.strip_suffix(":strict") {
            Some(rest) => (rest, true),
            None => (spec, false),
        };
        let (name, n) = match spec.split_once(':') {
            Some((name, n)) => (name, Some(n)),
            None => (spec, None),
        };
        let form = match name {
            "e164" => Form::E164,
            "national" => Form::National,
            "international" => Form::International,
            "digits" => Form::Digits,
            "last" => Form::Last(digits_count(option, n)?),
            "mask" => Form::Mask(digits_count(option, n)?),
            "npa" => Form::Npa,
            "nxx" => Form::Nxx,
            _ => {
                return Err(syntax(format!(
                    "unknown phone format `{}`, expected `phone:` and one of `e164`, \
                     `national`, `international`, `digits`, `last:N`, `mask:N`, `npa` or \
                     `nxx`, optionally followed by `:strict`",
                    shown(option)
                ))
                .with_suggestion(suggestion(name)))
            }
        };
        if n.is_some() && !matches!(form, Form::Last(_) | Form::Mask(_)) {
            return Err(syntax(format!(
                "phone format `{}` takes no number",
                shown(option)
            )));
        }
        if cfg!(not(feature = "phone")) {
            return Err(needs_feature(
                ErrorKind::TemplateSyntax,
                &format!("placeholder option `{}`", shown(option)),
            ));
        }
        Ok(Phone {
            form,
            strict,
            region,
        })
    }
}

/// Reads a service's `phone_region`.
pub(crate) fn region(text: &str) -> Result<Region, Error> {
    #[cfg(feature = "phone")]
    {
        use std::str::FromStr as _;
        Region::from_str(text).map_err(|_| {
            let upper = text.to_ascii_uppercase();
            let suggestion = (upper != text && Region::from_str(&upper).is_ok()).then_some(upper);
            Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "unknown phone region `{}`; a region is a two-letter ISO 3166-1 code as \
                     libphonenumber knows it, such as `AU`, `US` or `GB`",
                    shown(text)
                ),
            )
            .with_suggestion(suggestion)
        })
    }
    #[cfg(not(feature = "phone"))]
    {
        let _ = text;
        Err(needs_feature(ErrorKind::InvalidConfig, "`phone_region`"))
    }
}

impl Phone {
    /// `text` in this form, or `None` where it is not a valid phone number
    /// by libphonenumber's data (or, for `npa` and `nxx`, not a North
    /// American one). Only text of a phone number's shape reaches the
    /// parser ([`plausible`]), which keeps its known fuzz-found panics out
    /// of reach; a panic inside it all the same is caught and read as "not
    /// a phone number" (under `panic = "unwind"`, the default).
    #[cfg(feature = "phone")]
    pub(crate) fn format(&self, text: &str) -> Option<String> {
        use phonenumber::Mode;
        if !plausible(text) {
            return None;
        }
        let parse = || phonenumber::parse(self.region, text).ok();
        let number = std::panic::catch_unwind(parse).ok().flatten()?;
        // A parse is not a phone number: `1001` (an extension) or `911`
        // parse in their region, and reformatted would become `+611001`.
        // Only a number libphonenumber's data says is valid is reshaped;
        // anything else passes through as written.
        let valid = std::panic::catch_unwind(|| phonenumber::is_valid(&number)).unwrap_or(false);
        if !valid {
            return None;
        }
        let mode = match self.form {
            Form::National => Mode::National,
            Form::International => Mode::International,
            _ => Mode::E164,
        };
        let printed = std::panic::catch_unwind(|| number.format().mode(mode).to_string()).ok()?;
        let digits = || printed.strip_prefix('+').unwrap_or(&printed);
        Some(match self.form {
            Form::E164 | Form::National | Form::International => printed.clone(),
            Form::Digits => digits().to_owned(),
            Form::Last(n) => {
                let digits = digits();
                digits[digits.len().saturating_sub(usize::from(n))..].to_owned()
            }
            Form::Mask(n) => {
                let digits = digits();
                let hidden = digits.len().saturating_sub(usize::from(n));
                let mut masked = "*".repeat(hidden);
                masked.push_str(&digits[hidden..]);
                masked
            }
            Form::Npa | Form::Nxx => {
                // The NANP: country code 1, then NPA, NXX and four digits.
                let national = digits().strip_prefix('1')?;
                if number.code().value() != 1 || national.len() != 10 {
                    return None;
                }
                let range = if self.form == Form::Npa { 0..3 } else { 3..6 };
                national[range].to_owned()
            }
        })
    }

    /// Without the feature no `Phone` is built: a value passes through.
    #[cfg(not(feature = "phone"))]
    pub(crate) fn format(&self, _text: &str) -> Option<String> {
        None
    }
}

/// The most digits before an extension a value read as a phone number may
/// hold: 15 (E.164's most) and an international prefix of up to five
/// (`00111`). More is not a phone number.
#[cfg(feature = "phone")]
const NUMBER_DIGITS: usize = 20;

/// The most digits an extension may hold (`x1234`, `ext. 1234`).
#[cfg(feature = "phone")]
const EXTENSION_DIGITS: usize = 7;

/// Whether `text` has the shape of a phone number, checked before the
/// `phonenumber` crate sees it: ASCII digits, spaces and `+-()./` (a `+`
/// only first), then optionally an extension (`x`, `ext` or `ext.`, then
/// its digits), at most [`limits::PHONE_TEXT_BYTES`] in all. Anything else
/// (letters, `#`, `:`, `;`, control or non-ASCII characters, which is
/// where the crate's fuzz-found panics live) is not a phone number and is
/// never parsed: the `catch_unwind` around the crate is a last line, not
/// the first.
#[cfg(feature = "phone")]
pub(crate) fn plausible(text: &str) -> bool {
    if text.len() > limits::PHONE_TEXT_BYTES {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    let (number, extension) = match lower.rfind(['x', 't']) {
        Some(at) => {
            let marker_start = if lower[..=at].ends_with("ext") {
                at - 2
            } else if lower[..=at].ends_with('x') {
                at
            } else {
                return false;
            };
            (&lower[..marker_start], Some(&lower[at + 1..]))
        }
        None => (lower.as_str(), None),
    };
    if let Some(extension) = extension {
        let digits = extension.trim_start_matches(['.', ' ']);
        if digits.is_empty()
            || digits.len() > EXTENSION_DIGITS
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return false;
        }
    }
    let body = number.trim_start();
    let body = body.strip_prefix('+').unwrap_or(body);
    let digits = body.bytes().filter(u8::is_ascii_digit).count();
    (1..=NUMBER_DIGITS).contains(&digits)
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || b" -()./".contains(&b))
}

/// Whether `option` (one `|`-separated option) is a phone option.
pub(crate) fn is_option(option: &str) -> bool {
    option.starts_with("phone:")
}

#[cfg(test)]
mod tests;

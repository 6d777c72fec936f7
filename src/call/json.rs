//! Call data's JSON, read so that every number keeps the text it was given
//! in: serde_json (without its global `arbitrary_precision` feature) hands
//! an integer past `u64` or a long decimal over as an `f64`, its digits
//! lost, so each number's text is found beside it in the document.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::Raw;
use crate::error::{json_error, Error, ErrorKind};
#[cfg(test)]
use crate::value::is_json_number;
use crate::value::is_whole;

/// A JSON document as call data reads it: objects keep their entries in
/// document order, and numbers are [`Raw`] numbers that lost nothing.
#[derive(Debug)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    /// The number, and its text as written.
    Number(Raw<'a>, &'a str),
    Str(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Parses `text`.
    ///
    /// Errors are of kind [`ErrorKind::Serde`], with their position.
    pub(crate) fn parse(text: &'a str) -> Result<Json<'a>, Error> {
        let numbers = Numbers {
            text,
            at: Cell::new(0),
        };
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let json = Reader { numbers: &numbers }
            .deserialize(&mut deserializer)
            .and_then(|json| deserializer.end().map(|()| json))
            .map_err(|e| json_error(ErrorKind::Serde, text, e))?;
        Ok(json)
    }

    /// The value of the last entry named `key`, as serde_json's own map
    /// keeps it.
    pub(crate) fn get(entries: &'a [(Cow<'a, str>, Json<'a>)], key: &str) -> Option<&'a Json<'a>> {
        entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// The numbers of a document, in order: serde_json visits values in
/// document order, so the n-th number visited is the n-th number written.
/// `at` is always outside strings, after the last number found, so the
/// whole document is walked once.
struct Numbers<'a> {
    text: &'a str,
    at: Cell<usize>,
}

impl<'a> Numbers<'a> {
    /// The text of the next number.
    fn next(&self) -> &'a str {
        let bytes = self.text.as_bytes();
        let mut i = self.at.get();
        while let Some(&b) = bytes.get(i) {
            match b {
                b'"' => {
                    // To the closing quote, past escapes.
                    i += 1;
                    while let Some(found) =
                        memchr::memchr2(b'"', b'\\', &bytes[i.min(bytes.len())..])
                    {
                        i += found;
                        if bytes[i] == b'\\' {
                            i += 2;
                        } else {
                            break;
                        }
                    }
                    i += 1;
                }
                b'-' | b'0'..=b'9' => {
                    let end = bytes[i..]
                        .iter()
                        .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                        .map_or(bytes.len(), |n| i + n);
                    self.at.set(end);
                    // Both ends are at ASCII bytes (or the end): char
                    // boundaries, so the empty fallback is never taken.
                    return self.text.get(i..end).unwrap_or("");
                }
                _ => i += 1,
            }
        }
        self.at.set(i);
        ""
    }
}

/// Reads one value into a [`Json`].
#[derive(Clone, Copy)]
struct Reader<'n, 'a> {
    numbers: &'n Numbers<'a>,
}

impl<'de, 'n> DeserializeSeed<'de> for Reader<'n, 'de> {
    type Value = Json<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, 'n> Visitor<'de> for Reader<'n, 'de> {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(Raw::I64(v), self.numbers.next()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        let raw = i64::try_from(v).map_or(Raw::U64(v), Raw::I64);
        Ok(Json::Number(raw, self.numbers.next()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        let text = self.numbers.next();
        Ok(Json::Number(number(text, v), text))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            entries.push((key.0, map.next_value_seed(self)?));
        }
        Ok(Json::Object(entries))
    }
}

/// An object's key, borrowed where it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A number serde_json read as `value` from `text`: the `f64` where it
/// prints back as the number written, else the text itself (an integer
/// past `u64`, a decimal with more digits than an `f64` holds).
pub(crate) fn number(text: &str, value: f64) -> Raw<'_> {
    // The text is the number's unless the walk went wrong, which the
    // parse would show; the `f64` is then all there is.
    if text.parse::<f64>().ok() != Some(value) {
        return Raw::F64(value);
    }
    if is_whole(text) || !prints_as(text, value) {
        Raw::Number(text)
    } else {
        Raw::F64(value)
    }
}

/// Whether `value`, printed (as the render prints decimals, in the fewest
/// digits that read back as it), is the number `text` writes.
pub(crate) fn prints_as(text: &str, value: f64) -> bool {
    let printed = format!("{value:e}");
    match (Decimal::of(text), Decimal::of(&printed)) {
        (Some(given), Some(printed)) => given == printed,
        _ => false,
    }
}

/// A decimal number as sign, significant digits (no leading or trailing
/// zeros) and the power of ten of the point before them, so two texts of
/// the same number compare equal.
#[derive(PartialEq)]
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

impl Decimal {
    /// Reads a JSON number (or what `{:e}` prints); `None` where it is not
    /// one, or its exponent does not fit an `i64`.
    fn of(text: &str) -> Option<Decimal> {
        let (negative, text) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            // An exponent past `i64`: `None`, as documented.
            Some(at) => (&text[..at], text[at + 1..].parse::<i64>().ok()?),
            None => (text, 0),
        };
        // No point: no fraction.
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() || !(whole.bytes().chain(fraction.bytes())).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut digits: Vec<u8> = whole.bytes().chain(fraction.bytes()).collect();
        let leading = digits.iter().take_while(|&&d| d == b'0').count();
        digits.drain(..leading);
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        // Lengths of a `str` fit an `i64` on every target Rust has.
        let point = i64::try_from(whole.len()).ok()? - i64::try_from(leading).ok()?;
        let exponent = if digits.is_empty() {
            0
        } else {
            exponent.checked_add(point)?
        };
        Some(Decimal {
            negative,
            digits,
            exponent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_text_where_an_f64_would_change_them() {
        let json = Json::parse(
            r#"{"a": "1 \" 2", "b": 18446744073709551616, "c": [0.1, 1e-7, 3.141592653589793238], "d": -5}"#,
        )
        .unwrap();
        let Json::Object(entries) = json else {
            panic!()
        };
        assert!(matches!(
            Json::get(&entries, "b"),
            Some(Json::Number(Raw::Number("18446744073709551616"), _))
        ));
        let Some(Json::Array(items)) = Json::get(&entries, "c") else {
            panic!()
        };
        assert!(matches!(items[0], Json::Number(Raw::F64(n), "0.1") if n == 0.1));
        assert!(matches!(items[1], Json::Number(Raw::F64(n), "1e-7") if n == 1e-7));
        assert!(matches!(
            items[2],
            Json::Number(Raw::Number("3.141592653589793238"), _)
        ));
        assert!(matches!(
            Json::get(&entries, "d"),
            Some(Json::Number(Raw::I64(-5), "-5"))
        ));
    }

    #[test]
    fn texts_of_the_same_number_compare_equal() {
        assert!(prints_as("0.1", 0.1));
        assert!(prints_as("100", 100.0));
        assert!(prints_as("1.50E+2", 150.0));
        assert!(prints_as("-0.000015", -0.000015));
        assert!(prints_as("0.0", 0.0));
        assert!(!prints_as("9007199254740993", 9_007_199_254_740_992.0));
        assert!(!prints_as("1e99999999999999999999", f64::INFINITY));
    }

    #[test]
    fn json_numbers_are_told_from_other_text() {
        for good in ["0", "-0", "12", "1.5", "1e5", "-1.5E-7", "10.01e+3"] {
            assert!(is_json_number(good), "{good}");
        }
        for bad in [
            "", "-", "01", "+1", "1.", ".5", "1e", "1e+", "0x10", "1 ", "NaN", "inf",
        ] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }
}

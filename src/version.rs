//! The format version of the documents a host stores: a configuration, a
//! serialised registry, a service's row and a webhook's row.
//!
//! A writer puts `"version"` at the top of each such document (the lowest
//! format that holds it), so a reader meets it before anything else and an older reader
//! can say "upgrade" instead of "unknown field". A document with no
//! `version` is format 1, what was written before versions existed. A
//! service or webhook inside a configuration follows the configuration's
//! version and writes none of its own, and values that are never stored
//! alone (`Pair`, `BodyConfig`, `Auth`, `RetryPolicy`...) have none: they
//! follow the document they are in.

use serde::de::Deserializer;
use serde::ser::{Error as _, Impossible, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::{json_error, json_position, nearest, shown, Error, ErrorKind};

/// The newest format version callhook writes and reads: 3.
///
/// Format 1 is every document written before format versions existed,
/// which carries no `version` field. Format 2 is the same shape with
/// `"version": 2` at the top of each document stored on its own (a
/// configuration, a serialised registry, a service's or a webhook's row).
/// It is numbered 2, not 1, because readers of format 1 cannot read the
/// `version` field itself. Format 3 adds conditions on webhooks and the
/// placeholder options of phone numbers, time zones and text.
///
/// A document is written in the lowest format that holds it: one that uses
/// nothing of format 3 is written as format 2, so that callhook versions
/// that read formats up to 2 still load it; one with a condition (or a new
/// placeholder option) is written as format 3, which those versions refuse
/// with "upgrade" rather than misread.
///
/// A reader refuses a document of a newer format with an error of kind
/// [`ErrorKind::NewerFormat`] that says so, and reads every older one.
/// Within a format it knows, it refuses unknown fields, which are typos.
pub const FORMAT_VERSION: u32 = 3;

/// The format a document that uses nothing of format 3 is written in.
pub(crate) const PLAIN_FORMAT: u32 = 2;

/// The format a document is written in: [`FORMAT_VERSION`] if it `needs`
/// format 3, [`PLAIN_FORMAT`] if not.
pub(crate) fn written(needs_format_3: bool) -> u32 {
    if needs_format_3 {
        FORMAT_VERSION
    } else {
        PLAIN_FORMAT
    }
}

/// The name of the field that holds the version.
const KEY: &str = "version";

/// The `version` field of a document: read as any format up to
/// [`FORMAT_VERSION`] (absent is format 1, through `#[serde(default)]`),
/// written on its own as [`PLAIN_FORMAT`]; a document that may need format
/// 3 writes its version itself, from what it holds ([`written`]).
/// It holds nothing: every format reads into the same values, so a value
/// in memory has no format of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Version;

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(PLAIN_FORMAT)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Version, D::Error> {
        let version = u64::deserialize(deserializer)?;
        match check(version) {
            Ok(()) => Ok(Version),
            Err(message) => Err(serde::de::Error::custom(message)),
        }
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Version {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FormatVersion".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": format!(
                "A format version of stored documents: 1 (no `version` written) to {FORMAT_VERSION}."
            ),
            "type": "integer",
            "minimum": 1,
            "maximum": FORMAT_VERSION,
            "default": 1
        })
    }
}

/// Whether this version of callhook reads format `version`; the message
/// saying why not if it does not.
fn check(version: u64) -> Result<(), String> {
    if version == 0 {
        return Err("format version `0` does not exist: formats start at 1".to_owned());
    }
    if version > u64::from(FORMAT_VERSION) {
        return Err(newer(version));
    }
    Ok(())
}

fn newer(version: u64) -> String {
    format!(
        "written in format {version}; callhook {} reads formats up to {FORMAT_VERSION}: \
         upgrade callhook to read it",
        env!("CARGO_PKG_VERSION")
    )
}

/// Serialises a value without its `version` field: a service or webhook
/// inside a configuration, which follows the configuration's version, and
/// the row a compiled service keeps, to which [`Service::to_json`] adds it.
///
/// [`Service::to_json`]: crate::Service::to_json
pub(crate) struct Nested<'a, T>(pub(crate) &'a T);

impl<T: Serialize> Serialize for Nested<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(WithoutVersion(serializer))
    }
}

/// Serialises a list of services or webhooks inside a configuration, each
/// without its own `version` (for `#[serde(serialize_with)]`).
pub(crate) fn nested<T: Serialize, S: Serializer>(items: &[T], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(items.iter().map(Nested))
}

/// A serializer that writes a struct as `S` does, leaving out its
/// top-level `version` field. Only structs come through it: what
/// [`Nested`] wraps are the derived structs that carry a [`Version`].
struct WithoutVersion<S>(S);

/// The struct [`WithoutVersion`] writes, skipping `version`.
struct SkipVersion<S>(S);

impl<S: SerializeStruct> SerializeStruct for SkipVersion<S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        if key == KEY {
            self.0.skip_field(key)
        } else {
            self.0.serialize_field(key, value)
        }
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

/// Everything but a struct is refused: nothing else carries a version, so
/// nothing else is wrapped.
macro_rules! not_a_struct {
    ($($method:ident($($arg:ty),*) -> $out:ty;)*) => {
        $(
            fn $method(self, $(_: $arg),*) -> Result<$out, S::Error> {
                Err(S::Error::custom("only a struct is written without its `version`"))
            }
        )*
    };
}

impl<S: Serializer> Serializer for WithoutVersion<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Impossible<S::Ok, S::Error>;
    type SerializeTuple = Impossible<S::Ok, S::Error>;
    type SerializeTupleStruct = Impossible<S::Ok, S::Error>;
    type SerializeTupleVariant = Impossible<S::Ok, S::Error>;
    type SerializeMap = Impossible<S::Ok, S::Error>;
    type SerializeStruct = SkipVersion<S::SerializeStruct>;
    type SerializeStructVariant = Impossible<S::Ok, S::Error>;

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        // `len` counts `version`, which is always written.
        Ok(SkipVersion(
            self.0.serialize_struct(name, len.saturating_sub(1))?,
        ))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom(
            "only a struct is written without its `version`",
        ))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom(
            "only a struct is written without its `version`",
        ))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom(
            "only a struct is written without its `version`",
        ))
    }

    not_a_struct! {
        serialize_bool(bool) -> S::Ok;
        serialize_i8(i8) -> S::Ok;
        serialize_i16(i16) -> S::Ok;
        serialize_i32(i32) -> S::Ok;
        serialize_i64(i64) -> S::Ok;
        serialize_u8(u8) -> S::Ok;
        serialize_u16(u16) -> S::Ok;
        serialize_u32(u32) -> S::Ok;
        serialize_u64(u64) -> S::Ok;
        serialize_f32(f32) -> S::Ok;
        serialize_f64(f64) -> S::Ok;
        serialize_char(char) -> S::Ok;
        serialize_str(&str) -> S::Ok;
        serialize_bytes(&[u8]) -> S::Ok;
        serialize_none() -> S::Ok;
        serialize_unit() -> S::Ok;
        serialize_unit_struct(&'static str) -> S::Ok;
        serialize_unit_variant(&'static str, u32, &'static str) -> S::Ok;
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }
}

/// `json` (a row a service keeps, written through [`Nested`]) with
/// `"version"` at its top, as a row stored on its own is written: 3 when
/// it `needs_format_3`, 2 when not ([`written`]).
pub(crate) fn with_version(json: &str, needs_format_3: bool) -> String {
    // Serde writes a struct as an object, and a service's has fields it
    // always writes (`id`, `name`, `method`, `url`), so the row is `{"…`.
    debug_assert!(json.starts_with("{\""), "{json}");
    let fields = json.strip_prefix('{').unwrap_or(json);
    format!("{{\"{KEY}\":{},{fields}", written(needs_format_3))
}

/// Reads a document (a configuration, a service's or a webhook's row) from
/// JSON text, refusing a newer format with an error that says so whatever
/// else is wrong with the text, and an unknown field with the nearest
/// known name.
///
/// The text is parsed once when it reads; only when it does not is the
/// version looked for, by a second parse that reads nothing else.
pub(crate) fn from_json<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| newer_format(text).unwrap_or_else(|| refused(text, e)))
}

/// The error for `text`'s newer format, if it is written in one: at its
/// top, or in one of a configuration's services or webhooks (which a host
/// may have put together from rows).
fn newer_format(text: &str) -> Option<Error> {
    /// What a document says of its format, everything else ignored.
    #[derive(Deserialize)]
    struct Peek {
        #[serde(default)]
        version: Option<u64>,
        #[serde(default)]
        services: Vec<Row>,
        #[serde(default)]
        webhooks: Vec<Row>,
    }
    #[derive(Deserialize)]
    struct Row {
        #[serde(default)]
        version: Option<u64>,
    }
    // A document whose format cannot be read (not JSON, or a `version`
    // that is not a number) has nothing to say here: the strict parse's
    // error says what is wrong.
    let peek: Peek = serde_json::from_str(text).ok()?;
    let newest = u64::from(FORMAT_VERSION);
    if let Some(version) = peek.version.filter(|&v| v > newest) {
        return Some(Error::new(ErrorKind::NewerFormat, newer(version)).in_field(KEY));
    }
    let rows = [("services", &peek.services), ("webhooks", &peek.webhooks)];
    let (list, i, version) = rows.into_iter().find_map(|(list, rows)| {
        rows.iter()
            .enumerate()
            .find_map(|(i, row)| Some((list, i, row.version.filter(|&v| v > newest)?)))
    })?;
    Some(Error::new(ErrorKind::NewerFormat, newer(version)).in_field(&format!("{list}.{i}.{KEY}")))
}

/// serde_json's error for a document of a format this version reads, with
/// the nearest known name for an unknown field.
fn refused(text: &str, e: serde_json::Error) -> Error {
    match unknown_field(&e.to_string()) {
        Some((name, suggestion)) => Error::new(
            ErrorKind::Serde,
            format!("unknown field `{}`", shown(&name)),
        )
        .at(json_position(text, &e))
        .with_suggestion(Some(suggestion))
        .with_source(e),
        None => json_error(ErrorKind::Serde, text, e),
    }
}

/// The unknown name of serde's "unknown field `x`, expected one of `a`,
/// `b`" and the known one nearest to it, if one is near enough.
fn unknown_field(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, expected) = rest.split_once("`, expected ")?;
    // Serde quotes each known name in backticks: every odd piece is one.
    let known = expected.split('`').skip(1).step_by(2);
    let suggestion = nearest(name, known)?;
    Some((name.to_owned(), suggestion))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        version: Version,
        id: &'static str,
        n: u32,
    }

    #[test]
    fn nested_values_are_written_without_their_version() {
        let row = Row {
            version: Version,
            id: "a",
            n: 1,
        };
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"version":2,"id":"a","n":1}"#
        );
        let nested = serde_json::to_string(&Nested(&row)).unwrap();
        assert_eq!(nested, r#"{"id":"a","n":1}"#);
        assert_eq!(
            with_version(&nested, false),
            r#"{"version":2,"id":"a","n":1}"#
        );
        assert_eq!(
            with_version(&nested, true),
            r#"{"version":3,"id":"a","n":1}"#
        );
        // Anything but a struct is refused, not written with a version.
        assert!(serde_json::to_string(&Nested(&1)).is_err());
    }

    #[test]
    fn formats_up_to_the_current_one_are_read() {
        assert!(check(1).is_ok());
        assert!(check(u64::from(FORMAT_VERSION)).is_ok());
        assert_eq!(
            check(4).unwrap_err(),
            format!(
                "written in format 4; callhook {} reads formats up to 3: upgrade callhook to read it",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert!(check(0).unwrap_err().contains("formats start at 1"));
    }

    #[test]
    fn unknown_fields_get_the_nearest_name() {
        assert_eq!(
            unknown_field("unknown field `nmae`, expected one of `version`, `id`, `name`"),
            Some(("nmae".into(), "name".into()))
        );
        assert_eq!(
            unknown_field("unknown field `versoin`, expected `version`"),
            Some(("versoin".into(), "version".into()))
        );
        assert_eq!(
            unknown_field("unknown field `zzzzzz`, expected one of `id`, `name`"),
            None
        );
        assert_eq!(unknown_field("missing field `url`"), None);
    }
}

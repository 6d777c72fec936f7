//! A host's own call struct, written straight into call data: a serde
//! `Serializer` whose fields land as typed values, with no JSON value built
//! between.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::ser::{self, Impossible, Serialize};

use super::{convert_raw, hidden, not_scalar, CallData, Raw};
use crate::catalog::{Catalog, Positions};
use crate::error::{shown, Error, ErrorKind};
use crate::limits::{FIELDS, FIELD_NAME_BYTES};
use crate::value::Value;

/// The error serde's traits want, carrying ours.
#[derive(Debug)]
pub(crate) struct Failed(pub(crate) Error);

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Failed {}

impl ser::Error for Failed {
    fn custom<T: fmt::Display>(message: T) -> Failed {
        Failed(Error::new(
            ErrorKind::InvalidCallData,
            format!("call data does not serialise: {message}"),
        ))
    }
}

/// Writes `value`, a struct or map, into `data`.
pub(crate) fn write<T: Serialize + ?Sized>(
    value: &T,
    data: &mut CallData,
    catalog: &Catalog,
) -> Result<(), Error> {
    value
        .serialize(Fields {
            data,
            catalog,
            prefix: String::new(),
        })
        .map_err(|Failed(e)| e)
}

fn not_an_object() -> Failed {
    Failed(Error::new(
        ErrorKind::InvalidCallData,
        "call data must serialise as a struct or a map",
    ))
}

/// A struct or map whose entries are fields, named under `prefix`.
struct Fields<'a> {
    data: &'a mut CallData,
    catalog: &'a Catalog,
    prefix: String,
}

impl Fields<'_> {
    /// The full name of the field `key`: borrowed at the top level, where
    /// most fields are, so naming one copies nothing.
    #[inline]
    fn name<'k>(&self, key: &'k str) -> Result<Cow<'k, str>, Failed> {
        let name = if self.prefix.is_empty() {
            Cow::Borrowed(key)
        } else {
            Cow::Owned(format!("{}.{key}", self.prefix))
        };
        if name.len() > FIELD_NAME_BYTES || self.data.len() >= FIELDS {
            return Err(self.refused(&name));
        }
        Ok(name)
    }

    /// Why a field is refused: its name is too long, or there are too many.
    #[cold]
    fn refused(&self, name: &str) -> Failed {
        Failed(if name.len() > FIELD_NAME_BYTES {
            Error::new(
                ErrorKind::InvalidCallData,
                format!(
                    "field name `{}` is longer than {FIELD_NAME_BYTES} bytes (`limits::FIELD_NAME_BYTES`)",
                    shown(name)
                ),
            )
        } else {
            Error::new(
                ErrorKind::InvalidCallData,
                format!("call data holds more than {FIELDS} fields (`limits::FIELDS`)"),
            )
        })
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Failed> {
        let name = self.name(key)?;
        value.serialize(Field {
            data: self.data,
            catalog: self.catalog,
            name,
            position: None,
        })
    }

    /// A field of a struct: its name is a `&'static str`, so at the top
    /// level its catalog position is found through [`static_position`].
    fn struct_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Failed> {
        let position = self
            .prefix
            .is_empty()
            .then(|| static_position(self.catalog.positions(), key));
        let name = self.name(key)?;
        value.serialize(Field {
            data: self.data,
            catalog: self.catalog,
            name,
            position,
        })
    }
}

/// The catalog position of a struct's field name, remembered per thread by
/// the name's address and length: a struct's field names are `&'static
/// str`s, the same on every conversion, and static text never changes, so
/// each is hashed once per catalog rather than on every conversion.
/// Callgrind, the PBX call struct of 28 fields: 20,777 -> 15,631
/// instructions per conversion, 25% (SipHash was most of the difference).
fn static_position(positions: &Positions, key: &'static str) -> Option<u32> {
    type Entry = (usize, usize, u64, Option<u32>);
    const EMPTY: Entry = (0, 0, 0, None);
    thread_local! {
        static SEEN: [Cell<Entry>; 256] = const { [const { Cell::new(EMPTY) }; 256] };
    }
    let address = key.as_ptr() as usize;
    // Names sit side by side in memory: a multiplicative hash spreads them.
    let slot = (address as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56;
    let slot = slot as usize;
    let lookup = || positions.of.get(key).copied();
    SEEN.try_with(|seen| {
        let (at, len, catalog, position) = seen[slot].get();
        if (at, len, catalog) == (address, key.len(), positions.id) {
            return position;
        }
        let position = lookup();
        seen[slot].set((address, key.len(), positions.id, position));
        position
    })
    // While the thread is being torn down the cache is gone: the look-up
    // is made uncached, with the same answer.
    .unwrap_or_else(|_| lookup())
}

/// Methods of a serde `Serializer` that refuse what they are given with
/// `$error`: scalars, then the compound kinds.
macro_rules! refuse {
    ($ok:ty, $error:expr; $($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ok, Failed> {
            Err($error)
        })*
    };
}

macro_rules! refuse_compound {
    ($error:expr) => {
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Failed> {
            Err($error)
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Failed> {
            Err($error)
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, Failed> {
            Err($error)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Failed> {
            Err($error)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, Failed> {
            Err($error)
        }
    };
}

impl<'a> ser::Serializer for Fields<'a> {
    type Ok = ();
    type Error = Failed;
    type SerializeSeq = Impossible<(), Failed>;
    type SerializeTuple = Impossible<(), Failed>;
    type SerializeTupleStruct = Impossible<(), Failed>;
    type SerializeTupleVariant = Impossible<(), Failed>;
    type SerializeMap = FieldMap<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), Failed>;

    refuse! { (), not_an_object();
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Failed> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Failed> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Failed> {
        self.field(variant, value)
    }

    refuse_compound!(not_an_object());

    fn serialize_map(self, _: Option<usize>) -> Result<FieldMap<'a>, Failed> {
        Ok(FieldMap {
            fields: self,
            key: None,
        })
    }

    fn serialize_struct(self, _: &'static str, fields: usize) -> Result<Self, Failed> {
        self.data.reserve(fields);
        Ok(self)
    }
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = Failed;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Failed> {
        self.struct_field(key, value)
    }

    fn end(self) -> Result<(), Failed> {
        Ok(())
    }
}

/// A map's entries as fields; keys are text or numbers.
struct FieldMap<'a> {
    fields: Fields<'a>,
    key: Option<String>,
}

impl ser::SerializeMap for FieldMap<'_> {
    type Ok = ();
    type Error = Failed;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Failed> {
        self.key = Some(key.serialize(KeyText)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Failed> {
        // serde calls `serialize_key` first; a hand-written `Serialize`
        // that does not would have its value filed under no name.
        let Some(key) = self.key.take() else {
            return Err(ser::Error::custom("a map gave a value before its key"));
        };
        self.fields.field(&key, value)
    }

    fn end(self) -> Result<(), Failed> {
        Ok(())
    }
}

/// A map key as text.
struct KeyText;

fn key_not_text() -> Failed {
    Failed(Error::new(
        ErrorKind::InvalidCallData,
        "call data map keys must be text or numbers",
    ))
}

/// Scalars a map key may be, as text.
macro_rules! key_display {
    ($($method:ident($arg:ty);)*) => {
        $(fn $method(self, v: $arg) -> Result<String, Failed> {
            Ok(v.to_string())
        })*
    };
}

impl ser::Serializer for KeyText {
    type Ok = String;
    type Error = Failed;
    type SerializeSeq = Impossible<String, Failed>;
    type SerializeTuple = Impossible<String, Failed>;
    type SerializeTupleStruct = Impossible<String, Failed>;
    type SerializeTupleVariant = Impossible<String, Failed>;
    type SerializeMap = Impossible<String, Failed>;
    type SerializeStruct = Impossible<String, Failed>;
    type SerializeStructVariant = Impossible<String, Failed>;

    key_display! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_char(char);
        serialize_str(&str);
    }

    refuse! { String, key_not_text();
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
    }

    refuse_compound!(key_not_text());

    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<String, Failed> {
        v.serialize(self)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, Failed> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<String, Failed> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Failed> {
        Err(key_not_text())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Failed> {
        Err(key_not_text())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Failed> {
        Err(key_not_text())
    }
}

/// One field's value: a scalar, typed by the catalog; a nested struct or
/// map, flattened with dots; or a `Duration` or `SystemTime`, one value.
struct Field<'a, 'k> {
    data: &'a mut CallData,
    catalog: &'a Catalog,
    name: Cow<'k, str>,
    /// The catalog position, where it was found already.
    position: Option<Option<u32>>,
}

impl Field<'_, '_> {
    fn raw(self, raw: Raw<'_>) -> Result<(), Failed> {
        // One look-up gives the catalog position and, by it, the type.
        let positions = self.catalog.positions();
        let position = self
            .position
            // Not looked up yet (`position` is a memo, not a default).
            .unwrap_or_else(|| positions.of.get(&*self.name).copied());
        let field_type = position.and_then(|p| positions.types.get(p as usize).copied());
        let hidden = || hidden(self.catalog.get(&self.name));
        let value = convert_raw(field_type, hidden, &self.name, raw).map_err(Failed)?;
        self.data.insert_at(&self.name, position, value);
        Ok(())
    }

    fn not_scalar(self) -> Failed {
        Failed(not_scalar(&self.name))
    }
}

impl<'a> ser::Serializer for Field<'a, '_> {
    type Ok = ();
    type Error = Failed;
    type SerializeSeq = Impossible<(), Failed>;
    type SerializeTuple = Impossible<(), Failed>;
    type SerializeTupleStruct = Impossible<(), Failed>;
    type SerializeTupleVariant = Impossible<(), Failed>;
    type SerializeMap = FieldMap<'a>;
    type SerializeStruct = Nested<'a>;
    type SerializeStructVariant = Impossible<(), Failed>;

    fn serialize_bool(self, v: bool) -> Result<(), Failed> {
        self.raw(Raw::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<(), Failed> {
        self.raw(Raw::I64(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Failed> {
        self.raw(Raw::I64(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Failed> {
        self.raw(Raw::I64(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Failed> {
        self.raw(Raw::I64(v))
    }
    fn serialize_i128(self, v: i128) -> Result<(), Failed> {
        match (i64::try_from(v), u64::try_from(v)) {
            (Ok(v), _) => self.raw(Raw::I64(v)),
            (_, Ok(v)) => self.raw(Raw::U64(v)),
            // Its digits, never an `f64` that would round it.
            _ => self.raw(Raw::Number(&v.to_string())),
        }
    }
    fn serialize_u8(self, v: u8) -> Result<(), Failed> {
        self.raw(Raw::I64(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Failed> {
        self.raw(Raw::I64(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Failed> {
        self.raw(Raw::I64(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Failed> {
        match i64::try_from(v) {
            Ok(v) => self.raw(Raw::I64(v)),
            Err(_) => self.raw(Raw::U64(v)),
        }
    }
    fn serialize_u128(self, v: u128) -> Result<(), Failed> {
        match u64::try_from(v) {
            Ok(v) => self.serialize_u64(v),
            Err(_) => self.raw(Raw::Number(&v.to_string())),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<(), Failed> {
        // Widened as it prints (`0.1f32` is `0.1`), not bit for bit
        // (`0.10000000149011612`): the number the host wrote.
        // An f32 prints as digits, `inf` or `NaN`, all of which parse as an
        // f64: the fallback is never taken.
        let widened = v.to_string().parse().unwrap_or(f64::from(v));
        self.raw(Raw::F64(widened))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Failed> {
        self.raw(Raw::F64(v))
    }
    fn serialize_char(self, v: char) -> Result<(), Failed> {
        self.raw(Raw::Str(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<(), Failed> {
        self.raw(Raw::Str(v))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Failed> {
        Err(self.not_scalar())
    }
    fn serialize_none(self) -> Result<(), Failed> {
        self.raw(Raw::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Failed> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Failed> {
        self.raw(Raw::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Failed> {
        self.raw(Raw::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Failed> {
        self.raw(Raw::Str(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Failed> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Failed> {
        Fields {
            data: self.data,
            catalog: self.catalog,
            prefix: self.name.into_owned(),
        }
        .field(variant, value)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Failed> {
        Err(self.not_scalar())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Failed> {
        Err(self.not_scalar())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Failed> {
        Err(self.not_scalar())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Failed> {
        Err(self.not_scalar())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<FieldMap<'a>, Failed> {
        Ok(FieldMap {
            fields: Fields {
                data: self.data,
                catalog: self.catalog,
                prefix: self.name.into_owned(),
            },
            key: None,
        })
    }
    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Nested<'a>, Failed> {
        // std's time types are one value each, however serde spells them.
        let time = matches!(name, "Duration" | "SystemTime");
        Ok(Nested {
            fields: Fields {
                data: self.data,
                catalog: self.catalog,
                prefix: self.name.into_owned(),
            },
            time: time.then(TimeParts::default),
        })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Failed> {
        Err(self.not_scalar())
    }
}

/// The seconds and nanoseconds of a `Duration` (`secs`, `nanos`) or a
/// `SystemTime` (`secs_since_epoch`, `nanos_since_epoch`).
#[derive(Default)]
struct TimeParts {
    secs: Option<u64>,
    nanos: Option<u32>,
    since_epoch: bool,
}

/// A nested struct: its fields flattened with dots, or one time value.
struct Nested<'a> {
    fields: Fields<'a>,
    time: Option<TimeParts>,
}

impl ser::SerializeStruct for Nested<'_> {
    type Ok = ();
    type Error = Failed;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Failed> {
        if let Some(time) = &mut self.time {
            let number = value.serialize(Number)?;
            match key {
                "secs" | "secs_since_epoch" => time.secs = Some(number),
                // Nanoseconds past `u32` are no time: left unset, which
                // `end` refuses as a time lacking its parts.
                "nanos" | "nanos_since_epoch" => time.nanos = u32::try_from(number).ok(),
                _ => return Err(ser::Error::custom(format!("unexpected time part `{key}`"))),
            }
            time.since_epoch = key.ends_with("since_epoch");
            return Ok(());
        }
        self.fields.field(key, value)
    }

    fn end(self) -> Result<(), Failed> {
        let Some(time) = self.time else {
            return Ok(());
        };
        let (Some(secs), Some(nanos)) = (time.secs, time.nanos) else {
            return Err(ser::Error::custom("a time value lacks its parts"));
        };
        let value = if time.since_epoch {
            // Seconds past `i64` are out of range as much as a time
            // chrono cannot hold: both are refused.
            let at = i64::try_from(secs)
                .ok()
                .and_then(|secs| chrono::DateTime::from_timestamp(secs, nanos))
                .ok_or_else(|| ser::Error::custom("a time is out of range"))?;
            Value::Timestamp(at.fixed_offset())
        } else {
            Value::Duration(std::time::Duration::new(secs, nanos))
        };
        let Fields { data, prefix, .. } = self.fields;
        data.insert(prefix, value);
        Ok(())
    }
}

/// A whole number, for the parts of std's time types.
struct Number;

fn not_a_number() -> Failed {
    ser::Error::custom("a part of a time value is not a whole number")
}

impl ser::Serializer for Number {
    type Ok = u64;
    type Error = Failed;
    type SerializeSeq = Impossible<u64, Failed>;
    type SerializeTuple = Impossible<u64, Failed>;
    type SerializeTupleStruct = Impossible<u64, Failed>;
    type SerializeTupleVariant = Impossible<u64, Failed>;
    type SerializeMap = Impossible<u64, Failed>;
    type SerializeStruct = Impossible<u64, Failed>;
    type SerializeStructVariant = Impossible<u64, Failed>;

    fn serialize_u64(self, v: u64) -> Result<u64, Failed> {
        Ok(v)
    }
    fn serialize_u32(self, v: u32) -> Result<u64, Failed> {
        Ok(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<u64, Failed> {
        Ok(v.into())
    }
    fn serialize_u8(self, v: u8) -> Result<u64, Failed> {
        Ok(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<u64, Failed> {
        u64::try_from(v).map_err(|_| not_a_number())
    }
    fn serialize_i32(self, v: i32) -> Result<u64, Failed> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<u64, Failed> {
        self.serialize_i64(v.into())
    }
    fn serialize_i8(self, v: i8) -> Result<u64, Failed> {
        self.serialize_i64(v.into())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<u64, Failed> {
        v.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<u64, Failed> {
        v.serialize(self)
    }

    refuse! { u64, not_a_number();
        serialize_bool(bool);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    refuse_compound!(not_a_number());

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<u64, Failed> {
        Err(not_a_number())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Failed> {
        Err(not_a_number())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Failed> {
        Err(not_a_number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use serde::ser::{SerializeMap, Serializer};
    use serde::Serialize;
    use serde_json::json;
    use std::time::Duration;

    use crate::value::FieldType;

    #[test]
    fn host_structs_serialise_into_call_data() {
        #[derive(Serialize)]
        struct Call<'a> {
            agent_id: &'a str,
            duration: u32,
            ring_duration: Duration,
            wrap_up: Duration,
            created_at: std::time::SystemTime,
            call_start: chrono::DateTime<chrono::Utc>,
            billsec: u64,
        }
        let start = DateTime::from_timestamp(1_733_173_480, 0).unwrap();
        let data = CallData::from_serialize(&Call {
            agent_id: "7",
            duration: 3,
            ring_duration: Duration::from_millis(1_500),
            wrap_up: Duration::from_secs(30),
            created_at: std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_733_173_480),
            call_start: start,
            billsec: 4_000_000_000,
        })
        .unwrap();
        assert_eq!(
            data.get("duration"),
            Some(&Value::Duration(Duration::from_secs(3)))
        );
        // Durations and times are one value, whatever the catalog knows.
        assert_eq!(
            data.get("ring_duration"),
            Some(&Value::Duration(Duration::from_millis(1_500)))
        );
        assert_eq!(
            data.get("wrap_up"),
            Some(&Value::Duration(Duration::from_secs(30)))
        );
        assert_eq!(data.get("wrap_up.secs"), None);
        assert_eq!(data.get("created_at"), Some(&Value::from(start)));
        assert_eq!(data.get("call_start"), Some(&Value::from(start)));
        assert_eq!(data.get("billsec"), Some(&Value::Integer(4_000_000_000)));
    }

    /// The serializer reads what serde_json's `Value` would have read, but
    /// the time types, and refuses what is not a scalar.
    #[test]
    fn host_values_of_every_shape() {
        #[derive(Serialize)]
        enum Channel {
            Voice,
            Chat { _room: u8 },
        }
        #[derive(Serialize)]
        struct Inner {
            ticket: u16,
            vip: Option<bool>,
        }
        #[derive(Serialize)]
        struct Host {
            channel: Channel,
            crm: Inner,
            tags: std::collections::BTreeMap<u32, &'static str>,
            nothing: (),
            grade: char,
            big: u128,
        }
        let data = CallData::from_serialize(&Host {
            channel: Channel::Voice,
            crm: Inner {
                ticket: 42,
                vip: None,
            },
            tags: [(7, "gold")].into_iter().collect(),
            nothing: (),
            grade: 'A',
            big: u128::from(u64::MAX) + 1,
        })
        .unwrap();
        assert_eq!(data.get("channel"), Some(&Value::from("Voice")));
        assert_eq!(data.get("crm.ticket"), Some(&Value::Integer(42)));
        assert_eq!(data.get("crm.vip"), Some(&Value::Null));
        assert_eq!(data.get("tags.7"), Some(&Value::from("gold")));
        assert_eq!(data.get("nothing"), Some(&Value::Null));
        assert_eq!(data.get("grade"), Some(&Value::from("A")));
        // Past `u64`, a host's integer keeps its digits, never rounded.
        assert_eq!(
            data.get("big"),
            Some(&Value::Number("18446744073709551616".into()))
        );
        let err = CallData::from_serialize(&json!({"tags": [1, 2]})).unwrap_err();
        assert_eq!(err.field(), Some("tags"));
        assert!(CallData::from_serialize(&Channel::Chat { _room: 1 }).is_err());
        assert!(CallData::from_serialize(&[1, 2]).is_err());
        // Typed by the catalog as JSON is.
        let err = CallData::from_serialize(&json!({"call_start": "yesterday"})).unwrap_err();
        assert_eq!(err.field(), Some("call_start"));
    }

    /// A struct's fields are found by remembered position: the same struct
    /// converted against catalogs that number its fields differently, in
    /// turn, lands every value on its own field.
    #[test]
    fn struct_fields_land_right_whatever_the_catalog() {
        #[derive(serde::Serialize)]
        struct Host {
            agent_id: &'static str,
            duration: u32,
            not_in_any_catalog: &'static str,
        }
        let host = Host {
            agent_id: "7",
            duration: 3,
            not_in_any_catalog: "x",
        };
        let shifted = Catalog::standard()
            .clone()
            .with(crate::catalog::FieldSpec::new("aaa", FieldType::Text))
            .with(crate::catalog::FieldSpec::new(
                "agent_a",
                FieldType::Integer,
            ));
        for _ in 0..3 {
            for catalog in [Catalog::standard(), &shifted] {
                let data = CallData::from_serialize_in(&host, catalog).unwrap();
                assert_eq!(data.get("agent_id"), Some(&Value::from("7")));
                assert_eq!(
                    data.get("duration"),
                    Some(&Value::Duration(std::time::Duration::from_secs(3)))
                );
                assert_eq!(data.get("not_in_any_catalog"), Some(&Value::from("x")));
                assert_eq!(data.get("aaa"), None);
                let names: Vec<&str> = data.iter().map(|(name, _)| name).collect();
                assert_eq!(names, ["agent_id", "duration", "not_in_any_catalog"]);
            }
        }
    }

    /// A map that gives a value with no key before it, as no derived
    /// `Serialize` does but a hand-written one may.
    struct ValueWithoutKey;

    impl Serialize for ValueWithoutKey {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_value("orphan")?;
            map.end()
        }
    }

    #[test]
    fn a_map_value_without_its_key_is_refused_not_named_empty() {
        let e = CallData::from_serialize(&ValueWithoutKey).unwrap_err();
        assert!(e.message().contains("before its key"), "{e}");
    }
}

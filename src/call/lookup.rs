//! Where a render looks values up: the [`Lookup`] interface, call data's
//! own lookup, and the redacting view shown to people.

use std::sync::OnceLock;

use super::{CallData, Name};
use crate::catalog::{FieldKey, Positions};
use crate::secret::REDACTED;
use crate::value::Value;

/// Where a render looks values up: one [`CallData`], or several layered
/// (dispatch puts its own fields over a segment's over the call's).
pub(crate) trait Lookup {
    /// The value of the field `key` names in `positions`, those of the
    /// catalog its template was checked against.
    fn lookup(&self, positions: &Positions, key: &FieldKey) -> Option<&Value>;

    /// A built-in field's value where it is text the lookup borrows (the
    /// event name, the delivery id), asked before [`Lookup::lookup`] for
    /// built-in fields only: dispatch sets them without making a `Value`.
    fn builtin_text(&self, _key: &FieldKey) -> Option<&str> {
        None
    }

    /// This lookup read by position alone, where it can be for templates
    /// checked against `positions`: asked once per render, so that the
    /// render's lookups check the catalog once rather than once a field.
    fn indexed(&self, _positions: &Positions) -> Option<Indexed<'_>> {
        None
    }
}

/// Call data whose catalog is the template's: each field is found by its
/// position, with no check of the catalog (made once, by
/// [`Lookup::indexed`]).
pub(crate) struct Indexed<'a> {
    /// Entry index + 1 (0: not set) by catalog position.
    by_position: &'a [u32],
    entries: &'a [(Name, Value)],
}

impl<'a> Indexed<'a> {
    /// The value of the field at `position`, if the call has it.
    #[inline]
    fn get(&self, position: u32) -> Option<&'a Value> {
        let entry = *self.by_position.get(position as usize)?;
        // A field not set (0) wraps to `usize::MAX`, past every entry, so
        // one bounds check tells both.
        self.entries
            .get((entry as usize).wrapping_sub(1))
            .map(|(_, value)| value)
    }
}

impl Lookup for Indexed<'_> {
    #[inline]
    fn lookup(&self, _positions: &Positions, key: &FieldKey) -> Option<&Value> {
        self.get(key.position)
    }

    fn indexed(&self, _positions: &Positions) -> Option<Indexed<'_>> {
        Some(Indexed {
            by_position: self.by_position,
            entries: self.entries,
        })
    }
}

/// Call data as shown to people: the values of secret fields read as
/// [`REDACTED`].
pub(crate) struct Redacted<'a, L: ?Sized>(pub(crate) &'a L);

impl<L: Lookup + ?Sized> Lookup for Redacted<'_, L> {
    fn lookup(&self, positions: &Positions, key: &FieldKey) -> Option<&Value> {
        hidden_if(self.0.lookup(positions, key)?, key.secret)
    }

    fn builtin_text(&self, key: &FieldKey) -> Option<&str> {
        let text = self.0.builtin_text(key)?;
        Some(if key.secret { REDACTED } else { text })
    }
}

/// Call data as a stored record shows it (a debug record): the values of
/// secret fields and of personal ones read as [`REDACTED`].
pub(crate) struct Recorded<'a, L: ?Sized>(pub(crate) &'a L);

impl<L: Lookup + ?Sized> Lookup for Recorded<'_, L> {
    fn lookup(&self, positions: &Positions, key: &FieldKey) -> Option<&Value> {
        hidden_if(self.0.lookup(positions, key)?, key.secret || key.personal)
    }

    fn builtin_text(&self, key: &FieldKey) -> Option<&str> {
        let text = self.0.builtin_text(key)?;
        Some(if key.secret || key.personal {
            REDACTED
        } else {
            text
        })
    }
}

/// `value`, or [`REDACTED`] in its place when `hide` and it is set (a
/// null stays null, as the redacted views render a missing value as the
/// real one would).
fn hidden_if(value: &Value, hide: bool) -> Option<&Value> {
    static SHOWN: OnceLock<Value> = OnceLock::new();
    match value {
        Value::Null => Some(&Value::Null),
        _ if hide => Some(SHOWN.get_or_init(|| Value::Text(REDACTED.to_owned()))),
        value => Some(value),
    }
}

impl Lookup for CallData {
    #[inline]
    fn lookup(&self, positions: &Positions, key: &FieldKey) -> Option<&Value> {
        match self.indexed(positions) {
            Some(indexed) => indexed.get(key.position),
            None => self.get(key.name(positions)),
        }
    }

    #[inline]
    fn indexed(&self, positions: &Positions) -> Option<Indexed<'_>> {
        (self.catalog.id == positions.id).then_some(Indexed {
            by_position: &self.by_position,
            entries: &self.entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, FieldSpec};
    use crate::value::FieldType;

    /// Call data is read by position only under its own catalog; a
    /// template's other catalog finds fields by name, set or not.
    #[test]
    fn indexed_only_under_the_data_catalog() {
        let standard = Catalog::standard();
        let data = CallData::new().with("agent_id", "7");
        let key = standard.key("agent_id").unwrap();
        let unset = standard.key("ani").unwrap();
        let indexed = data.indexed(standard.positions()).unwrap();
        assert_eq!(
            indexed.lookup(standard.positions(), &key),
            Some(&Value::from("7"))
        );
        assert_eq!(indexed.lookup(standard.positions(), &unset), None);

        let other = standard
            .clone()
            .with(FieldSpec::new("ticket", FieldType::Text));
        assert!(data.indexed(other.positions()).is_none());
        let key = other.key("agent_id").unwrap();
        assert_eq!(
            data.lookup(other.positions(), &key),
            Some(&Value::from("7"))
        );
        let unset = other.key("ticket").unwrap();
        assert_eq!(data.lookup(other.positions(), &unset), None);
    }
}

//! Where a render looks values up: the [`Lookup`] interface, call data's
//! own lookup, and the redacting view shown to people.

use std::sync::OnceLock;

use super::CallData;
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
}

/// Call data as shown to people: the values of secret fields read as
/// [`REDACTED`].
pub(crate) struct Redacted<'a, L: ?Sized>(pub(crate) &'a L);

impl<L: Lookup + ?Sized> Lookup for Redacted<'_, L> {
    fn lookup(&self, positions: &Positions, key: &FieldKey) -> Option<&Value> {
        static SHOWN: OnceLock<Value> = OnceLock::new();
        match self.0.lookup(positions, key)? {
            Value::Null => Some(&Value::Null),
            _ if key.secret => Some(SHOWN.get_or_init(|| Value::Text(REDACTED.to_owned()))),
            value => Some(value),
        }
    }

    fn builtin_text(&self, key: &FieldKey) -> Option<&str> {
        let text = self.0.builtin_text(key)?;
        Some(if key.secret { REDACTED } else { text })
    }
}

impl Lookup for CallData {
    #[inline]
    fn lookup(&self, positions: &Positions, key: &FieldKey) -> Option<&Value> {
        if self.catalog.id == positions.id {
            match self.by_position.get(key.position as usize) {
                Some(&entry) if entry != 0 => self.entries.get(entry as usize - 1).map(|e| &e.1),
                _ => None,
            }
        } else {
            self.get(key.name(positions))
        }
    }
}

//! How to compile a template: [`Options`], and the two choices a service's
//! configuration also makes, [`Syntax`] and [`Missing`] (re-exported at the
//! crate's root, their one path, since a `ServiceConfig` names them).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::address::AddressPolicy;
use crate::catalog::Catalog;
use crate::error::Error;
#[cfg(doc)]
use crate::error::ErrorKind;
use crate::phone::{self, Region};

/// The placeholder syntax of a template.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Syntax {
    /// `#field#`, as RingCX writes its tags.
    #[default]
    Hash,
    /// `[[field]]`, as AVANSER writes its placeholders.
    Brackets,
}

impl Syntax {
    pub(crate) fn delimiters(self) -> (&'static str, &'static str) {
        match self {
            Syntax::Hash => ("#", "#"),
            Syntax::Brackets => ("[[", "]]"),
        }
    }
}

/// What to render for a field the call data does not have, when the
/// placeholder has no `default:`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Missing {
    /// Nothing (an empty string; `""` as a whole JSON value). The default
    /// everywhere but a whole JSON value.
    Empty,
    /// `null` as a whole JSON value (the default there); nothing elsewhere.
    Null,
    /// Fail the render with [`ErrorKind::MissingValue`].
    Error,
}

/// How to compile a template.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    pub(super) catalog: &'a Catalog,
    pub(super) syntax: Syntax,
    pub(super) missing: Option<Missing>,
    pub(super) lenient: bool,
    pub(super) addresses: &'a AddressPolicy,
    /// The region phone options read numbers without a country code in
    /// (a service's `phone_region`).
    pub(super) phone_region: Option<Region>,
    /// "Did you mean" suggestions made so far, by these options and their
    /// clones: each searches every field of the catalog, so at most
    /// [`crate::limits::SUGGESTIONS`] are made.
    pub(super) suggestions: Arc<AtomicUsize>,
}

/// The policy every URL template is checked against unless told otherwise.
static REFUSE_INTERNAL: AddressPolicy = AddressPolicy::new();

impl Default for Options<'static> {
    fn default() -> Self {
        Options::new(Catalog::standard())
    }
}

impl<'a> Options<'a> {
    /// Options checking fields against `catalog`, with the `#field#` syntax,
    /// per-context missing-value defaults, unknown fields as errors, and URL
    /// hosts that are internal IP addresses refused.
    #[must_use]
    pub fn new(catalog: &'a Catalog) -> Options<'a> {
        Options {
            catalog,
            syntax: Syntax::Hash,
            missing: None,
            lenient: false,
            addresses: &REFUSE_INTERNAL,
            phone_region: None,
            suggestions: Arc::default(),
        }
    }

    /// Sets the addresses a URL template's host may be, when it is an IP
    /// address; by default every internal one is refused.
    #[must_use]
    pub fn with_addresses(mut self, addresses: &'a AddressPolicy) -> Self {
        self.addresses = addresses;
        self
    }

    /// Sets the placeholder syntax.
    #[must_use]
    pub fn with_syntax(mut self, syntax: Syntax) -> Self {
        self.syntax = syntax;
        self
    }

    /// Sets one missing-value policy for every placeholder.
    #[must_use]
    pub fn with_missing(mut self, missing: Missing) -> Self {
        self.missing = Some(missing);
        self
    }

    /// Leaves placeholders naming unknown fields as literal text (RingCX
    /// sends unknown tags as written) instead of failing. A placeholder
    /// standing as a whole JSON value must still name a known field, since
    /// the literal would not be JSON.
    #[must_use]
    pub fn with_lenient(mut self, lenient: bool) -> Self {
        self.lenient = lenient;
        self
    }

    /// Sets the region phone options read numbers written without a
    /// country code in (`AU`: `0400 123 456` is `+61400123456`).
    ///
    /// # Errors
    ///
    /// A region libphonenumber does not know, or any region without the
    /// `phone` feature, is an error of kind
    /// [`ErrorKind::InvalidConfig`](crate::ErrorKind::InvalidConfig).
    pub(crate) fn with_phone_region(mut self, region: &str) -> Result<Self, Error> {
        self.phone_region = Some(phone::region(region)?);
        Ok(self)
    }

    /// The catalog fields are checked against.
    #[must_use]
    pub fn catalog(&self) -> &'a Catalog {
        self.catalog
    }

    /// The nearest known field to the unknown `name`, while these options
    /// (and their clones) have made fewer than
    /// [`crate::limits::SUGGESTIONS`] suggestions: a service's compile uses
    /// one `Options`, so its "did you mean" work is bounded whatever its
    /// templates and the catalog hold.
    pub(crate) fn suggest(&self, name: &str) -> Option<String> {
        self.may_suggest()
            .then(|| self.catalog.suggest(name))
            .flatten()
    }

    /// Whether one more "did you mean" search may be made (a field's, or a
    /// time zone's among the IANA names), counting it.
    pub(crate) fn may_suggest(&self) -> bool {
        let made = self.suggestions.fetch_add(1, Ordering::Relaxed);
        made < crate::limits::SUGGESTIONS
    }
}

//! Secrets: passwords, tokens and keys that never print.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What prints in place of a secret, in `Debug`, previews, debug records
/// and stored envelopes' `Debug`.
pub const REDACTED: &str = "[redacted]";

/// A password, token or key, or a reference to one the host resolves.
///
/// Its `Debug` prints `[redacted]`, and it has no `Display`, so it cannot
/// end up in a log line by accident. In configuration it is either the
/// value itself or a reference, `{"secret_ref": "CRM_TOKEN"}`, which the
/// host resolves at load time ([`Config::resolve_secrets`]) from wherever
/// it keeps secrets (environment, vault, database): the library does no I/O.
/// A secret serialises as it was written, a reference as the reference, so
/// a stored configuration keeps no resolved value; one written inline is
/// stored inline, so keep such stores private.
///
/// ```
/// use callhook::Secret;
///
/// let token = Secret::new("s3cr3t");
/// assert_eq!(format!("{token:?}"), "[redacted]");
/// assert_eq!(token.expose(), "s3cr3t");
///
/// let mut reference: Secret = serde_json::from_str(r#"{"secret_ref": "CRM_TOKEN"}"#).unwrap();
/// assert_eq!(reference.reference(), Some("CRM_TOKEN"));
/// assert!(!reference.is_resolved());
/// reference.resolve("t0k3n");
/// assert_eq!(reference.expose(), "t0k3n");
/// assert_eq!(serde_json::to_string(&reference).unwrap(), r#"{"secret_ref":"CRM_TOKEN"}"#);
/// ```
///
/// [`Config::resolve_secrets`]: crate::Config::resolve_secrets
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Held);

/// What a secret holds: a value written inline, or a reference by name
/// with the value the host resolved for it, if any yet.
#[derive(Clone, PartialEq, Eq)]
enum Held {
    Inline(String),
    Reference { name: String, value: Option<String> },
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match &self.0 {
            Held::Reference { name, .. } => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("secret_ref", name)?;
                map.end()
            }
            Held::Inline(value) => serializer.serialize_str(value),
        }
    }
}

/// Reads a secret without ever echoing what stands in its place: serde's
/// own messages quote the value they refuse.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

/// The schema of a secret: serde writes it as text or as a reference.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {"secret_ref": {"type": "string"}},
                    "required": ["secret_ref"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

struct SecretVisitor;

fn not_text<E: serde::de::Error>() -> E {
    E::custom("a secret must be a string or `{\"secret_ref\": NAME}` (its value is not shown)")
}

impl<'de> serde::de::Visitor<'de> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a secret, as a string or a `secret_ref`")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
        Err(not_text())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
        Err(not_text())
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
        Err(not_text())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
        Err(not_text())
    }

    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<Secret, E> {
        Err(not_text())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Secret, E> {
        Err(not_text())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        Err(not_text())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Secret, A::Error> {
        let key: Option<String> = map.next_key()?;
        if key.as_deref() != Some("secret_ref") {
            return Err(not_text());
        }
        let name: String = map
            .next_value()
            .map_err(|_: A::Error| not_text::<A::Error>())?;
        if map.next_key::<String>()?.is_some() {
            return Err(not_text());
        }
        Ok(Secret::reference_to(name))
    }
}

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(Held::Inline(value.into()))
    }

    /// A reference to a secret the host resolves, by name.
    #[must_use]
    pub fn reference_to(name: impl Into<String>) -> Secret {
        Secret(Held::Reference {
            name: name.into(),
            value: None,
        })
    }

    /// The secret value itself, for the one place that must use it; empty
    /// for a reference not yet resolved.
    #[must_use]
    pub fn expose(&self) -> &str {
        match &self.0 {
            Held::Inline(value) => value,
            Held::Reference { value, .. } => {
                // Documented: compiling a service refuses a reference not
                // yet resolved, so no request is built with this empty
                // value; a host that asks before resolving gets nothing
                // to leak.
                value.as_deref().unwrap_or_default()
            }
        }
    }

    /// The name it refers to, for a reference.
    #[must_use]
    pub fn reference(&self) -> Option<&str> {
        match &self.0 {
            Held::Reference { name, .. } => Some(name),
            Held::Inline(_) => None,
        }
    }

    /// Whether it has a value: written inline, or a resolved reference.
    #[must_use]
    pub fn is_resolved(&self) -> bool {
        matches!(
            &self.0,
            Held::Inline(_) | Held::Reference { value: Some(_), .. }
        )
    }

    /// Gives a reference its value.
    pub fn resolve(&mut self, value: impl Into<String>) {
        match &mut self.0 {
            Held::Inline(held)
            | Held::Reference {
                value: Some(held), ..
            } => *held = value.into(),
            Held::Reference { value: held, .. } => *held = Some(value.into()),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Reads a list of secrets, or one secret alone, without echoing a value
/// that is neither.
pub(crate) fn deserialize_secrets<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Secret>, D::Error> {
    struct Secrets;
    impl<'de> serde::de::Visitor<'de> for Secrets {
        type Value = Vec<Secret>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of secrets")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Vec<Secret>, E> {
            Ok(vec![Secret::new(v)])
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<Secret>, A::Error> {
            let mut secrets = Vec::new();
            while let Some(secret) = seq.next_element()? {
                secrets.push(secret);
            }
            Ok(secrets)
        }

        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Vec<Secret>, E> {
            Err(not_text())
        }

        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Vec<Secret>, E> {
            Err(not_text())
        }

        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Vec<Secret>, E> {
            Err(not_text())
        }

        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Vec<Secret>, E> {
            Err(not_text())
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Vec<Secret>, A::Error> {
            Err(not_text())
        }
    }
    deserializer.deserialize_any(Secrets)
}

/// Reads a pair's value, text that may be a secret, without echoing what
/// stands in its place: a pair's key may come after its value, so whether
/// it is a secret is not known yet, and serde's own messages quote the
/// value they refuse (`invalid type: integer `1234``).
pub(crate) fn deserialize_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    deserializer.deserialize_any(TextVisitor)
}

/// Reads a pair's `map`, whose values stand in for values sent, as
/// [`deserialize_text`] reads a value.
pub(crate) fn deserialize_text_map<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    struct Text(String);
    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
            deserialize_text(deserializer).map(Text)
        }
    }
    struct Map;
    impl<'de> serde::de::Visitor<'de> for Map {
        type Value = std::collections::BTreeMap<String, String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of strings to strings")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut access: A,
        ) -> Result<Self::Value, A::Error> {
            let mut map = std::collections::BTreeMap::new();
            while let Some((key, Text(value))) = access.next_entry::<String, Text>()? {
                map.insert(key, value);
            }
            Ok(map)
        }

        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(not_a_map())
        }

        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(not_a_map())
        }

        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(not_a_map())
        }

        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(not_a_map())
        }

        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(not_a_map())
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Err(not_a_map())
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(not_a_map())
        }
    }
    fn not_a_map<E: serde::de::Error>() -> E {
        E::custom("a pair's `map` must map strings to strings (its value is not shown)")
    }
    deserializer.deserialize_any(Map)
}

fn not_a_string<E: serde::de::Error>() -> E {
    E::custom("a pair's value must be a string (the value is not shown)")
}

struct TextVisitor;

impl<'de> serde::de::Visitor<'de> for TextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<String, E> {
        Err(not_a_string())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<String, E> {
        Err(not_a_string())
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<String, E> {
        Err(not_a_string())
    }

    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<String, E> {
        Err(not_a_string())
    }

    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<String, E> {
        Err(not_a_string())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<String, E> {
        Err(not_a_string())
    }

    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<String, E> {
        Err(not_a_string())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<String, E> {
        Err(not_a_string())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(not_a_string())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(not_a_string())
    }
}

/// Whether a header, pair or query parameter of this name holds a secret,
/// by the rule the README states: its name, in any case, contains `auth`,
/// `token`, `secret`, `passw`, `key`, `signature`, `cookie`, `session`,
/// `credential`, `passcode`, `passphrase`, `pincode`, `bearer`, `hmac` or
/// `jwt`, or one of its words is `pass`, `pwd`, `pin`, `sig` or `otp`
/// (words split at anything not a letter or digit, and where a lowercase
/// letter meets an uppercase one: `X-Pass`, `pass_code`, `userPin`). A
/// pair's `secret` flag overrides the rule either way.
///
/// This is the one rule: header names, pair keys and query parameter names
/// are all asked here, by every view that shows them.
pub(crate) fn names_secret(name: &str) -> bool {
    // Names are short: comparing each window, ignoring case, is simpler and
    // cheaper than lowering a copy and running a substring search per word.
    let contains = |word: &str| {
        name.as_bytes()
            .windows(word.len())
            .any(|window| window.eq_ignore_ascii_case(word.as_bytes()))
    };
    [
        "auth",
        "token",
        "secret",
        "passw",
        "key",
        "signature",
        "cookie",
        "session",
        "credential",
        "passcode",
        "passphrase",
        "pincode",
        "bearer",
        "hmac",
        "jwt",
    ]
    .into_iter()
    .any(contains)
        || words(name).any(|word| {
            ["pass", "pwd", "pin", "sig", "otp"]
                .iter()
                .any(|short| word.eq_ignore_ascii_case(short.as_bytes()))
        })
}

/// The words of a name: runs of ASCII letters and digits, split also where
/// a lowercase letter is followed by an uppercase one (`userPass`). Bytes,
/// so that a split beside a character of several bytes is never inside it.
fn words(name: &str) -> impl Iterator<Item = &[u8]> {
    name.as_bytes()
        .split(|b| !b.is_ascii_alphanumeric())
        .flat_map(|run| {
            let mut rest = run;
            std::iter::from_fn(move || {
                if rest.is_empty() {
                    return None;
                }
                let cut = rest
                    .windows(2)
                    .position(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
                    .map_or(rest.len(), |i| i + 1);
                let (word, tail) = rest.split_at(cut);
                rest = tail;
                Some(word)
            })
        })
}

/// `url` with the value of every query parameter that holds a secret
/// replaced by [`REDACTED`]: those [`names_secret`] names, and those
/// `also` names.
pub(crate) fn redact_query(url: &str, also: &dyn Fn(&str) -> bool) -> String {
    let Some((base, rest)) = url.split_once('?') else {
        return url.to_owned();
    };
    let (query, fragment) = match rest.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (rest, None),
    };
    let mut out = format!("{base}?");
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) => {
                let decoded: String = form_urlencoded::parse(name.as_bytes())
                    .map(|(k, _)| k.into_owned())
                    .collect();
                if names_secret(&decoded) || also(&decoded) {
                    out.push_str(name);
                    out.push('=');
                    out.push_str(REDACTED);
                } else {
                    out.push_str(pair);
                }
            }
            // A parameter with no `=` is all value (`?TOKEN`, as some
            // receivers take a key): redacted by the same rule as a name.
            None => {
                let decoded: String = form_urlencoded::parse(pair.as_bytes())
                    .map(|(k, _)| k.into_owned())
                    .collect();
                if !pair.is_empty() && (names_secret(&decoded) || also(&decoded)) {
                    out.push_str(REDACTED);
                } else {
                    out.push_str(pair);
                }
            }
        }
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_names_common_secret_headers_and_parameters() {
        for name in [
            "Authorization",
            "X-Api-Token",
            "X-Functions-Key",
            "Ocp-Apim-Subscription-Key",
            "X-Auth-Key",
            "X-Access-Key",
            "X-Hub-Signature-256",
            "X-Key",
            "Cookie",
            "api_key",
            "access_token",
            "sig",
            "password",
            "X-Pass",
            "pass-code",
            "X-PIN",
            "userPass",
            "x.sig",
            "user_pwd",
        ] {
            assert!(names_secret(name), "{name}");
        }
        for name in [
            "Content-Type",
            "X-Agent",
            "ani",
            "tenant",
            "src",
            "X-Passage",
            "spinner",
            "signal",
            "position",
            "compass",
        ] {
            assert!(!names_secret(name), "{name}");
        }
    }

    #[test]
    fn names_split_into_words() {
        fn split(name: &str) -> Vec<String> {
            words(name)
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect()
        }
        assert_eq!(split("X-Pass"), ["X", "Pass"]);
        assert_eq!(split("userPassCode"), ["user", "Pass", "Code"]);
        assert_eq!(split("__a..b__"), ["a", "b"]);
        assert_eq!(split("PIN"), ["PIN"]);
        assert!(split("").is_empty());
        assert!(split("-_-").is_empty());
        // Not ASCII: split at it.
        assert_eq!(split("caf\u{e9}Pass"), ["caf", "Pass"]);
    }

    #[test]
    fn query_values_that_are_secrets_are_redacted() {
        let none = |_: &str| false;
        assert_eq!(
            redact_query(
                "https://x.example.com/h?token=abc&src=pbx&api%5Fkey=k&sig=s",
                &none
            ),
            "https://x.example.com/h?token=[redacted]&src=pbx&api%5Fkey=[redacted]&sig=[redacted]"
        );
        assert_eq!(
            redact_query("https://x.example.com/h?tenant=itd", &|n: &str| n
                == "tenant"),
            "https://x.example.com/h?tenant=[redacted]"
        );
        assert_eq!(
            redact_query("https://x.example.com/h", &none),
            "https://x.example.com/h"
        );
    }

    #[test]
    fn refused_secrets_are_never_echoed() {
        let err = serde_json::from_str::<Secret>("12345")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("12345"), "{err}");
        #[derive(Debug, Deserialize)]
        struct Holder {
            #[serde(deserialize_with = "deserialize_secrets")]
            secrets: Vec<Secret>,
        }
        let one: Holder = serde_json::from_str(r#"{"secrets": "whsec_LEAKED"}"#).unwrap();
        assert_eq!(one.secrets, [Secret::new("whsec_LEAKED")]);
        let err = serde_json::from_str::<Holder>(r#"{"secrets": 987654321}"#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("987654321"), "{err}");
    }
}

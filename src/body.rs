//! Request bodies: form, JSON, XML, SOAP, or none.
//!
//! A [`BodyConfig`] is what an administrator writes; it is compiled once,
//! with the service, into one template that renders straight into the
//! request buffer.

use std::collections::BTreeMap;
use std::fmt;

use http::HeaderValue;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, ErrorKind};
use crate::secret::{deserialize_text, deserialize_text_map, names_secret, REDACTED};
use crate::template::{json_string, Builder, Context, Options, Template};

/// One key/value pair of a form, JSON object, XML document, SOAP operation,
/// query string or header list.
///
/// `value` is a template: static text, placeholders, or both. `map`
/// replaces each placeholder's printed value by another before it is
/// encoded (value mappings, such as RingCX's disposition codes); a value not
/// in the map is kept as it is.
///
/// `secret` says whether the value is a secret (redacted in `Debug`,
/// previews and debug records); left out, a pair is secret when its key
/// names one (`Authorization`, `X-Api-Token`, `api_key`: see the README's
/// rule).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Pair {
    /// The parameter name, sent as is (encoded for the body kind).
    pub key: String,
    /// The value template.
    #[serde(deserialize_with = "deserialize_text")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub value: String,
    /// Replacements applied to the rendered value before encoding.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "deserialize_text_map"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, String>"))]
    pub map: BTreeMap<String, String>,
    /// Whether the value is a secret, whatever the key's name says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<bool>,
}

/// A secret pair's value and map print as `[redacted]`: the map's values
/// are sent in place of the value, so they are as secret as it is.
impl fmt::Debug for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (value, map): (&dyn fmt::Debug, &dyn fmt::Debug) = if self.is_secret() {
            (&REDACTED, &REDACTED)
        } else {
            (&self.value, &self.map)
        };
        f.debug_struct("Pair")
            .field("key", &self.key)
            .field("value", value)
            .field("map", map)
            .field("secret", &self.secret)
            .finish()
    }
}

impl Pair {
    /// A pair with no value mapping.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::Pair;
    ///
    /// let mut disposition = Pair::new("disposition", "#agent_disposition#");
    /// disposition.map.insert("SALE".into(), "Won".into());
    /// ```
    #[must_use]
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Pair {
        Pair {
            key: key.into(),
            value: value.into(),
            map: BTreeMap::new(),
            secret: None,
        }
    }

    /// Whether the value is a secret: as `secret` says, or else as the
    /// key's name says.
    #[must_use]
    pub fn is_secret(&self) -> bool {
        // Not set: the key's name decides, as documented.
        self.secret.unwrap_or_else(|| names_secret(&self.key))
    }

    /// Bytes of the pair's text: key, value, and the map's keys and values.
    pub(crate) fn text_bytes(&self) -> usize {
        let map: usize = self.map.iter().map(|(k, v)| k.len() + v.len()).sum();
        self.key.len() + self.value.len() + map
    }
}

/// The SOAP version of a SOAP body.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SoapVersion {
    /// SOAP 1.1: `text/xml; charset=utf-8` and a `SOAPAction` header.
    #[default]
    #[serde(rename = "1.1")]
    V1_1,
    /// SOAP 1.2: `application/soap+xml; charset=utf-8; action="..."`.
    #[serde(rename = "1.2")]
    V1_2,
}

/// What a service sends as its body.
///
/// In configuration, tagged by `kind`:
///
/// ```json
/// {"kind": "form", "pairs": [{"key": "agent_id", "value": "#agent_id#"}]}
/// {"kind": "json", "template": "{\"agentId\": \"#agent_id#\"}"}
/// {"kind": "json", "pairs": [{"key": "agentId", "value": "#agent_id#"}]}
/// {"kind": "xml", "root": "call", "pairs": [{"key": "id", "value": "[[uniqueid]]"}]}
/// {"kind": "xml", "template": "<call id=\"#agent_id#\"/>"}
/// {"kind": "soap", "version": "1.1", "namespace": "urn:crm", "operation": "CallEnded",
///  "action": "urn:crm/CallEnded", "parameters": [{"key": "agentId", "value": "#agent_id#"}]}
/// {"kind": "none"}
/// ```
///
/// With `GET`, pairs go into the query string after any query the URL
/// already has, and no body is sent; a raw `template` body is sent as the
/// body even with `GET`, as the PBX does.
///
/// In JSON pairs, a value that is exactly one placeholder renders typed (a
/// number, `true`, `null`...); any other value, and any mapped value,
/// renders as a string.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum BodyConfig {
    /// No body.
    #[default]
    None,
    /// `application/x-www-form-urlencoded`, pairs in their order.
    Form {
        /// The parameters, in rank order.
        pairs: Vec<Pair>,
    },
    /// JSON: a raw template, or an object built from pairs.
    Json {
        /// A whole JSON document with placeholders.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<String>,
        /// Key/value pairs, rendered as one JSON object.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pairs: Vec<Pair>,
    },
    /// XML: a raw template, or pairs as elements under a root element.
    Xml {
        /// A whole XML document with placeholders.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<String>,
        /// The root element for pairs; `call` if not set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root: Option<String>,
        /// Key/value pairs, each rendered as `<key>value</key>`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pairs: Vec<Pair>,
    },
    /// A SOAP envelope calling one operation (document/literal).
    Soap {
        /// SOAP 1.1 or 1.2.
        #[serde(default)]
        version: SoapVersion,
        /// The target namespace of the operation and its parameters: an
        /// absolute URI (`urn:crm`, `http://tempuri.org/`).
        namespace: String,
        /// The operation, the element inside `Body`.
        operation: String,
        /// The SOAP action: a URI, or empty.
        action: String,
        /// The WSDL port name (recorded for reference; not on the wire).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
        /// The WSDL service name (recorded for reference; not on the wire).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// The operation's parameters, each an element.
        #[serde(default)]
        parameters: Vec<Pair>,
    },
}

/// Reads a body as callhook writes it, `kind` first, straight into its
/// variant's fields; a body whose `kind` comes later is buffered first, as
/// serde's derive for a tagged enum buffers every body. The attributes on
/// [`BodyConfig`] stay those of its serialisation and schema, and each
/// variant's fields below repeat them (`reads_as_the_derive_would` checks
/// the two agree). Reading `kind` first took `Registry::to_config` from
/// 27,416 to 23,013 instructions a service, 16% fewer
/// (`benches/examples/listings.rs` at 10,000 services, under callgrind).
impl<'de> Deserialize<'de> for BodyConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<BodyConfig, D::Error> {
        deserializer.deserialize_map(BodyVisitor)
    }
}

const KIND: &str = "kind";

/// The value of `kind`.
#[derive(Clone, Copy)]
enum Kind {
    None,
    Form,
    Json,
    Xml,
    Soap,
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Kind, D::Error> {
        const KINDS: &[&str] = &["none", "form", "json", "xml", "soap"];
        struct KindVisitor;
        impl Visitor<'_> for KindVisitor {
            type Value = Kind;
            // The derive's words, so either path says the same.
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("variant identifier")
            }
            fn visit_str<E: de::Error>(self, kind: &str) -> Result<Kind, E> {
                Ok(match kind {
                    "none" => Kind::None,
                    "form" => Kind::Form,
                    "json" => Kind::Json,
                    "xml" => Kind::Xml,
                    "soap" => Kind::Soap,
                    _ => return Err(de::Error::unknown_variant(kind, KINDS)),
                })
            }
        }
        deserializer.deserialize_str(KindVisitor)
    }
}

/// A body's first key: `kind`, or another, kept for the buffered path.
enum FirstKey {
    Kind,
    Other(String),
}

impl<'de> Deserialize<'de> for FirstKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FirstKey, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = FirstKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<FirstKey, E> {
                Ok(if key == KIND {
                    FirstKey::Kind
                } else {
                    FirstKey::Other(key.to_owned())
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// The fields of each kind, as [`BodyConfig`]'s variants declare them.
// serde's derive lets a unit variant's other fields pass, whatever
// `deny_unknown_fields` says; rows stored so still load.
#[derive(Deserialize)]
struct NoneFields {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FormFields {
    pairs: Vec<Pair>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonFields {
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    pairs: Vec<Pair>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct XmlFields {
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    root: Option<String>,
    #[serde(default)]
    pairs: Vec<Pair>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SoapFields {
    #[serde(default)]
    version: SoapVersion,
    namespace: String,
    operation: String,
    action: String,
    #[serde(default)]
    port: Option<String>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    parameters: Vec<Pair>,
}

impl Kind {
    /// The body of this kind, its fields read from `fields`.
    fn read<'de, D: Deserializer<'de>>(self, fields: D) -> Result<BodyConfig, D::Error> {
        Ok(match self {
            Kind::None => {
                NoneFields::deserialize(fields)?;
                BodyConfig::None
            }
            Kind::Form => BodyConfig::Form {
                pairs: FormFields::deserialize(fields)?.pairs,
            },
            Kind::Json => {
                let JsonFields { template, pairs } = JsonFields::deserialize(fields)?;
                BodyConfig::Json { template, pairs }
            }
            Kind::Xml => {
                let XmlFields {
                    template,
                    root,
                    pairs,
                } = XmlFields::deserialize(fields)?;
                BodyConfig::Xml {
                    template,
                    root,
                    pairs,
                }
            }
            Kind::Soap => {
                let SoapFields {
                    version,
                    namespace,
                    operation,
                    action,
                    port,
                    service,
                    parameters,
                } = SoapFields::deserialize(fields)?;
                BodyConfig::Soap {
                    version,
                    namespace,
                    operation,
                    action,
                    port,
                    service,
                    parameters,
                }
            }
        })
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = BodyConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The derive's words, so either path says the same.
        f.write_str("internally tagged enum BodyConfig")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BodyConfig, A::Error> {
        match map.next_key::<FirstKey>()? {
            Some(FirstKey::Kind) => {
                let kind: Kind = map.next_value()?;
                kind.read(MapAccessDeserializer::new(map))
            }
            // `kind` later, or not at all: the object is read whole
            // first. Errors within it are still serde's own messages.
            Some(FirstKey::Other(first)) => {
                let mut object = serde_json::Map::new();
                object.insert(first, map.next_value()?);
                while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
                    object.insert(key, value);
                }
                let kind = object
                    .remove(KIND)
                    .ok_or_else(|| de::Error::missing_field(KIND))?;
                let kind = Kind::deserialize(kind).map_err(de::Error::custom)?;
                kind.read(serde_json::Value::Object(object))
                    .map_err(de::Error::custom)
            }
            None => Err(de::Error::missing_field(KIND)),
        }
    }
}

/// A body compiled for one service.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Body {
    /// The body bytes; an empty template for no body.
    pub(crate) template: Template,
    /// The content type; none for no body.
    pub(crate) content_type: Option<HeaderValue>,
    /// The `SOAPAction` header of a SOAP 1.1 body.
    pub(crate) soap_action: Option<HeaderValue>,
}

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";
const XML: &str = "application/xml; charset=utf-8";

/// The content types of the bodies whose type does not depend on the
/// service (all but SOAP's).
pub(crate) const COMMON_CONTENT_TYPES: [&str; 3] = [FORM, JSON, XML];
const XML_DECLARATION: &[u8] = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>";

impl BodyConfig {
    /// The body's pairs (a SOAP operation's parameters) and their field
    /// path, wherever they are sent: in the body or a `GET`'s query.
    pub(crate) fn pairs(&self) -> Option<(&'static str, &[Pair])> {
        match self {
            BodyConfig::Form { pairs }
            | BodyConfig::Json { pairs, .. }
            | BodyConfig::Xml { pairs, .. } => Some(("body.pairs", pairs)),
            BodyConfig::Soap { parameters, .. } => Some(("body.parameters", parameters)),
            BodyConfig::None => None,
        }
    }

    /// The `template` of a JSON or XML body, if it has one.
    pub(crate) fn template(&self) -> Option<&str> {
        match self {
            BodyConfig::Json { template, .. } | BodyConfig::Xml { template, .. } => {
                template.as_deref()
            }
            _ => None,
        }
    }

    /// Bytes of the text the body's template is compiled from: its
    /// `template`, or its pairs with their maps, and the names a SOAP
    /// envelope is built of; none for pairs that go into a `GET`'s query.
    pub(crate) fn text_bytes(&self, get: bool) -> usize {
        let pairs = |pairs: &[Pair]| pairs.iter().map(Pair::text_bytes).sum::<usize>();
        match self {
            _ if self.query_pairs(get).is_some() => 0,
            BodyConfig::None => 0,
            BodyConfig::Form { pairs: p } => pairs(p),
            BodyConfig::Json { template, pairs: p } => {
                template.as_ref().map_or(0, String::len) + pairs(p)
            }
            BodyConfig::Xml {
                template,
                root,
                pairs: p,
            } => {
                template.as_ref().map_or(0, String::len)
                    + root.as_ref().map_or(0, String::len)
                    + pairs(p)
            }
            BodyConfig::Soap {
                namespace,
                operation,
                action,
                parameters,
                ..
            } => namespace.len() + operation.len() + action.len() + pairs(parameters),
        }
    }

    /// The pairs that go into the query string rather than a body: those of
    /// a form, or of JSON or XML made of pairs, when the method is `GET`.
    pub(crate) fn query_pairs(&self, get: bool) -> Option<&[Pair]> {
        match self {
            BodyConfig::Form { pairs } if get => Some(pairs),
            BodyConfig::Json {
                template: None,
                pairs,
            }
            | BodyConfig::Xml {
                template: None,
                pairs,
                ..
            } if get => Some(pairs),
            _ => None,
        }
    }

    /// The body as shown to a person, where it has pairs that are secrets:
    /// each such pair's value `[redacted]` and its map gone (its values are
    /// sent in place of the value). `None` where nothing is to hide, or the
    /// pairs go into a `GET`'s query string (the URL is redacted by name).
    pub(crate) fn shown(&self, get: bool) -> Option<BodyConfig> {
        if self.query_pairs(get).is_some() {
            return None;
        }
        let mut shown = self.clone();
        let pairs = match &mut shown {
            BodyConfig::Form { pairs }
            | BodyConfig::Json { pairs, .. }
            | BodyConfig::Xml { pairs, .. }
            | BodyConfig::Soap {
                parameters: pairs, ..
            } => pairs,
            BodyConfig::None => return None,
        };
        let mut any = false;
        for pair in pairs.iter_mut().filter(|p| p.is_secret()) {
            pair.value = REDACTED.to_owned();
            pair.map.clear();
            any = true;
        }
        any.then_some(shown)
    }
}

impl Body {
    /// Compiles a body configuration. `get` says the method is `GET`, so
    /// pairs go into the query string ([`BodyConfig::query_pairs`]) and not
    /// here.
    pub(crate) fn compile(
        config: &BodyConfig,
        get: bool,
        options: &Options<'_>,
    ) -> Result<Body, Vec<Error>> {
        let mut builder = Builder::new(options);
        let mut content_type = None;
        let mut soap_action = None;
        let context = match config {
            _ if config.query_pairs(get).is_some() => Context::Plain,
            BodyConfig::None => Context::Plain,
            BodyConfig::Form { pairs } => {
                form_pairs(&mut builder, pairs, Origin::Pair);
                content_type = Some(HeaderValue::from_static(FORM));
                Context::Form
            }
            BodyConfig::Json { template, pairs } => {
                match (template, pairs.is_empty()) {
                    (Some(template), true) => {
                        fragment(
                            &mut builder,
                            Origin::BodyTemplate,
                            template,
                            Context::Json,
                            None,
                        );
                    }
                    (None, _) => json_pairs(&mut builder, pairs),
                    (Some(_), false) => builder.error(one_of("body")),
                }
                content_type = Some(HeaderValue::from_static(JSON));
                Context::Json
            }
            BodyConfig::Xml {
                template,
                root,
                pairs,
            } => {
                match (template, pairs.is_empty()) {
                    (Some(template), true) => {
                        if root.is_some() {
                            builder.error(
                                Error::new(
                                    ErrorKind::InvalidConfig,
                                    "`root` applies to `pairs`, not to a `template`",
                                )
                                .in_field("body.root"),
                            );
                        }
                        fragment(
                            &mut builder,
                            Origin::BodyTemplate,
                            template,
                            Context::Xml,
                            None,
                        );
                    }
                    (None, _) => {
                        // Not set: `call`, as `BodyConfig::Xml` documents.
                        let root = root.as_deref().unwrap_or("call");
                        check_xml_name(&mut builder, root, &|| "body.root".into());
                        builder.literal(XML_DECLARATION);
                        builder.literal(format!("<{root}>").as_bytes());
                        xml_elements(&mut builder, pairs, Origin::Pair);
                        builder.literal(format!("</{root}>").as_bytes());
                    }
                    (Some(_), false) => builder.error(one_of("body")),
                }
                content_type = Some(HeaderValue::from_static(XML));
                Context::Xml
            }
            BodyConfig::Soap {
                version,
                namespace,
                operation,
                action,
                parameters,
                ..
            } => {
                if get {
                    builder.error(
                        Error::new(
                            ErrorKind::InvalidConfig,
                            "a SOAP body needs `POST`, not `GET`",
                        )
                        .in_field("method"),
                    );
                }
                check_xml_name(&mut builder, operation, &|| "body.operation".into());
                if let Err(why) = check_uri(namespace, true) {
                    builder.error(
                        Error::new(
                            ErrorKind::InvalidConfig,
                            format!("the SOAP namespace must be an absolute URI: {why}"),
                        )
                        .in_field("body.namespace"),
                    );
                }
                let envelope_ns = match version {
                    SoapVersion::V1_1 => "http://schemas.xmlsoap.org/soap/envelope/",
                    SoapVersion::V1_2 => "http://www.w3.org/2003/05/soap-envelope",
                };
                let mut namespace_attr = Vec::new();
                // Static text: escaping an attribute is never refused.
                let _ = Context::XmlAttribute.escape(namespace, &mut namespace_attr);
                builder.literal(XML_DECLARATION);
                builder.literal(
                    format!(
                        "<soap:Envelope xmlns:soap=\"{envelope_ns}\"><soap:Body><{operation} xmlns=\""
                    )
                    .as_bytes(),
                );
                builder.literal(&namespace_attr);
                builder.literal(b"\">");
                xml_elements(&mut builder, parameters, Origin::Parameter);
                builder.literal(format!("</{operation}></soap:Body></soap:Envelope>").as_bytes());
                let header = |value: String| {
                    HeaderValue::try_from(value).map_err(|e| {
                        Error::new(
                            ErrorKind::InvalidHeader,
                            "the SOAP action holds characters a header cannot carry",
                        )
                        .in_field("body.action")
                        .with_source(e)
                    })
                };
                // The action is quoted in a header (RFC 9110 quoted-string),
                // where `"` and `\` would be read otherwise; a URI has
                // neither, and real SOAP actions are URIs (or empty).
                if let Err(why) = check_uri(action, false) {
                    builder.error(
                        Error::new(
                            ErrorKind::InvalidHeader,
                            format!("the SOAP action must be a URI or empty: {why}"),
                        )
                        .in_field("body.action"),
                    );
                } else {
                    match version {
                        SoapVersion::V1_1 => {
                            content_type =
                                Some(HeaderValue::from_static("text/xml; charset=utf-8"));
                            match header(format!("\"{action}\"")) {
                                Ok(v) => soap_action = Some(v),
                                Err(e) => builder.error(e),
                            }
                        }
                        SoapVersion::V1_2 => {
                            match header(format!(
                                "application/soap+xml; charset=utf-8; action=\"{action}\""
                            )) {
                                Ok(v) => content_type = Some(v),
                                Err(e) => builder.error(e),
                            }
                        }
                    }
                }
                Context::Xml
            }
        };
        Ok(Body {
            template: builder.finish(context)?,
            content_type,
            soap_action,
        })
    }
}

/// Where a template fragment of a service came from. The compiler records
/// it as the fragment's code in each placeholder's spot, once, where it
/// compiles the fragment; a render error is located by it, with no second
/// numbering to keep in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `url`.
    Url,
    /// `body.template`.
    BodyTemplate,
    /// `body.pairs.N.value`, in the body or a `GET`'s query.
    Pair(usize),
    /// `body.parameters.N.value`, of a SOAP body.
    Parameter(usize),
    /// `headers.N.value`.
    Header(usize),
    /// `fallback_urls.N`.
    FallbackUrl(usize),
}

/// The bits of a code below the kind.
const INDEX_BITS: u32 = 29;
const INDEX: u32 = (1 << INDEX_BITS) - 1;

impl Origin {
    /// The origin as a fragment's code: its kind and index.
    pub(crate) fn code(self) -> u32 {
        let (kind, i) = match self {
            Origin::Url => (0, 0),
            Origin::BodyTemplate => (1, 0),
            Origin::Pair(i) => (2, i),
            Origin::Parameter(i) => (3, i),
            Origin::Header(i) => (4, i),
            Origin::FallbackUrl(i) => (5, i),
        };
        // Indices are bounded by `limits::PAIRS`, `limits::HEADERS` and
        // `limits::FALLBACK_URLS`,
        // checked before anything is compiled, far below 2^29; a larger
        // one would name no fragment rather than another's.
        (kind << INDEX_BITS) | u32::try_from(i).map_or(INDEX, |i| i.min(INDEX))
    }

    /// The origin a code was made from.
    pub(crate) fn from_code(code: u32) -> Option<Origin> {
        let i = (code & INDEX) as usize;
        match code >> INDEX_BITS {
            0 => Some(Origin::Url),
            1 => Some(Origin::BodyTemplate),
            2 => Some(Origin::Pair(i)),
            3 => Some(Origin::Parameter(i)),
            4 => Some(Origin::Header(i)),
            5 => Some(Origin::FallbackUrl(i)),
            _ => None,
        }
    }

    /// The list a pair or header belongs to (`body.pairs`), or the field.
    pub(crate) fn list(self) -> &'static str {
        match self {
            Origin::Url => "url",
            Origin::BodyTemplate => "body.template",
            Origin::Pair(_) => "body.pairs",
            Origin::Parameter(_) => "body.parameters",
            Origin::Header(_) => "headers",
            Origin::FallbackUrl(_) => "fallback_urls",
        }
    }

    /// The configuration path of the fragment's text.
    pub(crate) fn path(self) -> String {
        match self {
            Origin::Url | Origin::BodyTemplate => self.list().into(),
            Origin::Pair(i) | Origin::Parameter(i) | Origin::Header(i) => {
                format!("{}.{i}.value", self.list())
            }
            Origin::FallbackUrl(i) => format!("{}.{i}", self.list()),
        }
    }
}

/// Compiles the fragment `source` into `builder`, recording `origin` as
/// where its placeholders came from.
pub(crate) fn fragment(
    builder: &mut Builder<'_, '_>,
    origin: Origin,
    source: &str,
    context: Context,
    map: Option<&BTreeMap<String, String>>,
) {
    builder.next_fragment(origin.code());
    builder.fragment(source, context, map, Some(&|| origin.path()));
}

fn one_of(path: &str) -> Error {
    Error::new(
        ErrorKind::InvalidConfig,
        "give either `template` or `pairs`, not both",
    )
    .in_field(path)
}

/// Appends `key=value&...`, each key and value form-encoded, for a form
/// body or a query string.
pub(crate) fn form_pairs(builder: &mut Builder<'_, '_>, pairs: &[Pair], at: fn(usize) -> Origin) {
    for (i, pair) in pairs.iter().enumerate() {
        if i > 0 {
            builder.literal(b"&");
        }
        for piece in form_urlencoded::byte_serialize(pair.key.as_bytes()) {
            builder.literal(piece.as_bytes());
        }
        builder.literal(b"=");
        fragment(builder, at(i), &pair.value, Context::Form, Some(&pair.map));
    }
}

/// Appends one JSON object, a member per pair. A key may be given once:
/// receivers disagree on which of two equal keys counts.
fn json_pairs(builder: &mut Builder<'_, '_>, pairs: &[Pair]) {
    let mut first = std::collections::HashMap::new();
    builder.literal(b"{");
    for (i, pair) in pairs.iter().enumerate() {
        if let Some(before) = first.insert(pair.key.as_str(), i) {
            // Keep the first, for the next repeat to name it too.
            first.insert(pair.key.as_str(), before);
            builder.error(
                Error::new(
                    ErrorKind::InvalidConfig,
                    format!(
                        "duplicate key `{}` in the JSON object (first at `body.pairs.{before}.key`): \
                         receivers disagree on which of its values counts",
                        crate::error::shown(&pair.key)
                    ),
                )
                .in_field(&format!("body.pairs.{i}.key")),
            );
        }
        if i > 0 {
            builder.literal(b",");
        }
        let mut key = b"\"".to_vec();
        json_string(&pair.key, &mut key);
        key.extend_from_slice(b"\":");
        builder.literal(&key);
        fragment(
            builder,
            Origin::Pair(i),
            &pair.value,
            Context::JsonValue,
            Some(&pair.map),
        );
    }
    builder.literal(b"}");
}

/// Appends `<key>value</key>` per pair.
fn xml_elements(builder: &mut Builder<'_, '_>, pairs: &[Pair], at: fn(usize) -> Origin) {
    for (i, pair) in pairs.iter().enumerate() {
        let path = at(i).list();
        check_xml_name(builder, &pair.key, &|| format!("{path}.{i}.key"));
        builder.literal(b"<");
        builder.literal(pair.key.as_bytes());
        builder.literal(b">");
        fragment(
            builder,
            at(i),
            &pair.value,
            Context::XmlText,
            Some(&pair.map),
        );
        builder.literal(b"</");
        builder.literal(pair.key.as_bytes());
        builder.literal(b">");
    }
}

/// Checks that `text` is written as a URI (RFC 3986): its characters only,
/// each `%` starting an escape, and, if `absolute`, a scheme; empty only if
/// not. Says why not.
fn check_uri(text: &str, absolute: bool) -> Result<(), String> {
    const OTHERS: &[u8] = b"-._~:/?#[]@!$&'()*+,;=";
    let bytes = text.as_bytes();
    let allowed = |c: char| {
        c.is_ascii_alphanumeric() || c == '%' || u8::try_from(c).is_ok_and(|b| OTHERS.contains(&b))
    };
    if let Some(c) = text.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "`{}` is not a URI character; percent-encode it",
            c.escape_debug()
        ));
    }
    for (at, _) in text.match_indices('%') {
        if !bytes
            .get(at + 1..at + 3)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
        {
            return Err("a `%` is not followed by two hex digits".to_owned());
        }
    }
    if absolute {
        // `scheme ":"`, the scheme a letter, then letters, digits, `+`,
        // `-` or `.`.
        let scheme = text.split_once(':').map(|(scheme, _)| scheme.as_bytes());
        let valid = scheme.is_some_and(|scheme| {
            scheme.first().is_some_and(u8::is_ascii_alphabetic)
                && scheme
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        });
        if !valid {
            return Err("it has no scheme (such as `urn:` or `https:`)".to_owned());
        }
    }
    Ok(())
}

/// XML names, restricted to ASCII: a letter or `_`, then letters, digits,
/// `-`, `_` or `.`, with at most one `:` for a prefix.
fn check_xml_name(builder: &mut Builder<'_, '_>, name: &str, path: &dyn Fn() -> String) {
    let valid_part = |part: &str| {
        let mut bytes = part.bytes();
        bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    let valid = match name.split_once(':') {
        Some((prefix, local)) => valid_part(prefix) && valid_part(local),
        None => valid_part(name),
    };
    let reserved = name.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("xml"));
    if !valid || reserved {
        builder.error(
            Error::new(
                ErrorKind::InvalidConfig,
                format!("`{name}` is not a valid XML element name"),
            )
            .in_field(&path()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CallData, Catalog};

    fn compile(config: BodyConfig) -> Body {
        Body::compile(&config, false, &Options::new(Catalog::standard())).unwrap()
    }

    fn render(template: &Template, data: &CallData) -> String {
        template.render_string(data).unwrap()
    }

    /// [`BodyConfig`] as serde's derive reads it, for
    /// `reads_as_the_derive_would`.
    #[derive(Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
    enum Derived {
        None,
        Form {
            pairs: Vec<Pair>,
        },
        Json {
            #[serde(default, skip_serializing_if = "Option::is_none")]
            template: Option<String>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pairs: Vec<Pair>,
        },
        Xml {
            #[serde(default, skip_serializing_if = "Option::is_none")]
            template: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            root: Option<String>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pairs: Vec<Pair>,
        },
        Soap {
            #[serde(default)]
            version: SoapVersion,
            namespace: String,
            operation: String,
            action: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            port: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            service: Option<String>,
            #[serde(default)]
            parameters: Vec<Pair>,
        },
    }

    #[test]
    fn reads_as_the_derive_would() {
        // What each reads, or its error without the position (the direct
        // path reports where in the body the error is, the buffered one
        // the body's end).
        fn read<T: Serialize + for<'de> Deserialize<'de>>(json: &str) -> Result<String, String> {
            let text = serde_json::from_str::<T>(json)
                .map(|body| serde_json::to_string(&body).unwrap())
                .map_err(|e| e.to_string().split(" at line").next().unwrap().to_owned());
            // The same from a `Value`, as `serde_json::from_value` reads.
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            let from_value = serde_json::from_value::<T>(value)
                .map(|body| serde_json::to_string(&body).unwrap())
                .map_err(|e| e.to_string());
            assert_eq!(text, from_value, "{json}");
            text
        }
        let pair = r##"[{"key": "a", "value": "#agent_id#", "map": {"1": "one"}}]"##;
        let bodies = [
            r#"{"kind": "none"}"#.to_owned(),
            r#"{"kind": "none", "pairs": []}"#.to_owned(),
            format!(r#"{{"kind": "form", "pairs": {pair}}}"#),
            format!(r#"{{"pairs": {pair}, "kind": "form"}}"#),
            format!(r#"{{"kind": "json", "pairs": {pair}}}"#),
            r#"{"template": "{}", "kind": "json"}"#.to_owned(),
            format!(r#"{{"kind": "xml", "root": "r", "pairs": {pair}}}"#),
            r#"{"root": "r", "kind": "xml", "template": "<a/>"}"#.to_owned(),
            r#"{"kind": "soap", "version": "1.2", "namespace": "urn:a", "operation": "Op", "action": "", "port": "p", "service": "s", "parameters": []}"#.to_owned(),
            r#"{"namespace": "urn:a", "kind": "soap", "operation": "Op", "action": ""}"#.to_owned(),
            // Errors.
            r#"{"kind": "soap", "namespace": "urn:a", "action": ""}"#.to_owned(),
            r#"{"namespace": "urn:a", "action": "", "kind": "soap"}"#.to_owned(),
            r#"{"kind": "form", "pairs": [], "root": "r"}"#.to_owned(),
            r#"{"root": "r", "kind": "form", "pairs": []}"#.to_owned(),
            r#"{"kind": "form"}"#.to_owned(),
            r#"{"kind": "mail", "pairs": []}"#.to_owned(),
            r#"{"pairs": [], "kind": "mail"}"#.to_owned(),
            r#"{"kind": 3}"#.to_owned(),
            r#"{"kind": "form", "pairs": "a"}"#.to_owned(),
            r#"{"pairs": "a", "kind": "form"}"#.to_owned(),
            r#"{"pairs": []}"#.to_owned(),
            r#"{}"#.to_owned(),
            r#""form""#.to_owned(),
        ];
        for body in &bodies {
            let derived = read::<Derived>(body).map_err(|e| e.replace("Derived", "BodyConfig"));
            assert_eq!(read::<BodyConfig>(body), derived, "{body}");
        }
    }

    fn data() -> CallData {
        CallData::from_json(
            r#"{"agent_id": "10&01", "duration": 95, "ani": "A<B", "status": "SALE"}"#,
        )
        .unwrap()
    }

    #[test]
    fn form_pairs_in_order_and_mapped() {
        let mut mapped = Pair::new("disp", "#status#");
        mapped.map.insert("SALE".into(), "won deal".into());
        let body = compile(BodyConfig::Form {
            pairs: vec![
                Pair::new("agent id", "#agent_id#"),
                mapped,
                Pair::new("static", "a=b"),
            ],
        });
        assert_eq!(
            render(&body.template, &data()),
            "agent+id=10%2601&disp=won+deal&static=a%3Db"
        );
        assert_eq!(body.content_type.unwrap(), FORM);
        let get = BodyConfig::Form {
            pairs: vec![Pair::new("a", "#agent_id#")],
        };
        let body = Body::compile(&get, true, &Options::new(Catalog::standard())).unwrap();
        assert!(body.content_type.is_none());
        assert!(body.template.is_static());
        assert_eq!(get.query_pairs(true).map(<[Pair]>::len), Some(1));
    }

    #[test]
    fn json_pairs_type_whole_placeholders() {
        let mut mapped = Pair::new("m", "#duration#");
        mapped.map.insert("95".into(), "long".into());
        let body = compile(BodyConfig::Json {
            template: None,
            pairs: vec![
                Pair::new("d", "#duration#"),
                Pair::new("s", "id #agent_id#"),
                Pair::new("k\"", "x"),
                mapped,
            ],
        });
        assert_eq!(
            render(&body.template, &data()),
            r#"{"d":95,"s":"id 10&01","k\"":"x","m":"long"}"#
        );
    }

    #[test]
    fn xml_pairs_and_soap() {
        let body = compile(BodyConfig::Xml {
            template: None,
            root: None,
            pairs: vec![Pair::new("ani", "#ani#")],
        });
        assert_eq!(
            render(&body.template, &data()),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><call><ani>A&lt;B</ani></call>"
        );
        let soap = compile(BodyConfig::Soap {
            version: SoapVersion::V1_1,
            namespace: "urn:crm&co".into(),
            operation: "CallEnded".into(),
            action: "urn:crm/CallEnded".into(),
            port: None,
            service: None,
            parameters: vec![Pair::new("ani", "#ani#")],
        });
        assert_eq!(
            render(&soap.template, &data()),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><CallEnded xmlns=\"urn:crm&amp;co\"><ani>A&lt;B</ani></CallEnded></soap:Body></soap:Envelope>"
        );
        assert_eq!(soap.soap_action.unwrap(), "\"urn:crm/CallEnded\"");
    }

    #[test]
    fn invalid_bodies_report_every_problem_with_paths() {
        let errors = Body::compile(
            &BodyConfig::Xml {
                template: None,
                root: Some("1root".into()),
                pairs: vec![Pair::new("ok", "#agnet_id#"), Pair::new("bad key", "x")],
            },
            false,
            &Options::new(Catalog::standard()),
        )
        .unwrap_err();
        let paths: Vec<_> = errors.iter().map(|e| e.field().unwrap_or("")).collect();
        assert_eq!(
            paths,
            ["body.root", "body.pairs.0.value", "body.pairs.1.key"]
        );
        assert!(Body::compile(
            &BodyConfig::Json {
                template: Some("{}".into()),
                pairs: vec![Pair::new("a", "b")]
            },
            false,
            &Options::new(Catalog::standard()),
        )
        .is_err());
    }

    #[test]
    fn uris_by_their_characters() {
        for ok in [
            "urn:x",
            "http://tempuri.org/a?b=c#d",
            "urn:a%20b",
            "x+y-z.1:'()*",
        ] {
            assert_eq!(check_uri(ok, true), Ok(()), "{ok}");
        }
        assert_eq!(check_uri("", false), Ok(()));
        assert_eq!(check_uri("/relative", false), Ok(()));
        for bad in [
            "", "crm", "1x:y", ":y", "urn:a b", "urn:a\\b", "urn:\"", "urn:é", "urn:%2", "urn:%zz",
        ] {
            assert!(check_uri(bad, true).is_err(), "{bad}");
        }
        assert!(check_uri("a\\b", false).is_err());
        assert!(check_uri("a\"b", false).is_err());
    }

    #[test]
    fn shown_bodies_replace_secret_pairs_only() {
        let mut mapped = Pair::new("disp", "#status#");
        mapped.map.insert("SALE".into(), "s3cr3t".into());
        mapped.secret = Some(true);
        let config = BodyConfig::Form {
            pairs: vec![
                Pair::new("ani", "#ani#"),
                Pair::new("password", "s3cr3t"),
                mapped,
            ],
        };
        let shown = config.shown(false).unwrap();
        let body = Body::compile(&shown, false, &Options::new(Catalog::standard())).unwrap();
        assert_eq!(
            render(&body.template, &data()),
            "ani=A%3CB&password=%5Bredacted%5D&disp=%5Bredacted%5D"
        );
        // Nothing to hide, or pairs in a `GET`'s query string: none.
        let open = BodyConfig::Form {
            pairs: vec![Pair::new("ani", "#ani#")],
        };
        assert!(open.shown(false).is_none());
        assert!(config.shown(true).is_none());
        assert!(BodyConfig::None.shown(false).is_none());
    }

    #[test]
    fn config_serde_round_trip() {
        let json = r##"{"kind":"soap","version":"1.2","namespace":"urn:x","operation":"Op","action":"urn:x/Op","port":"P","service":"S","parameters":[{"key":"a","value":"#ani#","map":{"1":"one"}}]}"##;
        let config: BodyConfig = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&config).unwrap(), json);
        assert!(
            serde_json::from_str::<BodyConfig>(r#"{"kind":"form","pairs":[],"extra":1}"#).is_err()
        );
    }
}

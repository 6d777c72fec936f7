//! Request bodies: form, JSON, XML, SOAP, or none.
//!
//! A [`BodyConfig`] is what an administrator writes; it is compiled once,
//! with the service, into parts that render straight into the request
//! buffer.

use std::collections::BTreeMap;

use http::HeaderValue;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::field::Lookup;
use crate::template::{scan_plain, Context, Escape, Options, Template};

/// One key/value pair of a form, JSON object, XML document, SOAP operation,
/// query string or header list.
///
/// `value` is a template: static text, placeholders, or both. `map`
/// replaces a rendered value by another before it is encoded (RingCX's
/// value mappings, such as disposition codes); a value not in the map is
/// kept as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    /// The parameter name, sent as is (encoded for the body kind).
    pub key: String,
    /// The value template.
    pub value: String,
    /// Replacements applied to the rendered value before encoding.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub map: BTreeMap<String, String>,
}

impl Pair {
    /// A pair with no value mapping.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Pair {
        Pair {
            key: key.into(),
            value: value.into(),
            map: BTreeMap::new(),
        }
    }
}

/// The SOAP version of a SOAP body.
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
/// number, `true`, `null`...); any other value renders as a string.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
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
        /// The target namespace of the operation and its parameters.
        namespace: String,
        /// The operation, the element inside `Body`.
        operation: String,
        /// The SOAP action.
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

/// One piece of a compiled body or query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Literal(Box<[u8]>),
    Template(Template),
    /// Rendered as plain text, mapped, then escaped.
    Mapped {
        template: Template,
        map: BTreeMap<String, String>,
        escape: Escape,
    },
}

/// A sequence of parts, rendered one after another.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Parts(Vec<Part>);

impl Parts {
    fn literal(&mut self, bytes: &[u8]) {
        if let Some(Part::Literal(last)) = self.0.last_mut() {
            let mut joined = last.to_vec();
            joined.extend_from_slice(bytes);
            *last = joined.into_boxed_slice();
        } else {
            self.0.push(Part::Literal(bytes.into()));
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Roughly how many bytes a render writes, so the buffer is allocated
    /// once.
    pub(crate) fn size_hint(&self) -> usize {
        self.0
            .iter()
            .map(|p| match p {
                Part::Literal(bytes) => bytes.len(),
                Part::Template(t) | Part::Mapped { template: t, .. } => t.size_hint(),
            })
            .sum()
    }

    pub(crate) fn is_static(&self) -> bool {
        self.0.iter().all(|p| match p {
            Part::Literal(_) => true,
            Part::Template(t) | Part::Mapped { template: t, .. } => t.is_static(),
        })
    }

    pub(crate) fn fields(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .flat_map(|p| match p {
                Part::Literal(_) => None,
                Part::Template(t) | Part::Mapped { template: t, .. } => Some(t.fields()),
            })
            .flatten()
    }

    pub(crate) fn render_into<L: Lookup + ?Sized>(
        &self,
        data: &L,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let before = out.len();
        for part in &self.0 {
            let rendered = match part {
                Part::Literal(bytes) => {
                    out.extend_from_slice(bytes);
                    Ok(())
                }
                Part::Template(t) => t.render_with(data, out),
                Part::Mapped {
                    template,
                    map,
                    escape,
                } => template.render_string_with(data).and_then(|raw| {
                    let value = map.get(&raw).unwrap_or(&raw);
                    escape
                        .text(value, out)
                        .map_err(|r| Error::new(ErrorKind::UnsafeValue, r.message()))
                }),
            };
            if let Err(e) = rendered {
                out.truncate(before);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Appends `key` (already encoded) and the compiled value of `pair`.
    pub(crate) fn pair_value(
        &mut self,
        pair: &Pair,
        context: Context,
        escape: Escape,
        options: &Options<'_>,
        path: &str,
        errors: &mut Vec<Error>,
    ) {
        let compiled = if pair.map.is_empty() {
            Template::compile(&pair.value, context, options).map(Part::Template)
        } else {
            Template::compile(&pair.value, Context::Plain, options).map(|template| Part::Mapped {
                template,
                map: pair.map.clone(),
                escape,
            })
        };
        match compiled {
            Ok(part) => self.0.push(part),
            Err(e) => errors.push(e.in_field(&format!("{path}.value"))),
        }
    }
}

/// A body compiled for one service.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Body {
    /// The body bytes; empty parts and no content type for no body.
    pub(crate) parts: Parts,
    pub(crate) content_type: Option<HeaderValue>,
    /// Query pairs (GET), `key=value&...`, to append to the URL.
    pub(crate) query: Parts,
    /// The `SOAPAction` header of a SOAP 1.1 body.
    pub(crate) soap_action: Option<HeaderValue>,
}

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";
const XML: &str = "application/xml; charset=utf-8";
const XML_DECLARATION: &[u8] = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>";

impl Body {
    /// Compiles a body configuration. `in_query` says the pairs go into the
    /// query string (GET).
    pub(crate) fn compile(
        config: &BodyConfig,
        in_query: bool,
        options: &Options<'_>,
    ) -> Result<Body, Vec<Error>> {
        let mut errors = Vec::new();
        let mut body = Body::default();
        let pairs_in_query = |pairs: &[Pair], body: &mut Body, errors: &mut Vec<Error>| {
            body.query = form_pairs(pairs, "body.pairs", options, errors);
        };
        match config {
            BodyConfig::None => {}
            BodyConfig::Form { pairs } => {
                if in_query {
                    pairs_in_query(pairs, &mut body, &mut errors);
                } else {
                    body.parts = form_pairs(pairs, "body.pairs", options, &mut errors);
                    body.content_type = Some(HeaderValue::from_static(FORM));
                }
            }
            BodyConfig::Json { template, pairs } => match (template, pairs.is_empty()) {
                (Some(template), true) => {
                    match Template::compile(template, Context::Json, options) {
                        Ok(t) => body.parts.0.push(Part::Template(t)),
                        Err(e) => errors.push(e.in_field("body.template")),
                    }
                    body.content_type = Some(HeaderValue::from_static(JSON));
                }
                (None, _) if in_query => pairs_in_query(pairs, &mut body, &mut errors),
                (None, _) => {
                    body.parts = json_pairs(pairs, options, &mut errors);
                    body.content_type = Some(HeaderValue::from_static(JSON));
                }
                (Some(_), false) => errors.push(one_of("body")),
            },
            BodyConfig::Xml {
                template,
                root,
                pairs,
            } => match (template, pairs.is_empty()) {
                (Some(template), true) => {
                    if root.is_some() {
                        errors.push(
                            Error::new(
                                ErrorKind::InvalidConfig,
                                "`root` applies to `pairs`, not to a `template`",
                            )
                            .in_field("body.root"),
                        );
                    }
                    match Template::compile(template, Context::Xml, options) {
                        Ok(t) => body.parts.0.push(Part::Template(t)),
                        Err(e) => errors.push(e.in_field("body.template")),
                    }
                    body.content_type = Some(HeaderValue::from_static(XML));
                }
                (None, _) if in_query => pairs_in_query(pairs, &mut body, &mut errors),
                (None, _) => {
                    let root = root.as_deref().unwrap_or("call");
                    check_xml_name(root, "body.root", &mut errors);
                    body.parts.literal(XML_DECLARATION);
                    body.parts.literal(format!("<{root}>").as_bytes());
                    xml_elements(&mut body.parts, pairs, "body.pairs", options, &mut errors);
                    body.parts.literal(format!("</{root}>").as_bytes());
                    body.content_type = Some(HeaderValue::from_static(XML));
                }
                (Some(_), false) => errors.push(one_of("body")),
            },
            BodyConfig::Soap {
                version,
                namespace,
                operation,
                action,
                parameters,
                ..
            } => {
                if in_query {
                    errors.push(
                        Error::new(
                            ErrorKind::InvalidConfig,
                            "a SOAP body needs `POST`, not `GET`",
                        )
                        .in_field("method"),
                    );
                }
                check_xml_name(operation, "body.operation", &mut errors);
                let envelope_ns = match version {
                    SoapVersion::V1_1 => "http://schemas.xmlsoap.org/soap/envelope/",
                    SoapVersion::V1_2 => "http://www.w3.org/2003/05/soap-envelope",
                };
                let mut namespace_attr = Vec::new();
                // Static text: escaping cannot be refused.
                let _ = Escape::XmlAttribute.text(namespace, &mut namespace_attr);
                body.parts.literal(XML_DECLARATION);
                body.parts.literal(
                    format!(
                        "<soap:Envelope xmlns:soap=\"{envelope_ns}\"><soap:Body><{operation} xmlns=\""
                    )
                    .as_bytes(),
                );
                body.parts.literal(&namespace_attr);
                body.parts.literal(b"\">");
                xml_elements(
                    &mut body.parts,
                    parameters,
                    "body.parameters",
                    options,
                    &mut errors,
                );
                body.parts
                    .literal(format!("</{operation}></soap:Body></soap:Envelope>").as_bytes());
                let header = |value: String| {
                    HeaderValue::try_from(value).map_err(|_| {
                        Error::new(
                            ErrorKind::InvalidHeader,
                            "the SOAP action holds characters a header cannot carry",
                        )
                        .in_field("body.action")
                    })
                };
                match version {
                    SoapVersion::V1_1 => {
                        body.content_type =
                            Some(HeaderValue::from_static("text/xml; charset=utf-8"));
                        match header(format!("\"{action}\"")) {
                            Ok(v) => body.soap_action = Some(v),
                            Err(e) => errors.push(e),
                        }
                    }
                    SoapVersion::V1_2 => {
                        match header(format!(
                            "application/soap+xml; charset=utf-8; action=\"{action}\""
                        )) {
                            Ok(v) => body.content_type = Some(v),
                            Err(e) => errors.push(e),
                        }
                    }
                }
                if action.contains('"') {
                    errors.push(
                        Error::new(
                            ErrorKind::InvalidHeader,
                            "the SOAP action cannot contain `\"`",
                        )
                        .in_field("body.action"),
                    );
                }
            }
        }
        if errors.is_empty() {
            Ok(body)
        } else {
            Err(errors)
        }
    }

    /// Every field the body (and query) uses.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts.fields().chain(self.query.fields())
    }
}

fn one_of(path: &str) -> Error {
    Error::new(
        ErrorKind::InvalidConfig,
        "give either `template` or `pairs`, not both",
    )
    .in_field(path)
}

fn form_pairs(pairs: &[Pair], path: &str, options: &Options<'_>, errors: &mut Vec<Error>) -> Parts {
    let mut parts = Parts::default();
    for (i, pair) in pairs.iter().enumerate() {
        if i > 0 {
            parts.literal(b"&");
        }
        let key: String = form_urlencoded::byte_serialize(pair.key.as_bytes()).collect();
        parts.literal(key.as_bytes());
        parts.literal(b"=");
        parts.pair_value(
            pair,
            Context::Form,
            Escape::Form,
            options,
            &format!("{path}.{i}"),
            errors,
        );
    }
    parts
}

fn json_pairs(pairs: &[Pair], options: &Options<'_>, errors: &mut Vec<Error>) -> Parts {
    let mut parts = Parts::default();
    parts.literal(b"{");
    for (i, pair) in pairs.iter().enumerate() {
        let path = format!("body.pairs.{i}");
        if i > 0 {
            parts.literal(b",");
        }
        let mut key = b"\"".to_vec();
        crate::template::json_string(&pair.key, &mut key);
        key.extend_from_slice(b"\":");
        parts.literal(&key);
        let whole = scan_plain(&pair.value, options)
            .is_some_and(|(start, end)| start == 0 && end == pair.value.len());
        if whole {
            // One placeholder alone renders typed.
            parts.pair_value(
                pair,
                Context::Json,
                Escape::JsonValue,
                options,
                &path,
                errors,
            );
        } else if pair.map.is_empty() {
            parts.literal(b"\"");
            parts.pair_value(
                pair,
                Context::JsonString,
                Escape::JsonString,
                options,
                &path,
                errors,
            );
            parts.literal(b"\"");
        } else {
            parts.pair_value(
                pair,
                Context::Plain,
                Escape::JsonValue,
                options,
                &path,
                errors,
            );
        }
    }
    parts.literal(b"}");
    parts
}

fn xml_elements(
    parts: &mut Parts,
    pairs: &[Pair],
    path: &str,
    options: &Options<'_>,
    errors: &mut Vec<Error>,
) {
    for (i, pair) in pairs.iter().enumerate() {
        let path = format!("{path}.{i}");
        check_xml_name(&pair.key, &format!("{path}.key"), errors);
        parts.literal(format!("<{}>", pair.key).as_bytes());
        parts.pair_value(
            pair,
            Context::XmlText,
            Escape::XmlText,
            options,
            &path,
            errors,
        );
        parts.literal(format!("</{}>", pair.key).as_bytes());
    }
}

/// XML names, restricted to ASCII: a letter or `_`, then letters, digits,
/// `-`, `_` or `.`, with at most one `:` for a prefix.
fn check_xml_name(name: &str, path: &str, errors: &mut Vec<Error>) {
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
    if !valid || name.to_ascii_lowercase().starts_with("xml") {
        errors.push(
            Error::new(
                ErrorKind::InvalidConfig,
                format!("`{name}` is not a valid XML element name"),
            )
            .in_field(path),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CallData, Catalog};

    fn compile(config: BodyConfig, in_query: bool) -> Body {
        Body::compile(&config, in_query, &Options::new(Catalog::standard())).unwrap()
    }

    fn render(parts: &Parts, data: &CallData) -> String {
        let mut out = Vec::new();
        parts.render_into(data, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn data() -> CallData {
        CallData::from_json(&serde_json::json!({
            "agent_id": "10&01", "duration": 95, "ani": "A<B", "status": "SALE"
        }))
        .unwrap()
    }

    #[test]
    fn form_pairs_in_order_and_mapped() {
        let mut mapped = Pair::new("disp", "#status#");
        mapped.map.insert("SALE".into(), "won deal".into());
        let body = compile(
            BodyConfig::Form {
                pairs: vec![
                    Pair::new("agent id", "#agent_id#"),
                    mapped,
                    Pair::new("static", "a=b"),
                ],
            },
            false,
        );
        assert_eq!(
            render(&body.parts, &data()),
            "agent+id=10%2601&disp=won+deal&static=a%3Db"
        );
        assert_eq!(body.content_type.unwrap(), FORM);
        let get = compile(
            BodyConfig::Form {
                pairs: vec![Pair::new("a", "#agent_id#")],
            },
            true,
        );
        assert!(get.parts.is_empty());
        assert_eq!(render(&get.query, &data()), "a=10%2601");
    }

    #[test]
    fn json_pairs_type_whole_placeholders() {
        let body = compile(
            BodyConfig::Json {
                template: None,
                pairs: vec![
                    Pair::new("d", "#duration#"),
                    Pair::new("s", "id #agent_id#"),
                    Pair::new("k\"", "x"),
                ],
            },
            false,
        );
        assert_eq!(
            render(&body.parts, &data()),
            r#"{"d":95,"s":"id 10&01","k\"":"x"}"#
        );
    }

    #[test]
    fn xml_pairs_and_soap() {
        let body = compile(
            BodyConfig::Xml {
                template: None,
                root: None,
                pairs: vec![Pair::new("ani", "#ani#")],
            },
            false,
        );
        assert_eq!(
            render(&body.parts, &data()),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><call><ani>A&lt;B</ani></call>"
        );
        let soap = compile(
            BodyConfig::Soap {
                version: SoapVersion::V1_1,
                namespace: "urn:crm&co".into(),
                operation: "CallEnded".into(),
                action: "urn:crm/CallEnded".into(),
                port: None,
                service: None,
                parameters: vec![Pair::new("ani", "#ani#")],
            },
            false,
        );
        assert_eq!(
            render(&soap.parts, &data()),
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
    fn config_serde_round_trip() {
        let json = r##"{"kind":"soap","version":"1.2","namespace":"urn:x","operation":"Op","action":"urn:x/Op","port":"P","service":"S","parameters":[{"key":"a","value":"#ani#","map":{"1":"one"}}]}"##;
        let config: BodyConfig = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&config).unwrap(), json);
        assert!(
            serde_json::from_str::<BodyConfig>(r#"{"kind":"form","pairs":[],"extra":1}"#).is_err()
        );
    }
}

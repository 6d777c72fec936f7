//! Conditions on webhooks: a test over the values a webhook's request
//! renders from, written in the configuration as data, compiled at load
//! against the catalog, and evaluated at dispatch without allocating.
//!
//! The shape (the README's "Conditions" section says it for people):
//!
//! ```json
//! {"field": "agent_disposition", "in": ["SALE", "CALLBACK"]}
//! {"all": [{"field": "duration", "greater_than": "30s"}, {"not": {"field": "ani", "starts_with": "+1800"}}]}
//! {"field": "status", "equals": "Answered", "ignore_case": true}
//! ```
//!
//! A missing field and a null one are alike to a condition: the field has
//! no value. On no value, `exists` and every comparison are false, and
//! their negations (`not_equals`, `not_in`, `not`) true.

use std::cmp::Ordering;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value as Json};

use crate::call::Lookup;
use crate::catalog::{Catalog, FieldKey, Positions};
use crate::error::{nearest, shown, Error, ErrorKind};
use crate::limits::{
    self, CONDITION_DEPTH, CONDITION_LIST, CONDITION_LITERAL_BYTES, CONDITION_TESTS,
};
use crate::retry::{parse_duration, print_duration};
use crate::secret::REDACTED;
use crate::value::{FieldType, Value};

/// A condition on a webhook: the webhook fires only for a call whose values
/// meet it. Written in the configuration as data (JSON, TOML), compiled
/// when the webhook is loaded, and checked against the catalog then.
///
/// Its shapes: a comparison `{"field": NAME, OPERATOR: LITERAL}` (with
/// `"ignore_case": true` for text), `{"all": [...]}`, `{"any": [...]}`,
/// `{"not": {...}}`. The operators are `equals`, `not_equals`, `in`,
/// `not_in` (a list), `greater_than`, `greater_than_or_equal`,
/// `less_than`, `less_than_or_equal` (numbers, durations, timestamps),
/// `starts_with`, `ends_with`, `contains` (text) and `exists` (`true` or
/// `false`). The README's "Conditions" section gives each one's meaning on
/// a missing or null value.
///
/// The condition is kept as written; what is wrong with it (an unknown
/// field, a comparison its field's type cannot hold, a limit passed) is
/// reported when the webhook is loaded, every problem at once, each at its
/// place (`webhooks.0.condition.all.1.field`).
///
/// # Examples
///
/// ```
/// use callhook::{Condition, Event, WebhookConfig};
///
/// let sales = Condition::from_json(r#"{"field": "agent_disposition", "in": ["SALE", "CALLBACK"]}"#)?;
/// let webhook = WebhookConfig::new("6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b01", Event::PostDisposition, "crm")
///     .with_condition(sales);
/// assert!(webhook.to_json().starts_with(r#"{"version":3,"#));
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition(Json);

impl Condition {
    /// Reads a condition from JSON text.
    ///
    /// # Errors
    ///
    /// Text that is not JSON, or a value that is not an object, is an error
    /// of kind [`ErrorKind::Serde`]. Whether the condition holds together is
    /// checked when its webhook is loaded, against the catalog.
    pub fn from_json(text: &str) -> Result<Condition, Error> {
        serde_json::from_str(text).map_err(|e| crate::error::json_error(ErrorKind::Serde, text, e))
    }

    /// The condition as compact JSON: the same condition as written, its
    /// objects' keys in sorted order (`serde_json`'s map), not necessarily
    /// the order they were written in.
    #[must_use]
    pub fn to_json(&self) -> String {
        self.0.to_string()
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Condition, D::Error> {
        let mut json = Json::deserialize(deserializer)?;
        if !json.is_object() {
            return Err(serde::de::Error::custom(
                "a condition is an object: `{\"field\": ..., \"equals\": ...}`, `{\"all\": [...]}`, \
                 `{\"any\": [...]}` or `{\"not\": {...}}`",
            ));
        }
        untoml(&mut json);
        Ok(Condition(json))
    }
}

/// TOML's datetimes reach serde as `{"$__toml_private_datetime": TEXT}`:
/// a timestamp literal is kept as its text, as JSON writes it.
fn untoml(json: &mut Json) {
    const TOML_DATETIME: &str = "$__toml_private_datetime";
    match json {
        Json::Object(map) => {
            if map.len() == 1 {
                if let Some(Json::String(text)) = map.get(TOML_DATETIME) {
                    *json = Json::String(text.clone());
                    return;
                }
            }
            map.values_mut().for_each(untoml);
        }
        Json::Array(items) => items.iter_mut().for_each(untoml),
        _ => {}
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Condition {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Condition".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let this = generator.subschema_for::<Condition>();
        let literal = schemars::json_schema!({"type": ["string", "number", "boolean"]});
        let list =
            schemars::json_schema!({"type": "array", "items": literal, "maxItems": CONDITION_LIST});
        let text = schemars::json_schema!({"type": "string"});
        schemars::json_schema!({
            "description": "A condition on a webhook: a comparison of one field, or `all`, `any` or `not` of conditions.",
            "oneOf": [
                {"type": "object", "properties": {"all": {"type": "array", "items": this, "minItems": 1}},
                 "required": ["all"], "additionalProperties": false},
                {"type": "object", "properties": {"any": {"type": "array", "items": this, "minItems": 1}},
                 "required": ["any"], "additionalProperties": false},
                {"type": "object", "properties": {"not": this},
                 "required": ["not"], "additionalProperties": false},
                {"type": "object",
                 "properties": {
                    "field": {"type": "string"},
                    "ignore_case": {"type": "boolean", "default": false},
                    "equals": literal, "not_equals": literal,
                    "in": list, "not_in": list,
                    "greater_than": literal, "greater_than_or_equal": literal,
                    "less_than": literal, "less_than_or_equal": literal,
                    "starts_with": text, "ends_with": text, "contains": text,
                    "exists": {"type": "boolean"}
                 },
                 "required": ["field"],
                 "minProperties": 2,
                 "additionalProperties": false}
            ]
        })
    }
}

/// Why a webhook's condition kept it from firing: one comparison that did
/// not come out as the condition needed, in
/// [`Verdict::ConditionNotMet`](crate::Verdict::ConditionNotMet).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unmet {
    /// Where the comparison is in the webhook: `condition.all.1.in`. A
    /// `not` on the way says the comparison held where it had to fail.
    pub path: String,
    /// The field it compares.
    pub field: String,
    /// The field's value as the comparison saw it (`None`: missing,
    /// `null`: null); `[redacted]` for a secret or personal field.
    pub value: Option<String>,
    /// The operator and literal, as written: `in ["SALE","CALLBACK"]`.
    pub expected: String,
}

/// The keys a condition object may have.
const OPERATORS: [&str; 13] = [
    "equals",
    "not_equals",
    "in",
    "not_in",
    "greater_than",
    "greater_than_or_equal",
    "less_than",
    "less_than_or_equal",
    "starts_with",
    "ends_with",
    "contains",
    "exists",
    "ignore_case",
];
const COMBINATORS: [&str; 4] = ["all", "any", "not", "field"];

/// A condition compiled against a catalog: each comparison holds its
/// field's key and its literal parsed, so evaluating allocates nothing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Compiled {
    root: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    All(Box<[Node]>),
    Any(Box<[Node]>),
    Not(Box<Node>),
    Test(Box<Test>),
}

#[derive(Debug, Clone, PartialEq)]
struct Test {
    key: FieldKey,
    op: Op,
    ignore_case: bool,
    /// Where it is (`condition.all.1.in`), for explanations.
    path: Box<str>,
    /// The field's name, for explanations.
    field: Box<str>,
    /// The operator and literal as written, for explanations.
    expected: Box<str>,
}

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Equals(Lit),
    NotEquals(Lit),
    In(Box<[Lit]>),
    NotIn(Box<[Lit]>),
    /// Holds when the value compares to the literal as one of these.
    Order(Lit, [Ordering; 2]),
    StartsWith(Box<str>),
    EndsWith(Box<str>),
    Contains(Box<str>),
    /// `contains` ignoring case: the literal lower-cased, searched for
    /// in the value lower-cased in one pass.
    ContainsFolded(Box<Folded>),
    Exists(bool),
}

/// A lower-cased literal as Knuth–Morris–Pratt searches for it: its
/// characters, and for each prefix the length of its longest proper
/// prefix that is also its suffix. Built at compile, so that a search
/// reads each character of the value once (at most twice, counting the
/// fall-backs), allocating nothing.
#[derive(Debug, Clone, PartialEq)]
struct Folded {
    chars: Box<[char]>,
    fallback: Box<[usize]>,
}

impl Folded {
    fn new(lit: &str) -> Folded {
        let chars: Box<[char]> = lit.chars().collect();
        let mut fallback = vec![0; chars.len()];
        let mut k = 0;
        for i in 1..chars.len() {
            while k > 0 && chars[i] != chars[k] {
                k = fallback[k - 1];
            }
            if chars[i] == chars[k] {
                k += 1;
            }
            fallback[i] = k;
        }
        Folded {
            chars,
            fallback: fallback.into(),
        }
    }

    /// Whether `value`, lower-cased, contains the literal.
    fn found_in(&self, value: &str) -> bool {
        let Folded { chars, fallback } = self;
        if chars.is_empty() {
            return true;
        }
        let mut k = 0;
        for c in lowered(value) {
            loop {
                #[cfg(test)]
                tests::count_comparison();
                if chars[k] == c {
                    k += 1;
                    break;
                }
                if k == 0 {
                    break;
                }
                k = fallback[k - 1];
            }
            if k == chars.len() {
                return true;
            }
        }
        false
    }
}

/// A literal, parsed for its field's type. Text compared ignoring case is
/// held lower-cased.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Text(Box<str>),
    /// A number: whole when it fits an `i64`, and as an `f64` always.
    Number(Option<i64>, f64),
    Bool(bool),
    Timestamp(DateTime<FixedOffset>),
    Duration(Duration),
}

/// A value as a condition sees it.
enum Seen<'a> {
    /// Missing or null.
    Nothing,
    Text(&'a str),
    Value(&'a Value),
}

fn seen<'a>(lookup: &'a impl Lookup, positions: &Positions, key: &FieldKey) -> Seen<'a> {
    if key.builtin.is_some() {
        if let Some(text) = lookup.builtin_text(key) {
            return Seen::Text(text);
        }
    }
    match lookup.lookup(positions, key) {
        None | Some(Value::Null) => Seen::Nothing,
        Some(Value::Text(text)) => Seen::Text(text),
        Some(value) => Seen::Value(value),
    }
}

impl Compiled {
    /// Whether the values `lookup` finds meet the condition.
    #[inline]
    pub(crate) fn holds(&self, lookup: &impl Lookup, positions: &Positions) -> bool {
        self.root.holds(lookup, positions)
    }

    /// The comparisons that kept the condition from holding (empty when it
    /// holds), for people: [`Registry::explain`](crate::Registry::explain).
    pub(crate) fn unmet(&self, lookup: &impl Lookup, positions: &Positions) -> Vec<Unmet> {
        let mut out = Vec::new();
        self.root.why(lookup, positions, true, &mut out);
        out
    }
}

impl Node {
    fn holds(&self, lookup: &impl Lookup, positions: &Positions) -> bool {
        match self {
            Node::All(nodes) => nodes.iter().all(|n| n.holds(lookup, positions)),
            Node::Any(nodes) => nodes.iter().any(|n| n.holds(lookup, positions)),
            Node::Not(node) => !node.holds(lookup, positions),
            Node::Test(test) => test.holds(&seen(lookup, positions, &test.key)),
        }
    }

    /// Pushes the comparisons that keep this node from coming out `want`
    /// (none if it does): for `all` wanted true, its first failing part;
    /// for `any` wanted true, every part; and the other way round when
    /// wanted false (under a `not`).
    fn why(&self, lookup: &impl Lookup, positions: &Positions, want: bool, out: &mut Vec<Unmet>) {
        if self.holds(lookup, positions) == want {
            return;
        }
        match (self, want) {
            (Node::All(nodes), true) | (Node::Any(nodes), false) => {
                if let Some(node) = nodes.iter().find(|n| n.holds(lookup, positions) != want) {
                    node.why(lookup, positions, want, out);
                }
            }
            (Node::All(nodes), false) | (Node::Any(nodes), true) => {
                for node in nodes.iter() {
                    node.why(lookup, positions, want, out);
                }
            }
            (Node::Not(node), _) => node.why(lookup, positions, !want, out),
            (Node::Test(test), _) => {
                let value = match seen(lookup, positions, &test.key) {
                    Seen::Nothing => lookup
                        .lookup(positions, &test.key)
                        .map(|_| "null".to_owned()),
                    _ if test.key.secret || test.key.personal => Some(REDACTED.to_owned()),
                    Seen::Text(text) => Some(text.to_owned()),
                    Seen::Value(value) => Some(printed(value)),
                };
                out.push(Unmet {
                    path: test.path.to_string(),
                    field: test.field.to_string(),
                    value,
                    expected: test.expected.to_string(),
                });
            }
        }
    }
}

/// A value as an explanation prints it.
fn printed(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Text(text) | Value::Number(text) => text.clone(),
        Value::Integer(n) => n.to_string(),
        Value::Decimal(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Timestamp(t) => t.to_rfc3339(),
        Value::Duration(d) => print_duration(d),
    }
}

impl Test {
    #[inline]
    fn holds(&self, seen: &Seen<'_>) -> bool {
        let fold = self.ignore_case;
        match &self.op {
            Op::Exists(wanted) => !matches!(seen, Seen::Nothing) == *wanted,
            Op::Equals(lit) => equal(seen, lit, fold),
            Op::NotEquals(lit) => !equal(seen, lit, fold),
            Op::In(lits) => lits.iter().any(|lit| equal(seen, lit, fold)),
            Op::NotIn(lits) => !lits.iter().any(|lit| equal(seen, lit, fold)),
            Op::Order(lit, wanted) => order(seen, lit).is_some_and(|o| wanted.contains(&o)),
            Op::StartsWith(lit) => text_of(seen).is_some_and(|t| starts_with(t, lit, fold)),
            Op::EndsWith(lit) => text_of(seen).is_some_and(|t| ends_with(t, lit, fold)),
            Op::Contains(lit) => text_of(seen).is_some_and(|t| t.contains(&**lit)),
            Op::ContainsFolded(lit) => text_of(seen).is_some_and(|t| lit.found_in(t)),
        }
    }
}

fn text_of<'a>(seen: &Seen<'a>) -> Option<&'a str> {
    match seen {
        Seen::Text(text) => Some(text),
        _ => None,
    }
}

/// Lower-cased, one `char` at a time (`char::to_lowercase`): Unicode's
/// simple and special lower-case mappings, no normalisation.
fn lowered(text: &str) -> impl DoubleEndedIterator<Item = char> + '_ {
    text.chars().flat_map(char::to_lowercase)
}

fn same_text(value: &str, lit: &str, fold: bool) -> bool {
    if fold {
        // The literal is held lower-cased.
        lowered(value).eq(lit.chars())
    } else {
        value == lit
    }
}

fn starts_with(value: &str, lit: &str, fold: bool) -> bool {
    if fold {
        let mut value = lowered(value);
        lit.chars().all(|c| value.next() == Some(c))
    } else {
        value.starts_with(lit)
    }
}

fn ends_with(value: &str, lit: &str, fold: bool) -> bool {
    if fold {
        let mut value = value.chars().rev().flat_map(|c| c.to_lowercase().rev());
        lit.chars().rev().all(|c| value.next() == Some(c))
    } else {
        value.ends_with(lit)
    }
}

fn equal(seen: &Seen<'_>, lit: &Lit, fold: bool) -> bool {
    match (seen, lit) {
        (Seen::Text(text), Lit::Text(lit)) => same_text(text, lit, fold),
        (Seen::Value(Value::Bool(b)), Lit::Bool(lit)) => b == lit,
        (Seen::Value(_), Lit::Number(..) | Lit::Timestamp(_) | Lit::Duration(_)) => {
            order(seen, lit) == Some(Ordering::Equal)
        }
        _ => false,
    }
}

/// How the value compares to the literal; `None` when they do not
/// compare (no value, another type, a NaN).
fn order(seen: &Seen<'_>, lit: &Lit) -> Option<Ordering> {
    let Seen::Value(value) = seen else {
        return None;
    };
    match (value, lit) {
        (Value::Integer(n), Lit::Number(Some(whole), _)) => Some(n.cmp(whole)),
        #[allow(clippy::cast_precision_loss)]
        (Value::Integer(n), Lit::Number(None, x)) => (*n as f64).partial_cmp(x),
        (Value::Decimal(n), Lit::Number(_, x)) => n.partial_cmp(x),
        // Digits past an `i64` or an `f64`'s precision: compared as the
        // nearest `f64`, which parsing makes without allocating.
        (Value::Number(text), Lit::Number(_, x)) => text.parse::<f64>().ok()?.partial_cmp(x),
        (Value::Timestamp(t), Lit::Timestamp(lit)) => Some(t.cmp(lit)),
        (Value::Duration(d), Lit::Duration(lit)) => Some(d.cmp(lit)),
        _ => None,
    }
}

/// Compiles `condition` against `catalog`. `mid_call` limits its fields to
/// those known mid-call (a realtime webhook's).
///
/// # Errors
///
/// Every problem at once, each in its field (`condition.all.1.field`), of
/// kind [`ErrorKind::InvalidConfig`].
pub(crate) fn compile(
    condition: &Condition,
    catalog: &Catalog,
    mid_call: bool,
) -> Result<Compiled, Error> {
    let mut compiler = Compiler {
        catalog,
        mid_call,
        errors: Vec::new(),
        tests: 0,
        nodes: 0,
        suggestions: 0,
    };
    let root = compiler.node(&condition.0, "condition", 1);
    if compiler.over() {
        // Compiling stopped at the limit, so the errors past it (if any)
        // were never looked for: this one says why.
        compiler.errors.push(
            problem(format!(
                "the condition has more than {} comparisons (`limits::CONDITION_TESTS`)",
                limits::count(CONDITION_TESTS)
            ))
            .in_field("condition"),
        );
    }
    match (root, compiler.errors.is_empty()) {
        (Some(root), true) => Ok(Compiled { root }),
        _ => Err(Error::many(ErrorKind::InvalidConfig, compiler.errors)),
    }
}

fn problem(message: String) -> Error {
    Error::new(ErrorKind::InvalidConfig, message)
}

struct Compiler<'a> {
    catalog: &'a Catalog,
    mid_call: bool,
    errors: Vec<Error>,
    /// Comparisons met so far.
    tests: usize,
    /// Conditions (comparisons, lists, negations, or what is none of
    /// them) met so far.
    nodes: usize,
    /// "Did you mean" searches through the catalog made so far.
    suggestions: usize,
}

impl Compiler<'_> {
    /// Whether the condition is past what one may hold, so that compiling
    /// stops: more than [`CONDITION_TESTS`] comparisons, or more
    /// conditions than that many could be nested in
    /// ([`CONDITION_DEPTH`] each), which counts the ones that are not
    /// comparisons (`{}` a hundred thousand times over) too.
    fn over(&self) -> bool {
        self.tests > CONDITION_TESTS || self.nodes > CONDITION_TESTS * CONDITION_DEPTH
    }

    /// The catalog's nearest field to the unknown `name`, for the first
    /// [`limits::SUGGESTIONS`] unknown fields of the condition: each
    /// search reads every field of the catalog, as a service's templates'
    /// do under the same limit.
    fn suggest(&mut self, name: &str) -> Option<String> {
        self.suggestions += 1;
        if self.suggestions > limits::SUGGESTIONS {
            return None;
        }
        self.catalog.suggest(name)
    }

    fn fail(&mut self, at: &str, message: String) {
        self.errors.push(problem(message).in_field(at));
    }

    fn node(&mut self, json: &Json, at: &str, depth: usize) -> Option<Node> {
        self.nodes += 1;
        if self.over() {
            return None;
        }
        if depth > CONDITION_DEPTH {
            self.fail(
                at,
                format!(
                    "the condition nests deeper than {} levels (`limits::CONDITION_DEPTH`)",
                    limits::count(CONDITION_DEPTH)
                ),
            );
            return None;
        }
        let Some(map) = json.as_object() else {
            self.fail(
                at,
                "a condition is an object: `{\"field\": ..., \"equals\": ...}`, \
                 `{\"all\": [...]}`, `{\"any\": [...]}` or `{\"not\": {...}}`"
                    .to_owned(),
            );
            return None;
        };
        let mut unknown = false;
        for key in map.keys() {
            if !COMBINATORS.contains(&key.as_str()) && !OPERATORS.contains(&key.as_str()) {
                unknown = true;
                let known = COMBINATORS.iter().chain(OPERATORS.iter()).copied();
                self.errors.push(
                    problem(format!("unknown key `{}` in a condition", shown(key)))
                        .with_suggestion(nearest(key, known))
                        .in_field(at),
                );
            }
        }
        let kinds: Vec<&str> = COMBINATORS
            .iter()
            .copied()
            .filter(|k| map.contains_key(*k))
            .collect();
        match kinds.as_slice() {
            ["all" | "any"] if map.len() == 1 => {
                let all = map.contains_key("all");
                let name = if all { "all" } else { "any" };
                let at = format!("{at}.{name}");
                let Some(items) = map[name].as_array().filter(|items| !items.is_empty()) else {
                    self.fail(&at, format!("`{name}` is a list of one condition or more"));
                    return None;
                };
                let mut nodes: Vec<Option<Node>> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if self.over() {
                        // No more is compiled: `compile` says why.
                        return None;
                    }
                    nodes.push(self.node(item, &format!("{at}.{i}"), depth + 1));
                }
                let nodes: Option<Box<[Node]>> = nodes.into_iter().collect();
                let nodes = nodes?;
                Some(if all {
                    Node::All(nodes)
                } else {
                    Node::Any(nodes)
                })
            }
            ["not"] if map.len() == 1 => {
                let node = self.node(&map["not"], &format!("{at}.not"), depth + 1)?;
                Some(Node::Not(Box::new(node)))
            }
            ["field"] => self.test(map, at).map(|test| Node::Test(Box::new(test))),
            _ if unknown => None,
            _ => {
                self.fail(
                    at,
                    "a condition is one of `{\"field\": ..., OPERATOR: ...}`, `{\"all\": [...]}`, \
                     `{\"any\": [...]}` or `{\"not\": {...}}`, with nothing beside it"
                        .to_owned(),
                );
                None
            }
        }
    }

    fn test(&mut self, map: &Map<String, Json>, at: &str) -> Option<Test> {
        self.tests += 1;
        if self.over() {
            return None;
        }
        let ops: Vec<(&str, &Json)> = map
            .iter()
            .filter(|(k, _)| OPERATORS.contains(&k.as_str()) && *k != "ignore_case")
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        let ignore_case = match map.get("ignore_case") {
            None => false,
            Some(Json::Bool(b)) => *b,
            Some(_) => {
                self.fail(
                    &format!("{at}.ignore_case"),
                    "`ignore_case` is `true` or `false`".to_owned(),
                );
                false
            }
        };
        let field_at = format!("{at}.field");
        let Some(name) = map["field"].as_str() else {
            self.fail(&field_at, "`field` names a field, as text".to_owned());
            return None;
        };
        let field = match self.catalog.field(name) {
            Some((position, spec)) => {
                if self.mid_call && !spec.is_known_mid_call() {
                    self.fail(
                        &field_at,
                        format!(
                            "a realtime webhook's condition uses field `{}`, which is not known \
                             mid-call",
                            shown(name)
                        ),
                    );
                }
                Some((self.catalog.key_at(position, spec), spec.field_type()))
            }
            None => {
                let suggestion = self.suggest(name);
                self.errors.push(
                    problem(format!("unknown field `{}`", shown(name)))
                        .with_suggestion(suggestion)
                        .in_field(&field_at),
                );
                None
            }
        };
        let [(op_name, literal)] = ops.as_slice() else {
            self.fail(
                at,
                format!(
                    "a comparison has one operator ({}); this one has {}",
                    OPERATORS[..12]
                        .iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    ops.len()
                ),
            );
            return None;
        };
        let (key, ty) = field?;
        let op_at = format!("{at}.{op_name}");
        if ignore_case && ty != FieldType::Text {
            self.fail(
                &format!("{at}.ignore_case"),
                format!("`ignore_case` applies to text; `{}` is {ty}", shown(name)),
            );
        }
        let op = self.op(op_name, literal, ty, name, ignore_case, &op_at)?;
        Some(Test {
            key,
            op,
            ignore_case,
            path: op_at.into(),
            field: name.into(),
            expected: format!("{op_name} {literal}").into(),
        })
    }

    fn op(
        &mut self,
        op: &str,
        literal: &Json,
        ty: FieldType,
        name: &str,
        fold: bool,
        at: &str,
    ) -> Option<Op> {
        let ordered = matches!(
            ty,
            FieldType::Integer | FieldType::Decimal | FieldType::Timestamp | FieldType::Duration
        );
        match op {
            "exists" => match literal {
                Json::Bool(b) => Some(Op::Exists(*b)),
                _ => {
                    self.fail(at, "`exists` is `true` or `false`".to_owned());
                    None
                }
            },
            "equals" | "not_equals" => {
                let lit = self.literal(literal, ty, name, fold, at)?;
                Some(if op == "equals" {
                    Op::Equals(lit)
                } else {
                    Op::NotEquals(lit)
                })
            }
            "in" | "not_in" => {
                let Some(items) = literal.as_array() else {
                    self.fail(at, format!("`{op}` is a list of values"));
                    return None;
                };
                if items.is_empty() {
                    // As an empty `all`/`any` is: `in []` never holds and
                    // `not_in []` always does, which no one means to write.
                    self.fail(at, format!("`{op}` is a list of one value or more"));
                    return None;
                }
                if items.len() > CONDITION_LIST {
                    self.fail(
                        at,
                        format!(
                            "`{op}` lists {} values; at most {} are allowed \
                             (`limits::CONDITION_LIST`)",
                            limits::count(items.len()),
                            limits::count(CONDITION_LIST)
                        ),
                    );
                    return None;
                }
                let lits: Vec<Option<Lit>> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.literal(item, ty, name, fold, &format!("{at}.{i}")))
                    .collect();
                let lits: Box<[Lit]> = lits.into_iter().collect::<Option<_>>()?;
                Some(if op == "in" {
                    Op::In(lits)
                } else {
                    Op::NotIn(lits)
                })
            }
            "greater_than" | "greater_than_or_equal" | "less_than" | "less_than_or_equal" => {
                if !ordered {
                    self.fail(
                        at,
                        format!(
                            "`{op}` compares numbers, durations and timestamps; `{}` is {ty}",
                            shown(name)
                        ),
                    );
                    return None;
                }
                let lit = self.literal(literal, ty, name, fold, at)?;
                let wanted = match op {
                    "greater_than" => [Ordering::Greater; 2],
                    "greater_than_or_equal" => [Ordering::Greater, Ordering::Equal],
                    "less_than" => [Ordering::Less; 2],
                    _ => [Ordering::Less, Ordering::Equal],
                };
                Some(Op::Order(lit, wanted))
            }
            // `starts_with`, `ends_with`, `contains`.
            _ => {
                if ty != FieldType::Text {
                    self.fail(
                        at,
                        format!("`{op}` compares text; `{}` is {ty}", shown(name)),
                    );
                    return None;
                }
                let Lit::Text(text) = self.literal(literal, ty, name, fold, at)? else {
                    return None;
                };
                Some(match op {
                    "starts_with" => Op::StartsWith(text),
                    "ends_with" => Op::EndsWith(text),
                    _ if fold => Op::ContainsFolded(Box::new(Folded::new(&text))),
                    _ => Op::Contains(text),
                })
            }
        }
    }

    /// A literal for a field of type `ty`, or `None` with its problem
    /// recorded.
    fn literal(
        &mut self,
        json: &Json,
        ty: FieldType,
        name: &str,
        fold: bool,
        at: &str,
    ) -> Option<Lit> {
        let name = shown(name);
        let lit = match (ty, json) {
            (FieldType::Text, Json::String(text)) => {
                if text.len() > CONDITION_LITERAL_BYTES {
                    self.fail(
                        at,
                        format!(
                            "the literal has {} bytes; at most {} are allowed \
                             (`limits::CONDITION_LITERAL_BYTES`)",
                            limits::count(text.len()),
                            limits::count(CONDITION_LITERAL_BYTES)
                        ),
                    );
                    return None;
                }
                Lit::Text(if fold {
                    lowered(text).collect::<String>().into()
                } else {
                    text.as_str().into()
                })
            }
            (FieldType::Integer | FieldType::Decimal, Json::Number(n)) => {
                match (n.as_i64(), n.as_f64()) {
                    (whole, Some(x)) if x.is_finite() => Lit::Number(whole, x),
                    _ => {
                        self.fail(at, format!("the number `{n}` is out of range"));
                        return None;
                    }
                }
            }
            (FieldType::Boolean, Json::Bool(b)) => Lit::Bool(*b),
            (FieldType::Timestamp, Json::String(text)) => {
                match DateTime::parse_from_rfc3339(text) {
                    Ok(t) if text.len() <= CONDITION_LITERAL_BYTES => Lit::Timestamp(t),
                    _ => {
                        self.fail(
                            at,
                            format!(
                                "`{name}` is a timestamp: write an RFC 3339 date and time with \
                                 an offset, such as `2025-01-10T09:00:00Z`, not `{}`",
                                shown(text)
                            ),
                        );
                        return None;
                    }
                }
            }
            (FieldType::Duration, Json::String(text)) => match parse_duration(text) {
                Some(d) if text.len() <= CONDITION_LITERAL_BYTES => Lit::Duration(d),
                _ => {
                    self.fail(
                        at,
                        format!(
                            "`{name}` is a duration: write a number and `s`, `m`, `h` or `d`, \
                             such as `90s`, not `{}`",
                            shown(text)
                        ),
                    );
                    return None;
                }
            },
            _ => {
                let written = match ty {
                    FieldType::Text | FieldType::Timestamp | FieldType::Duration => "text",
                    FieldType::Integer | FieldType::Decimal => "a number",
                    _ => "`true` or `false`",
                };
                self.fail(
                    at,
                    format!(
                        "`{name}` is {ty}: write the value as {written}, not `{}`",
                        shown(&json.to_string())
                    ),
                );
                return None;
            }
        };
        Some(lit)
    }
}

#[cfg(test)]
mod tests;

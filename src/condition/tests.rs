use super::*;
use crate::call::CallData;
use crate::catalog::FieldSpec;
use serde_json::json;

fn catalog() -> &'static Catalog {
    static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    CATALOG.get_or_init(|| {
        Catalog::standard()
            .clone()
            .with(FieldSpec::new("t", FieldType::Text))
            .with(FieldSpec::new("i", FieldType::Integer))
            .with(FieldSpec::new("d", FieldType::Decimal))
            .with(FieldSpec::new("b", FieldType::Boolean))
            .with(FieldSpec::new("ts", FieldType::Timestamp))
            .with(FieldSpec::new("du", FieldType::Duration))
            .with(FieldSpec::new("secret_t", FieldType::Text).secret())
    })
}

fn compiled(condition: serde_json::Value) -> Compiled {
    compile(&Condition(condition), catalog(), false).unwrap()
}

fn problems(condition: serde_json::Value) -> Vec<(String, String)> {
    compile(&Condition(condition), catalog(), false)
        .unwrap_err()
        .into_problems()
        .into_iter()
        .map(|e| (e.field().unwrap_or("").to_owned(), e.to_string()))
        .collect()
}

fn holds(condition: serde_json::Value, data: &CallData) -> bool {
    let catalog = catalog();
    let compiled = compile(&Condition(condition), catalog, false).unwrap();
    compiled.holds(data, catalog.positions())
}

fn ts(text: &str) -> Value {
    Value::Timestamp(DateTime::parse_from_rfc3339(text).unwrap())
}

/// Call data with every type set, one with every field null, one with
/// none set.
fn data() -> (CallData, CallData, CallData) {
    let set = CallData::new()
        .with("t", "SALE")
        .with("i", 42)
        .with("d", 2.5)
        .with("b", true)
        .with("ts", ts("2025-01-10T09:00:00Z"))
        .with("du", Duration::from_secs(90));
    let mut null = CallData::new();
    for name in ["t", "i", "d", "b", "ts", "du"] {
        null = null.with(name, Value::Null);
    }
    (set, null, CallData::new())
}

/// Every operator against every type it applies to: a literal that
/// matches the set value, one that does not, and the missing and null
/// fields, for which every comparison is false and its negation true.
#[test]
fn every_operator_against_every_type_including_missing_and_null() {
    let (set, null, missing) = data();
    // (field, the value's own literal, a smaller one, a larger one).
    let ordered = [
        ("i", json!(42), json!(41), json!(43)),
        ("d", json!(2.5), json!(2), json!(2.75)),
        (
            "ts",
            json!("2025-01-10T10:00:00+01:00"),
            json!("2025-01-10T08:59:59Z"),
            json!("2025-01-10T09:00:01Z"),
        ),
        ("du", json!("90s"), json!("1m"), json!("2m")),
    ];
    for (field, same, less, more) in ordered {
        let c = |op: &str, lit: &serde_json::Value| json!({"field": field, op: lit});
        for (op, lit, want) in [
            ("equals", &same, true),
            ("equals", &less, false),
            ("not_equals", &same, false),
            ("not_equals", &more, true),
            ("greater_than", &less, true),
            ("greater_than", &same, false),
            ("greater_than_or_equal", &same, true),
            ("greater_than_or_equal", &more, false),
            ("less_than", &more, true),
            ("less_than", &same, false),
            ("less_than_or_equal", &same, true),
            ("less_than_or_equal", &less, false),
        ] {
            assert_eq!(holds(c(op, lit), &set), want, "{field} {op} {lit}");
            let negation = op.starts_with("not_");
            assert_eq!(holds(c(op, lit), &null), negation, "null {field} {op}");
            assert_eq!(
                holds(c(op, lit), &missing),
                negation,
                "missing {field} {op}"
            );
        }
        let list = json!([less, same]);
        assert!(holds(c("in", &list), &set));
        assert!(!holds(c("not_in", &list), &set));
        assert!(!holds(c("in", &json!([less, more])), &set));
        assert!(holds(c("not_in", &json!([less, more])), &set));
        assert!(!holds(c("in", &list), &null));
        assert!(holds(c("not_in", &list), &missing));
    }
    // Text and booleans: equality and lists.
    for (field, same, other) in [
        ("t", json!("SALE"), json!("CALLBACK")),
        ("b", json!(true), json!(false)),
    ] {
        let c = |op: &str, lit: serde_json::Value| json!({"field": field, op: lit});
        assert!(holds(c("equals", same.clone()), &set));
        assert!(!holds(c("equals", other.clone()), &set));
        assert!(holds(c("not_equals", other.clone()), &set));
        assert!(holds(c("in", json!([other, same])), &set));
        assert!(!holds(c("not_in", json!([same])), &set));
        for none in [&null, &missing] {
            assert!(!holds(c("equals", same.clone()), none));
            assert!(holds(c("not_equals", same.clone()), none));
            assert!(!holds(c("in", json!([same])), none));
            assert!(holds(c("not_in", json!([same])), none));
        }
    }
    // Text only: starts, ends, contains.
    for (op, lit, want) in [
        ("starts_with", "SA", true),
        ("starts_with", "LE", false),
        ("ends_with", "LE", true),
        ("ends_with", "SA", false),
        ("contains", "AL", true),
        ("contains", "al", false),
        ("contains", "", true),
    ] {
        assert_eq!(
            holds(json!({"field": "t", op: lit}), &set),
            want,
            "{op} {lit}"
        );
        assert!(!holds(json!({"field": "t", op: lit}), &null));
        assert!(!holds(json!({"field": "t", op: lit}), &missing));
    }
    // `exists`, for every type.
    for field in ["t", "i", "d", "b", "ts", "du"] {
        assert!(holds(json!({"field": field, "exists": true}), &set));
        assert!(!holds(json!({"field": field, "exists": false}), &set));
        for none in [&null, &missing] {
            assert!(!holds(json!({"field": field, "exists": true}), none));
            assert!(holds(json!({"field": field, "exists": false}), none));
        }
    }
}

#[test]
fn all_any_and_not_combine() {
    let (set, _, missing) = data();
    let yes = json!({"field": "t", "equals": "SALE"});
    let no = json!({"field": "i", "greater_than": 100});
    assert!(holds(json!({"all": [yes, yes]}), &set));
    assert!(!holds(json!({"all": [yes, no]}), &set));
    assert!(holds(json!({"any": [no, yes]}), &set));
    assert!(!holds(json!({"any": [no, no]}), &set));
    assert!(holds(json!({"not": no}), &set));
    assert!(!holds(json!({"not": {"not": no}}), &set));
    // `not` of a comparison on a missing field is true.
    assert!(holds(json!({"not": yes}), &missing));
}

#[test]
fn text_is_compared_as_written_or_ignoring_case_char_by_char() {
    let data = CallData::new().with("t", "Straße İstanbul");
    let c = |op: &str, lit: &str, fold: bool| json!({"field": "t", op: lit, "ignore_case": fold});
    assert!(!holds(c("equals", "straße istanbul", false), &data));
    // `İ` lower-cases to `i` and a combining dot: no normalisation.
    assert!(holds(
        c(
            "equals",
            "STRASSE İSTANBUL".replace("SS", "ß").as_str(),
            true
        ),
        &data
    ));
    assert!(
        !holds(c("equals", "strasse i\u{307}stanbul", true), &data),
        "no folding of ß to ss"
    );
    assert!(holds(c("equals", "STRAßE i\u{307}STANBUL", true), &data));
    assert!(holds(c("starts_with", "STRA", true), &data));
    assert!(holds(c("ends_with", "\u{307}STANBUL", true), &data));
    assert!(holds(c("ends_with", "İSTANBUL", true), &data));
    assert!(!holds(c("ends_with", "ISTANBUL", true), &data));
    assert!(holds(
        c("contains", "SSE", false),
        &CallData::new().with("t", "ASSET")
    ));
    assert!(holds(c("contains", "ße İs", true), &data));
    assert!(!holds(c("contains", "SSE İS", false), &data));
    assert!(holds(
        json!({"field": "t", "in": ["x", "STRAßE İSTANBUL"], "ignore_case": true}),
        &data
    ));
    assert!(holds(
        json!({"field": "t", "not_in": ["STRAßE İSTANBUL"]}),
        &data
    ));
}

#[test]
fn numbers_compare_across_their_forms() {
    let c = |op: &str, lit: serde_json::Value| json!({"field": "i", op: lit});
    let big = CallData::new().with("i", Value::Number("18446744073709551616".into()));
    assert!(holds(c("greater_than", json!(i64::MAX)), &big));
    assert!(holds(
        c("equals", json!(42.0)),
        &CallData::new().with("i", 42)
    ));
    assert!(holds(
        c("less_than", json!(42.5)),
        &CallData::new().with("i", 42)
    ));
    assert!(!holds(
        json!({"field": "d", "equals": 1}),
        &CallData::new().with("d", f64::NAN)
    ));
    // A value of another type than the catalog's compares as nothing.
    assert!(!holds(
        c("equals", json!(42)),
        &CallData::new().with("i", "42")
    ));
}

#[test]
fn problems_are_reported_at_once_each_in_its_place() {
    let found = problems(json!({"all": [
        {"field": "agent_dispositon", "equals": "SALE"},
        {"field": "t", "greater_than": "a"},
        {"field": "ts", "less_than": "yesterday"},
        {"field": "du", "equals": "90 seconds"},
        {"field": "i", "equals": "42"},
        {"field": "i", "starts_with": "4"},
        {"field": "i", "equals": 4, "ignore_case": true},
        {"field": "t", "equals": "a", "in": ["b"]},
        {"fiels": "t", "equals": "a"},
        {"all": []},
        {"field": "b", "exists": "yes"},
        "text"
    ]}));
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "condition.all.0.field",
            "condition.all.1.greater_than",
            "condition.all.2.less_than",
            "condition.all.3.equals",
            "condition.all.4.equals",
            "condition.all.5.starts_with",
            "condition.all.6.ignore_case",
            "condition.all.7",
            "condition.all.8",
            "condition.all.9.all",
            "condition.all.10.exists",
            "condition.all.11",
        ],
        "{found:#?}"
    );
    let message = |i: usize| found[i].1.as_str();
    assert!(
        message(0).contains("unknown field `agent_dispositon`"),
        "{}",
        message(0)
    );
    assert!(message(0).contains("agent_disposition"), "{}", message(0));
    assert!(message(1)
        .contains("`greater_than` compares numbers, durations and timestamps; `t` is text"));
    assert!(message(2).contains("RFC 3339"));
    assert!(message(3).contains("`du` is a duration"));
    assert!(message(4).contains("`i` is integer: write the value as a number, not `\"42\"`"));
    assert!(message(8).contains("unknown key `fiels`"), "{}", message(8));
    assert!(message(8).contains("field"), "{}", message(8));
}

#[test]
fn limits_are_checked() {
    let mut deep = json!({"field": "t", "exists": true});
    for _ in 0..CONDITION_DEPTH {
        deep = json!({"not": deep});
    }
    let found = problems(deep);
    assert!(
        found[0].1.contains("`limits::CONDITION_DEPTH`"),
        "{found:?}"
    );
    let list: Vec<String> = (0..=CONDITION_LIST).map(|i| i.to_string()).collect();
    let found = problems(json!({"field": "t", "in": list}));
    assert!(found[0].1.contains("`limits::CONDITION_LIST`"), "{found:?}");
    let long = "x".repeat(CONDITION_LITERAL_BYTES + 1);
    let found = problems(json!({"field": "t", "equals": long}));
    assert!(
        found[0].1.contains("`limits::CONDITION_LITERAL_BYTES`"),
        "{found:?}"
    );
    let many: Vec<_> = (0..=CONDITION_TESTS)
        .map(|_| json!({"field": "t", "exists": true}))
        .collect();
    let found = problems(json!({"any": many}));
    assert!(
        found[0].1.contains("`limits::CONDITION_TESTS`"),
        "{found:?}"
    );
    // At the limits, it compiles.
    let list: Vec<String> = (0..CONDITION_LIST).map(|i| i.to_string()).collect();
    compiled(json!({"field": "t", "in": list}));
}

/// Compiling stops at the limit: a condition of 100,000 comparisons (of
/// unknown fields, each of which would search the catalog) or of 100,000
/// conditions that are not comparisons is one error, found without
/// compiling the rest; and unknown fields past `limits::SUGGESTIONS` get
/// no "did you mean" search.
#[test]
fn compiling_stops_at_the_limit_of_comparisons() {
    let many: Vec<_> = (0..100_000)
        .map(|i| json!({"field": format!("agent_i{i}"), "equals": "x"}))
        .collect();
    let found = problems(json!({"all": many}));
    assert!(found.len() <= CONDITION_TESTS + 1, "{}", found.len());
    assert!(
        found
            .last()
            .unwrap()
            .1
            .contains("`limits::CONDITION_TESTS`"),
        "{:?}",
        found.last()
    );
    let empties: Vec<_> = (0..100_000).map(|_| json!({})).collect();
    let found = problems(json!({"any": empties}));
    assert!(
        found.len() <= CONDITION_TESTS * CONDITION_DEPTH + 1,
        "{}",
        found.len()
    );
    assert!(found
        .last()
        .unwrap()
        .1
        .contains("`limits::CONDITION_TESTS`"));
    // Within the limit, every unknown field is reported; the first
    // `limits::SUGGESTIONS` with the nearest name.
    let unknown: Vec<_> = (0..CONDITION_TESTS)
        .map(|_| json!({"field": "agnet_id", "exists": true}))
        .collect();
    let e = compile(&Condition(json!({"all": unknown})), catalog(), false).unwrap_err();
    let problems = e.into_problems();
    assert_eq!(problems.len(), CONDITION_TESTS);
    let suggested = problems.iter().filter(|e| e.suggestion().is_some()).count();
    assert_eq!(suggested, limits::SUGGESTIONS);
    assert_eq!(problems[0].suggestion(), Some("agent_id"));
}

#[test]
fn realtime_conditions_use_only_mid_call_fields() {
    let catalog = Catalog::standard();
    let condition = Condition(json!({"field": "recording_url", "exists": true}));
    let e = compile(&condition, catalog, true).unwrap_err();
    assert!(e.to_string().contains("not known mid-call"), "{e}");
    let condition = Condition(json!({"field": "status", "in": ["answered", "completed"]}));
    compile(&condition, catalog, true).unwrap();
}

#[test]
fn unmet_comparisons_are_explained_with_redacted_values() {
    let data = CallData::new()
        .with("t", "SALE")
        .with("secret_t", "hunter2");
    let catalog = catalog();
    let c = compiled(json!({"all": [
        {"field": "t", "equals": "SALE"},
        {"field": "secret_t", "equals": "x"}
    ]}));
    let unmet = c.unmet(&data, catalog.positions());
    assert_eq!(
        unmet,
        [Unmet {
            path: "condition.all.1.equals".into(),
            field: "secret_t".into(),
            value: Some(REDACTED.into()),
            expected: "equals \"x\"".into(),
        }]
    );
    let c = compiled(json!({"not": {"field": "t", "in": ["SALE"]}}));
    let unmet = c.unmet(&data, catalog.positions());
    assert_eq!(unmet[0].path, "condition.not.in");
    assert_eq!(unmet[0].value.as_deref(), Some("SALE"));
    let c =
        compiled(json!({"any": [{"field": "i", "exists": true}, {"field": "t", "equals": "x"}]}));
    let unmet = c.unmet(&data.clone().with("i", Value::Null), catalog.positions());
    assert_eq!(unmet.len(), 2);
    assert_eq!(unmet[0].value.as_deref(), Some("null"));
    assert_eq!(unmet[1].value.as_deref(), Some("SALE"));
    assert!(c.unmet(&data.with("i", 1), catalog.positions()).is_empty());
}

#[test]
fn conditions_read_from_json_and_toml_alike() {
    let from_toml: Condition = toml::from_str::<toml::Table>(
        "condition = { field = \"ts\", greater_than = 2025-01-10T09:00:00Z }",
    )
    .unwrap()["condition"]
        .clone()
        .try_into()
        .unwrap();
    assert_eq!(
        from_toml,
        Condition::from_json(r#"{"field": "ts", "greater_than": "2025-01-10T09:00:00Z"}"#).unwrap()
    );
    assert!(Condition::from_json("[1]").is_err());
    assert_eq!(
        from_toml.to_json(),
        r#"{"field":"ts","greater_than":"2025-01-10T09:00:00Z"}"#
    );
}

/// A small deterministic generator, for the laws below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Laws over random values and literals: a negation is the opposite of
/// its operator, exactly one of less, equal and greater holds for
/// comparable values, `not` flips, and ignoring case agrees with
/// comparing lower-cased text.
#[test]
fn operators_keep_their_laws_over_random_values() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let texts = [
        "", "a", "A", "ab", "Ab", "SALE", "sale", "ß", "İ", "é", "e\u{301}",
    ];
    let numbers = [-3i64, -1, 0, 1, 2, 42, i64::MAX];
    for _ in 0..2_000 {
        let n = *rng.pick(&numbers);
        let lit = *rng.pick(&numbers);
        let present = !rng.next().is_multiple_of(4);
        let data = if present {
            CallData::new().with("i", n)
        } else {
            CallData::new()
        };
        let c = |op: &str| holds(json!({"field": "i", op: lit}), &data);
        assert_eq!(c("not_equals"), !c("equals"));
        assert_eq!(
            holds(json!({"not": {"field": "i", "greater_than": lit}}), &data),
            !c("greater_than")
        );
        let exactly_one = [c("less_than"), c("equals"), c("greater_than")]
            .iter()
            .filter(|b| **b)
            .count();
        assert_eq!(exactly_one, usize::from(present));
        assert_eq!(c("greater_than_or_equal"), c("greater_than") || c("equals"));
        assert_eq!(c("less_than_or_equal"), c("less_than") || c("equals"));

        let value = *rng.pick(&texts);
        let lit = *rng.pick(&texts);
        let data = CallData::new().with("t", value);
        for fold in [false, true] {
            let c = |op: &str| holds(json!({"field": "t", op: lit, "ignore_case": fold}), &data);
            let listed =
                |op: &str| holds(json!({"field": "t", op: [lit], "ignore_case": fold}), &data);
            assert_eq!(listed("not_in"), !listed("in"));
            assert_eq!(listed("in"), c("equals"));
            let (v, l) = if fold {
                (value.to_lowercase(), lit.to_lowercase())
            } else {
                (value.to_owned(), lit.to_owned())
            };
            assert_eq!(c("equals"), v == l, "{value:?} {lit:?} {fold}");
            assert_eq!(
                c("starts_with"),
                v.starts_with(&l),
                "{value:?} {lit:?} {fold}"
            );
            assert_eq!(c("ends_with"), v.ends_with(&l), "{value:?} {lit:?} {fold}");
            assert_eq!(c("contains"), v.contains(&l), "{value:?} {lit:?} {fold}");
        }
    }
}

thread_local! {
    /// Characters `Folded::found_in` has compared, on this thread.
    static COMPARISONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one comparison of `Folded::found_in` (test builds only).
pub(super) fn count_comparison() {
    COMPARISONS.with(|n| n.set(n.get() + 1));
}

/// `contains` ignoring case compares each character of the value a
/// bounded number of times whatever the literal: a MiB of `a` against
/// 1,023 `a` and a `b` (the worst case of a search restarted at each
/// character, a billion comparisons) takes under two per character.
#[test]
fn contains_ignoring_case_is_linear() {
    let lit = format!("{}b", "a".repeat(1_023));
    let folded = Folded::new(&lit);
    let value = "a".repeat(1 << 20);
    COMPARISONS.with(|n| n.set(0));
    assert!(!folded.found_in(&value));
    let made = COMPARISONS.with(std::cell::Cell::get);
    assert!(made <= 2 * value.len(), "{made} comparisons");
    assert!(folded.found_in(&format!("{value}{}", lit.to_uppercase())));
}

/// `contains` ignoring case holds exactly when the value, lower-cased a
/// character at a time, contains the literal lower-cased: against that
/// naive reference over random strings of a small alphabet with
/// non-ASCII letters (`İ` lower-cases to two characters, `ß` to itself,
/// `Σ` to `σ`).
#[test]
fn contains_ignoring_case_matches_a_naive_reference() {
    const ALPHABET: [char; 10] = ['a', 'A', 'b', 'B', 'İ', 'i', '\u{307}', 'ß', 'Σ', 'σ'];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % n as u64).unwrap()
    };
    let lower = |text: &str| -> String { text.chars().flat_map(char::to_lowercase).collect() };
    for _ in 0..20_000 {
        let mut text = |most: usize| -> String {
            let len = next(most + 1);
            (0..len).map(|_| ALPHABET[next(ALPHABET.len())]).collect()
        };
        let value = text(12);
        let lit = text(4);
        let condition = json!({"field": "t", "contains": lit, "ignore_case": true});
        let data = CallData::new().with("t", value.as_str());
        assert_eq!(
            holds(condition, &data),
            lower(&value).contains(&lower(&lit)),
            "{value:?} contains {lit:?}"
        );
    }
}

/// An empty `in` or `not_in` list is refused, as an empty `all` or `any`
/// is: one never holds, the other always does.
#[test]
fn an_empty_in_list_is_refused() {
    for op in ["in", "not_in"] {
        let found = problems(json!({"field": "t", op: []}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, format!("condition.{op}"));
        assert!(found[0].1.contains("one value or more"), "{found:?}");
    }
}

//! `Template::compile` on any text. The first byte picks the context (low
//! four bits), the syntax (bit 4), lenient mode (bit 5) and the missing-value
//! policy (bits 6-7); the rest, as UTF-8 (lossily), is the source. Errors are
//! expected; a panic, a hang or a huge allocation is a bug.
#![no_main]

use callhook::template::{Context, Options, Template};
use callhook::{Missing, Syntax};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, source)) = data.split_first() else {
        return;
    };
    let context = Context::ALL[usize::from(selector & 0x0f) % Context::ALL.len()];
    let syntax = if selector & 0x10 == 0 {
        Syntax::Hash
    } else {
        Syntax::Brackets
    };
    let source = String::from_utf8_lossy(source);
    let mut options = Options::default()
        .with_syntax(syntax)
        .with_lenient(selector & 0x20 != 0);
    options = match selector >> 6 {
        1 => options.with_missing(Missing::Empty),
        2 => options.with_missing(Missing::Null),
        3 => options.with_missing(Missing::Error),
        _ => options,
    };
    if let Ok(template) = Template::compile(&source, context, &options) {
        // Cheap checks on what a compiled template says of itself.
        let fields: Vec<&str> = template.fields().collect();
        assert_eq!(template.is_static(), fields.is_empty());
        assert_eq!(template.context(), context);
    }
});

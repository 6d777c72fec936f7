//! ARCHITECTURE.md's module table stays true: every `crate::` path in
//! `src/` (attributes included, doc comments not) is read, and a module
//! that uses one the table's "may import" column does not allow for it
//! fails the test, as does an allowed import the code never makes, a module
//! missing from the table, a row with no module, an import from below in
//! the table, and `lib.rs` declaring the modules in another order.
//!
//! The table is found by its header (`module` and `may import` columns),
//! so its other columns and the text around it may change freely. A
//! "may import" cell is `nothing` or modules separated by commas.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

mod common;

/// One row of the table: a module and what it may import.
struct Row {
    module: String,
    may_import: Vec<String>,
    line: usize,
}

/// A path into the crate that one module's code takes.
struct Use {
    file: String,
    line: usize,
    /// The top-level module the path names, or `None` for an item of the
    /// crate root that `lib.rs` does not re-export from a module.
    target: Option<String>,
    path: String,
    /// Whether the path is in code compiled only for tests
    /// (`#[cfg(test)]`), which the table does not describe.
    test: bool,
}

#[test]
fn the_module_table_says_what_each_module_imports() {
    let problems = check(&common::read_text("ARCHITECTURE.md"), &common::path("src"));
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md's module table and src/ disagree:\n  {}",
        problems.join("\n  ")
    );
}

/// The check itself, on a small crate of its own: each kind of
/// disagreement is found, and what is no import is not taken for one.
#[test]
fn the_check_reads_paths_as_rust_does() {
    let dir = std::env::temp_dir().join(format!("callhook-architecture-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("c")).unwrap();
    let write = |path: &str, text: &str| std::fs::write(src.join(path), text).unwrap();
    write(
        "lib.rs",
        "mod a;\npub mod c;\n#[cfg(feature = \"x\")]\nmod b;\npub use a::{A, Other as Renamed};\n",
    );
    write(
        "a.rs",
        r##"//! `crate::c` in a doc comment is no import, /* nor */ in a comment.
pub struct A<'a>(&'a str, char);
const Q: char = '"';
const S: &str = "crate::c in a string, \" escaped";
const R: &str = r#"crate::c in a raw string"#;
/* crate::c /* nested */ crate::c */
"##,
    );
    write(
        "b.rs",
        r##"use crate::{a::A, Renamed};
/// [`crate::c`]
#[serde(with = "crate::c::text")]
struct B;
#[cfg(test)]
mod tests {
    use crate::c::C;
    use super::super::a::A;
}
"##,
    );
    write("c/mod.rs", "mod d;\n");
    write("c/d.rs", "use super::super::A;\nuse super::Inner;\n");
    let table = |rows: &str| {
        format!("# A\n\n| module | owns | may import |\n|---|---|---|\n{rows}\nText.\n")
    };

    let right = table("| `a` | A | nothing |\n| `c/` | C | a |\n| `b` | B | a, `c` |");
    assert_eq!(check(&right, &src), Vec::<String>::new());

    let wrong = table(
        "| `a` | A | nothing |\n| `c/` | C | b |\n| `b` | B | nothing |\n| `e` | E | nothing |",
    );
    let problems = check(&wrong, &src);
    let expected = [
        "ARCHITECTURE.md:8: the row `e` names no module of src/",
        "ARCHITECTURE.md:6: `c` may import `b`, which is not above it",
        "src/lib.rs declares the modules in another order than the table:\n    \
         lib.rs: a, c, b\n    table:  a, c, b, e",
        "src/b.rs:1: `b` uses `a` (`crate::{a::A,Renamed}`), which the table does not allow",
        "src/b.rs:1: `b` uses `a` (`crate::{a::A,Renamed}`), which the table does not allow",
        "src/b.rs:3: `b` uses `c` (`crate::c`), which the table does not allow",
        "src/c/d.rs:1: `c` uses `a` (`super::super::A`), which the table does not allow",
        "ARCHITECTURE.md:6: `c` may import `b`, but never does",
    ];
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(problems, expected);
}

/// Every disagreement between the table in `architecture` and the crate in
/// `src`, one line each.
fn check(architecture: &str, src: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let rows = match table(architecture) {
        Ok(rows) => rows,
        Err(problem) => return vec![problem],
    };
    let modules = top_level_modules(src);
    let lib = scrub(&read(&src.join("lib.rs")));
    let reexports = reexports(&lib);

    let mut position = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        if position.insert(row.module.as_str(), i).is_some() {
            problems.push(format!(
                "ARCHITECTURE.md:{}: `{}` has a second row",
                row.line, row.module
            ));
        }
        if !modules.contains(&row.module) {
            problems.push(format!(
                "ARCHITECTURE.md:{}: the row `{}` names no module of src/",
                row.line, row.module
            ));
        }
    }
    for module in &modules {
        if !position.contains_key(module.as_str()) {
            problems.push(format!("src/: module `{module}` has no row in the table"));
        }
    }

    // Imports run one way: down the table.
    for (i, row) in rows.iter().enumerate() {
        for import in &row.may_import {
            match position.get(import.as_str()) {
                None => problems.push(format!(
                    "ARCHITECTURE.md:{}: `{}` may import `{import}`, which has no row",
                    row.line, row.module
                )),
                Some(&j) if j >= i => problems.push(format!(
                    "ARCHITECTURE.md:{}: `{}` may import `{import}`, which is not above it",
                    row.line, row.module
                )),
                Some(_) => {}
            }
        }
    }

    // `lib.rs` declares the modules in the table's order.
    let declared = declared_modules(&lib);
    let listed: Vec<&str> = rows.iter().map(|r| r.module.as_str()).collect();
    if declared != listed {
        problems.push(format!(
            "src/lib.rs declares the modules in another order than the table:\n    \
             lib.rs: {}\n    table:  {}",
            declared.join(", "),
            listed.join(", ")
        ));
    }

    // Each module's uses, against what its row allows; and each allowed
    // import, made at least once.
    let uses = crate_uses(src, &reexports, &modules);
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    for (module, uses) in &uses {
        let uses = uses.iter().filter(|u| !u.test);
        let allowed: BTreeSet<&str> = rows
            .iter()
            .find(|r| &r.module == module)
            .map(|r| r.may_import.iter().map(String::as_str).collect())
            .unwrap_or_default();
        for u in uses {
            match &u.target {
                None => problems.push(format!(
                    "{}:{}: `{}` names the crate root, which no module imports",
                    u.file, u.line, u.path
                )),
                Some(target) if target == module => {}
                Some(target) => {
                    used.insert((module.clone(), target.clone()));
                    if !allowed.contains(target.as_str()) {
                        problems.push(format!(
                            "{}:{}: `{module}` uses `{target}` (`{}`), which the table does not allow",
                            u.file, u.line, u.path
                        ));
                    }
                }
            }
        }
    }
    for row in &rows {
        for import in &row.may_import {
            if !used.contains(&(row.module.clone(), import.clone())) {
                problems.push(format!(
                    "ARCHITECTURE.md:{}: `{}` may import `{import}`, but never does",
                    row.line, row.module
                ));
            }
        }
    }
    problems
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The rows of the first table whose header has the columns `module` and
/// `may import`, or what keeps it from being read.
fn table(markdown: &str) -> Result<Vec<Row>, String> {
    let cells = |line: &str| -> Vec<String> {
        let line = line.trim();
        let line = line.strip_prefix('|').unwrap_or(line);
        let line = line.strip_suffix('|').unwrap_or(line);
        line.split('|').map(|c| c.trim().to_owned()).collect()
    };
    let lines: Vec<&str> = markdown.lines().collect();
    let (header, module_col, import_col) = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with('|'))
        .find_map(|(i, l)| {
            let header: Vec<String> = cells(l).iter().map(|c| c.to_lowercase()).collect();
            let module = header.iter().position(|c| c == "module")?;
            let import = header.iter().position(|c| c == "may import")?;
            Some((i, module, import))
        })
        .ok_or("ARCHITECTURE.md has no table with the columns `module` and `may import`")?;

    let mut rows = Vec::new();
    // The header's next line is the separator (`|---|---|`).
    for (i, line) in lines.iter().enumerate().skip(header + 2) {
        if !line.trim_start().starts_with('|') {
            break;
        }
        let line_no = i + 1;
        let row = cells(line);
        let cell = |col: usize| row.get(col).map(String::as_str).unwrap_or("");
        let module = cell(module_col).trim_matches('`').trim_end_matches('/');
        if !is_ident(module) {
            return Err(format!(
                "ARCHITECTURE.md:{line_no}: a row with no module (`{}`)",
                cell(module_col)
            ));
        }
        let imports = cell(import_col);
        let may_import = if imports == "nothing" {
            Vec::new()
        } else {
            let names: Vec<String> = imports
                .split(',')
                .map(|n| n.trim().trim_matches('`').trim_end_matches('/').to_owned())
                .collect();
            if let Some(bad) = names.iter().find(|n| !is_ident(n)) {
                return Err(format!(
                    "ARCHITECTURE.md:{line_no}: `{module}`'s \"may import\" reads `{bad}`: \
                     write `nothing` or modules separated by commas"
                ));
            }
            names
        };
        rows.push(Row {
            module: module.to_owned(),
            may_import,
            line: line_no,
        });
    }
    Ok(rows)
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The crate's top-level modules: `src/x.rs` and `src/x/mod.rs`.
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(src).expect("src/ is readable") {
        let path = entry.expect("src/ is readable").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if path.join("mod.rs").exists() {
                modules.insert(name);
            }
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" {
            modules.insert(name);
        }
    }
    modules
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("src/ is readable").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The text of Rust source with comments (doc comments included) blanked,
/// and string and character literals blanked except inside attributes,
/// where paths are written as strings (`#[serde(with = "crate::x")]`).
/// Lines stay where they were. Braces inside a kept string are blanked too,
/// so that counting braces finds the code's blocks.
fn scrub(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    // Depth of `[` inside an attribute; 0 outside one.
    let mut attribute = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let prev = if i == 0 { ' ' } else { chars[i - 1] };
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else if i >= chars.len() {
                    break;
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == '"'
            || (c == 'r'
                && (prev == 'b' || !is_ident_char(prev))
                && raw_string_hashes(&chars, i + 1).is_some())
        {
            // A string: "…" with escapes, or r#"…"# without.
            let (hashes, open) = if c == '"' {
                (None, i + 1)
            } else {
                let h = raw_string_hashes(&chars, i + 1).unwrap();
                (Some(h), i + 1 + h + 1)
            };
            for &ch in &chars[i..open] {
                out.push(ch);
            }
            i = open;
            while i < chars.len() {
                let ch = chars[i];
                let end = match hashes {
                    None => ch == '"',
                    Some(h) => ch == '"' && (1..=h).all(|k| at(i + k) == '#'),
                };
                if end {
                    break;
                }
                if hashes.is_none() && ch == '\\' {
                    out.push(' ');
                    out.push(blank(at(i + 1)));
                    i += 2;
                    continue;
                }
                let kept = attribute > 0 && ch != '{' && ch != '}';
                out.push(if kept { ch } else { blank(ch) });
                i += 1;
            }
            let close = 1 + hashes.unwrap_or(0);
            for k in 0..close {
                if let Some(&ch) = chars.get(i + k) {
                    out.push(ch);
                }
            }
            i += close;
        } else if c == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            // A character literal; a lifetime (`'a`) has no closing quote.
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            if attribute == 0 && c == '#' {
                let bracket = if at(i + 1) == '!' { i + 2 } else { i + 1 };
                if at(bracket) == '[' {
                    out.extend(&chars[i..=bracket]);
                    attribute = 1;
                    i = bracket + 1;
                    continue;
                }
            }
            if attribute > 0 {
                if c == '[' {
                    attribute += 1;
                } else if c == ']' {
                    attribute -= 1;
                }
            }
            out.push(c);
            i += 1;
        }
    }
    out
}

/// After an `r` at `from - 1`: the number of `#`s of a raw string's opening
/// (`r"`, `r#"`), or `None` where none opens (`r#ident`, a word).
fn raw_string_hashes(chars: &[char], from: usize) -> Option<usize> {
    let hashes = chars[from.min(chars.len())..]
        .iter()
        .take_while(|&&c| c == '#')
        .count();
    (chars.get(from + hashes) == Some(&'"')).then_some(hashes)
}

/// The modules `lib.rs` declares (`mod x;`, `pub mod x;`), in order.
fn declared_modules(lib: &str) -> Vec<String> {
    let words = words(lib);
    words
        .windows(3)
        .filter(|w| w[0].1 == "mod" && w[2].1 == ";")
        .map(|w| w[1].1.clone())
        .collect()
}

/// The items `lib.rs` re-exports, each with the module it comes from
/// (`pub use retry::{Decision, Outcome};`).
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut rest = lib;
    while let Some(start) = rest.find("pub use ") {
        let after = &rest[start + "pub use ".len()..];
        let end = after.find(';').expect("a `pub use` ends with `;`");
        let path: String = after[..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        rest = &after[end..];
        let Some((module, items)) = path.split_once("::") else {
            continue;
        };
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            // `a::b::C` re-exports `C`; `C as D`, `D`.
            let name = item.rsplit(' ').next().unwrap_or(item);
            let name = name.rsplit("::").next().unwrap_or(name).trim();
            if is_ident(name) {
                map.insert(name.to_owned(), module.trim().to_owned());
            }
        }
    }
    map
}

/// The words and punctuation of scrubbed source, each with its byte offset:
/// identifiers whole, `::` as one token, every other character alone.
fn words(code: &str) -> Vec<(usize, String)> {
    let mut tokens = Vec::new();
    let mut chars = code.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if is_ident_char(c) {
            let mut word = String::from(c);
            while let Some(&(_, next)) = chars.peek() {
                if !is_ident_char(next) {
                    break;
                }
                word.push(next);
                chars.next();
            }
            tokens.push((at, word));
        } else if c == ':' && chars.peek().map(|&(_, n)| n) == Some(':') {
            chars.next();
            tokens.push((at, "::".to_owned()));
        } else {
            tokens.push((at, c.to_string()));
        }
    }
    tokens
}

/// Every path into the crate that each top-level module's files take:
/// `crate::x…` and `crate::{x, y}`, and `super::` chains that climb out
/// of the top-level module to the crate root. `self::` and a `super::`
/// that stays inside the module are the module's own business.
fn crate_uses(
    src: &Path,
    reexports: &BTreeMap<String, String>,
    modules: &BTreeSet<String>,
) -> BTreeMap<String, Vec<Use>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    // Files of modules declared `#[cfg(test)] mod name;`.
    let mut test_files: Vec<PathBuf> = Vec::new();
    for path in &files {
        let (_, declared) = test_items(&words(&scrub(&read(path))));
        // Where a file's child modules live: src/x/ for src/x.rs and
        // src/x/mod.rs.
        let dir = if path.ends_with("mod.rs") || path.ends_with("lib.rs") {
            path.parent().unwrap().to_path_buf()
        } else {
            path.with_extension("")
        };
        for name in declared {
            test_files.push(dir.join(format!("{name}.rs")));
            test_files.push(dir.join(name));
        }
    }
    let mut uses: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    for path in files {
        let test_file = test_files.iter().any(|t| path.starts_with(t));
        let relative = path.strip_prefix(src).unwrap();
        let parts: Vec<String> = relative
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if parts == ["lib.rs"] {
            continue;
        }
        let module = parts[0].trim_end_matches(".rs").to_owned();
        // How deep the file's module is: src/x.rs and src/x/mod.rs are 1,
        // src/x/y.rs is 2.
        let file_depth = parts.len() - usize::from(parts.last().unwrap() == "mod.rs");
        let file = format!("src/{}", parts.join("/"));
        let code = scrub(&read(&path));
        let line_of = |offset: usize| code[..offset].matches('\n').count() + 1;
        let tokens = words(&code);
        let (test_ranges, _) = test_items(&tokens);
        let in_test = |offset: usize| test_file || test_ranges.iter().any(|r| r.contains(&offset));
        let token = |i: usize| tokens.get(i).map(|t| t.1.as_str()).unwrap_or("");

        let resolve = |name: &str| -> Option<String> {
            if modules.contains(name) {
                Some(name.to_owned())
            } else {
                reexports.get(name).cloned()
            }
        };
        let mut found = Vec::new();
        // Blocks of inline modules (`mod tests { … }`), by the brace depth
        // they open at.
        let mut braces = 0usize;
        let mut inline_modules: Vec<usize> = Vec::new();
        let mut pending_module = false;
        let mut i = 0;
        while i < tokens.len() {
            let (offset, word) = (&tokens[i].0, token(i));
            match word {
                "{" => {
                    if pending_module {
                        inline_modules.push(braces);
                        pending_module = false;
                    }
                    braces += 1;
                }
                "}" => {
                    braces -= 1;
                    if inline_modules.last() == Some(&braces) {
                        inline_modules.pop();
                    }
                }
                ";" => pending_module = false,
                "mod" if is_ident(token(i + 1)) && token(i + 2) == "{" => pending_module = true,
                "crate" if token(i + 1) == "::" && token(i.wrapping_sub(1)) != "$" => {
                    let roots = path_roots(&tokens, i + 2);
                    for (name, end) in roots {
                        found.push(Use {
                            file: file.clone(),
                            line: line_of(*offset),
                            target: resolve(&name),
                            path: code[*offset..end].split_whitespace().collect(),
                            test: in_test(*offset),
                        });
                    }
                }
                "super" if token(i + 1) == "::" && token(i.wrapping_sub(1)) != "::" => {
                    let mut climbs = 1;
                    while token(i + 2 * climbs) == "super" && token(i + 2 * climbs + 1) == "::" {
                        climbs += 1;
                    }
                    let depth = file_depth + inline_modules.len();
                    if climbs >= depth {
                        for (name, end) in path_roots(&tokens, i + 2 * climbs) {
                            found.push(Use {
                                file: file.clone(),
                                line: line_of(*offset),
                                target: resolve(&name),
                                path: code[*offset..end].split_whitespace().collect(),
                                test: in_test(*offset),
                            });
                        }
                    }
                    i += 2 * climbs;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        uses.entry(module).or_default().extend(found);
    }
    uses
}

/// The first segments of the path that starts at token `start` (just after
/// `crate::`): one for `x::…`, each of a group for `{x, y::z}`; each with
/// the byte offset where the segment (or the group) ends.
fn path_roots(tokens: &[(usize, String)], start: usize) -> Vec<(String, usize)> {
    let end_of = |i: usize| tokens[i].0 + tokens[i].1.len();
    match tokens.get(start).map(|t| t.1.as_str()) {
        Some("{") => {
            let mut roots = Vec::new();
            let mut depth = 0;
            let mut item_start = true;
            for (i, (_, token)) in tokens.iter().enumerate().skip(start) {
                match token.as_str() {
                    "{" => {
                        depth += 1;
                        if depth > 1 {
                            item_start = false;
                        }
                        continue;
                    }
                    "}" => {
                        depth -= 1;
                        if depth == 0 {
                            let end = end_of(i);
                            return roots.into_iter().map(|r| (r, end)).collect();
                        }
                    }
                    "," if depth == 1 => {
                        item_start = true;
                        continue;
                    }
                    word if item_start && depth == 1 => roots.push(word.to_owned()),
                    _ => {}
                }
                item_start = false;
            }
            Vec::new()
        }
        Some(word) => vec![(word.to_owned(), end_of(start))],
        None => Vec::new(),
    }
}

/// The byte ranges of the items marked `#[cfg(test)]` (a module, a
/// function, a `use`, a statement), and the names of the modules declared
/// so in a file of their own (`#[cfg(test)] mod tests;`).
fn test_items(tokens: &[(usize, String)]) -> (Vec<Range<usize>>, Vec<String>) {
    let text = |i: usize| tokens.get(i).map(|t| t.1.as_str()).unwrap_or("");
    // The index just past an attribute that starts at `i`.
    let attribute_end = |i: usize| -> Option<usize> {
        if text(i) != "#" || text(i + 1) != "[" {
            return None;
        }
        let mut depth = 0;
        for k in i + 1..tokens.len() {
            match text(k) {
                "[" => depth += 1,
                "]" => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(k + 1);
                    }
                }
                _ => {}
            }
        }
        None
    };
    let mut ranges = Vec::new();
    let mut modules = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let cfg_test = (0..7)
            .map(|k| text(i + k))
            .eq(["#", "[", "cfg", "(", "test", ")", "]"]);
        if !cfg_test {
            i += 1;
            continue;
        }
        let mut item = i + 7;
        while let Some(end) = attribute_end(item) {
            item = end;
        }
        // `mod name;`, after any visibility (`pub`, `pub(crate)`).
        let mut word = item;
        if text(word) == "pub" {
            word += 1;
            if text(word) == "(" {
                while text(word) != ")" && word < tokens.len() {
                    word += 1;
                }
                word += 1;
            }
        }
        if text(word) == "mod" && text(word + 2) == ";" {
            modules.push(text(word + 1).to_owned());
        }
        // The item ends at its first `;` outside braces, or where the
        // first brace it opens closes.
        let mut depth = 0usize;
        let mut end = tokens.len();
        for k in item..tokens.len() {
            match text(k) {
                "{" => depth += 1,
                "}" => {
                    depth -= 1;
                    if depth == 0 {
                        end = k;
                        break;
                    }
                }
                ";" if depth == 0 => {
                    end = k;
                    break;
                }
                _ => {}
            }
        }
        let last = tokens.get(end).map_or(usize::MAX, |t| t.0 + 1);
        ranges.push(tokens[i].0..last);
        i = end;
    }
    (ranges, modules)
}

//! The public API, listed from the source and compared with the committed
//! list (`callhook-tests/public-api.txt`), so that no change to it goes
//! unnoticed in review. `cargo public-api` would need nightly rustdoc
//! JSON; this reads the crate's source with `syn` on the stable toolchain.
//!
//! The walk starts at `src/lib.rs`, follows `mod` declarations to their
//! files and `pub mod` / `pub use` to the paths a user writes, and lists
//! one line per item at its public path: structs and their public fields,
//! enums and their variants, functions and inherent methods with their
//! signatures as written, constants, statics, type aliases, traits and
//! their items, and the trait impls (derived or written) of public types.
//! Items behind a `cfg` are marked with it; `cfg(test)` items are skipped.
//! Auto traits (`Send`, `Sync`) are not listed: `src/lib.rs` asserts them.
//!
//! After an intended change: `BLESS=1 cargo test -p callhook-tests --test
//! public_api`, then review `git diff callhook-tests/public-api.txt`.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use callhook_tests::common;
use quote::ToTokens;
use syn::{Attribute, Fields, Item, UseTree, Visibility};

const LIST: &str = "public-api.txt";

#[test]
fn the_public_api_is_the_committed_list() {
    let actual = public_api(&common::path("../src/lib.rs"));
    if common::blessing() {
        common::bless(LIST, &actual);
    }
    let expected = common::read_text(LIST);
    if actual != expected {
        let expected: BTreeSet<&str> = expected.lines().collect();
        let actual: BTreeSet<&str> = actual.lines().collect();
        let mut diff = String::new();
        for line in expected.difference(&actual) {
            diff.push_str(&format!("- {line}\n"));
        }
        for line in actual.difference(&expected) {
            diff.push_str(&format!("+ {line}\n"));
        }
        panic!(
            "the public API differs from callhook-tests/{LIST} (- listed, + now):\n{diff}\
             if the change is intended: BLESS=1 cargo test -p callhook-tests --test public_api, \
             then review `git diff` (and say it in CHANGELOG.md)"
        );
    }
}

/// Every type the list is taken from resolves, and the list is not empty:
/// a walk that lost its way would list nothing and still be "stable".
#[test]
fn the_walk_finds_the_root_items() {
    let list = public_api(&common::path("../src/lib.rs"));
    for line in [
        "pub struct callhook::Registry",
        "pub mod callhook::template",
        "pub fn callhook::Registry::from_config(",
        "impl Clone for callhook::Registry",
    ] {
        assert!(
            list.lines().any(|l| l.contains(line)),
            "no line with {line:?}"
        );
    }
}

/// ARCHITECTURE.md's rule: a public struct with public fields and every
/// public enum is `#[non_exhaustive]`, so a field or variant added later
/// breaks no one; hosts build such structs through constructors.
#[test]
fn public_fields_and_enums_are_non_exhaustive() {
    let list = public_api(&common::path("../src/lib.rs"));
    let mut missing = Vec::new();
    for line in list.lines() {
        let line = line.trim_start_matches(r#"#[cfg(feature = "schema")] "#);
        if let Some(name) = line.strip_prefix("pub enum ") {
            missing.push(format!("enum {name}"));
        }
        let Some(name) = line.strip_prefix("pub struct ") else {
            continue;
        };
        let name = name.split(['<', '(']).next().expect("a name");
        let field = format!("pub {name}::");
        if list.lines().any(|l| l.starts_with(&field)) {
            missing.push(format!("struct {name}"));
        }
    }
    assert!(
        missing.is_empty(),
        "public types that can grow but are not #[non_exhaustive] (ARCHITECTURE.md, Rules):\n{}",
        missing.join("\n")
    );
}

/// ARCHITECTURE.md's naming rule: a type with public fields has no method
/// named like one of them (its builders are `with_<field>`), and no public
/// function is named `..._with` (`with` names builders only). Before the
/// rule, `ServiceConfig::name` was both a field and a setter, and
/// `compile_with` meant "with an address policy".
#[test]
fn no_method_is_named_like_a_field_and_with_names_builders_only() {
    let list = public_api(&common::path("../src/lib.rs"));
    let mut wrong = Vec::new();
    for line in list.lines() {
        let Some(rest) = line
            .strip_prefix("pub fn ")
            .or_else(|| line.strip_prefix("pub const fn "))
        else {
            continue;
        };
        let path = rest.split('(').next().expect("a path");
        let (owner, name) = path.rsplit_once("::").expect("a method's path");
        let name = name.split('<').next().expect("a name");
        if name.ends_with("_with") {
            wrong.push(format!("{path}: `_with` names builders only"));
        }
        let owner = owner.split('<').next().expect("a type");
        if list
            .lines()
            .any(|l| l.starts_with(&format!("pub {owner}::{name}: ")))
        {
            wrong.push(format!("{path}: named like the field `{name}`"));
        }
    }
    assert!(
        wrong.is_empty(),
        "names against ARCHITECTURE.md's rule (Names):\n{}",
        wrong.join("\n")
    );
}

/// One module of the crate: its path from `crate` and its items.
struct Module {
    items: Vec<Item>,
    /// The `cfg` conditions on the module and its parents.
    cfgs: Vec<String>,
}

/// The crate's modules by path (`["crate", "template"]`), read from files.
struct Crate {
    modules: HashMap<Vec<String>, Module>,
}

/// What a name in a module stands for.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Target {
    /// An item (not a module) named `.1` in module `.0`.
    Item(Vec<String>, String),
    Module(Vec<String>),
}

fn public_api(lib: &Path) -> String {
    let mut krate = Crate {
        modules: HashMap::new(),
    };
    let file = parse(lib);
    let dir = lib.parent().expect("src/").to_path_buf();
    krate.load(vec!["crate".into()], file.items, &dir, Vec::new());

    // Public paths of every reachable item, with the `cfg`s of the way.
    let mut paths: Vec<(String, Vec<String>, Target)> = Vec::new();
    krate.exports(&["crate".to_string()], "callhook", &[], &mut paths, 0);
    let mut public: HashMap<Target, Vec<(String, Vec<String>)>> = HashMap::new();
    for (path, cfgs, target) in &paths {
        public
            .entry(target.clone())
            .or_default()
            .push((path.clone(), cfgs.clone()));
    }

    let mut lines = BTreeSet::new();
    for (path, cfgs, target) in &paths {
        match target {
            Target::Module(_) => {
                lines.insert(format!("{}pub mod {path}", cfg_prefix(cfgs)));
            }
            Target::Item(module, name) => {
                let item = krate.item(module, name).expect("resolved");
                let mut cfgs = cfgs.clone();
                cfgs.extend(cfgs_of(item_attrs(item)));
                krate.list_item(item, path, &cfgs, &mut lines);
            }
        }
    }

    // Impls, wherever they are written, for the public types.
    for (module_path, module) in &krate.modules {
        for item in &module.items {
            let Item::Impl(imp) = item else { continue };
            if is_test(&imp.attrs) {
                continue;
            }
            let Some(self_path) = type_path(&imp.self_ty) else {
                continue;
            };
            let Some(target) = krate.resolve(module_path, &self_path, 0) else {
                continue;
            };
            let Some(paths) = public.get(&target) else {
                continue;
            };
            let args = type_args(&imp.self_ty);
            for (path, path_cfgs) in paths {
                let mut cfgs = path_cfgs.clone();
                cfgs.extend(module.cfgs.iter().cloned());
                cfgs.extend(cfgs_of(&imp.attrs));
                let ty = format!("{path}{args}");
                match &imp.trait_ {
                    Some((negative, trait_path, _)) => {
                        let Some(name) = krate.trait_name(module_path, trait_path, &public) else {
                            continue;
                        };
                        let generics = tokens(&imp.generics);
                        let bang = if negative.is_some() { "!" } else { "" };
                        let mut line =
                            format!("{}impl{generics} {bang}{name} for {ty}", cfg_prefix(&cfgs));
                        if let Some(clause) = &imp.generics.where_clause {
                            line.push(' ');
                            line.push_str(&tokens(clause));
                        }
                        lines.insert(line);
                    }
                    None => {
                        for inner in &imp.items {
                            list_impl_item(inner, &ty, &cfgs, &mut lines);
                        }
                    }
                }
            }
        }
    }
    let mut out = String::new();
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

impl Crate {
    fn load(&mut self, path: Vec<String>, items: Vec<Item>, dir: &Path, cfgs: Vec<String>) {
        for item in &items {
            let Item::Mod(module) = item else { continue };
            if is_test(&module.attrs) {
                continue;
            }
            let name = module.ident.to_string();
            let mut child = path.clone();
            child.push(name.clone());
            let mut child_cfgs = cfgs.clone();
            child_cfgs.extend(cfgs_of(&module.attrs));
            let child_dir = dir.join(&name);
            match &module.content {
                Some((_, inner)) => self.load(child, inner.clone(), &child_dir, child_cfgs),
                None => {
                    // `name.rs` has its children in `name/`, as `name/mod.rs` does.
                    let flat = dir.join(format!("{name}.rs"));
                    let file = if flat.exists() {
                        flat
                    } else {
                        child_dir.join("mod.rs")
                    };
                    let parsed = parse(&file);
                    self.load(child, parsed.items, &child_dir, child_cfgs);
                }
            }
        }
        self.modules.insert(path, Module { items, cfgs });
    }

    fn item(&self, module: &[String], name: &str) -> Option<&Item> {
        self.modules
            .get(module)?
            .items
            .iter()
            .find(|item| !is_test(item_attrs(item)) && item_name(item).as_deref() == Some(name))
    }

    /// What `path`, written in `module`, names in this crate (`None` for
    /// another crate's item).
    fn resolve(&self, module: &[String], path: &[String], depth: usize) -> Option<Target> {
        assert!(depth < 32, "a `use` cycle at {path:?}");
        let (first, rest) = path.split_first()?;
        let mut current: Vec<String> = match first.as_str() {
            "crate" => vec!["crate".into()],
            "self" => module.to_vec(),
            "super" => module[..module.len() - 1].to_vec(),
            _ => {
                let target = self.lookup(module, first, depth)?;
                if rest.is_empty() {
                    return Some(target);
                }
                match target {
                    Target::Module(m) => m,
                    Target::Item(..) => return None,
                }
            }
        };
        if rest.is_empty() {
            return Some(Target::Module(current));
        }
        for (i, segment) in rest.iter().enumerate() {
            if segment == "super" {
                current.pop();
                continue;
            }
            let target = self.lookup(&current, segment, depth)?;
            if i + 1 == rest.len() {
                return Some(target);
            }
            match target {
                Target::Module(m) => current = m,
                Target::Item(..) => return None,
            }
        }
        Some(Target::Module(current))
    }

    /// The name `name` in `module`: a child module, an item, or an import.
    fn lookup(&self, module: &[String], name: &str, depth: usize) -> Option<Target> {
        let mut child = module.to_vec();
        child.push(name.to_string());
        if self.modules.contains_key(&child) {
            return Some(Target::Module(child));
        }
        let items = &self.modules.get(module)?.items;
        if self.item(module, name).is_some() {
            return Some(Target::Item(module.to_vec(), name.to_string()));
        }
        let mut globs = Vec::new();
        for item in items {
            let Item::Use(u) = item else { continue };
            if is_test(&u.attrs) {
                continue;
            }
            for (path, alias) in flatten(&u.tree) {
                if alias == "*" {
                    globs.push(path);
                } else if alias == name {
                    return self.resolve(module, &path, depth + 1);
                }
            }
        }
        for glob in globs {
            if let Some(Target::Module(m)) = self.resolve(module, &glob, depth + 1) {
                if let Some(target) = self.lookup(&m, name, depth + 1) {
                    return Some(target);
                }
            }
        }
        None
    }

    /// Lists the public items of `module` at `prefix`.
    fn exports(
        &self,
        module: &[String],
        prefix: &str,
        cfgs: &[String],
        out: &mut Vec<(String, Vec<String>, Target)>,
        depth: usize,
    ) {
        assert!(depth < 16, "modules re-exported in a cycle at {prefix}");
        let Some(m) = self.modules.get(module) else {
            return;
        };
        for item in &m.items {
            if is_test(item_attrs(item)) || !is_pub(item) {
                continue;
            }
            let mut cfgs = cfgs.to_vec();
            cfgs.extend(cfgs_of(item_attrs(item)));
            match item {
                Item::Use(u) => {
                    for (path, alias) in flatten(&u.tree) {
                        let target = self.resolve(module, &path, 0).unwrap_or_else(|| {
                            panic!("`pub use {}` in {module:?}", path.join("::"))
                        });
                        let name = if alias == "*" {
                            panic!("a glob re-export in {module:?}: list its items");
                        } else {
                            alias
                        };
                        let public = format!("{prefix}::{name}");
                        if let Target::Module(m) = &target {
                            self.exports(m, &public, &cfgs, out, depth + 1);
                        }
                        out.push((public, cfgs.clone(), target));
                    }
                }
                Item::Mod(module_item) => {
                    let mut child = module.to_vec();
                    child.push(module_item.ident.to_string());
                    let public = format!("{prefix}::{}", module_item.ident);
                    self.exports(&child, &public, &cfgs, out, depth + 1);
                    out.push((public, cfgs, Target::Module(child)));
                }
                _ => {
                    if let Some(name) = item_name(item) {
                        let public = format!("{prefix}::{name}");
                        // The item's own `cfg` is added when it is listed.
                        let mut cfgs = cfgs.clone();
                        let own = cfgs_of(item_attrs(item));
                        cfgs.truncate(cfgs.len() - own.len());
                        out.push((public, cfgs, Target::Item(module.to_vec(), name)));
                    }
                }
            }
        }
    }

    /// A trait's name as the list shows it: the last segment with its
    /// arguments, so `fmt::Display` and `std::fmt::Display` are one line.
    /// `None` for this crate's private traits.
    fn trait_name(
        &self,
        module: &[String],
        path: &syn::Path,
        public: &HashMap<Target, Vec<(String, Vec<String>)>>,
    ) -> Option<String> {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(target) = self.resolve(module, &segments, 0) {
            let (own, _) = public.get(&target)?.first()?;
            let last = path.segments.last()?;
            return Some(format!("{own}{}", tokens(&last.arguments)));
        }
        Some(tokens(path.segments.last()?))
    }

    fn list_item(&self, item: &Item, path: &str, cfgs: &[String], lines: &mut BTreeSet<String>) {
        let cfg = cfg_prefix(cfgs);
        let marks = marks_of(item_attrs(item));
        match item {
            Item::Struct(s) => {
                let generics = tokens(&s.generics);
                let mut head = format!("{cfg}{marks}pub struct {path}{generics}");
                match &s.fields {
                    Fields::Named(fields) => {
                        for field in &fields.named {
                            if matches!(field.vis, Visibility::Public(_)) {
                                let name = field.ident.as_ref().expect("named");
                                lines.insert(format!(
                                    "{cfg}pub {path}::{name}: {}",
                                    tokens(&field.ty)
                                ));
                            }
                        }
                    }
                    Fields::Unnamed(fields) => {
                        let shown: Vec<String> = fields
                            .unnamed
                            .iter()
                            .map(|f| match f.vis {
                                Visibility::Public(_) => format!("pub {}", tokens(&f.ty)),
                                _ => "_".into(),
                            })
                            .collect();
                        head.push_str(&format!("({})", shown.join(", ")));
                    }
                    Fields::Unit => {}
                }
                if let Some(clause) = &s.generics.where_clause {
                    head.push_str(&format!(" {}", tokens(clause)));
                }
                lines.insert(head);
                list_derives(item_attrs(item), path, &s.generics, cfgs, lines);
            }
            Item::Enum(e) => {
                let generics = tokens(&e.generics);
                lines.insert(format!("{cfg}{marks}pub enum {path}{generics}"));
                for variant in &e.variants {
                    if is_test(&variant.attrs) {
                        continue;
                    }
                    let mut variant_cfgs = cfgs.to_vec();
                    variant_cfgs.extend(cfgs_of(&variant.attrs));
                    // Fields without their attributes (docs, serde's).
                    let fields = match &variant.fields {
                        Fields::Unit => String::new(),
                        Fields::Named(fields) => {
                            let shown: Vec<String> = fields
                                .named
                                .iter()
                                .map(|f| {
                                    let name = f.ident.as_ref().expect("named");
                                    format!("{name}: {}", tokens(&f.ty))
                                })
                                .collect();
                            format!(" {{ {} }}", shown.join(", "))
                        }
                        Fields::Unnamed(fields) => {
                            let shown: Vec<String> =
                                fields.unnamed.iter().map(|f| tokens(&f.ty)).collect();
                            format!("({})", shown.join(", "))
                        }
                    };
                    lines.insert(format!(
                        "{}{}{path}::{}{fields}",
                        cfg_prefix(&variant_cfgs),
                        marks_of(&variant.attrs),
                        variant.ident
                    ));
                }
                list_derives(item_attrs(item), path, &e.generics, cfgs, lines);
            }
            Item::Fn(f) => {
                lines.insert(format!("{cfg}{marks}pub {}", signature(&f.sig, path)));
            }
            Item::Const(c) => {
                lines.insert(format!("{cfg}pub const {path}: {}", tokens(&c.ty)));
            }
            Item::Static(s) => {
                let mutability = if matches!(s.mutability, syn::StaticMutability::Mut(_)) {
                    "mut "
                } else {
                    ""
                };
                lines.insert(format!(
                    "{cfg}pub static {mutability}{path}: {}",
                    tokens(&s.ty)
                ));
            }
            Item::Type(t) => {
                lines.insert(format!(
                    "{cfg}pub type {path}{} = {}",
                    tokens(&t.generics),
                    tokens(&t.ty)
                ));
            }
            Item::Trait(t) => {
                let bounds = if t.supertraits.is_empty() {
                    String::new()
                } else {
                    format!(": {}", tokens(&t.supertraits))
                };
                lines.insert(format!(
                    "{cfg}{marks}pub trait {path}{}{bounds}",
                    tokens(&t.generics)
                ));
                for inner in &t.items {
                    let line = match inner {
                        syn::TraitItem::Fn(f) => {
                            signature(&f.sig, &format!("{path}::{}", f.sig.ident))
                        }
                        syn::TraitItem::Const(c) => {
                            format!("const {path}::{}: {}", c.ident, tokens(&c.ty))
                        }
                        syn::TraitItem::Type(t) => format!("type {path}::{}", t.ident),
                        other => tokens(other),
                    };
                    lines.insert(format!("{cfg}{line}"));
                }
            }
            Item::Macro(_) | Item::Union(_) => {
                lines.insert(format!("{cfg}{}", tokens(item)));
            }
            _ => {}
        }
    }
}

fn list_impl_item(inner: &syn::ImplItem, ty: &str, cfgs: &[String], lines: &mut BTreeSet<String>) {
    match inner {
        syn::ImplItem::Fn(f) if matches!(f.vis, Visibility::Public(_)) && !is_test(&f.attrs) => {
            let mut cfgs = cfgs.to_vec();
            cfgs.extend(cfgs_of(&f.attrs));
            let path = format!("{ty}::{}", f.sig.ident);
            lines.insert(format!(
                "{}{}pub {}",
                cfg_prefix(&cfgs),
                marks_of(&f.attrs),
                signature(&f.sig, &path)
            ));
        }
        syn::ImplItem::Const(c) if matches!(c.vis, Visibility::Public(_)) && !is_test(&c.attrs) => {
            let mut cfgs = cfgs.to_vec();
            cfgs.extend(cfgs_of(&c.attrs));
            lines.insert(format!(
                "{}pub const {ty}::{}: {}",
                cfg_prefix(&cfgs),
                c.ident,
                tokens(&c.ty)
            ));
        }
        _ => {}
    }
}

/// `impl Trait for path` for each trait derived, `cfg_attr` ones marked.
fn list_derives(
    attrs: &[Attribute],
    path: &str,
    generics: &syn::Generics,
    cfgs: &[String],
    lines: &mut BTreeSet<String>,
) {
    let params = tokens(generics);
    let args = generic_args(generics);
    let mut emit = |derive: &syn::Path, extra: Option<String>| {
        let mut cfgs = cfgs.to_vec();
        cfgs.extend(extra);
        let name = tokens(derive.segments.last().expect("a trait"));
        // As serde's derive writes it, so a derive and a written impl of
        // `Deserialize` are one line.
        let (params, name) = if name == "Deserialize" && generics.params.is_empty() {
            ("<'de>".to_string(), "Deserialize<'de>".to_string())
        } else {
            (params.clone(), name)
        };
        lines.insert(format!(
            "{}impl{params} {name} for {path}{args}",
            cfg_prefix(&cfgs)
        ));
    };
    for attr in attrs {
        if attr.path().is_ident("derive") {
            for derive in derive_list(attr) {
                emit(&derive, None);
            }
        } else if attr.path().is_ident("cfg_attr") {
            // `cfg_attr(condition, derive(A, B))`: the derives under the condition.
            let Ok(list) = attr.parse_args_with(
                syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
            ) else {
                continue;
            };
            let mut metas = list.into_iter();
            let Some(condition) = metas.next() else {
                continue;
            };
            for meta in metas {
                if let syn::Meta::List(l) = &meta {
                    if l.path.is_ident("derive") {
                        let derives = l
                            .parse_args_with(
                                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
                            )
                            .expect("derive(..)");
                        for derive in derives {
                            emit(&derive, Some(format!("cfg({})", tokens(&condition))));
                        }
                    }
                }
            }
        }
    }
}

fn derive_list(attr: &Attribute) -> Vec<syn::Path> {
    attr.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
        .expect("derive(..)")
        .into_iter()
        .collect()
}

/// `fn name<..>(..) -> ..` with the name replaced by its public path.
fn signature(sig: &syn::Signature, path: &str) -> String {
    // `mut` on a binding is the body's business, not the caller's.
    let mut sig = sig.clone();
    for input in &mut sig.inputs {
        match input {
            syn::FnArg::Receiver(r) if r.reference.is_none() => r.mutability = None,
            syn::FnArg::Typed(t) => {
                if let syn::Pat::Ident(p) = &mut *t.pat {
                    p.mutability = None;
                }
            }
            _ => {}
        }
    }
    let text = tokens(&sig);
    let name = format!("fn {}", sig.ident);
    let at = text.find(&name).expect("the fn's name");
    format!("{}fn {path}{}", &text[..at], &text[at + name.len()..])
}

fn parse(file: &Path) -> syn::File {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// A `use` tree as (path, name it is imported as); `*` for a glob.
fn flatten(tree: &UseTree) -> Vec<(Vec<String>, String)> {
    fn walk(tree: &UseTree, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
        match tree {
            UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                walk(&p.tree, prefix, out);
                prefix.pop();
            }
            UseTree::Name(n) => {
                let name = n.ident.to_string();
                if name == "self" {
                    out.push((prefix.clone(), prefix.last().cloned().unwrap_or_default()));
                } else {
                    let mut path = prefix.clone();
                    path.push(name.clone());
                    out.push((path, name));
                }
            }
            UseTree::Rename(r) => {
                let mut path = prefix.clone();
                path.push(r.ident.to_string());
                out.push((path, r.rename.to_string()));
            }
            UseTree::Glob(_) => out.push((prefix.clone(), "*".into())),
            UseTree::Group(g) => {
                for tree in &g.items {
                    walk(tree, prefix, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(tree, &mut Vec::new(), &mut out);
    out
}

fn type_path(ty: &syn::Type) -> Option<Vec<String>> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => Some(
            p.path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect(),
        ),
        _ => None,
    }
}

/// The generic arguments of an impl's self type, as written (`<'_>`).
fn type_args(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| tokens(&s.arguments))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// `<'a, T>` for the parameters `<'a, T: Bound>`.
fn generic_args(generics: &syn::Generics) -> String {
    if generics.params.is_empty() {
        return String::new();
    }
    let args: Vec<String> = generics
        .params
        .iter()
        .map(|p| match p {
            syn::GenericParam::Lifetime(l) => tokens(&l.lifetime),
            syn::GenericParam::Type(t) => t.ident.to_string(),
            syn::GenericParam::Const(c) => c.ident.to_string(),
        })
        .collect();
    format!("<{}>", args.join(", "))
}

fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

fn item_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Const(i) => &i.ident,
        Item::Enum(i) => &i.ident,
        Item::Fn(i) => &i.sig.ident,
        Item::Static(i) => &i.ident,
        Item::Struct(i) => &i.ident,
        Item::Trait(i) => &i.ident,
        Item::Type(i) => &i.ident,
        Item::Union(i) => &i.ident,
        Item::Macro(i) => i.ident.as_ref()?,
        _ => return None,
    };
    Some(ident.to_string())
}

fn is_pub(item: &Item) -> bool {
    let vis = match item {
        Item::Const(i) => &i.vis,
        Item::Enum(i) => &i.vis,
        Item::Fn(i) => &i.vis,
        Item::Mod(i) => &i.vis,
        Item::Static(i) => &i.vis,
        Item::Struct(i) => &i.vis,
        Item::Trait(i) => &i.vis,
        Item::Type(i) => &i.vis,
        Item::Union(i) => &i.vis,
        Item::Use(i) => &i.vis,
        // `#[macro_export]` puts a macro at the root.
        Item::Macro(i) => {
            return i.attrs.iter().any(|a| a.path().is_ident("macro_export"));
        }
        _ => return false,
    };
    matches!(vis, Visibility::Public(_))
}

/// The `cfg(..)` conditions among `attrs`, as written.
fn cfgs_of(attrs: &[Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .map(|a| normalize(&a.meta.to_token_stream().to_string()))
        .collect()
}

fn is_test(attrs: &[Attribute]) -> bool {
    cfgs_of(attrs)
        .iter()
        .any(|cfg| cfg == "cfg(test)" || cfg == "cfg(doctest)")
}

/// The attributes that change what a user may do: `#[non_exhaustive]` and
/// `#[deprecated]` (`#[must_use]` is a lint, left out).
fn marks_of(attrs: &[Attribute]) -> String {
    let mut out = String::new();
    for attr in attrs {
        if attr.path().is_ident("non_exhaustive") {
            out.push_str("#[non_exhaustive] ");
        } else if attr.path().is_ident("deprecated") {
            out.push_str("#[deprecated] ");
        }
    }
    out
}

fn cfg_prefix(cfgs: &[String]) -> String {
    let mut seen = Vec::new();
    for cfg in cfgs {
        if !seen.contains(cfg) {
            seen.push(cfg.clone());
        }
    }
    seen.iter().map(|c| format!("#[{c}] ")).collect()
}

fn tokens<T: ToTokens>(node: &T) -> String {
    normalize(&node.to_token_stream().to_string())
}

/// `proc_macro2` prints a space between every two tokens; this puts the
/// text back the way rustfmt writes it, for the cases signatures have.
fn normalize(text: &str) -> String {
    let mut s = text.to_string();
    for (from, to) in [
        (" : ", ": "),
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" , ", ", "),
        (" ,", ","),
        ("& ", "&"),
        (" (", "("),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
        // A trailing comma is rustfmt's line breaking, not the signature.
        (",)", ")"),
        (", )", ")"),
        ("=(", "= ("),
        ("? ", "?"),
        ("# [", "#["),
        ("->(", "-> ("),
    ] {
        while s.contains(from) {
            s = s.replace(from, to);
        }
    }
    s
}

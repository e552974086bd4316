//! The architecture, checked: the module graph of `src` has no import
//! cycles, and the front ends that talk to people (console, SSH, site)
//! reach the store only through `desk` (ARCHITECTURE.md).
//!
//! The source is read as text: each file is one module (`a/b.rs` and
//! `a/b/mod.rs` are `crate::a::b`), and every `crate::`, `super::` and
//! `self::` path in it (in `use` items, braces expanded, and in code) is an
//! edge to the longest module that path names. A module may use its
//! ancestors and its descendants (a parent re-exports its children, a
//! child uses its parent's types); every other edge counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir` except the binary's `main.rs`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && path != src_dir().join("main.rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` -> `["a", "b"]`; `src/lib.rs` -> `[]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src_dir()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The text with comments and string literals blanked out, so that a
/// path in a doc comment or a message is not an import.
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if text[i..].starts_with("//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if text[i..].starts_with("/*") {
            let end = text[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |e| i + 2 + e + 2);
            i = end;
        } else if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if bytes[i] == b'\'' && bytes.get(i + 2) == Some(&b'\'') {
            // A char literal such as '"' (lifetimes have no closing quote).
            i += 3;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    // `x as y` names x; the rename does not matter here.
    let mut words = tree.split_whitespace();
    let mut tree = String::new();
    while let Some(word) = words.next() {
        if word == "as" {
            let renamed = words.next().unwrap_or_default();
            tree.extend(renamed.chars().filter(|c| matches!(c, ',' | '}')));
        } else {
            tree.push_str(word);
        }
    }
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len() - 1];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |e| format!("{prefix}{e}")))
        .collect()
}

/// Every `crate::`/`super::`/`self::` path the code names.
fn paths_in(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    // `use` items first (their braces expand), then the rest of the code.
    let mut plain = String::new();
    while let Some(at) = find_word(rest, "use") {
        plain.push_str(&rest[..at]);
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e);
        let tree = rest[at + 3..end].trim();
        paths.extend(expand(tree));
        rest = &rest[end..];
    }
    plain.push_str(rest);
    for root in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = plain[from..].find(root).map(|a| from + a) {
            let before = plain[..at].chars().next_back();
            from = at + root.len();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let end = plain[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(plain.len(), |e| at + e);
            paths.push(plain[at..end].to_owned());
        }
    }
    paths
}

/// The byte offset of `word` standing alone (a keyword, not part of a name).
fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = text[from..].find(word).map(|a| from + a) {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let alone = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if alone(before) && alone(after) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// The module a path names, from inside `module`: its longest prefix that
/// is a module of the crate. `None` for other crates.
fn target_of(
    path: &str,
    module: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let mut segments = path.split("::").filter(|s| !s.is_empty());
    let mut base: Vec<String> = match segments.next()? {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => module[..module.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    for segment in segments {
        if segment == "super" {
            base.pop();
            continue;
        }
        let mut longer = base.clone();
        longer.push(segment.to_owned());
        if !modules.contains(&longer) {
            break;
        }
        base = longer;
    }
    Some(base)
}

fn related(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Edges between unrelated modules: `from -> {to}`.
fn module_graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(f)).collect();
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        let edges = graph.entry(module.clone()).or_default();
        for path in paths_in(&code) {
            if let Some(target) = target_of(&path, &module, &modules)
                && !related(&module, &target)
            {
                edges.insert(target);
            }
        }
    }
    graph
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'g Vec<String>, usize>,
        low: BTreeMap<&'g Vec<String>, usize>,
        stack: Vec<&'g Vec<String>>,
        on_stack: BTreeSet<&'g Vec<String>>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g Vec<String>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let Some((w, _)) = s.graph.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(format!("crate::{}", w.join("::")));
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

#[test]
fn the_module_graph_of_src_has_no_cycles() {
    let graph = module_graph();
    // The reader sees real edges: the console's services import desk.
    let services = vec!["tui".to_owned(), "services".to_owned()];
    assert!(
        graph[&services].contains(&vec!["desk".to_owned()]),
        "{graph:?}"
    );
    let found = cycles(&graph);
    assert!(found.is_empty(), "import cycles in src: {found:#?}");
}

#[test]
fn the_cycle_finder_finds_a_cycle_and_reads_nested_braces() {
    let m = |s: &str| s.split("::").map(str::to_owned).collect::<Vec<_>>();
    let graph = BTreeMap::from([
        (m("a::x"), BTreeSet::from([m("b")])),
        (m("b"), BTreeSet::from([m("a::x")])),
        (m("c"), BTreeSet::from([m("b")])),
    ]);
    assert_eq!(cycles(&graph), vec![vec!["crate::a::x", "crate::b"]]);
    assert_eq!(
        paths_in("pub(crate) use crate::a::{b as z, c::{d, e}};\nfn f() { super::g::h(); }"),
        vec![
            "crate::a::b",
            "crate::a::c::d",
            "crate::a::c::e",
            "super::g::h"
        ]
    );
    assert_eq!(
        code_only("x // crate::a\n\"crate::b\" '\"' y"),
        "x \n\"\"  y"
    );
}

#[test]
fn the_console_ssh_and_site_reach_the_store_only_through_desk() {
    let mut offending = Vec::new();
    for front in ["tui", "ssh", "site"] {
        let mut files = Vec::new();
        rust_files(&src_dir().join(front), &mut files);
        assert!(!files.is_empty(), "src/{front} has files");
        for file in files {
            let code = code_only(&std::fs::read_to_string(&file).unwrap());
            for forbidden in ["crate::store", "sea_orm"] {
                if code.contains(forbidden) {
                    offending.push(format!("{} names {forbidden}", file.display()));
                }
            }
        }
    }
    assert!(offending.is_empty(), "{offending:#?}");
}

/// The string literal that starts `text`, if it starts with one.
fn leading_literal(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix('"')?;
    rest.find('"').map(|end| &rest[..end])
}

#[test]
fn the_readme_lists_every_audit_name_the_code_can_write() {
    // The names of operator actions, refused or done, from desk's vocabulary...
    let mut names: BTreeSet<String> = keydesk::desk::Action::ALL
        .iter()
        .map(|a| a.audit_name().to_owned())
        .collect();
    // ...and every other event written, as the source spells it.
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for opening in ["Event::ok(", "Event::new(", "action: Set("] {
            for (at, _) in text.match_indices(opening) {
                if let Some(name) = leading_literal(&text[at + opening.len()..]) {
                    names.insert(name.to_owned());
                }
            }
        }
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("pub const ")
                && line.contains(": &str = ")
                && let Some(name) = line.split(" = ").nth(1).and_then(leading_literal)
                && file.ends_with("desk/console_sessions.rs")
            {
                names.insert(name.to_owned());
            }
        }
    }
    assert!(
        names.contains("console.start") && names.contains("login"),
        "{names:?}"
    );
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let missing: Vec<_> = names
        .iter()
        .filter(|n| !readme.contains(&format!("| `{n}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "audit names missing from README: {missing:?}"
    );
}

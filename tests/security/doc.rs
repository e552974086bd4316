//! docs/SECURITY.md stays complete and honest: every OWASP ASVS 4.0.3
//! Level 1 and Level 2 requirement of the chapters in scope (V2, V3, V4,
//! V5, V7, V8 and V14.4: 144 ids, listed below because the standard's
//! JSON is not in the repository) has exactly one row; every row has a
//! decision (`met`, `n/a` or `open`); every test a row names exists
//! (`fn NAME` in the named file), in the ASVS tables and in the sections
//! beyond them (SSH, files, the proxy); a `met` row names at least one test;
//! and the counts in the closing note match the rows. Nothing in the
//! document may be marked `(pending`: a row states what is true on this
//! branch, with tests that exist here, or it is `open`.

use std::collections::BTreeMap;
use std::path::Path;

/// ASVS 4.0.3 ids in scope: L1 and L2 of V2, V3, V4, V5, V7, V8, V14.4.
const IN_SCOPE: &[&str] = &[
    "V2.1.1", "V2.1.2", "V2.1.3", "V2.1.4", "V2.1.5", "V2.1.6", "V2.1.7", "V2.1.8", "V2.1.9",
    "V2.1.10", "V2.1.11", "V2.1.12", "V2.2.1", "V2.2.2", "V2.2.3", "V2.3.1", "V2.3.2", "V2.3.3",
    "V2.4.1", "V2.4.2", "V2.4.3", "V2.4.4", "V2.4.5", "V2.5.1", "V2.5.2", "V2.5.3", "V2.5.4",
    "V2.5.5", "V2.5.6", "V2.5.7", "V2.6.1", "V2.6.2", "V2.6.3", "V2.7.1", "V2.7.2", "V2.7.3",
    "V2.7.4", "V2.7.5", "V2.7.6", "V2.8.1", "V2.8.2", "V2.8.3", "V2.8.4", "V2.8.5", "V2.8.6",
    "V2.8.7", "V2.9.1", "V2.9.2", "V2.9.3", "V2.10.1", "V2.10.2", "V2.10.3", "V2.10.4", "V3.1.1",
    "V3.2.1", "V3.2.2", "V3.2.3", "V3.2.4", "V3.3.1", "V3.3.2", "V3.3.3", "V3.3.4", "V3.4.1",
    "V3.4.2", "V3.4.3", "V3.4.4", "V3.4.5", "V3.5.1", "V3.5.2", "V3.5.3", "V3.7.1", "V4.1.1",
    "V4.1.2", "V4.1.3", "V4.1.5", "V4.2.1", "V4.2.2", "V4.3.1", "V4.3.2", "V4.3.3", "V5.1.1",
    "V5.1.2", "V5.1.3", "V5.1.4", "V5.1.5", "V5.2.1", "V5.2.2", "V5.2.3", "V5.2.4", "V5.2.5",
    "V5.2.6", "V5.2.7", "V5.2.8", "V5.3.1", "V5.3.2", "V5.3.3", "V5.3.4", "V5.3.5", "V5.3.6",
    "V5.3.7", "V5.3.8", "V5.3.9", "V5.3.10", "V5.4.1", "V5.4.2", "V5.4.3", "V5.5.1", "V5.5.2",
    "V5.5.3", "V5.5.4", "V7.1.1", "V7.1.2", "V7.1.3", "V7.1.4", "V7.2.1", "V7.2.2", "V7.3.1",
    "V7.3.3", "V7.3.4", "V7.4.1", "V7.4.2", "V7.4.3", "V8.1.1", "V8.1.2", "V8.1.3", "V8.1.4",
    "V8.2.1", "V8.2.2", "V8.2.3", "V8.3.1", "V8.3.2", "V8.3.3", "V8.3.4", "V8.3.5", "V8.3.6",
    "V8.3.7", "V8.3.8", "V14.4.1", "V14.4.2", "V14.4.3", "V14.4.4", "V14.4.5", "V14.4.6",
    "V14.4.7",
];

/// One requirement row of the document.
#[derive(Debug)]
struct Row {
    line: usize,
    id: String,
    decision: String,
    tests: String,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn is_id(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('V') else {
        return false;
    };
    let parts: Vec<&str> = rest.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// The table rows whose first cell starts with an ASVS id.
fn rows(doc: &str) -> Vec<Row> {
    let mut out = Vec::new();
    for (n, line) in doc.lines().enumerate() {
        let Some(inner) = line.trim().strip_prefix('|') else {
            continue;
        };
        let cells: Vec<&str> = inner.split('|').map(str::trim).collect();
        let first = cells[0].trim_matches('*');
        let id = first.split_whitespace().next().unwrap_or_default();
        if !is_id(id) {
            continue;
        }
        out.push(Row {
            line: n + 1,
            id: id.to_owned(),
            decision: cells.get(1).copied().unwrap_or_default().to_owned(),
            tests: cells.get(3).copied().unwrap_or_default().to_owned(),
        });
    }
    out
}

/// The `` `path::name` `` references in a test cell.
fn references(cell: &str) -> Vec<(String, String)> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|r| {
            // `file.rs::name` or `file.rs::tests::name` (a unit test module).
            let (_, name) = r.rsplit_once("::")?;
            let end = r.find(".rs::")? + 3;
            Some((r[..end].to_owned(), name.to_owned()))
        })
        .collect()
}

/// Whether `fn name` is defined in the file at `path` (under the repo).
fn defined(path: &str, name: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(repo().join(path)) else {
        return false;
    };
    [format!("fn {name}("), format!("fn {name}<")]
        .iter()
        .any(|needle| text.contains(needle.as_str()))
}

fn kind(decision: &str) -> Option<&'static str> {
    let d = decision.trim_start_matches('*').to_ascii_lowercase();
    ["met", "n/a", "open"]
        .into_iter()
        .find(|k| d.starts_with(k))
}

#[test]
fn every_requirement_in_scope_has_one_row_a_decision_and_real_tests() {
    let doc = std::fs::read_to_string(repo().join("docs/SECURITY.md")).expect("docs/SECURITY.md");
    let rows = rows(&doc);
    let mut problems = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for row in &rows {
        if let Some(first) = seen.insert(row.id.as_str(), row.line) {
            problems.push(format!("{} is on lines {first} and {}", row.id, row.line));
        }
        if !IN_SCOPE.contains(&row.id.as_str()) {
            problems.push(format!("line {}: {} is not in scope", row.line, row.id));
        }
        let Some(kind) = kind(&row.decision) else {
            problems.push(format!(
                "line {}: {} has no decision (met, n/a or open): {:?}",
                row.line, row.id, row.decision
            ));
            continue;
        };
        let refs = references(&row.tests);
        if kind == "met" && refs.is_empty() {
            problems.push(format!(
                "line {}: {} is met but names no test",
                row.line, row.id
            ));
        }
        for (path, name) in refs {
            if !defined(&path, &name) {
                problems.push(format!(
                    "line {}: {} names {path}::{name}, which does not exist",
                    row.line, row.id
                ));
            }
        }
    }
    for (n, line) in doc.lines().enumerate() {
        if line.to_ascii_lowercase().contains("(pending") {
            problems.push(format!(
                "line {}: a `(pending` mark; state what holds now or say open",
                n + 1
            ));
        }
    }
    for id in IN_SCOPE {
        if !seen.contains_key(id) {
            problems.push(format!("{id} has no row"));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/SECURITY.md:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_test_named_in_any_table_exists() {
    // The sections beyond ASVS (SSH, files, the proxy) name tests too.
    let doc = std::fs::read_to_string(repo().join("docs/SECURITY.md")).expect("docs/SECURITY.md");
    let mut missing = Vec::new();
    let mut named = 0;
    for (n, line) in doc.lines().enumerate() {
        if !line.trim_start().starts_with('|') {
            continue;
        }
        for (path, name) in references(line) {
            named += 1;
            if !defined(&path, &name) {
                missing.push(format!("line {}: {path}::{name}", n + 1));
            }
        }
    }
    assert!(named > 0);
    assert!(
        missing.is_empty(),
        "docs/SECURITY.md names tests that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_closing_counts_match_the_rows() {
    let doc = std::fs::read_to_string(repo().join("docs/SECURITY.md")).expect("docs/SECURITY.md");
    let rows = rows(&doc);
    let count = |k: &str| rows.iter().filter(|r| kind(&r.decision) == Some(k)).count();
    let expected = format!(
        "**Counts:** {} requirements: met {}, n/a {}, open {}.",
        rows.len(),
        count("met"),
        count("n/a"),
        count("open"),
    );
    assert!(
        doc.lines().any(|l| l.trim() == expected),
        "the closing note should say:\n{expected}"
    );
}

#[test]
fn the_scope_list_has_144_distinct_ids() {
    let mut ids: Vec<&str> = IN_SCOPE.to_vec();
    assert!(ids.iter().all(|id| is_id(id)));
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 144);
    assert!(is_id("V14.4.7") && !is_id("V2.1") && !is_id("V2.1.x"));
    assert_eq!(
        references("`tests/a.rs::f` (a note), `src/b.rs::tests::g`"),
        vec![
            ("tests/a.rs".to_owned(), "f".to_owned()),
            ("src/b.rs".to_owned(), "g".to_owned())
        ]
    );
}

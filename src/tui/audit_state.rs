//! The Audit screen's state: the rows shown (sanitised), the filter box
//! and the live refresh's bookkeeping. Plain data that `app` holds;
//! `audit_screen` changes it.
//!
//! The filter box takes free text plus `op:NAME`, `action:NAME` and
//! `contact:EMAIL` words, so one line filters by all four at 80 columns.

use chrono::{DateTime, Utc};
use tui_input::Input;

use super::sanitize::clean;
use crate::desk::audit::{AuditEntry, AuditFilter};

/// Rows asked for at once, and the most kept while new ones arrive live.
pub const AUDIT_PAGE: usize = 200;

/// Rows that are not table rows: the filter line, the frame (2), the
/// table header, the detail line, the footer and the status line.
pub const AUDIT_CHROME_ROWS: u16 = 7;

/// One audit row, safe to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    /// Row id (increasing).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Operator name, customer email or `keydesk`.
    pub actor: String,
    /// `operator`, `customer` or `system`.
    pub actor_kind: String,
    /// SSH client, client address or `local`.
    pub source: String,
    /// e.g. `reset_link.sent`.
    pub action: String,
    /// `ok`, `denied` or `refused`.
    pub outcome: String,
    /// The contact's email, if the row concerns one.
    pub contact: Option<String>,
    /// The contact's id, to open it.
    pub contact_id: Option<i64>,
    /// The plain facts, as one line.
    pub detail: String,
}

impl AuditRow {
    /// Sanitises a row from desk.
    #[must_use]
    pub fn from_desk(entry: &AuditEntry) -> Self {
        let detail = match &entry.detail {
            serde_json::Value::Object(map) if map.is_empty() => String::new(),
            other => other.to_string(),
        };
        Self {
            id: entry.id,
            at: entry.at,
            actor: clean(&entry.actor),
            actor_kind: clean(&entry.actor_kind),
            source: clean(&entry.source),
            action: clean(&entry.action),
            outcome: clean(&entry.outcome),
            contact: entry.contact.as_deref().map(clean),
            contact_id: entry.contact_id,
            detail: clean(&detail),
        }
    }
}

/// The Audit screen.
#[derive(Debug, Clone, Default)]
pub struct AuditState {
    /// Rows, newest first.
    pub rows: Vec<AuditRow>,
    /// Selected row index.
    pub selected: usize,
    /// First row on screen.
    pub offset: usize,
    /// The filter box.
    pub filter: Input,
    /// The filter box has the focus (keys type into it).
    pub typing: bool,
    /// The newest load asked for; older answers are dropped.
    pub generation: u64,
    /// A full load is on its way.
    pub loading: bool,
    /// A live refresh (rows newer than the newest shown) is on its way.
    pub refreshing: bool,
    /// The last load failed with this (sanitised) text.
    pub error: Option<String>,
}

impl AuditState {
    /// The selected row, if any.
    #[must_use]
    pub fn selected_row(&self) -> Option<&AuditRow> {
        self.rows.get(self.selected)
    }

    /// What the filter box asks desk for (a full load).
    #[must_use]
    pub fn query(&self) -> AuditFilter {
        parse_filter(self.filter.value())
    }
}

/// Reads the filter box: `op:` (or `operator:`), `action:` and `contact:`
/// words, the rest is free text.
#[must_use]
pub fn parse_filter(text: &str) -> AuditFilter {
    let mut filter = AuditFilter {
        limit: AUDIT_PAGE as u64,
        ..AuditFilter::default()
    };
    let mut words = Vec::new();
    for word in text.split_whitespace() {
        let (key, value) = word.split_once(':').unwrap_or(("", word));
        let value = Some(value.to_owned()).filter(|v| !v.is_empty());
        match key.to_ascii_lowercase().as_str() {
            "op" | "operator" => filter.operator = value,
            "action" => filter.action = value,
            "contact" => filter.contact_email = value,
            _ => words.push(word),
        }
    }
    if !words.is_empty() {
        filter.text = Some(words.join(" "));
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_filters_and_the_rest_is_text() {
        let f = parse_filter("  denied op:alex ACTION:reset_link contact:ada@example.com  x ");
        assert_eq!(f.operator.as_deref(), Some("alex"));
        assert_eq!(f.action.as_deref(), Some("reset_link"));
        assert_eq!(f.contact_email.as_deref(), Some("ada@example.com"));
        assert_eq!(f.text.as_deref(), Some("denied x"));
        assert_eq!(f.limit, AUDIT_PAGE as u64);
        assert_eq!(f.after_id, None);
        // A word being typed ("op:") filters nothing yet; other colons are text.
        let f = parse_filter("op: 10:30");
        assert_eq!(f.operator, None);
        assert_eq!(f.text.as_deref(), Some("10:30"));
        assert_eq!(
            parse_filter(""),
            AuditFilter {
                limit: AUDIT_PAGE as u64,
                ..Default::default()
            }
        );
    }

    #[test]
    fn rows_are_sanitised() {
        let entry = AuditEntry {
            id: 1,
            at: chrono::Utc::now(),
            actor: "eve\u{1b}[2J".into(),
            actor_kind: "customer".into(),
            source: "203.0.113.9".into(),
            action: "login.failed".into(),
            outcome: "ok".into(),
            contact: Some("x\u{7}@example.com".into()),
            contact_id: Some(3),
            detail: serde_json::json!({"note": "\u{1b}]0;pwned\u{7}"}),
        };
        let row = AuditRow::from_desk(&entry);
        for text in [&row.actor, row.contact.as_ref().unwrap(), &row.detail] {
            assert!(!text.chars().any(char::is_control), "{text:?}");
        }
    }
}

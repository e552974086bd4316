//! The profile's notes and email history as the console holds them:
//! desk's read models with every text sanitised on the way in.

use chrono::{DateTime, Utc};

use super::sanitize::clean;
use crate::desk::email_history::SentMail;
use crate::desk::notes::NoteEntry;

/// A note as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteLine {
    /// Key.
    pub id: i64,
    /// Author, sanitised.
    pub author: String,
    /// Written at.
    pub at: DateTime<Utc>,
    /// The text, sanitised line by line.
    pub lines: Vec<String>,
}

impl From<&NoteEntry> for NoteLine {
    fn from(n: &NoteEntry) -> Self {
        Self {
            id: n.id,
            author: clean(&n.author),
            at: n.created_at,
            lines: n.text.lines().map(clean).collect(),
        }
    }
}

/// A message of the email history with its texts sanitised (it never
/// holds a body or a link).
#[must_use]
pub fn clean_mail(m: &SentMail) -> SentMail {
    SentMail {
        kind: clean(&m.kind),
        recipient: clean(&m.recipient),
        state: clean(&m.state),
        last_error: clean(&m.last_error),
        ..m.clone()
    }
}

//! Notes (`n` on a profile; agents and admins): write a note of several
//! lines (Enter breaks the line, Ctrl-S saves), and below it the contact's
//! notes newest first; with the list focused, Delete removes the selected
//! note after a confirmation (its author or an admin; desk decides).

pub use super::profile_extra::NoteLine;
use super::profile_view::Target;

/// Longest note the editor takes, in characters (desk's limit).
pub const MAX_CHARS: usize = crate::desk::notes::MAX_NOTE_CHARS;

/// The parts of the dialog, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteField {
    /// The text being written.
    Text,
    /// Save.
    Save,
    /// The existing notes.
    List,
    /// Close.
    Close,
}

impl NoteField {
    /// The next part in Tab order.
    #[must_use]
    pub fn next(self) -> Self {
        match self {
            Self::Text => Self::Save,
            Self::Save => Self::List,
            Self::List => Self::Close,
            Self::Close => Self::Text,
        }
    }
    /// The previous part in Tab order.
    #[must_use]
    pub fn prev(self) -> Self {
        match self {
            Self::Text => Self::Close,
            Self::Save => Self::Text,
            Self::List => Self::Save,
            Self::Close => Self::List,
        }
    }
}

/// The Notes dialog.
#[derive(Debug, Clone)]
pub struct NoteEditor {
    /// Whom it is about.
    pub target: Target,
    /// The text being written (line breaks kept).
    pub text: String,
    /// The focused part.
    pub focus: NoteField,
    /// The selected note in the list.
    pub selected: usize,
    /// Saving.
    pub running: bool,
    /// The contact's notes are on their way (the profile was not loaded,
    /// or not on screen and so maybe old, when Notes opened).
    pub loading: bool,
    /// Why the last save failed.
    pub error: Option<String>,
}

impl NoteEditor {
    /// An empty editor.
    #[must_use]
    pub fn new(target: Target) -> Self {
        Self {
            target,
            text: String::new(),
            focus: NoteField::Text,
            selected: 0,
            running: false,
            loading: false,
            error: None,
        }
    }

    /// Types one character (a line break for Enter); past the limit
    /// nothing more is taken and the editor says so.
    pub fn type_char(&mut self, c: char) {
        if c.is_control() && c != '\n' {
            return;
        }
        if self.text.chars().count() >= MAX_CHARS {
            self.error = Some(format!("A note holds at most {MAX_CHARS} characters"));
            return;
        }
        self.error = None;
        self.text.push(c);
    }

    /// Pasted text: line ends unified, other control characters dropped.
    pub fn paste(&mut self, text: &str) {
        for c in text.replace("\r\n", "\n").replace('\r', "\n").chars() {
            self.type_char(c);
        }
    }

    /// Removes the last character.
    pub fn backspace(&mut self) {
        self.text.pop();
        self.error = None;
    }

    /// Characters written so far.
    #[must_use]
    pub fn count(&self) -> usize {
        self.text.chars().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editor_keeps_lines_drops_controls_and_stops_at_the_limit() {
        let mut e = NoteEditor::new(Target {
            contact_id: 1,
            name: "Cleo".into(),
            email: "cleo@example.com".into(),
            customer: false,
        });
        e.paste("one\r\ntwo\u{1b}[2J\rthree");
        assert_eq!(e.text, "one\ntwo[2J\nthree");
        e.backspace();
        assert_eq!(e.text, "one\ntwo[2J\nthre");
        e.paste(&"x".repeat(MAX_CHARS));
        assert_eq!(e.count(), MAX_CHARS);
        assert!(e.error.is_some());
    }
}

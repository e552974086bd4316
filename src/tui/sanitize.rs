//! Makes text from the database harmless before it reaches a terminal
//! (DESIGN rule 8): a contact's name cannot move the cursor, set the window
//! title, touch the clipboard, reorder the line with bidi overrides, hide
//! characters, or flood the screen.
//!
//! Every string that comes from outside the program (names, emails, offer
//! titles, audit details, error texts that may quote them) passes through
//! [`clean`] once, when it enters the console's state, so drawing stays a
//! pure and allocation-light function of that state.

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;

/// The longest text, in characters, kept for one field.
pub const MAX_CHARS: usize = 200;

/// Combining marks kept after one base character ("Zalgo" text is capped).
const MAX_COMBINING: usize = 2;

/// What one character becomes.
enum Fate {
    Keep,
    Drop,
    Replace(char),
}

fn fate(ch: char) -> Fate {
    match ch {
        // Tabs and line breaks would break the one-line layout of a cell.
        '\t' | '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{2028}' | '\u{2029}' | '\u{85}' => {
            Fate::Replace(' ')
        }
        // Other C0 controls and DEL show as their visible "control picture"
        // (ESC becomes ␛), so the agent sees that something odd is there.
        '\u{00}'..='\u{1f}' => {
            Fate::Replace(char::from_u32(0x2400 + ch as u32).unwrap_or('\u{fffd}'))
        }
        '\u{7f}' => Fate::Replace('\u{2421}'),
        // C1 controls (CSI, OSC, DCS as single bytes in some terminals),
        // and the replacement character itself: some terminals (vt100-style
        // emulators among them) print nothing for U+FFFD and do not advance
        // the cursor, which would shift the rest of the row. A plain `?`
        // takes one cell everywhere.
        '\u{80}'..='\u{9f}' | '\u{fffd}' => Fate::Replace('?'),
        // Bidi embeddings, overrides, isolates and marks reorder what
        // follows them; dropping them shows the text in storage order.
        '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{061c}' => Fate::Drop,
        // Zero-width characters hide text or make two names look alike.
        '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}' => Fate::Drop,
        // Interlinear annotation controls hide text between them.
        '\u{fff9}'..='\u{fffb}' => Fate::Drop,
        _ => Fate::Keep,
    }
}

/// Returns `text` safe to draw, at most `max_chars` characters (an ellipsis
/// marks a cut). Borrows when nothing needed changing.
#[must_use]
pub fn clean_to(text: &str, max_chars: usize) -> Cow<'_, str> {
    let needs_work = text.chars().count() > max_chars
        || text
            .chars()
            .any(|c| !matches!(fate(c), Fate::Keep) || c.width() == Some(0));
    if !needs_work {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    let mut kept = 0usize;
    let mut combining = 0usize;
    let mut overflow = false;
    for ch in text.chars() {
        let ch = match fate(ch) {
            Fate::Keep => ch,
            Fate::Drop => continue,
            Fate::Replace(r) => r,
        };
        if ch.width() == Some(0) {
            combining += 1;
            // A mark with no base, or one too many, is dropped.
            if combining > MAX_COMBINING || kept == 0 {
                continue;
            }
        } else {
            combining = 0;
        }
        if kept == max_chars {
            overflow = true;
            break;
        }
        out.push(ch);
        kept += 1;
    }
    if overflow && out.pop().is_some() {
        out.push('…');
    }
    Cow::Owned(out)
}

/// [`clean_to`] with the default cap, as an owned string for the state.
#[must_use]
pub fn clean(text: &str) -> String {
    clean_to(text, MAX_CHARS).into_owned()
}

/// A paste into a one-line field: control characters (line breaks, tabs,
/// escapes) become spaces, the ends are trimmed.
#[must_use]
pub fn pasted_line(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    line.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_no_controls(s: &str) -> bool {
        s.chars().all(|c| {
            !c.is_control()
                && !('\u{202a}'..='\u{202e}').contains(&c)
                && !('\u{2066}'..='\u{2069}').contains(&c)
                && !('\u{200b}'..='\u{200f}').contains(&c)
        })
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(
            clean_to("Ada Lovelace", 50),
            Cow::Borrowed("Ada Lovelace")
        ));
        assert_eq!(clean("Zoë Ñúñez 山田"), "Zoë Ñúñez 山田");
    }

    #[test]
    fn escape_sequences_become_visible_and_inert() {
        let evil = "Eve\x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07";
        let shown = clean(evil);
        assert!(!shown.contains('\x1b'), "{shown:?}");
        assert!(!shown.contains('\x07'));
        assert!(shown.starts_with("Eve␛]0;pwned␇␛[2J"), "{shown:?}");
        assert!(has_no_controls(&shown));
    }

    #[test]
    fn c1_controls_and_del_are_replaced() {
        let shown = clean("a\u{9b}31mb\u{9d}c\u{7f}\u{fffd}");
        assert_eq!(shown, "a?31mb?c\u{2421}?");
    }

    #[test]
    fn bidi_overrides_and_zero_width_are_dropped() {
        assert_eq!(clean("admin\u{202e}txt.exe"), "admintxt.exe");
        assert_eq!(clean("a\u{2066}b\u{2069}c"), "abc");
        assert_eq!(clean("pay\u{200b}pal\u{feff}"), "paypal");
    }

    #[test]
    fn line_breaks_become_spaces() {
        assert_eq!(clean("two\nlines\r\tand"), "two lines  and");
    }

    #[test]
    fn length_is_capped_with_an_ellipsis() {
        let long = "x".repeat(1000);
        let shown = clean_to(&long, 10);
        assert_eq!(shown.chars().count(), 10);
        assert!(shown.ends_with('…'));
        assert_eq!(clean_to("exactly10!", 10), "exactly10!");
    }

    #[test]
    fn combining_floods_are_capped() {
        let zalgo = format!("Z{}", "\u{0301}".repeat(50));
        assert_eq!(clean(&zalgo).chars().count(), 1 + MAX_COMBINING);
        // A leading combining mark has nothing to sit on.
        assert_eq!(clean("\u{0301}x"), "x");
    }

    #[test]
    fn every_byte_value_is_harmless() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let shown = clean_to(&all, usize::MAX);
        assert!(has_no_controls(&shown));
    }
}

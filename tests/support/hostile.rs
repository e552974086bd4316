//! What hostile text must never smuggle through: the characters no screen
//! cell, mail header or page may carry from contact data.

/// A control character, a bidi override or isolate, or an invisible
/// (zero-width, word joiner, byte-order mark) character.
pub fn is_hostile_char(c: char) -> bool {
    c.is_control()
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || ('\u{200b}'..='\u{200f}').contains(&c)
        || c == '\u{feff}'
        || c == '\u{2060}'
}

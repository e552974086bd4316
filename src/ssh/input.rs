//! Bytes from an SSH channel into the crossterm events the console reads.
//!
//! crossterm parses input only from a real terminal, so the channel's
//! bytes go through terminput's parser (a port of crossterm's own) and
//! are converted back to crossterm events: arrows, function keys, Home
//! and End, bracketed paste, Alt and Ctrl combinations arrive exactly as
//! they do on the local console. A lone `ESC` at the end of a packet is
//! the Esc key (as crossterm decides when no more bytes are waiting).

use ratatui::crossterm::event::Event;

/// The most bytes one unfinished sequence (a paste) may hold; past this
/// the sequence is dropped rather than held in memory.
pub const MAX_PENDING: usize = 1 << 20;

/// Turns a byte stream into events; keeps an unfinished sequence between
/// packets.
#[derive(Debug, Default)]
pub struct InputParser {
    pending: Vec<u8>,
}

impl InputParser {
    /// A parser with nothing pending.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one packet's bytes, appending the complete events to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) {
        for (i, &byte) in bytes.iter().enumerate() {
            self.pending.push(byte);
            let more = i + 1 < bytes.len();
            // ESC alone is either the Esc key or the start of a sequence:
            // wait while more bytes of this packet follow.
            if more && self.pending == [0x1b] {
                continue;
            }
            match terminput::Event::parse_from(&self.pending) {
                Ok(Some(event)) => {
                    self.pending.clear();
                    if let Ok(event) = terminput_crossterm::to_crossterm(event) {
                        out.push(event);
                    }
                }
                Ok(None) if self.pending.len() > MAX_PENDING => self.pending.clear(),
                Ok(None) => {}
                // An unknown sequence: drop it, as crossterm does.
                Err(_) => self.pending.clear(),
            }
        }
    }

    /// Parses one packet and returns its events.
    #[must_use]
    pub fn parse(&mut self, bytes: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        self.feed(bytes, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use super::*;

    fn keys(bytes: &[u8]) -> Vec<(KeyCode, KeyModifiers)> {
        InputParser::new()
            .parse(bytes)
            .into_iter()
            .filter_map(|e| match e {
                Event::Key(KeyEvent {
                    code, modifiers, ..
                }) => Some((code, modifiers)),
                _ => None,
            })
            .collect()
    }

    const NONE: KeyModifiers = KeyModifiers::NONE;

    #[test]
    fn arrows_and_function_keys_in_both_encodings() {
        assert_eq!(
            keys(b"\x1b[A\x1b[B\x1bOC\x1bOD"),
            vec![
                (KeyCode::Up, NONE),
                (KeyCode::Down, NONE),
                (KeyCode::Right, NONE),
                (KeyCode::Left, NONE)
            ]
        );
        assert_eq!(
            keys(b"\x1bOP\x1b[15~\x1b[24~\x1b[H\x1b[F\x1b[5~\x1b[3~"),
            vec![
                (KeyCode::F(1), NONE),
                (KeyCode::F(5), NONE),
                (KeyCode::F(12), NONE),
                (KeyCode::Home, NONE),
                (KeyCode::End, NONE),
                (KeyCode::PageUp, NONE),
                (KeyCode::Delete, NONE),
            ]
        );
    }

    #[test]
    fn ctrl_alt_and_modified_arrows() {
        assert_eq!(
            keys(b"\x03\x1bx\x1b[1;5C\x1b[1;3A"),
            vec![
                (KeyCode::Char('c'), KeyModifiers::CONTROL),
                (KeyCode::Char('x'), KeyModifiers::ALT),
                (KeyCode::Right, KeyModifiers::CONTROL),
                (KeyCode::Up, KeyModifiers::ALT),
            ]
        );
    }

    #[test]
    fn enter_tab_backspace_and_text() {
        assert_eq!(
            keys("\r\t\x7fé/".as_bytes()),
            vec![
                (KeyCode::Enter, NONE),
                (KeyCode::Tab, NONE),
                (KeyCode::Backspace, NONE),
                (KeyCode::Char('é'), NONE),
                (KeyCode::Char('/'), NONE),
            ]
        );
    }

    #[test]
    fn lone_escape_is_the_esc_key_but_waits_inside_a_packet() {
        assert_eq!(keys(b"\x1b"), vec![(KeyCode::Esc, NONE)]);
        assert_eq!(keys(b"\x1b[A"), vec![(KeyCode::Up, NONE)]);
    }

    #[test]
    fn a_sequence_split_across_packets_is_joined() {
        let mut p = InputParser::new();
        assert!(p.parse(b"\x1b[1;").is_empty());
        let events = p.parse(b"5D");
        assert!(matches!(
            events.as_slice(),
            [Event::Key(KeyEvent {
                code: KeyCode::Left,
                modifiers: KeyModifiers::CONTROL,
                ..
            })]
        ));
        // A UTF-8 character split in two.
        let bytes = "ü".as_bytes();
        assert!(p.parse(&bytes[..1]).is_empty());
        assert_eq!(
            p.parse(&bytes[1..]),
            vec![Event::Key(KeyEvent::new(KeyCode::Char('ü'), NONE))]
        );
    }

    #[test]
    fn bracketed_paste_arrives_whole_even_across_packets() {
        let mut p = InputParser::new();
        assert!(p.parse(b"\x1b[200~ada@exa").is_empty());
        assert_eq!(
            p.parse(b"mple.com\x1b[201~q"),
            vec![
                Event::Paste("ada@example.com".into()),
                Event::Key(KeyEvent::new(KeyCode::Char('q'), NONE)),
            ]
        );
    }

    #[test]
    fn unknown_sequences_are_dropped_and_parsing_goes_on() {
        assert_eq!(keys(b"\x1b[99;99;99zq"), vec![(KeyCode::Char('q'), NONE)]);
    }
}

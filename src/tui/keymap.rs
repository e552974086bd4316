//! The one table of key bindings. Each [`Command`] has a name (the key in
//! `[ui.keys]`), a description, a `dangerous` flag, the screens where it
//! applies and its default keys. The footer hints, the `?` help and the
//! key lookup all read this table, so they cannot disagree.
//!
//! Keys a user binds are [`Command`]s; what the program tells itself
//! (search results, a finished action) are `Msg`s in `update.rs`.

use std::collections::BTreeMap;
use std::fmt;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use super::commands::{Command, CommandInfo, Context};

/// One key with its modifiers, normalised so `G` and `Shift-g` compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    /// The key.
    pub code: KeyCode,
    /// Ctrl and Alt (Shift is folded into characters).
    pub mods: KeyModifiers,
}

/// Why a key or a binding in settings is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    /// The key text does not name a key.
    #[error(
        "settings: `ui.keys.{command}`: {key:?} is not a key (examples: \"x\", \"ctrl-f\", \"f2\", \"pgdn\", \"space\")"
    )]
    BadKey {
        /// The command it was for.
        command: String,
        /// The text given.
        key: String,
    },
    /// No such command.
    #[error("settings: `ui.keys.{0}` is not a command; commands are: {1}")]
    UnknownCommand(String, String),
    /// Two commands would share a key on one screen.
    #[error(
        "settings: `ui.keys`: {key} would mean both `{first}` and `{second}` on the {context} screen"
    )]
    Conflict {
        /// The key, as shown.
        key: String,
        /// One command.
        first: &'static str,
        /// The other.
        second: &'static str,
        /// Where they clash.
        context: &'static str,
    },
}

impl KeySpec {
    /// A key without modifiers.
    #[must_use]
    pub const fn plain(code: KeyCode) -> Self {
        Self {
            code,
            mods: KeyModifiers::NONE,
        }
    }

    /// The normalised key of a terminal key event.
    #[must_use]
    pub fn from_event(event: &KeyEvent) -> Self {
        let mut mods = event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        let code = match event.code {
            // Ctrl-letters arrive lowercase from most terminals; compare them so.
            KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Tab if event.modifiers.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
            other => other,
        };
        Self { code, mods }
    }

    /// Parses `x`, `G`, `?`, `ctrl-f`, `alt-x`, `enter`, `esc`, `tab`,
    /// `backtab` (or `shift-tab`), `space`, `up`, `pgdn`, `home`, `f2`, ...
    ///
    /// # Errors
    /// When the text names no key (the error's `command` is left empty).
    pub fn parse(text: &str) -> Result<Self, KeymapError> {
        let bad = || KeymapError::BadKey {
            command: String::new(),
            key: text.to_owned(),
        };
        let mut mods = KeyModifiers::NONE;
        let mut rest = text.trim();
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower
                .strip_prefix("ctrl-")
                .or_else(|| lower.strip_prefix("c-"))
            {
                if r.is_empty() {
                    break;
                }
                mods |= KeyModifiers::CONTROL;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower
                .strip_prefix("alt-")
                .or_else(|| lower.strip_prefix("m-"))
            {
                if r.is_empty() {
                    break;
                }
                mods |= KeyModifiers::ALT;
                rest = &rest[rest.len() - r.len()..];
            } else if lower.starts_with("shift-tab") {
                return Ok(Self {
                    code: KeyCode::BackTab,
                    mods,
                });
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(if mods.contains(KeyModifiers::CONTROL) {
                c.to_ascii_lowercase()
            } else {
                c
            }),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "comma" => KeyCode::Char(','),
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdn" | "pagedown" => KeyCode::PageDown,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                f if f.starts_with('f') => {
                    let n: u8 = f[1..].parse().map_err(|_| bad())?;
                    if !(1..=24).contains(&n) {
                        return Err(bad());
                    }
                    KeyCode::F(n)
                }
                _ => return Err(bad()),
            },
        };
        Ok(Self { code, mods })
    }

    /// Whether it is a character a text field would take.
    #[must_use]
    pub fn is_text(self) -> bool {
        matches!(self.code, KeyCode::Char(_))
            && !self
                .mods
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) if self.mods.contains(KeyModifiers::CONTROL) => {
                write!(f, "{}", c.to_ascii_uppercase())
            }
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::Delete => f.write_str("Del"),
            KeyCode::Insert => f.write_str("Ins"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The effective bindings: defaults with the settings' overrides applied.
#[derive(Debug, Clone)]
pub struct Keymap {
    keys: BTreeMap<Command, Vec<KeySpec>>,
}

impl Keymap {
    /// The built-in defaults.
    #[must_use]
    pub fn defaults() -> Self {
        let keys = Command::ALL
            .into_iter()
            .map(|c| {
                let keys = c
                    .info()
                    .default_keys
                    .iter()
                    .filter_map(|k| KeySpec::parse(k).ok())
                    .collect();
                (c, keys)
            })
            .collect();
        Self { keys }
    }

    /// Defaults overridden by `[ui.keys]`: `command = "key"`, or several
    /// keys separated by spaces (`down = "j down ctrl-n"`).
    ///
    /// # Errors
    /// An unknown command, a key that is not a key, or two commands that
    /// would share a key on one screen; each names the setting.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Self, KeymapError> {
        let mut map = Self::defaults();
        for (name, value) in overrides {
            let command = Command::by_name(name).ok_or_else(|| {
                let names: Vec<&str> = Command::ALL.iter().map(|c| c.info().name).collect();
                KeymapError::UnknownCommand(name.clone(), names.join(", "))
            })?;
            let keys = value
                .split_whitespace()
                .map(|k| {
                    KeySpec::parse(k).map_err(|_| KeymapError::BadKey {
                        command: name.clone(),
                        key: k.to_owned(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if keys.is_empty() {
                return Err(KeymapError::BadKey {
                    command: name.clone(),
                    key: value.clone(),
                });
            }
            map.keys.insert(command, keys);
        }
        map.check()?;
        Ok(map)
    }

    /// Refuses two commands that share a key on one screen.
    fn check(&self) -> Result<(), KeymapError> {
        for (i, a) in Command::ALL.iter().enumerate() {
            for b in &Command::ALL[i + 1..] {
                for context in a.info().contexts {
                    if !b.applies_in(*context) {
                        continue;
                    }
                    if let Some(key) = self.keys(*a).iter().find(|k| self.keys(*b).contains(k)) {
                        return Err(KeymapError::Conflict {
                            key: key.to_string(),
                            first: a.info().name,
                            second: b.info().name,
                            context: context.title(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The keys bound to a command.
    #[must_use]
    pub fn keys(&self, command: Command) -> &[KeySpec] {
        self.keys.get(&command).map_or(&[], Vec::as_slice)
    }

    /// The first key of a command, as shown in hints ("?" if unbound).
    #[must_use]
    pub fn first_key(&self, command: Command) -> String {
        self.keys(command)
            .first()
            .map_or_else(|| "?".to_owned(), ToString::to_string)
    }

    /// The first key that means `command` in `context` (in a text field a
    /// plain character types itself, so `j` or `q` are not offered there).
    #[must_use]
    pub fn first_key_in(&self, context: Context, command: Command) -> Option<String> {
        self.keys(command)
            .iter()
            .find(|key| self.lookup(context, **key) == Some(command))
            .map(ToString::to_string)
    }

    /// Every key of a command, joined for help ("k ↑").
    #[must_use]
    pub fn keys_text(&self, command: Command) -> String {
        let shown: Vec<String> = self.keys(command).iter().map(ToString::to_string).collect();
        shown.join(" ")
    }

    /// The command a key means in `context`, if any. In a text field,
    /// plain characters are text, never commands.
    #[must_use]
    pub fn lookup(&self, context: Context, key: KeySpec) -> Option<Command> {
        if context.takes_text() && key.is_text() {
            return None;
        }
        Command::ALL
            .into_iter()
            .find(|c| c.applies_in(context) && self.keys(*c).contains(&key))
    }

    /// The commands of a context, in help order.
    pub fn commands_in(&self, context: Context) -> impl Iterator<Item = Command> + '_ {
        Command::ALL
            .into_iter()
            .filter(move |c| c.applies_in(context))
    }
}

impl Default for Keymap {
    fn default() -> Self {
        Self::defaults()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::Action;
    use ratatui::crossterm::event::KeyEventKind;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeySpec {
        KeySpec::from_event(&KeyEvent::new_with_kind(code, mods, KeyEventKind::Press))
    }

    #[test]
    fn the_defaults_have_no_conflicts_and_parse() {
        let map = Keymap::defaults();
        map.check().unwrap();
        for c in Command::ALL {
            assert_eq!(map.keys(c).len(), c.info().default_keys.len(), "{c:?}");
        }
    }

    #[test]
    fn vim_flavoured_defaults() {
        let map = Keymap::defaults();
        let key = |c| KeySpec::plain(KeyCode::Char(c));
        assert_eq!(map.lookup(Context::List, key('/')), Some(Command::Search));
        assert_eq!(map.lookup(Context::List, key('j')), Some(Command::Down));
        assert_eq!(map.lookup(Context::List, key('k')), Some(Command::Up));
        assert_eq!(map.lookup(Context::List, key('g')), Some(Command::Top));
        assert_eq!(
            map.lookup(
                Context::List,
                press(KeyCode::Char('G'), KeyModifiers::SHIFT)
            ),
            Some(Command::Bottom)
        );
        assert_eq!(
            map.lookup(Context::List, key('r')),
            Some(Command::Act(Action::SendResetLink))
        );
        assert_eq!(
            map.lookup(Context::List, key('.')),
            Some(Command::MoreActions)
        );
        assert_eq!(map.lookup(Context::List, key('?')), Some(Command::Help));
        assert_eq!(map.lookup(Context::List, key('q')), Some(Command::Quit));
        assert_eq!(
            map.lookup(Context::List, KeySpec::plain(KeyCode::Tab)),
            Some(Command::KindFilter)
        );
        assert_eq!(
            map.lookup(Context::Confirm, KeySpec::plain(KeyCode::Tab)),
            Some(Command::NextField)
        );
        assert_eq!(
            map.lookup(
                Context::ChangePassword,
                press(KeyCode::Char('g'), KeyModifiers::CONTROL)
            ),
            Some(Command::Generate)
        );
        assert_eq!(
            map.lookup(
                Context::Search,
                press(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Some(Command::Quit)
        );
    }

    #[test]
    fn printable_keys_type_in_text_fields() {
        let map = Keymap::defaults();
        for c in ['q', 'j', 'r', '.', '?', '/'] {
            assert_eq!(
                map.lookup(Context::Search, KeySpec::plain(KeyCode::Char(c))),
                None
            );
            assert_eq!(
                map.lookup(Context::ChangePassword, KeySpec::plain(KeyCode::Char(c))),
                None
            );
        }
        assert_eq!(
            map.lookup(Context::Search, KeySpec::plain(KeyCode::Down)),
            Some(Command::Down)
        );
        assert_eq!(
            map.lookup(Context::Search, KeySpec::plain(KeyCode::Esc)),
            Some(Command::Back)
        );
    }

    #[test]
    fn keys_parse_and_print() {
        for (text, shown) in [
            ("x", "x"),
            ("G", "G"),
            ("ctrl-f", "Ctrl-F"),
            ("Ctrl-F", "Ctrl-F"),
            ("alt-x", "Alt-x"),
            ("pgdn", "PgDn"),
            ("f2", "F2"),
            ("space", "Space"),
            ("shift-tab", "Shift-Tab"),
            ("enter", "Enter"),
            ("-", "-"),
        ] {
            assert_eq!(KeySpec::parse(text).unwrap().to_string(), shown, "{text}");
        }
        for bad in ["", "ctrl-", "f99", "hyper-x", "pgdown2"] {
            assert!(KeySpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overrides_replace_defaults() {
        let mut o = BTreeMap::new();
        o.insert("search".to_owned(), "ctrl-f f3".to_owned());
        let map = Keymap::with_overrides(&o).unwrap();
        assert_eq!(
            map.lookup(Context::List, KeySpec::plain(KeyCode::Char('/'))),
            None
        );
        assert_eq!(
            map.lookup(
                Context::List,
                press(KeyCode::Char('f'), KeyModifiers::CONTROL)
            ),
            Some(Command::Search)
        );
        assert_eq!(
            map.lookup(Context::List, KeySpec::plain(KeyCode::F(3))),
            Some(Command::Search)
        );
        assert_eq!(map.keys_text(Command::Search), "Ctrl-F F3");
    }

    #[test]
    fn bad_overrides_name_the_setting() {
        let mut o = BTreeMap::new();
        o.insert("serch".to_owned(), "s".to_owned());
        let err = Keymap::with_overrides(&o).unwrap_err().to_string();
        assert!(
            err.contains("ui.keys.serch") && err.contains("search"),
            "{err}"
        );

        let mut o = BTreeMap::new();
        o.insert("search".to_owned(), "hyper-s".to_owned());
        let err = Keymap::with_overrides(&o).unwrap_err().to_string();
        assert!(
            err.contains("ui.keys.search") && err.contains("hyper-s"),
            "{err}"
        );

        let mut o = BTreeMap::new();
        o.insert("search".to_owned(), "j".to_owned());
        let err = Keymap::with_overrides(&o).unwrap_err().to_string();
        assert!(err.contains("`search`") && err.contains("`down`"), "{err}");
    }
}

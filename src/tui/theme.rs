//! Themes name roles, never raw colours: views ask for `theme.muted` or
//! `theme.alert`, and the three shipped themes decide what that looks
//! like. `default` uses the 256-colour palette, `ansi16` only the sixteen
//! colours every terminal has (they follow the user's terminal palette),
//! and `mono` uses no colour at all, only bold, dim, reverse and underline.
//! `NO_COLOR` (any non-empty value) forces `mono`.

use ratatui::style::{Color, Modifier, Style};

use crate::settings::ThemeName;

/// The styles every view draws with, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Which theme this is.
    pub name: ThemeName,
    /// Ordinary text.
    pub base: Style,
    /// Secondary text: labels, dates, hints.
    pub muted: Style,
    /// Titles.
    pub accent: Style,
    /// Frames of panes. The focused pane is told apart by its thick
    /// lines, not by colour: a colour change at each edge of every row
    /// would cost bytes on every frame.
    pub border: Style,
    /// The selected row.
    pub selection: Style,
    /// Errors, dangerous actions, locked accounts.
    pub alert: Style,
    /// Something to watch: retrying mail, must-change passwords.
    pub warning: Style,
    /// Done: sent, saved.
    pub success: Style,
    /// A key in the footer and in help.
    pub key: Style,
    /// A disabled menu item.
    pub disabled: Style,
    /// The Customer badge.
    pub badge_customer: Style,
    /// The Subscriber badge.
    pub badge_subscriber: Style,
    /// The plain Contact badge.
    pub badge_contact: Style,
    /// The focused button or menu item.
    pub focused: Style,
    /// Text fields.
    pub input: Style,
}

impl Theme {
    /// The theme named in settings, unless `no_color` forces monochrome.
    #[must_use]
    pub fn pick(name: ThemeName, no_color: bool) -> Self {
        if no_color {
            return Self::mono();
        }
        match name {
            ThemeName::Default => Self::default_256(),
            ThemeName::Ansi16 => Self::ansi16(),
            ThemeName::Mono => Self::mono(),
        }
    }

    /// Whether the environment asks for no colour (<https://no-color.org>).
    #[must_use]
    pub fn no_color_from_env() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    /// The 256-colour default.
    #[must_use]
    pub fn default_256() -> Self {
        Self {
            name: ThemeName::Default,
            // The terminal's own foreground: readable on light and dark
            // backgrounds, and the shortest colour code there is.
            base: Style::new().fg(Color::Reset),
            muted: Style::new().fg(Color::Indexed(245)),
            accent: Style::new()
                .fg(Color::Indexed(75))
                .add_modifier(Modifier::BOLD),
            // The same grey as muted text: the frame beside a label then
            // costs no colour change (as in ansi16).
            border: Style::new().fg(Color::Indexed(245)),
            selection: Style::new().fg(Color::Indexed(231)).bg(Color::Indexed(24)),
            alert: Style::new()
                .fg(Color::Indexed(203))
                .add_modifier(Modifier::BOLD),
            warning: Style::new().fg(Color::Indexed(214)),
            success: Style::new().fg(Color::Indexed(114)),
            key: Style::new()
                .fg(Color::Indexed(75))
                .add_modifier(Modifier::BOLD),
            disabled: Style::new().fg(Color::Indexed(241)),
            badge_customer: Style::new()
                .fg(Color::Indexed(114))
                .add_modifier(Modifier::BOLD),
            badge_subscriber: Style::new().fg(Color::Indexed(180)),
            badge_contact: Style::new().fg(Color::Indexed(245)),
            focused: Style::new()
                .fg(Color::Indexed(16))
                .bg(Color::Indexed(75))
                .add_modifier(Modifier::BOLD),
            input: Style::new().fg(Color::Indexed(231)),
        }
    }

    /// Only the sixteen ANSI colours, so the user's palette applies.
    #[must_use]
    pub fn ansi16() -> Self {
        Self {
            name: ThemeName::Ansi16,
            base: Style::new().fg(Color::Reset),
            muted: Style::new().fg(Color::DarkGray),
            accent: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            border: Style::new().fg(Color::DarkGray),
            selection: Style::new().fg(Color::Black).bg(Color::Cyan),
            alert: Style::new()
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD),
            warning: Style::new().fg(Color::Yellow),
            success: Style::new().fg(Color::Green),
            key: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            disabled: Style::new().fg(Color::DarkGray),
            badge_customer: Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            badge_subscriber: Style::new().fg(Color::Yellow),
            badge_contact: Style::new().fg(Color::DarkGray),
            focused: Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            input: Style::new().fg(Color::White),
        }
    }

    /// No colour: meaning carried by bold, dim, reverse and underline.
    #[must_use]
    pub fn mono() -> Self {
        let plain = Style::new();
        Self {
            name: ThemeName::Mono,
            base: plain,
            muted: plain.add_modifier(Modifier::DIM),
            accent: plain.add_modifier(Modifier::BOLD),
            border: plain,
            selection: plain.add_modifier(Modifier::REVERSED),
            alert: plain.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            warning: plain.add_modifier(Modifier::BOLD),
            success: plain,
            key: plain.add_modifier(Modifier::BOLD),
            disabled: plain.add_modifier(Modifier::DIM),
            badge_customer: plain.add_modifier(Modifier::BOLD),
            badge_subscriber: plain,
            badge_contact: plain.add_modifier(Modifier::DIM),
            focused: plain.add_modifier(Modifier::REVERSED | Modifier::BOLD),
            input: plain.add_modifier(Modifier::UNDERLINED),
        }
    }
}

impl Default for Theme {
    fn default() -> Self {
        Self::default_256()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colours(t: &Theme) -> Vec<Option<Color>> {
        [
            t.base,
            t.muted,
            t.accent,
            t.border,
            t.selection,
            t.alert,
            t.warning,
            t.success,
            t.key,
            t.disabled,
            t.badge_customer,
            t.badge_subscriber,
            t.badge_contact,
            t.focused,
            t.input,
        ]
        .iter()
        .flat_map(|s| [s.fg, s.bg])
        .collect()
    }

    #[test]
    fn no_color_forces_mono_whatever_the_setting() {
        for name in [ThemeName::Default, ThemeName::Ansi16, ThemeName::Mono] {
            assert_eq!(Theme::pick(name, true).name, ThemeName::Mono);
        }
        assert!(colours(&Theme::mono()).iter().all(Option::is_none));
    }

    #[test]
    fn ansi16_uses_only_the_sixteen_colours() {
        for c in colours(&Theme::ansi16()).into_iter().flatten() {
            assert!(
                !matches!(c, Color::Indexed(_) | Color::Rgb(..)),
                "{c:?} is outside the 16 colours"
            );
        }
    }

    #[test]
    fn the_selection_is_visible_in_every_theme() {
        for t in [Theme::default_256(), Theme::ansi16(), Theme::mono()] {
            assert_ne!(t.selection, t.base, "{:?}", t.name);
            assert_ne!(t.focused, t.base, "{:?}", t.name);
        }
    }
}

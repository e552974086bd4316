//! Fewer bytes on the wire. Over SSH every byte a frame writes is latency.
//! ratatui finds the cells that changed; [`LeanBackend`] decides how to
//! write them, cheaper than a plain crossterm backend does:
//!
//! - a blank cell's foreground, bold or dim cannot be seen, so
//!   [`plain_blanks`] makes them plain before the diff (an invisible style
//!   change is then no change) and the writer draws a blank in whatever
//!   colour is current instead of switching colour for it;
//! - a style change is one SGR sequence holding only what changed, with
//!   the short codes for the sixteen ANSI colours;
//! - a short jump along a row is a cursor-forward or, when cheaper, the
//!   unchanged characters themselves, rather than an absolute move.
//!
//! The backend keeps its own size, cursor and a copy of the ASCII it has
//! written, so it serves any byte sink: a local terminal or an SSH channel.

use std::io::{self, Write};

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};
use unicode_width::UnicodeWidthStr;

/// Modifiers that show on a blank cell too.
const VISIBLE_ON_BLANK: Modifier = Modifier::REVERSED
    .union(Modifier::UNDERLINED)
    .union(Modifier::CROSSED_OUT);

/// Makes every blank cell whose style cannot be seen plain: default
/// foreground, no modifiers. The background, and any modifier that shows
/// on a space (reverse, underline, strike-through), are kept.
pub fn plain_blanks(buffer: &mut Buffer) {
    for cell in &mut buffer.content {
        if is_blank(cell) {
            cell.fg = Color::Reset;
            cell.modifier = Modifier::empty();
        }
    }
}

/// A space whose foreground and modifiers cannot be seen.
fn is_blank(cell: &Cell) -> bool {
    cell.symbol() == " " && !cell.modifier.intersects(VISIBLE_ON_BLANK)
}

/// The graphic rendition in force: what the next character is drawn with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pen {
    fg: Color,
    bg: Color,
    modifier: Modifier,
}

impl Pen {
    const PLAIN: Self = Self {
        fg: Color::Reset,
        bg: Color::Reset,
        modifier: Modifier::empty(),
    };

    /// The pen `cell` needs, keeping what a blank cell does not care about.
    fn for_cell(self, cell: &Cell) -> Self {
        if is_blank(cell) {
            Self {
                fg: self.fg,
                bg: cell.bg,
                modifier: self.modifier - VISIBLE_ON_BLANK,
            }
        } else {
            Self {
                fg: cell.fg,
                bg: cell.bg,
                modifier: cell.modifier,
            }
        }
    }
}

/// One cell of the copy of the screen: a printable ASCII byte and its
/// pen, or nothing when the cell holds something else or is unknown.
type Shadow = Option<(u8, Pen)>;

/// A ratatui backend that writes compact escape sequences to any `W`.
pub struct LeanBackend<W: Write> {
    out: W,
    size: Size,
    /// Where the terminal's cursor is, when known.
    cursor: Option<Position>,
    /// What the screen shows, row-major, `size.width` wide.
    screen: Vec<Shadow>,
}

impl<W: Write> LeanBackend<W> {
    /// A backend writing to `out`, for a terminal of `size` that shows
    /// nothing known yet (the first frame clears it).
    pub fn new(out: W, size: Size) -> Self {
        Self {
            out,
            size,
            cursor: None,
            screen: vec![None; usize::from(size.width) * usize::from(size.height)],
        }
    }

    /// The terminal changed size; everything on it is unknown until the
    /// next clear.
    pub fn set_size(&mut self, size: Size) {
        self.size = size;
        self.cursor = None;
        self.screen = vec![None; usize::from(size.width) * usize::from(size.height)];
    }

    /// The byte sink.
    pub fn writer_mut(&mut self) -> &mut W {
        &mut self.out
    }

    fn index(&self, x: u16, y: u16) -> Option<usize> {
        (x < self.size.width && y < self.size.height)
            .then(|| usize::from(y) * usize::from(self.size.width) + usize::from(x))
    }

    /// Marks cells `from..to` (row-major indices) as holding blanks.
    fn blank(&mut self, from: usize, to: usize) {
        let to = to.min(self.screen.len());
        for s in self.screen.get_mut(from..to).into_iter().flatten() {
            *s = Some((b' ', Pen::PLAIN));
        }
    }

    /// The unchanged characters from `x0` to `x1` on row `y`, if writing
    /// them with `pen` shows exactly what is there.
    fn gap_text(&self, y: u16, x0: u16, x1: u16, pen: Pen, text: &mut Vec<u8>) -> bool {
        text.clear();
        for x in x0..x1 {
            let Some(Some((byte, shown))) = self.index(x, y).map(|i| self.screen[i]) else {
                return false;
            };
            let same = if byte == b' ' && !shown.modifier.intersects(VISIBLE_ON_BLANK) {
                shown.bg == pen.bg && !pen.modifier.intersects(VISIBLE_ON_BLANK)
            } else {
                shown == pen
            };
            if !same {
                return false;
            }
            text.push(byte);
        }
        true
    }
}

/// Appends the SGR sequence that turns `from` into `to` (nothing if equal).
fn sgr(out: &mut Vec<u8>, from: Pen, to: Pen) {
    if from == to {
        return;
    }
    let mut params: Vec<String> = Vec::new();
    if to == Pen::PLAIN {
        params.push("0".into());
    } else {
        let removed = from.modifier - to.modifier;
        let mut added = to.modifier - from.modifier;
        if removed.intersects(Modifier::BOLD | Modifier::DIM) {
            params.push("22".into());
            added |= to.modifier & (Modifier::BOLD | Modifier::DIM);
        }
        if removed.intersects(Modifier::SLOW_BLINK | Modifier::RAPID_BLINK) {
            params.push("25".into());
            added |= to.modifier & (Modifier::SLOW_BLINK | Modifier::RAPID_BLINK);
        }
        for (m, off) in [
            (Modifier::ITALIC, "23"),
            (Modifier::UNDERLINED, "24"),
            (Modifier::REVERSED, "27"),
            (Modifier::HIDDEN, "28"),
            (Modifier::CROSSED_OUT, "29"),
        ] {
            if removed.contains(m) {
                params.push(off.into());
            }
        }
        for (m, on) in [
            (Modifier::BOLD, "1"),
            (Modifier::DIM, "2"),
            (Modifier::ITALIC, "3"),
            (Modifier::UNDERLINED, "4"),
            (Modifier::SLOW_BLINK, "5"),
            (Modifier::RAPID_BLINK, "6"),
            (Modifier::REVERSED, "7"),
            (Modifier::HIDDEN, "8"),
            (Modifier::CROSSED_OUT, "9"),
        ] {
            if added.contains(m) {
                params.push(on.into());
            }
        }
        if to.fg != from.fg {
            params.push(color(to.fg, false));
        }
        if to.bg != from.bg {
            params.push(color(to.bg, true));
        }
    }
    out.extend_from_slice(b"\x1b[");
    out.extend_from_slice(params.join(";").as_bytes());
    out.push(b'm');
}

/// The SGR parameter for a colour, foreground or background.
fn color(c: Color, background: bool) -> String {
    let base = if background { 10 } else { 0 };
    let layer = if background { 48 } else { 38 };
    let ansi = |n: u8| {
        if n < 8 {
            (30 + base + n).to_string()
        } else {
            (90 + base + n - 8).to_string()
        }
    };
    match c {
        Color::Reset => (39 + base).to_string(),
        Color::Black => ansi(0),
        Color::Red => ansi(1),
        Color::Green => ansi(2),
        Color::Yellow => ansi(3),
        Color::Blue => ansi(4),
        Color::Magenta => ansi(5),
        Color::Cyan => ansi(6),
        Color::Gray => ansi(7),
        Color::DarkGray => ansi(8),
        Color::LightRed => ansi(9),
        Color::LightGreen => ansi(10),
        Color::LightYellow => ansi(11),
        Color::LightBlue => ansi(12),
        Color::LightMagenta => ansi(13),
        Color::LightCyan => ansi(14),
        Color::White => ansi(15),
        Color::Indexed(n) => format!("{layer};5;{n}"),
        Color::Rgb(r, g, b) => format!("{layer};2;{r};{g};{b}"),
    }
}

impl<W: Write> Backend for LeanBackend<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let mut out = Vec::with_capacity(4096);
        let mut gap = Vec::new();
        let mut pen = Pen::PLAIN;
        for (x, y, cell) in content {
            let want = pen.for_cell(cell);
            match self.cursor {
                Some(at) if at == Position::new(x, y) => {}
                Some(at) if at.y == y && at.x < x => {
                    let jump = x - at.x;
                    let forward = format!("\x1b[{jump}C");
                    if usize::from(jump) <= forward.len()
                        && self.gap_text(y, at.x, x, pen, &mut gap)
                    {
                        out.extend_from_slice(&gap);
                    } else {
                        out.extend_from_slice(forward.as_bytes());
                    }
                }
                // The start of the next row: carriage return, line feed
                // (never at the bottom row, where a line feed scrolls).
                Some(at) if x == 0 && at.y + 1 == y && y < self.size.height => {
                    out.extend_from_slice(b"\r\n");
                }
                _ => out.extend_from_slice(format!("\x1b[{};{}H", y + 1, x + 1).as_bytes()),
            }
            sgr(&mut out, pen, want);
            pen = want;
            let symbol = cell.symbol();
            out.extend_from_slice(symbol.as_bytes());
            let width = symbol.width();
            // After anything but one column the terminal's idea of the
            // cursor may differ from ours: move explicitly next time.
            self.cursor = (width == 1).then(|| Position::new(x + 1, y));
            if let Some(i) = self.index(x, y) {
                let bytes = symbol.as_bytes();
                self.screen[i] = match bytes {
                    [b] if b.is_ascii_graphic() || *b == b' ' => Some((*b, want)),
                    _ => None,
                };
                for s in self
                    .screen
                    .iter_mut()
                    .skip(i + 1)
                    .take(width.saturating_sub(1))
                {
                    *s = None;
                }
            }
        }
        sgr(&mut out, pen, Pen::PLAIN);
        self.out.write_all(&out)
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        self.out.write_all(b"\x1b[?25l")
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.out.write_all(b"\x1b[?25h")
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        Ok(self.cursor.unwrap_or_default())
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        let p = position.into();
        if self.cursor != Some(p) {
            write!(self.out, "\x1b[{};{}H", p.y + 1, p.x + 1)?;
            self.cursor = Some(p);
        }
        Ok(())
    }

    fn clear(&mut self) -> io::Result<()> {
        self.clear_region(ClearType::All)
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        let width = usize::from(self.size.width);
        let here = self
            .cursor
            .and_then(|p| self.index(p.x, p.y))
            .map(|i| (i, i - i % width));
        match (clear_type, here) {
            (ClearType::All, _) => {
                self.out.write_all(b"\x1b[2J")?;
                self.blank(0, self.screen.len());
            }
            (ClearType::AfterCursor, Some((i, _))) => {
                self.out.write_all(b"\x1b[J")?;
                self.blank(i, self.screen.len());
            }
            (ClearType::BeforeCursor, Some((i, _))) => {
                self.out.write_all(b"\x1b[1J")?;
                self.blank(0, i + 1);
            }
            (ClearType::CurrentLine, Some((_, start))) => {
                self.out.write_all(b"\x1b[2K")?;
                self.blank(start, start + width);
            }
            (ClearType::UntilNewLine, Some((i, start))) => {
                self.out.write_all(b"\x1b[K")?;
                self.blank(i, start + width);
            }
            // Without a known cursor, clear everything: never less.
            (_, None) => {
                self.out.write_all(b"\x1b[2J")?;
                self.blank(0, self.screen.len());
            }
        }
        Ok(())
    }

    fn size(&self) -> io::Result<Size> {
        Ok(self.size)
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        Ok(WindowSize {
            columns_rows: self.size,
            pixels: Size::default(),
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;
    use ratatui::{Terminal, TerminalOptions, Viewport};

    use super::*;

    #[test]
    fn blank_cells_lose_only_what_cannot_be_seen() {
        let mut b = Buffer::empty(Rect::new(0, 0, 4, 1));
        b.set_string(0, 0, " ", Style::new().fg(Color::Indexed(245)).bold());
        b.set_string(1, 0, " ", Style::new().fg(Color::Red).bg(Color::Blue));
        b.set_string(2, 0, " ", Style::new().fg(Color::Red).reversed());
        b.set_string(3, 0, "x", Style::new().fg(Color::Red).bold());
        plain_blanks(&mut b);
        let c = &b.content;
        assert_eq!((c[0].fg, c[0].modifier), (Color::Reset, Modifier::empty()));
        assert_eq!((c[1].fg, c[1].bg), (Color::Reset, Color::Blue));
        assert_eq!((c[2].fg, c[2].modifier), (Color::Red, Modifier::REVERSED));
        assert_eq!((c[3].fg, c[3].modifier), (Color::Red, Modifier::BOLD));
    }

    #[test]
    fn one_sequence_holds_only_what_changed() {
        let mut out = Vec::new();
        let bold_blue = Pen {
            fg: Color::Blue,
            bg: Color::Reset,
            modifier: Modifier::BOLD,
        };
        sgr(&mut out, Pen::PLAIN, bold_blue);
        assert_eq!(out, b"\x1b[1;34m");
        out.clear();
        let dim_blue = Pen {
            modifier: Modifier::DIM,
            ..bold_blue
        };
        sgr(&mut out, bold_blue, dim_blue);
        assert_eq!(out, b"\x1b[22;2m");
        out.clear();
        sgr(&mut out, dim_blue, Pen::PLAIN);
        assert_eq!(out, b"\x1b[0m");
    }

    fn style() -> impl Strategy<Value = Style> {
        let color = prop_oneof![
            Just(Color::Reset),
            Just(Color::Cyan),
            Just(Color::DarkGray),
            Just(Color::Indexed(75)),
            Just(Color::Indexed(245)),
        ];
        let modifier = prop_oneof![
            Just(Modifier::empty()),
            Just(Modifier::BOLD),
            // Not DIM: bold and dim together show differently from one
            // terminal to the next (and with the stock backend depend on
            // the order they were switched on), so there is no one answer.
            Just(Modifier::ITALIC),
            Just(Modifier::REVERSED),
            Just(Modifier::BOLD | Modifier::UNDERLINED),
        ];
        (color.clone(), color, modifier)
            .prop_map(|(fg, bg, m)| Style::new().fg(fg).bg(bg).add_modifier(m))
    }

    /// A frame: pieces of text (ASCII, spaces, box drawing, wide
    /// characters) at random places with random styles.
    fn frame() -> impl Strategy<Value = Vec<(u16, u16, String, Style)>> {
        let text = prop_oneof![
            "[a-z ]{1,12}",
            Just("   ".to_owned()),
            Just("──┐".to_owned()),
            Just("日本語".to_owned()),
            Just("a😀b".to_owned()),
        ];
        prop::collection::vec((0u16..30, 0u16..8, text, style()), 0..25)
    }

    /// A byte sink the test can read after the terminal owns it.
    #[derive(Clone, Default)]
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The screen a real terminal emulator shows after `frames` are drawn
    /// through `backend`.
    fn shown<B>(
        backend: B,
        frames: &[Vec<(u16, u16, String, Style)>],
        out: impl Fn(&mut B) -> Vec<u8>,
    ) -> vt100::Parser
    where
        B: Backend,
        B::Error: std::fmt::Debug,
    {
        let (w, h) = (30u16, 8u16);
        let mut t = Terminal::with_options(
            backend,
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
            },
        )
        .unwrap();
        for pieces in frames {
            t.draw(|f| {
                for (x, y, s, st) in pieces {
                    f.buffer_mut()
                        .set_stringn(*x, *y, s, usize::from(w - x), *st);
                }
                plain_blanks(f.buffer_mut());
            })
            .unwrap();
        }
        let bytes = out(t.backend_mut());
        let nz = |n: u16| std::num::NonZeroU16::new(n).unwrap();
        let mut vt = vt100::Parser::new(nz(h), nz(w), 0);
        vt.process(&bytes);
        vt
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Whatever sequence of frames is drawn, a terminal emulator fed
        /// this backend's bytes shows what ratatui's own crossterm backend
        /// makes it show: every character, every background, and the
        /// colour and modifiers of every character that is not blank.
        #[test]
        fn the_terminal_shows_what_the_stock_backend_shows(frames in prop::collection::vec(frame(), 1..5)) {
            let mut lean = LeanBackend::new(Vec::new(), Size::new(30, 8));
            lean.clear().unwrap();
            let lean = shown(lean, &frames, |b| b.writer_mut().clone());
            let sink = Sink::default();
            let stock = shown(ratatui::backend::CrosstermBackend::new(sink.clone()), &frames, |_| sink.0.lock().unwrap().clone());
            let (lean, stock) = (lean.screen(), stock.screen());
            for y in 0..8 {
                for x in 0..30 {
                    let (l, s) = (lean.cell(y, x).unwrap(), stock.cell(y, x).unwrap());
                    // A cell never written and a written space look alike.
                    let text = |c: &vt100::Cell| if c.contents().is_empty() { " ".to_owned() } else { c.contents().to_owned() };
                    prop_assert_eq!(text(l), text(s), "symbol at {},{}", x, y);
                    prop_assert_eq!(l.bgcolor(), s.bgcolor(), "bg at {},{}", x, y);
                    prop_assert_eq!(l.inverse(), s.inverse(), "reverse at {},{}", x, y);
                    prop_assert_eq!(l.underline(), s.underline(), "underline at {},{}", x, y);
                    let blank = text(s) == " ";
                    if !blank {
                        prop_assert_eq!(l.fgcolor(), s.fgcolor(), "fg at {},{}", x, y);
                        prop_assert_eq!(l.bold(), s.bold(), "bold at {},{}", x, y);
                        prop_assert_eq!(l.italic(), s.italic(), "italic at {},{}", x, y);
                    }
                }
            }
        }
    }
}

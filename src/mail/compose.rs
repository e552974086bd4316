//! Composing keydesk's messages (the reset link, the password-changed
//! notice, and in [`notices`] the welcome email and the login-email-changed
//! notices): minijinja templates (`assets/mail/`, compiled in,
//! each overridable by a file of the same name in `mail.templates_dir`)
//! rendered into a multipart/alternative (text + HTML) message built only
//! with lettre's typed builders.
//!
//! Header injection is impossible by construction: every header goes through
//! lettre's typed headers (`Mailbox`, `Subject`), which encode rather than
//! copy. Names and subjects are also reduced to one line first, because
//! lettre 0.11.23 panics (rather than encodes) on CR/LF in a display name.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::Address;
use lettre::message::{Mailbox, Message, MultiPart};
use minijinja::{Environment, UndefinedBehavior, Value, context};

use crate::settings::Settings;

/// The templates, by file name, with their built-in text.
const TEMPLATES: [(&str, &str); 12] = [
    (
        RESET_SUBJECT,
        include_str!("../../assets/mail/reset_link.subject.txt"),
    ),
    (RESET_TEXT, include_str!("../../assets/mail/reset_link.txt")),
    (
        RESET_HTML,
        include_str!("../../assets/mail/reset_link.html"),
    ),
    (
        CHANGED_SUBJECT,
        include_str!("../../assets/mail/password_changed.subject.txt"),
    ),
    (
        CHANGED_TEXT,
        include_str!("../../assets/mail/password_changed.txt"),
    ),
    (
        CHANGED_HTML,
        include_str!("../../assets/mail/password_changed.html"),
    ),
    (
        notices::WELCOME_SUBJECT,
        include_str!("../../assets/mail/welcome.subject.txt"),
    ),
    (
        notices::WELCOME_TEXT,
        include_str!("../../assets/mail/welcome.txt"),
    ),
    (
        notices::WELCOME_HTML,
        include_str!("../../assets/mail/welcome.html"),
    ),
    (
        notices::EMAIL_CHANGED_SUBJECT,
        include_str!("../../assets/mail/email_changed.subject.txt"),
    ),
    (
        notices::EMAIL_CHANGED_TEXT,
        include_str!("../../assets/mail/email_changed.txt"),
    ),
    (
        notices::EMAIL_CHANGED_HTML,
        include_str!("../../assets/mail/email_changed.html"),
    ),
];
const RESET_SUBJECT: &str = "reset_link.subject.txt";
const RESET_TEXT: &str = "reset_link.txt";
const RESET_HTML: &str = "reset_link.html";
const CHANGED_SUBJECT: &str = "password_changed.subject.txt";
const CHANGED_TEXT: &str = "password_changed.txt";
const CHANGED_HTML: &str = "password_changed.html";

/// Who a message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Display name (may be empty, may hold any Unicode).
    pub name: String,
    /// Bare email address.
    pub email: String,
}

/// A message ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// The bare recipient address, for the SMTP envelope.
    pub recipient: String,
    /// The subject as rendered (one line), for listings.
    pub subject: String,
    /// The full RFC 5322 message (`lettre::Message::formatted`), all ASCII.
    /// Holds the reset link when there is one: a secret.
    pub formatted: String,
}

/// Why a message could not be composed. No variant carries a link.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// An address that lettre refuses.
    #[error("{what} {value:?} is not a valid email address ({reason})")]
    BadAddress {
        /// Which address: "recipient", "mail.from", "mail.reply_to".
        what: &'static str,
        /// The address as given.
        value: String,
        /// lettre's reason.
        reason: String,
    },
    /// `mail.templates_dir` is set but is not a readable folder.
    #[error("mail.templates_dir {dir} is not a readable folder: {source}")]
    TemplatesDir {
        /// The folder named in the settings.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An override template exists but cannot be read.
    #[error("cannot read mail template {path}: {source}")]
    TemplateFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A template does not parse or does not render.
    #[error("mail template {file}: {message}")]
    Template {
        /// The override file's path, or `built-in assets/mail/NAME`.
        file: String,
        /// minijinja's message, with the line.
        message: String,
    },
    /// The link is not under `site.base_url` (links are never built from a
    /// request's Host header).
    #[error("the reset link is not under site.base_url ({base_url}/...)")]
    ForeignLink {
        /// `site.base_url`.
        base_url: String,
    },
    /// The expiry is not after `now`.
    #[error("the reset link's expiry ({expires_at}) is not after now ({now})")]
    AlreadyExpired {
        /// When the link expires.
        expires_at: DateTime<Utc>,
        /// Now.
        now: DateTime<Utc>,
    },
    /// lettre refused to build the message.
    #[error("the message could not be built: {0}")]
    Build(String),
}

/// Renders and builds messages. Cheap to clone, `Send + Sync`; templates
/// are loaded and checked once, in [`Composer::new`].
#[derive(Clone)]
pub struct Composer {
    inner: Arc<Inner>,
}

struct Inner {
    env: Environment<'static>,
    /// Where each template came from, for error messages.
    origins: Vec<(&'static str, String)>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    site_name: String,
    base_url: String,
}

impl std::fmt::Debug for Composer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composer")
            .field("from", &self.inner.from)
            .field("origins", &self.inner.origins)
            .finish_non_exhaustive()
    }
}

impl Composer {
    /// Loads the templates (built-in, or from `mail.templates_dir` where a
    /// file of the same name exists), parses them, and renders each once
    /// with sample values so a broken override fails now, not at send time.
    ///
    /// # Errors
    /// A [`ComposeError`] naming the bad setting or template file.
    pub fn new(settings: &Settings) -> Result<Self, ComposeError> {
        let from = parse_mailbox("mail.from", &settings.mail.from)?;
        let reply_to = match settings.mail.reply_to.trim() {
            "" => None,
            r => Some(parse_mailbox("mail.reply_to", r)?),
        };
        let dir = settings.mail.templates_dir.trim();
        let dir = (!dir.is_empty()).then(|| PathBuf::from(dir));
        if let Some(dir) = &dir {
            std::fs::read_dir(dir).map_err(|source| ComposeError::TemplatesDir {
                dir: dir.clone(),
                source,
            })?;
        }

        let mut env = Environment::new();
        // A misspelt variable in an override is an error, not a blank.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.add_filter("href", href);
        let mut origins = Vec::with_capacity(TEMPLATES.len());
        for (name, builtin) in TEMPLATES {
            let (origin, source) = load(dir.as_deref(), name, builtin)?;
            env.add_template_owned(name, source)
                .map_err(|e| template_error(&origin, &e))?;
            origins.push((name, origin));
        }

        let composer = Self {
            inner: Arc::new(Inner {
                env,
                origins,
                from,
                reply_to,
                site_name: one_line(&settings.site.name),
                base_url: settings.site.base_url.trim_end_matches('/').to_owned(),
            }),
        };
        composer.validate()?;
        Ok(composer)
    }

    /// The reset-link message: greets `to` by name, carries `link`, says
    /// when it expires (in words and in UTC) and what to do if they did
    /// not ask. `link` must start with `site.base_url` + `/`; the `Date`
    /// header is `now`.
    ///
    /// # Errors
    /// A bad recipient address, a link not under `site.base_url`, an expiry
    /// not after `now`, or a template that fails to render.
    pub fn reset_link(
        &self,
        to: &Recipient,
        link: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Composed, ComposeError> {
        self.check_link(link, expires_at, now)?;
        let mailbox = recipient_mailbox(to)?;
        let ctx = context! {
            name => display_name(&to.name),
            link => link,
            expires_in => in_words(expires_at - now),
            expires_at => utc_words(expires_at),
            ..self.common()
        };
        self.build(mailbox, [RESET_SUBJECT, RESET_TEXT, RESET_HTML], &ctx, now)
    }

    /// The notice sent after any password change: when, whether support
    /// staff did it, and what to do if it wasn't the customer. Never holds
    /// a password. The `Date` header is `changed_at` (the notice is composed
    /// in the same transaction as the change).
    ///
    /// # Errors
    /// A bad recipient address or a template that fails to render.
    pub fn password_changed(
        &self,
        to: &Recipient,
        changed_at: DateTime<Utc>,
        by_staff: bool,
    ) -> Result<Composed, ComposeError> {
        let mailbox = recipient_mailbox(to)?;
        let ctx = context! {
            name => display_name(&to.name),
            changed_at => utc_words(changed_at),
            by_staff => by_staff,
            ..self.common()
        };
        self.build(
            mailbox,
            [CHANGED_SUBJECT, CHANGED_TEXT, CHANGED_HTML],
            &ctx,
            changed_at,
        )
    }

    /// A link a message may carry: under `site.base_url` (links are never
    /// built from a request's Host header) and not expired already.
    fn check_link(
        &self,
        link: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), ComposeError> {
        if !link_is_ours(link, &self.inner.base_url) {
            return Err(ComposeError::ForeignLink {
                base_url: self.inner.base_url.clone(),
            });
        }
        if expires_at <= now {
            return Err(ComposeError::AlreadyExpired { expires_at, now });
        }
        Ok(())
    }

    /// Values every template may use.
    fn common(&self) -> Value {
        let inner = &*self.inner;
        let support = inner.reply_to.as_ref().unwrap_or(&inner.from);
        context! {
            site_name => inner.site_name,
            base_url => inner.base_url,
            forgot_url => format!("{}/password/forgot", inner.base_url),
            support_email => support.email.to_string(),
        }
    }

    /// Renders subject, text and HTML and builds the message.
    fn build(
        &self,
        to: Mailbox,
        [subject_tpl, text_tpl, html_tpl]: [&'static str; 3],
        ctx: &Value,
        date: DateTime<Utc>,
    ) -> Result<Composed, ComposeError> {
        let inner = &*self.inner;
        let subject = one_line(&self.render(subject_tpl, ctx)?);
        if subject.is_empty() {
            return Err(ComposeError::Template {
                file: self.origin(subject_tpl),
                message: "the subject renders empty".into(),
            });
        }
        let text = self.render(text_tpl, ctx)?;
        let html = self.render(html_tpl, ctx)?;
        let recipient = to.email.to_string();
        let mut builder = Message::builder()
            .from(inner.from.clone())
            .to(to)
            .subject(subject.clone())
            .date(SystemTime::from(date))
            .message_id(None);
        if let Some(reply_to) = &inner.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| ComposeError::Build(e.to_string()))?;
        let formatted = String::from_utf8(message.formatted())
            .map_err(|_| ComposeError::Build("lettre produced a non-UTF-8 message".into()))?;
        Ok(Composed {
            recipient,
            subject,
            formatted,
        })
    }

    fn render(&self, name: &'static str, ctx: &Value) -> Result<String, ComposeError> {
        self.inner
            .env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| template_error(&self.origin(name), &e))
    }

    fn origin(&self, name: &str) -> String {
        self.inner
            .origins
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| name.to_owned(), |(_, o)| o.clone())
    }

    /// Renders every template once with sample values.
    fn validate(&self) -> Result<(), ComposeError> {
        let now = DateTime::<Utc>::UNIX_EPOCH + chrono::TimeDelta::days(20_000);
        let sample = Recipient {
            name: "Sample Customer".into(),
            email: "customer@example.com".into(),
        };
        let link = format!("{}/password/reset/sample-token", self.inner.base_url);
        self.reset_link(&sample, &link, now + chrono::TimeDelta::hours(6), now)?;
        self.password_changed(&sample, now, true)?;
        self.password_changed(&sample, now, false)?;
        self.welcome(
            &sample,
            "Sample Offer",
            &link,
            now + chrono::TimeDelta::hours(72),
            now,
        )?;
        for to_new in [true, false] {
            self.email_changed(&sample, "new.address@example.org", to_new, now)?;
        }
        Ok(())
    }
}

/// Reads `dir/name` when it exists, else the built-in text.
fn load(
    dir: Option<&Path>,
    name: &str,
    builtin: &'static str,
) -> Result<(String, String), ComposeError> {
    if let Some(dir) = dir {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(source) => return Ok((path.display().to_string(), source)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ComposeError::TemplateFile { path, source }),
        }
    }
    Ok((format!("built-in assets/mail/{name}"), builtin.to_owned()))
}

fn template_error(origin: &str, e: &minijinja::Error) -> ComposeError {
    let mut message = e.to_string();
    if let Some(line) = e.line()
        && !message.contains(&format!(":{line}"))
    {
        message.push_str(&format!(" (line {line})"));
    }
    ComposeError::Template {
        file: origin.to_owned(),
        message,
    }
}

/// Parses a configured mailbox and reduces its name to one line: lettre
/// panics on a name holding CR or LF when the message is built.
fn parse_mailbox(what: &'static str, value: &str) -> Result<Mailbox, ComposeError> {
    let parsed = value
        .parse::<Mailbox>()
        .map_err(|e| ComposeError::BadAddress {
            what,
            value: value.to_owned(),
            reason: e.to_string(),
        })?;
    let name = parsed
        .name
        .as_deref()
        .map(one_line)
        .filter(|n| !n.is_empty());
    Ok(Mailbox::new(name, parsed.email))
}

/// The recipient's mailbox: the address checked by lettre, the display name
/// reduced to one line. lettre never lets CR/LF in a name reach the header,
/// but it does so by panicking while building the message (0.11.23), so the
/// name must be clean before it gets there.
fn recipient_mailbox(to: &Recipient) -> Result<Mailbox, ComposeError> {
    let address = mailable(&to.email).map_err(|reason| ComposeError::BadAddress {
        what: "recipient",
        value: to.email.clone(),
        reason,
    })?;
    let name = display_name(&to.name);
    Ok(Mailbox::new((!name.is_empty()).then_some(name), address))
}

/// Checks that mail can be sent to `email`: lettre parses it *and* can
/// build an envelope for it. Some addresses pass lettre's parser yet fail
/// when the message is built (non-ASCII format characters such as a bidi
/// override in the local part), so storing one would leave a contact no
/// reset link or notice can ever reach.
///
/// # Errors
/// Why the address cannot be used (without the address).
pub fn mailable(email: &str) -> Result<Address, String> {
    let address = email.trim().parse::<Address>().map_err(|e| e.to_string())?;
    // With and without a display name: lettre formats the two differently
    // and reads the envelope back from the formatted header.
    for name in [None, Some("Name".to_owned())] {
        let mailbox = Mailbox::new(name, address.clone());
        Message::builder()
            .from(mailbox.clone())
            .to(mailbox)
            .body(String::new())
            .map_err(|e| format!("it cannot be mailed: {e}"))?;
    }
    Ok(address)
}

/// Control characters (CR, LF, TAB, ESC, ...) become spaces, runs of
/// whitespace one space, and the ends are trimmed.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Longest display name, in characters, put in a header or a greeting.
const MAX_NAME_CHARS: usize = 200;

/// A contact's name as mail shows it: one line, without the invisible
/// characters that reorder or hide text (bidi embeddings, overrides and
/// isolates, zero-width characters), at most [`MAX_NAME_CHARS`] characters
/// (an ellipsis marks a cut). The HTML part also isolates it in `<bdi>`, so
/// a right-to-left name cannot reorder the sentence around it.
fn display_name(s: &str) -> String {
    let visible: String = s.chars().filter(|&c| !invisible(c)).collect();
    let line = one_line(&visible);
    if line.chars().count() <= MAX_NAME_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_NAME_CHARS - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// Format characters that change how the text around them is shown.
pub(crate) fn invisible(c: char) -> bool {
    matches!(c,
        '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200b}'..='\u{200f}'
        | '\u{061c}'
        | '\u{2060}'..='\u{2064}'
        | '\u{feff}'
        | '\u{00ad}'
        | '\u{fff9}'..='\u{fffb}')
}

/// Whether `link` is an address under `base_url` with nothing odd in it.
fn link_is_ours(link: &str, base_url: &str) -> bool {
    link.strip_prefix(base_url)
        .is_some_and(|rest| rest.starts_with('/'))
        && !link.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// The `href` filter: HTML-escapes a URL for an attribute or text without
/// turning its slashes into `&#x2f;` (minijinja's default escaper does), so
/// the address in the HTML part reads the same as in the text part.
fn href(value: &str) -> Value {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    Value::from_safe_string(out)
}

/// "in 6 hours", "in 1 day and 2 hours", "in 45 minutes": to the nearest
/// minute, the two largest units.
fn in_words(delta: chrono::TimeDelta) -> String {
    let minutes = (delta.num_seconds() + 30) / 60;
    if minutes < 1 {
        return "in less than a minute".to_owned();
    }
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let unit = |n: i64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let parts: Vec<String> = [(days, "day"), (hours, "hour"), (mins, "minute")]
        .into_iter()
        .skip_while(|(n, _)| *n == 0)
        .take(2)
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| unit(n, w))
        .collect();
    format!("in {}", parts.join(" and "))
}

/// "3 March 2025 at 18:30 UTC".
fn utc_words(at: DateTime<Utc>) -> String {
    at.format("%-d %B %Y at %H:%M UTC").to_string()
}

mod notices;
pub use notices::masked_email;

#[cfg(test)]
mod tests;

//! INTERIM (desk-core branch only): a minimal composer with the signatures
//! the `pwmail` branch provides, so `desk` compiles before that branch
//! lands. Deleted when `pwmail` is merged; never merged to main as is.

use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, Message, header::ContentType};

use crate::settings::Settings;

/// Who a message is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Display name.
    pub name: String,
    /// Address.
    pub email: String,
}

/// A rendered message.
#[derive(Debug, Clone)]
pub struct Composed {
    /// Bare address.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// RFC 5322 text.
    pub formatted: String,
}

/// Why composing failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ComposeError(String);

/// Builds messages.
#[derive(Debug)]
pub struct Composer {
    from: Mailbox,
    site: String,
}

impl Composer {
    /// A composer for these settings.
    ///
    /// # Errors
    /// A bad sender.
    pub fn new(settings: &Settings) -> Result<Self, ComposeError> {
        Ok(Self {
            from: settings
                .mail
                .from
                .parse()
                .map_err(|e| ComposeError(format!("{e}")))?,
            site: settings.site.name.clone(),
        })
    }

    fn build(
        &self,
        to: &Recipient,
        subject: String,
        body: String,
    ) -> Result<Composed, ComposeError> {
        let mailbox = Mailbox::new(
            Some(to.name.clone()),
            to.email.parse().map_err(|e| ComposeError(format!("{e}")))?,
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(mailbox)
            .subject(subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| ComposeError(e.to_string()))?;
        Ok(Composed {
            recipient: to.email.clone(),
            subject,
            formatted: String::from_utf8_lossy(&message.formatted()).into_owned(),
        })
    }

    /// The reset link mail.
    ///
    /// # Errors
    /// A bad address.
    pub fn reset_link(
        &self,
        to: &Recipient,
        link: &str,
        expires_at: DateTime<Utc>,
        _now: DateTime<Utc>,
    ) -> Result<Composed, ComposeError> {
        self.build(
            to,
            format!("Reset your {} password", self.site),
            format!("Open {link}\nIt works until {expires_at}.\n"),
        )
    }

    /// The password-changed notice.
    ///
    /// # Errors
    /// A bad address.
    pub fn password_changed(
        &self,
        to: &Recipient,
        changed_at: DateTime<Utc>,
        by_staff: bool,
    ) -> Result<Composed, ComposeError> {
        self.build(
            to,
            format!("Your {} password was changed", self.site),
            format!("Changed at {changed_at} (by staff: {by_staff}).\n"),
        )
    }
}

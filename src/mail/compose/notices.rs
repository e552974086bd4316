//! The messages of a customer's profile changes: the welcome email (an
//! offer made them a Customer; it carries a set-password link) and the two
//! notices of a changed login email, one to the old address and one to the
//! new.

use chrono::{DateTime, Utc};
use minijinja::context;

use super::{
    ComposeError, Composed, Composer, Recipient, display_name, in_words, recipient_mailbox,
    utc_words,
};

pub(super) const WELCOME_SUBJECT: &str = "welcome.subject.txt";
pub(super) const WELCOME_TEXT: &str = "welcome.txt";
pub(super) const WELCOME_HTML: &str = "welcome.html";
pub(super) const EMAIL_CHANGED_SUBJECT: &str = "email_changed.subject.txt";
pub(super) const EMAIL_CHANGED_TEXT: &str = "email_changed.txt";
pub(super) const EMAIL_CHANGED_HTML: &str = "email_changed.html";

impl Composer {
    /// The welcome email: `to` now has access (through `offer`), and `link`
    /// sets their first password. Same link rules as [`Composer::reset_link`].
    ///
    /// # Errors
    /// A bad recipient address, a link not under `site.base_url`, an expiry
    /// not after `now`, or a template that fails to render.
    pub fn welcome(
        &self,
        to: &Recipient,
        offer: &str,
        link: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Composed, ComposeError> {
        self.check_link(link, expires_at, now)?;
        let mailbox = recipient_mailbox(to)?;
        let ctx = context! {
            name => display_name(&to.name),
            // An offer's title comes from the store like a name: one line, no
            // characters that reorder the sentence.
            offer => display_name(offer),
            link => link,
            expires_in => in_words(expires_at - now),
            expires_at => utc_words(expires_at),
            ..self.common()
        };
        self.build(
            mailbox,
            [WELCOME_SUBJECT, WELCOME_TEXT, WELCOME_HTML],
            &ctx,
            now,
        )
    }

    /// A login-email-changed notice. `to` is the recipient (the old or the
    /// new address); `new_email` is the new login, named partly masked in
    /// the notice to the old address. Holds no link.
    ///
    /// # Errors
    /// A bad recipient address or a template that fails to render.
    pub fn email_changed(
        &self,
        to: &Recipient,
        new_email: &str,
        to_new: bool,
        changed_at: DateTime<Utc>,
    ) -> Result<Composed, ComposeError> {
        let mailbox = recipient_mailbox(to)?;
        let ctx = context! {
            name => display_name(&to.name),
            to_new => to_new,
            masked_email => masked_email(new_email),
            changed_at => utc_words(changed_at),
            ..self.common()
        };
        self.build(
            mailbox,
            [
                EMAIL_CHANGED_SUBJECT,
                EMAIL_CHANGED_TEXT,
                EMAIL_CHANGED_HTML,
            ],
            &ctx,
            changed_at,
        )
    }
}

/// An address shown partly hidden, enough for its owner to recognise it
/// and too little for anyone else to write to it: the first character of
/// the local part and of the domain, and the top-level domain
/// (`jane@example.org` becomes `j***@e***.org`).
#[must_use]
pub fn masked_email(email: &str) -> String {
    let visible: String = display_name(email);
    let (local, domain) = visible.rsplit_once('@').unwrap_or((&visible, ""));
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let tld = domain
        .rsplit_once('.')
        .map(|(_, tld)| format!(".{tld}"))
        .unwrap_or_default();
    format!("{}***@{}***{tld}", first(local), first(domain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::compose::tests::{composer, maria, now};

    #[test]
    fn masking_keeps_first_letters_and_the_top_level_domain() {
        assert_eq!(masked_email("jane.doe@example.org"), "j***@e***.org");
        assert_eq!(masked_email("x@localhost"), "x***@l***");
        assert_eq!(masked_email("\u{202e}evil@x.com"), "e***@x***.com");
    }

    #[test]
    fn the_welcome_email_carries_the_link_the_expiry_and_the_offer() {
        let link = "https://courses.example.com/password/reset/abc";
        let at = now();
        let composed = composer()
            .welcome(
                &maria(),
                "Course\r\nBcc: x@evil.example",
                link,
                at + chrono::TimeDelta::hours(72),
                at,
            )
            .unwrap();
        let text = mail_parser::MessageParser::default()
            .parse(composed.formatted.as_bytes())
            .unwrap();
        let body = text.body_text(0).unwrap().into_owned();
        assert!(body.contains(link), "{body}");
        assert!(body.contains("in 3 days"), "{body}");
        assert!(body.contains("Course Bcc: x@evil.example"), "{body}");
        assert!(text.bcc().is_none());
        assert!(composed.subject.starts_with("Welcome to"));
    }

    #[test]
    fn a_welcome_link_not_under_the_site_is_refused() {
        let at = now();
        let err = composer()
            .welcome(
                &maria(),
                "Offer",
                "https://evil.example/password/reset/abc",
                at + chrono::TimeDelta::hours(1),
                at,
            )
            .unwrap_err();
        assert!(matches!(err, ComposeError::ForeignLink { .. }), "{err}");
    }

    #[test]
    fn the_old_address_learns_the_new_one_masked_and_the_new_one_is_told_it_is_the_login() {
        let old = composer()
            .email_changed(&maria(), "new.me@fresh.example.net", false, now())
            .unwrap();
        let old_text = mail_parser::MessageParser::default()
            .parse(old.formatted.as_bytes())
            .unwrap()
            .body_text(0)
            .unwrap()
            .into_owned();
        assert!(old_text.contains("n***@f***.net"), "{old_text}");
        assert!(!old_text.contains("new.me"), "{old_text}");
        let new = composer()
            .email_changed(&maria(), "new.me@fresh.example.net", true, now())
            .unwrap();
        assert!(new.subject.contains("now your"), "{}", new.subject);
        assert_ne!(old.subject, new.subject);
    }
}

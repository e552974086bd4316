//! Mail read back from the store: the outbox rows desk queued, a message's
//! text as a mail client shows it, and the reset token or link it carries.

use keydesk::store::Store;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// The outbox rows, oldest first.
pub async fn outbox_rows(store: &Store) -> Vec<keydesk::store::entity::outbox::Model> {
    use keydesk::store::entity::outbox;
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Id)
        .all(store.conn())
        .await
        .expect("outbox")
}

/// The decoded text and HTML parts of an RFC 5322 message, joined: what
/// a mail client shows, whatever the transfer encoding.
pub fn mail_text(formatted: &str) -> String {
    let Some(msg) = mail_parser::MessageParser::default().parse(formatted.as_bytes()) else {
        return String::new();
    };
    let mut out = String::new();
    for i in 0..msg.text_body.len() {
        if let Some(text) = msg.body_text(i) {
            out.push_str(&text);
            out.push('\n');
        }
    }
    for i in 0..msg.html_body.len() {
        if let Some(html) = msg.body_html(i) {
            out.push_str(&html);
            out.push('\n');
        }
    }
    out
}

/// The reset token carried by the newest reset mail to `email`.
pub async fn token_mailed_to(store: &Store, email: &str) -> String {
    let rows = outbox_rows(store).await;
    let row = rows
        .iter()
        .rev()
        .find(|r| r.kind == "reset_link" && r.recipient.eq_ignore_ascii_case(email))
        .expect("a reset mail was queued");
    token_in(row.body.as_deref().expect("queued mail has a body"))
}

/// The token in a reset mail body.
pub fn token_in(formatted: &str) -> String {
    let text = mail_text(formatted);
    let at = text
        .find(keydesk::desk::reset_links::RESET_PATH)
        .expect("the mail carries a reset link");
    text[at + keydesk::desk::reset_links::RESET_PATH.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// The text of the newest outbox message of `kind` for `email`, decoded.
pub async fn newest_body(store: &Store, email: &str, kind: &str) -> Option<String> {
    use keydesk::store::entity::outbox;
    let row = outbox::Entity::find()
        .filter(outbox::Column::Recipient.eq(email))
        .filter(outbox::Column::Kind.eq(kind))
        .order_by_desc(outbox::Column::Id)
        .one(store.conn())
        .await
        .expect("outbox")?;
    let raw = row.body?;
    let message = mail_parser::MessageParser::default().parse(raw.as_bytes())?;
    message.body_text(0).map(std::borrow::Cow::into_owned)
}

/// The first link in `text` that starts with `base`.
pub fn find_link(text: &str, base: &str) -> Option<String> {
    let at = text.find(base)?;
    let rest = &text[at..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"' || c == ')')
        .unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

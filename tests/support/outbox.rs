//! Outbox test data: real RFC 5322 messages built with lettre, queued the
//! way `desk` queues them (one row, body = the whole rendered message),
//! and reset links in every state.

use chrono::{DateTime, TimeDelta, Utc};
use keydesk::mail::queue::{kind, state};
use keydesk::settings::{MailTransport, Settings, SmtpTls};
use keydesk::store::entity::{account, contact, outbox, reset_link};
use lettre::message::header::ContentType;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};

/// A rendered message, as the composer would produce it.
pub fn message(to: &str, subject: &str, text: &str) -> String {
    let email = lettre::Message::builder()
        .from("Support <support@example.com>".parse().expect("from"))
        .to(to.parse().expect("to"))
        .subject(subject)
        .message_id(None)
        .header(ContentType::TEXT_PLAIN)
        .body(text.to_owned())
        .expect("build message");
    String::from_utf8(email.formatted()).expect("ascii message")
}

/// Queues a `password_changed` message to `to`, due `at`.
pub async fn queue(
    db: &impl ConnectionTrait,
    to: &str,
    subject: &str,
    at: DateTime<Utc>,
) -> outbox::Model {
    queue_row(db, to, subject, kind::PASSWORD_CHANGED, None, at).await
}

/// A queued row not yet inserted: `body` (a rendered message) to `to`, of
/// `kind_value`, due `at`.
pub fn queued(
    to: &str,
    kind_value: &str,
    reset_link_id: Option<i64>,
    body: String,
    at: DateTime<Utc>,
) -> outbox::ActiveModel {
    outbox::ActiveModel {
        recipient: Set(to.to_owned()),
        kind: Set(kind_value.to_owned()),
        contact_id: Set(None),
        reset_link_id: Set(reset_link_id),
        body: Set(Some(body)),
        state: Set(state::QUEUED.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        claimed_until: Set(None),
        sent_at: Set(None),
        last_error: Set(String::new()),
        created_at: Set(at),
        ..Default::default()
    }
}

/// Queues a row of any kind.
pub async fn queue_row(
    db: &impl ConnectionTrait,
    to: &str,
    subject: &str,
    kind_value: &str,
    reset_link_id: Option<i64>,
    at: DateTime<Utc>,
) -> outbox::Model {
    let body = message(to, subject, &format!("Body of {subject}.\n"));
    queued(to, kind_value, reset_link_id, body, at)
        .insert(db)
        .await
        .expect("queue an outbox row")
}

/// Re-reads a row.
pub async fn row(db: &impl ConnectionTrait, id: i64) -> outbox::Model {
    outbox::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("read outbox")
        .expect("row exists")
}

/// How a test reset link should look.
#[derive(Debug, Clone, Copy)]
pub enum LinkState {
    Live,
    Expired,
    Used,
    Revoked,
}

/// A customer (contact + account) with a reset link in `how` state, as of `now`.
pub async fn reset_link(
    db: &impl ConnectionTrait,
    email: &str,
    how: LinkState,
    now: DateTime<Utc>,
) -> reset_link::Model {
    let contact = contact::ActiveModel::new_contact("Test Customer", email, false, now)
        .insert(db)
        .await
        .expect("insert contact");
    let account = account::ActiveModel {
        contact_id: Set(contact.id),
        password_hash: Set(None),
        must_change_password: Set(false),
        password_changed_at: Set(None),
        temporary_expires_at: Set(None),
        sign_in_count: Set(0),
        last_login_at: Set(None),
        failed_logins: Set(0),
        failed_window_started_at: Set(None),
        locked_until: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert account");
    let hour = TimeDelta::hours(1);
    reset_link::ActiveModel {
        account_id: Set(account.id),
        token_sha256: Set(format!("{:064x}", contact.id)),
        created_at: Set(now - hour),
        expires_at: Set(match how {
            LinkState::Expired => now - TimeDelta::seconds(1),
            _ => now + hour * 5,
        }),
        used_at: Set(matches!(how, LinkState::Used).then_some(now - hour / 2)),
        revoked_at: Set(matches!(how, LinkState::Revoked).then_some(now - hour / 2)),
        requested_by: Set("agent".into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert reset link")
}

/// `base` pointed at a plain SMTP server on `port`, with short timeouts
/// and backoff so failure paths run quickly.
pub fn smtp_settings(base: &Settings, port: u16) -> Settings {
    let mut s = base.clone();
    s.mail.transport = MailTransport::Smtp;
    s.mail.smtp.host = "127.0.0.1".into();
    s.mail.smtp.port = port;
    s.mail.smtp.tls = SmtpTls::None;
    s.mail.smtp.timeout = std::time::Duration::from_secs(2);
    s.outbox.poll_interval = std::time::Duration::from_millis(200);
    s
}

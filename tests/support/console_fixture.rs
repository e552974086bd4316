//! The console's state without a terminal, for the screen snapshots, the
//! output-size budgets and the hostile-data drawing: the first search
//! answered with a page of contacts (by default forty, one with escape
//! sequences in its name), profiles loaded as the list asks for them, an
//! operator and an outbox status, at a fixed time, so every screen is the
//! same on every run. Messages go through the real `update`.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use keydesk::desk::email_history::SentMail;
use keydesk::desk::notes::NoteEntry;
use keydesk::desk::profile::{AccountSummary, Activity, HeldOffer, MailStatus, OpenLink};
use keydesk::desk::{ContactRow, MatchCount, Profile, SearchPage};
use keydesk::tui::app::{App, UiConfig};
use keydesk::tui::keymap::Keymap;
use keydesk::tui::msg::{Cmd, Msg, OperatorView, OutboxCounts};
use keydesk::tui::theme::Theme;
use keydesk::tui::update::{init, update};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// 2026-01-15 12:00 UTC: the console's clock.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap()
}

/// A key press of `c`.
pub fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

/// A key press of `c`.
pub fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// A contact row made `300 - id` days before [`t0`].
pub fn row(id: i64, name: &str, email: &str, customer: bool, subscriber: bool) -> ContactRow {
    ContactRow {
        id,
        name: name.into(),
        email: email.into(),
        name_lower: name.to_lowercase(),
        customer,
        subscriber,
        created_at: t0() - TimeDelta::days(300 - id),
    }
}

/// The forty default contacts.
pub fn rows() -> Vec<ContactRow> {
    rows_n(40)
}

/// The five named contacts, then `Person NN` up to `n` rows in all.
pub fn rows_n(n: i64) -> Vec<ContactRow> {
    let mut rows = vec![
        row(1, "Ada Lovelace", "ada@example.com", true, true),
        row(2, "Alan Turing", "alan.turing@example.org", true, false),
        row(3, "Cleo Park", "cleo@example.net", false, true),
        row(
            4,
            "Eve\x1b]0;pwned\x07\x1b[2J",
            "eve@example.com",
            false,
            false,
        ),
        row(5, "Grace Hopper", "grace@navy.example", true, false),
    ];
    for i in 6..=n {
        rows.push(row(
            i,
            &format!("Person {i:02}"),
            &format!("person{i}@example.com"),
            i % 3 == 0,
            i % 2 == 0,
        ));
    }
    rows
}

/// A full profile: two offers and an account, an open link and a mail
/// that will be retried for a customer; tags, notes and an audit line
/// for everyone.
pub fn profile(r: &ContactRow) -> Profile {
    let at = |d: i64| t0() - TimeDelta::hours(d);
    Profile {
        contact_id: r.id,
        name: r.name.clone(),
        email: r.email.clone(),
        added_on: r.created_at,
        updated_at: r.created_at,
        subscriber: r.subscriber,
        tags: "vip, beta".into(),
        notes: "Prefers email. Called about invoices in December.".into(),
        offers: if r.customer {
            vec![
                HeldOffer {
                    name: "Rust Mastery".into(),
                    products: "Course: Rust".into(),
                    source: "purchased".into(),
                    granted_by: String::new(),
                    granted_at: at(2000),
                },
                HeldOffer {
                    name: "Community".into(),
                    products: String::new(),
                    source: "granted".into(),
                    granted_by: "ops".into(),
                    granted_at: at(1000),
                },
            ]
        } else {
            Vec::new()
        },
        account: r.customer.then(|| AccountSummary {
            password_set: true,
            must_change_password: false,
            password_changed_at: Some(at(24 * 40)),
            temporary_expires_at: None,
            sign_in_count: 42,
            last_login_at: Some(at(3)),
            failed_logins: 0,
            locked_until: None,
        }),
        open_links: if r.customer {
            vec![OpenLink {
                created_at: at(1),
                expires_at: at(1) + TimeDelta::hours(6),
                requested_by: "sam".into(),
            }]
        } else {
            Vec::new()
        },
        latest_mail: r.customer.then(|| MailStatus {
            kind: "reset_link".into(),
            state: "queued".into(),
            attempts: 2,
            created_at: at(1),
            next_attempt_at: t0() + TimeDelta::minutes(2),
            sent_at: None,
            last_error: "connection refused".into(),
        }),
        activity: vec![Activity {
            at: at(1),
            actor: "sam".into(),
            action: "reset_link.sent".into(),
            outcome: "ok".into(),
        }],
        notes_written: vec![
            NoteEntry {
                id: 2,
                author: "sam".into(),
                created_at: at(2),
                text: "Bought it on the other shop.\nGranted Community.".into(),
            },
            NoteEntry {
                id: 1,
                author: "ops".into(),
                created_at: at(30),
                text: "Prefers email.".into(),
            },
        ],
        email_history: vec![
            SentMail {
                id: 3,
                kind: "reset_link".into(),
                recipient: r.email.clone(),
                queued_at: at(1),
                sent_at: None,
                state: "queued".into(),
                attempts: 2,
                last_error: "connection refused".into(),
            },
            SentMail {
                id: 2,
                kind: "welcome".into(),
                recipient: r.email.clone(),
                queued_at: at(2000),
                sent_at: Some(at(2000)),
                state: "sent".into(),
                attempts: 1,
                last_error: String::new(),
            },
        ],
    }
}

/// The console after its first search, with the status known, focus on the list.
pub fn console(w: u16, h: u16) -> App {
    console_with(w, h, Theme::mono())
}

/// The same console drawn with `theme`.
pub fn console_with(w: u16, h: u16, theme: Theme) -> App {
    console_rows(w, h, theme, 40)
}

/// The console with `n` contacts in its first (and only) page.
pub fn console_rows(w: u16, h: u16, theme: Theme, n: i64) -> App {
    let status = OutboxCounts {
        queued: 2,
        retrying: 1,
        failed: 0,
    };
    Fixture::default().open(w, h, theme, rows_n(n), 1234, Some(status))
}

/// The contacts a console can be shown and their profiles: the profile
/// loads that `update` asks for are answered from them.
pub struct Fixture {
    /// The contact with an id.
    pub row_of: Box<dyn Fn(i64) -> Option<ContactRow>>,
    /// A contact's profile.
    pub profile_of: fn(&ContactRow) -> Profile,
}

impl Default for Fixture {
    /// `Person NN` for any id past the five named contacts, each with the
    /// full [`profile`].
    fn default() -> Self {
        Self {
            row_of: Box::new(|id| rows_n(id.max(40)).into_iter().find(|r| r.id == id)),
            profile_of: profile,
        }
    }
}

impl Fixture {
    /// The console after its first search answered with `rows` (`total`
    /// matches), the operator known, the outbox `status` if given, and
    /// the focus on the list.
    pub fn open(
        &self,
        w: u16,
        h: u16,
        theme: Theme,
        rows: Vec<ContactRow>,
        total: u64,
        status: Option<OutboxCounts>,
    ) -> App {
        let mut app = App::new(UiConfig::default(), Keymap::defaults(), theme, (w, h), t0());
        let cmds = init(&mut app);
        self.answer_search(&mut app, &cmds, rows, total);
        self.feed(
            &mut app,
            Msg::OperatorResolved(Ok(OperatorView {
                name: "sam".into(),
                role: Some(keydesk::desk::Role::Admin),
            })),
        );
        if let Some(status) = status {
            self.feed(&mut app, Msg::StatusLoaded(Ok(status)));
        }
        self.feed(&mut app, code(KeyCode::Esc));
        app
    }

    /// Answers the search that `cmds` started with `rows`, `total` matches.
    pub fn answer_search(&self, app: &mut App, cmds: &[Cmd], rows: Vec<ContactRow>, total: u64) {
        let generation = cmds
            .iter()
            .find_map(|c| match c {
                Cmd::Search { generation, .. } => Some(*generation),
                _ => None,
            })
            .expect("the commands start a search");
        self.feed(
            app,
            Msg::SearchDone {
                generation,
                append: false,
                result: Ok(SearchPage {
                    total: MatchCount::Exact(total),
                    next: None,
                    rows,
                }),
            },
        );
    }

    /// Applies a message and answers any profile load it starts.
    pub fn feed(&self, app: &mut App, msg: Msg) {
        for cmd in update(app, msg) {
            if let Cmd::LoadProfile {
                generation,
                contact_id,
            } = cmd
            {
                let r = (self.row_of)(contact_id).expect("a profile of a known contact");
                self.feed(
                    app,
                    Msg::ProfileLoaded {
                        generation,
                        result: Ok(Box::new((self.profile_of)(&r))),
                    },
                );
            }
        }
    }
}

/// Answers the search that `cmds` started with `rows`, `total` matches.
pub fn answer_search(app: &mut App, cmds: &[Cmd], rows: Vec<ContactRow>, total: u64) {
    Fixture::default().answer_search(app, cmds, rows, total);
}

/// Applies a message and answers any profile load with the default
/// contacts' profiles.
pub fn feed(app: &mut App, msg: Msg) {
    Fixture::default().feed(app, msg);
}

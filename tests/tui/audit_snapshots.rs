//! The Audit screen as insta snapshots at 80x24 and 120x40 in mono:
//! the newest rows with who, what, outcome and contact, the selected
//! row's facts, hostile text made harmless; and the filter box typed in.

use chrono::TimeDelta;
use keydesk::desk::audit::AuditEntry;
use keydesk::tui::app::App;
use keydesk::tui::msg::{Cmd, Msg};
use keydesk::tui::update::update;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::support::console_fixture::{console, key, t0};

fn entry(id: i64, actor: &str, action: &str, outcome: &str, contact: Option<&str>) -> AuditEntry {
    AuditEntry {
        id,
        at: t0() - TimeDelta::minutes(100 - id),
        actor: actor.into(),
        actor_kind: "operator".into(),
        source: "ssh 203.0.113.9:51234".into(),
        action: action.into(),
        outcome: outcome.into(),
        contact: contact.map(str::to_owned),
        contact_id: contact.map(|_| id),
        detail: serde_json::json!({ "forced": false }),
    }
}

fn entries() -> Vec<AuditEntry> {
    vec![
        entry(9, "sam", "reset_link.sent", "ok", Some("ada@example.com")),
        entry(
            8,
            "alex",
            "account.unlocked",
            "denied",
            Some("alan.turing@example.org"),
        ),
        entry(7, "eve\x1b]0;pwned\x07", "operators.add", "refused", None),
        entry(
            6,
            "sam",
            "password.changed",
            "ok",
            Some("grace@navy.example"),
        ),
        entry(5, "keydesk", "operators.first_admin", "ok", None),
    ]
}

/// The console with the Audit screen open on [`entries`].
fn audit_open(w: u16, h: u16) -> App {
    let mut app = console(w, h);
    let generation = update(&mut app, key('A'))
        .into_iter()
        .find_map(|c| match c {
            Cmd::LoadAudit { generation, .. } => Some(generation),
            _ => None,
        })
        .expect("A loads the audit rows");
    update(
        &mut app,
        Msg::AuditLoaded {
            generation,
            newer: false,
            result: Ok(entries()),
        },
    );
    app
}

fn screen(app: &mut App) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    terminal.draw(|f| keydesk::tui::view::draw(app, f)).unwrap();
    terminal
}

#[test]
fn audit_screen() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = audit_open(w, h);
        update(&mut app, key('j'));
        let terminal = screen(&mut app);
        let text = format!("{:?}", terminal.backend());
        assert!(!text.contains('\x1b') && !text.contains('\x07'));
        insta::assert_snapshot!(format!("audit_{w}x{h}"), terminal.backend());
    }
}

#[test]
fn audit_filter_typed() {
    let mut app = audit_open(80, 24);
    for c in "/op:sam action:pass".chars() {
        update(&mut app, key(c));
    }
    insta::assert_snapshot!("audit_filter_80x24", screen(&mut app).backend());
}

//! The Audit screen's steps of `update` as plain functions: `A` opens it
//! and loads, the filter box asks desk again, older answers are dropped,
//! live rows arrive at the top, Enter opens the row's contact, Esc closes.

use chrono::Duration;
use ratatui::crossterm::event::KeyCode;

use super::app::Screen;
use super::keymap::Context;
use super::msg::{Cmd, Msg, TaskError};
use super::update::update;
use super::update_tests::{code, key, many, searched, showing, t0};
use crate::desk::audit::{AuditEntry, AuditFilter};

fn entry(id: i64, actor: &str, action: &str, contact: Option<(i64, &str)>) -> AuditEntry {
    AuditEntry {
        id,
        at: t0() + Duration::seconds(id),
        actor: actor.into(),
        actor_kind: "operator".into(),
        source: "local".into(),
        action: action.into(),
        outcome: "ok".into(),
        contact: contact.map(|(_, e)| e.to_owned()),
        contact_id: contact.map(|(id, _)| id),
        detail: serde_json::json!({}),
    }
}

fn audit_load(cmds: &[Cmd]) -> Option<(u64, AuditFilter)> {
    cmds.iter().find_map(|c| match c {
        Cmd::LoadAudit { generation, filter } => Some((*generation, filter.clone())),
        _ => None,
    })
}

fn loaded(generation: u64, newer: bool, rows: Vec<AuditEntry>) -> Msg {
    Msg::AuditLoaded {
        generation,
        newer,
        result: Ok(rows),
    }
}

#[test]
fn a_opens_the_screen_and_the_filter_box_asks_again() {
    let mut a = showing(80, 24, many(5), false);
    let cmds = update(&mut a, key('A'));
    let (first, filter) = audit_load(&cmds).expect("A loads the audit rows");
    assert_eq!(filter.after_id, None);
    assert_eq!(a.context(), Context::Audit);
    // `/` focuses the filter box; each edit asks desk again.
    update(&mut a, key('/'));
    assert_eq!(a.context(), Context::AuditSearch);
    for c in "op:alex".chars() {
        update(&mut a, key(c));
    }
    let cmds = update(&mut a, key(' '));
    assert!(audit_load(&cmds).is_none(), "a space changes no filter");
    let mut last = None;
    for c in "action:unlock".chars() {
        last = audit_load(&update(&mut a, key(c))).or(last);
    }
    let (generation, filter) = last.unwrap();
    assert!(generation > first);
    assert_eq!(filter.operator.as_deref(), Some("alex"));
    assert_eq!(filter.action.as_deref(), Some("unlock"));
    // An answer to the first load is dropped; the newest one is shown.
    update(
        &mut a,
        loaded(first, false, vec![entry(1, "ann", "x", None)]),
    );
    assert!(a.audit.as_ref().unwrap().rows.is_empty());
    assert!(a.audit.as_ref().unwrap().loading);
    update(
        &mut a,
        loaded(generation, false, vec![entry(7, "alex", "unlock", None)]),
    );
    let audit = a.audit.as_ref().unwrap();
    assert_eq!(audit.rows.len(), 1);
    assert!(!audit.loading);
    // Esc leaves the box (the filter stays), Esc again closes the screen.
    update(&mut a, code(KeyCode::Esc));
    assert_eq!(a.context(), Context::Audit);
    assert_eq!(
        a.audit.as_ref().unwrap().filter.value(),
        "op:alex action:unlock"
    );
    update(&mut a, code(KeyCode::Esc));
    assert!(a.audit.is_none());
    assert_eq!(a.context(), Context::List);
}

#[test]
fn new_rows_arrive_at_the_top_on_the_refresh() {
    let mut a = showing(80, 24, many(5), false);
    let (generation, _) = audit_load(&update(&mut a, key('A'))).unwrap();
    update(
        &mut a,
        loaded(
            generation,
            false,
            vec![entry(3, "ann", "c", None), entry(2, "ann", "b", None)],
        ),
    );
    // Reading the second row.
    update(&mut a, key('j'));
    let cmds = update(&mut a, Msg::Tick(t0() + Duration::seconds(30)));
    let (g, filter) = audit_load(&cmds).expect("the refresh asks for newer rows");
    assert_eq!(g, generation);
    assert_eq!(filter.after_id, Some(3));
    // No second refresh while one is on its way.
    let cmds = update(&mut a, Msg::Tick(t0() + Duration::seconds(60)));
    assert!(audit_load(&cmds).is_none());
    update(
        &mut a,
        loaded(
            g,
            true,
            vec![entry(5, "bo", "e", None), entry(4, "bo", "d", None)],
        ),
    );
    let audit = a.audit.as_ref().unwrap();
    let ids: Vec<i64> = audit.rows.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![5, 4, 3, 2]);
    assert_eq!(
        audit.selected_row().unwrap().id,
        2,
        "the row being read stays"
    );
}

#[test]
fn a_full_page_of_new_rows_replaces_the_list_rather_than_leave_a_hole() {
    let mut a = showing(80, 24, many(5), false);
    let (generation, _) = audit_load(&update(&mut a, key('A'))).unwrap();
    update(
        &mut a,
        loaded(generation, false, vec![entry(1, "ann", "a", None)]),
    );
    update(&mut a, key('j'));
    let (g, _) = audit_load(&update(&mut a, Msg::Tick(t0() + Duration::seconds(30)))).unwrap();
    let page = crate::tui::audit_state::AUDIT_PAGE;
    let newer: Vec<AuditEntry> = (0..i64::try_from(page).unwrap())
        .map(|i| entry(1000 - i, "bo", "x", None))
        .collect();
    update(&mut a, loaded(g, true, newer));
    let audit = a.audit.as_ref().unwrap();
    assert_eq!(audit.rows.len(), page);
    assert!(
        audit.rows.iter().all(|r| r.id > 1),
        "row 1 is no longer shown"
    );
    assert_eq!(audit.selected, 0);
}

#[test]
fn enter_opens_the_contact_of_the_row() {
    let mut a = showing(80, 24, many(5), false);
    let (generation, _) = audit_load(&update(&mut a, key('A'))).unwrap();
    update(
        &mut a,
        loaded(
            generation,
            false,
            vec![
                entry(9, "ann", "operators.add", None),
                entry(8, "ann", "reset_link.sent", Some((4, "person@example.com"))),
            ],
        ),
    );
    // A row about no contact says so and stays.
    update(&mut a, code(KeyCode::Enter));
    assert!(a.audit.is_some());
    update(&mut a, key('j'));
    let cmds = update(&mut a, code(KeyCode::Enter));
    assert!(a.audit.is_none());
    let (_, _, query) = searched(&cmds).expect("searches for the contact");
    assert_eq!(query.text, "person@example.com");
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Cmd::LoadProfile { contact_id: 4, .. }))
    );
    assert_eq!(
        a.screen,
        Screen::Profile,
        "narrow: the profile fills the screen"
    );
    assert_eq!(a.list.want, Some(4));
}

#[test]
fn a_failure_is_shown_and_the_refresh_loads_again() {
    let mut a = showing(80, 24, many(5), false);
    let (generation, _) = audit_load(&update(&mut a, key('A'))).unwrap();
    update(
        &mut a,
        Msg::AuditLoaded {
            generation,
            newer: false,
            result: Err(TaskError::Other(
                "no contact has the email x\u{1b}[2J".into(),
            )),
        },
    );
    let error = a.audit.as_ref().unwrap().error.clone().unwrap();
    assert!(error.contains("no contact has the email"));
    assert!(!error.contains('\u{1b}'));
    let cmds = update(&mut a, Msg::Tick(t0() + Duration::seconds(30)));
    let (g, filter) = audit_load(&cmds).unwrap();
    assert!(g > generation, "a whole new list");
    assert_eq!(filter.after_id, None);
}

//! The Operators screen's steps of `update` as plain functions: `O` for
//! admins only (others get the reason), the forms and what they send to
//! desk, a pasted key, desk's refusal kept in the form, a success closing
//! it and reloading the list.

use chrono::Utc;
use ratatui::crossterm::event::KeyCode;

use super::dialogs::{Dialog, Notice};
use super::keymap::Context;
use super::msg::{Cmd, Msg, OperatorChange, OperatorListing, OperatorView, TaskError};
use super::operators_state::OperatorForm;
use super::update::update;
use super::update_tests::{code, key, many, showing};
use crate::desk::Role;
use crate::desk::operator_keys::OperatorKey;
use crate::desk::operators::OperatorEntry;

fn as_role(role: Role) -> super::app::App {
    let mut a = showing(80, 24, many(3), false);
    update(
        &mut a,
        Msg::OperatorResolved(Ok(OperatorView {
            name: "ann".into(),
            role: Some(role),
        })),
    );
    a
}

fn listing(name: &str, role: Role, keys: &[&str]) -> OperatorListing {
    OperatorListing {
        operator: OperatorEntry {
            name: name.into(),
            role,
            created_at: Utc::now(),
            created_by: "test".into(),
        },
        keys: keys
            .iter()
            .map(|fp| OperatorKey {
                operator: name.into(),
                fingerprint: (*fp).into(),
                algorithm: "ssh-ed25519".into(),
                comment: "laptop\u{1b}[2J".into(),
                created_at: Utc::now(),
                created_by: "test".into(),
            })
            .collect(),
    }
}

fn load_generation(cmds: &[Cmd]) -> Option<u64> {
    cmds.iter().find_map(|c| match c {
        Cmd::LoadOperators { generation } => Some(*generation),
        _ => None,
    })
}

fn change(cmds: &[Cmd]) -> Option<OperatorChange> {
    cmds.iter().find_map(|c| match c {
        Cmd::ChangeOperator(change) => Some(change.clone()),
        _ => None,
    })
}

/// An admin's console with the Operators screen open on ann (admin) and bo.
fn open() -> super::app::App {
    let mut a = as_role(Role::Admin);
    let generation = load_generation(&update(&mut a, key('O'))).expect("O loads the operators");
    update(
        &mut a,
        Msg::OperatorsLoaded {
            generation,
            result: Ok(vec![
                listing("ann", Role::Admin, &["SHA256:aaa"]),
                listing("bo", Role::Agent, &[]),
            ]),
        },
    );
    a
}

#[test]
fn only_admins_open_the_screen_and_others_are_told_why() {
    for role in [Role::Viewer, Role::Agent] {
        let mut a = as_role(role);
        let cmds = update(&mut a, key('O'));
        assert!(cmds.is_empty());
        assert!(a.operators.is_none());
        match a.dialogs.last() {
            Some(Dialog::Notice(Notice::Message { text, .. })) => {
                assert!(text.contains("needs the admin role"), "{text}");
                assert!(text.contains(role.as_str()), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }
    let a = open();
    assert_eq!(a.context(), Context::Operators);
    let ops = a.operators.as_ref().unwrap();
    assert_eq!(ops.rows.len(), 2);
    assert_eq!(ops.rows[0].keys[0].fingerprint, "SHA256:aaa");
    assert!(!ops.rows[0].keys[0].comment.contains('\u{1b}'));
}

#[test]
fn add_an_operator_with_a_role_then_the_list_reloads() {
    let mut a = open();
    update(&mut a, key('a'));
    assert_eq!(a.context(), Context::OperatorForm);
    // Empty name: a hint, nothing sent.
    assert!(change(&update(&mut a, code(KeyCode::Enter))).is_none());
    assert!(a.operators.as_ref().unwrap().form_error.is_some());
    for c in "dana".chars() {
        update(&mut a, key(c));
    }
    update(&mut a, code(KeyCode::Tab));
    let sent = change(&update(&mut a, code(KeyCode::Enter)));
    assert_eq!(
        sent,
        Some(OperatorChange::Add {
            name: "dana".into(),
            role: Role::Agent
        })
    );
    // Enter again while it runs sends nothing twice.
    assert!(change(&update(&mut a, code(KeyCode::Enter))).is_none());
    let cmds = update(
        &mut a,
        Msg::OperatorChanged(Ok("dana added as agent".into())),
    );
    assert!(load_generation(&cmds).is_some(), "the list reloads");
    assert!(a.operators.as_ref().unwrap().form.is_none());
    assert_eq!(a.context(), Context::Operators);
}

#[test]
fn a_refusal_stays_in_the_form_and_a_key_arrives_by_paste() {
    let mut a = open();
    // ann is selected: desk refuses to demote the last admin.
    update(&mut a, key('c'));
    let sent = change(&update(&mut a, code(KeyCode::Enter)));
    assert_eq!(
        sent,
        Some(OperatorChange::SetRole {
            name: "ann".into(),
            role: Role::Viewer
        })
    );
    update(
        &mut a,
        Msg::OperatorChanged(Err(TaskError::Other(
            "ann is the last admin; make another operator admin first".into(),
        ))),
    );
    let ops = a.operators.as_ref().unwrap();
    assert!(matches!(ops.form, Some(OperatorForm::ChangeRole { .. })));
    assert!(ops.form_error.as_deref().unwrap().contains("last admin"));
    update(&mut a, code(KeyCode::Esc));

    // bo: a key pasted (bracketed paste), then Enter.
    update(&mut a, key('j'));
    update(&mut a, key('s'));
    update(&mut a, Msg::Paste("ssh-ed25519 AAAAC3Nz bo@box\n".into()));
    let sent = change(&update(&mut a, code(KeyCode::Enter)));
    assert_eq!(
        sent,
        Some(OperatorChange::AddKey {
            name: "bo".into(),
            key: "ssh-ed25519 AAAAC3Nz bo@box".into()
        })
    );
    update(&mut a, Msg::OperatorChanged(Ok("Key added".into())));
    // An authorized_keys excerpt: its comment line skipped, the key
    // wrapped by a narrow terminal joined, a second key left out.
    update(&mut a, key('s'));
    update(
        &mut a,
        Msg::Paste(
            "# bo's laptop\r\nssh-ed25519 AAAAC3Nz\r\naC1lZDI1 bo@laptop\r\n\r\nssh-rsa AAAAB3 bo@old\n"
                .into(),
        ),
    );
    let sent = change(&update(&mut a, code(KeyCode::Enter)));
    assert_eq!(
        sent,
        Some(OperatorChange::AddKey {
            name: "bo".into(),
            key: "ssh-ed25519 AAAAC3NzaC1lZDI1 bo@laptop".into()
        })
    );
    update(&mut a, Msg::OperatorChanged(Ok("Key added".into())));

    // Remove asks first; Esc keeps.
    update(&mut a, key('d'));
    assert!(matches!(
        a.operators.as_ref().unwrap().form,
        Some(OperatorForm::Remove { .. })
    ));
    update(&mut a, code(KeyCode::Esc));
    assert!(a.operators.as_ref().unwrap().form.is_none());
    update(&mut a, key('d'));
    let sent = change(&update(&mut a, code(KeyCode::Enter)));
    assert_eq!(sent, Some(OperatorChange::Remove { name: "bo".into() }));
    // Esc leaves the screen; A from it opens the Audit screen.
    update(&mut a, Msg::OperatorChanged(Ok("bo removed".into())));
    update(&mut a, key('A'));
    assert!(a.operators.is_none());
    assert_eq!(a.context(), Context::Audit);
}

//! The profile's dialogs opened from the contacts list at 80x24, where the
//! profile is not on screen: Notes, Edit contact and the offer picker show
//! the contact as desk has it now, never an old or missing profile.

use ratatui::crossterm::event::KeyCode;

use super::app::{App, Screen};
use super::dialogs::Dialog;
use super::msg::{ActionOutcome, Cmd, Msg, Request, TaskError};
use super::update::update;
use super::update_tests::{code, key, loads_profile, profile_of, row, searched, showing, t0};
use crate::desk::notes::NoteEntry;
use crate::desk::{Action, ContactRow, Profile};

fn cleo() -> ContactRow {
    row(7, "Cleo Park", true)
}

/// Cleo's profile with two notes, newest first.
fn with_notes(r: &ContactRow) -> Profile {
    let mut p = profile_of(r);
    p.notes_written = vec![
        NoteEntry {
            id: 12,
            author: "sam".into(),
            created_at: t0(),
            text: "Bought it on the other shop.".into(),
        },
        NoteEntry {
            id: 11,
            author: "ops".into(),
            created_at: t0(),
            text: "Prefers email.".into(),
        },
    ];
    p
}

/// Answers the profile load in `cmds` with `profile`.
fn answer(app: &mut App, cmds: &[Cmd], profile: Profile) -> Vec<Cmd> {
    let generation = cmds
        .iter()
        .find_map(|c| match c {
            Cmd::LoadProfile { generation, .. } => Some(*generation),
            _ => None,
        })
        .expect("a profile load");
    update(
        app,
        Msg::ProfileLoaded {
            generation,
            result: Ok(Box::new(profile)),
        },
    )
}

fn notes(app: &App) -> &super::note_editor::NoteEditor {
    match app.dialogs.last() {
        Some(Dialog::Notes(n)) => n,
        other => panic!("Notes is not on top: {other:?}"),
    }
}

#[test]
fn notes_from_the_list_load_the_contact_and_say_so_until_they_arrive() {
    let mut a = showing(80, 24, vec![cleo()], false);
    assert!(!a.profile_visible());
    let cmds = update(&mut a, key('n'));
    assert_eq!(loads_profile(&cmds), Some(7), "Notes asks desk for Cleo");
    assert!(notes(&a).loading);
    assert!(a.busy(), "the spinner runs while the notes load");
    answer(&mut a, &cmds, with_notes(&cleo()));
    assert!(!notes(&a).loading);
    assert_eq!(a.profile_of(7).map(|p| p.note_lines.len()), Some(2));
    // The listed notes are the ones Delete acts on.
    update(&mut a, code(KeyCode::Tab));
    update(&mut a, code(KeyCode::Tab));
    update(&mut a, code(KeyCode::Down));
    update(&mut a, code(KeyCode::Delete));
    match a.dialogs.last() {
        Some(Dialog::Confirm(c)) => {
            assert!(matches!(c.action, Request::DeleteNote { id: 11, .. }));
        }
        other => panic!("no confirmation: {other:?}"),
    }
}

#[test]
fn an_old_profile_off_screen_is_loaded_again() {
    let mut a = showing(80, 24, vec![cleo()], false);
    // Open her profile (no notes then), go back to the list.
    let cmds = update(&mut a, code(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Profile);
    answer(&mut a, &cmds, profile_of(&cleo()));
    update(&mut a, code(KeyCode::Esc));
    assert_eq!(a.screen, Screen::List);
    // Someone adds notes meanwhile; Notes from the list does not trust the
    // old profile.
    let cmds = update(&mut a, key('n'));
    assert_eq!(loads_profile(&cmds), Some(7));
    assert!(notes(&a).loading);
    answer(&mut a, &cmds, with_notes(&cleo()));
    assert_eq!(a.profile_of(7).map(|p| p.note_lines.len()), Some(2));
}

#[test]
fn notes_beside_a_profile_on_screen_use_it() {
    let mut a = showing(120, 40, vec![cleo()], false);
    let cmds = update(&mut a, code(KeyCode::Enter));
    let cmds = if loads_profile(&cmds).is_some() {
        cmds
    } else {
        // The wide layout loaded it with the first search.
        vec![a.reload_profile(7)]
    };
    answer(&mut a, &cmds, with_notes(&cleo()));
    let cmds = update(&mut a, key('n'));
    assert_eq!(loads_profile(&cmds), None);
    assert!(!notes(&a).loading);
}

#[test]
fn a_failed_load_is_said_in_notes() {
    let mut a = showing(80, 24, vec![cleo()], false);
    let cmds = update(&mut a, key('n'));
    let Some(Cmd::LoadProfile { generation, .. }) = cmds.first().cloned() else {
        panic!("no load: {cmds:?}");
    };
    update(
        &mut a,
        Msg::ProfileLoaded {
            generation,
            result: Err(TaskError::Other("no such contact".into())),
        },
    );
    let n = notes(&a);
    assert!(!n.loading);
    assert_eq!(
        n.error.as_deref(),
        Some("Cannot load the notes: no such contact")
    );
}

#[test]
fn deleting_a_note_from_the_list_reloads_the_notes() {
    let mut a = showing(80, 24, vec![cleo()], false);
    let cmds = update(&mut a, key('n'));
    answer(&mut a, &cmds, with_notes(&cleo()));
    update(&mut a, code(KeyCode::Tab));
    update(&mut a, code(KeyCode::Tab));
    update(&mut a, code(KeyCode::Delete));
    update(&mut a, code(KeyCode::Enter));
    let cmds = update(
        &mut a,
        Msg::ActionDone {
            contact_id: 7,
            action: Action::DeleteNote,
            outcome: ActionOutcome::Done("Note deleted from Cleo Park".into()),
        },
    );
    assert!(matches!(a.dialogs.last(), Some(Dialog::Notes(_))));
    assert_eq!(loads_profile(&cmds), Some(7), "{cmds:?}");
}

#[test]
fn edit_contact_from_the_list_starts_from_the_current_values() {
    let mut a = showing(80, 24, vec![cleo()], false);
    let cmds = update(&mut a, key('e'));
    assert_eq!(loads_profile(&cmds), Some(7));
    // Until they arrive the form is empty and takes no typing.
    update(&mut a, key('x'));
    match a.dialogs.last() {
        Some(Dialog::EditContact(f)) => {
            assert!(f.loading);
            assert_eq!(f.name.value(), "");
        }
        other => panic!("{other:?}"),
    }
    // Another agent changed her email since the list was loaded.
    let mut p = profile_of(&cleo());
    p.email = "cleo@new.example.org".into();
    answer(&mut a, &cmds, p);
    match a.dialogs.last() {
        Some(Dialog::EditContact(f)) => {
            assert!(!f.loading);
            assert_eq!(f.name.value(), "Cleo Park");
            assert_eq!(f.email.value(), "cleo@new.example.org");
            assert_eq!(f.target.email, "cleo@new.example.org");
        }
        other => panic!("{other:?}"),
    }
    // A saved edit refreshes the list row too.
    let cmds = update(
        &mut a,
        Msg::ActionDone {
            contact_id: 7,
            action: Action::EditContact,
            outcome: ActionOutcome::Done("edited".into()),
        },
    );
    assert!(searched(&cmds).is_some(), "{cmds:?}");
}

#[test]
fn the_offer_picker_shows_what_desk_answers_for_the_contact() {
    let mut a = showing(80, 24, vec![cleo()], false);
    update(&mut a, key('.'));
    let cmds = update(&mut a, key('d'));
    assert!(
        cmds.iter().any(|c| matches!(
            c,
            Cmd::LoadPickerOffers {
                contact_id: 7,
                held: true
            }
        )),
        "{cmds:?}"
    );
    update(&mut a, code(KeyCode::Esc));
    update(&mut a, key('.'));
    let cmds = update(&mut a, key('a'));
    assert!(
        cmds.iter().any(|c| matches!(
            c,
            Cmd::LoadPickerOffers {
                contact_id: 7,
                held: false
            }
        )),
        "{cmds:?}"
    );
    // Desk's answer is shown as it is: no older profile filters it.
    update(
        &mut a,
        Msg::PickerOffersLoaded {
            contact_id: 7,
            result: Ok(vec![crate::desk::offers::OfferEntry {
                id: 1,
                name: "Go Deep".into(),
                products: String::new(),
                holders: 0,
            }]),
        },
    );
    match a.dialogs.last() {
        Some(Dialog::OfferPicker(p)) => {
            assert_eq!(p.choices.as_ref().map(Vec::len), Some(1));
        }
        other => panic!("{other:?}"),
    }
}

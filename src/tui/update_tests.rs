//! `update` as plain functions: messages in, state and commands out.

use chrono::{DateTime, TimeZone, Utc};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Focus, Level, PREFETCH_ROWS, Screen, UiConfig};
use super::dialogs::{CpField, Dialog, Disabled, Notice};
use super::keymap::Keymap;
use super::msg::{ActionOutcome, Cmd, Msg, OperatorView, PolicyFeedback, Request, TaskError};
use super::theme::Theme;
use super::update::{init, update};
use crate::desk::profile::HeldOffer;
use crate::desk::{
    Action, ContactRow, Cursor, KindFilter, MatchCount, Profile, Role, SearchPage, SearchQuery,
};

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap()
}

pub(super) fn app(w: u16, h: u16) -> App {
    App::new(
        UiConfig::default(),
        Keymap::defaults(),
        Theme::mono(),
        (w, h),
        t0(),
    )
}

pub(super) fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub(super) fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

pub(super) fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub(super) fn row(id: i64, name: &str, customer: bool) -> ContactRow {
    ContactRow {
        id,
        name: name.into(),
        email: format!(
            "{}@example.com",
            name.split(' ').next().unwrap_or("x").to_lowercase()
        ),
        name_lower: name.to_lowercase(),
        customer,
        subscriber: false,
        created_at: t0(),
    }
}

pub(super) fn page(rows: Vec<ContactRow>, more: bool) -> SearchPage {
    let next = if more {
        rows.last().map(ContactRow::cursor)
    } else {
        None
    };
    SearchPage {
        total: MatchCount::Exact(rows.len() as u64 + if more { 100 } else { 0 }),
        rows,
        next,
    }
}

pub(super) fn many(n: i64) -> Vec<ContactRow> {
    (1..=n)
        .map(|i| row(i, &format!("Person {i:03}"), i % 2 == 0))
        .collect()
}

/// The search generation a list of commands asked for.
pub(super) fn searched(cmds: &[Cmd]) -> Option<(u64, bool, SearchQuery)> {
    cmds.iter().find_map(|c| match c {
        Cmd::Search {
            generation,
            query,
            append,
        } => Some((*generation, *append, query.clone())),
        _ => None,
    })
}

pub(super) fn loads_profile(cmds: &[Cmd]) -> Option<i64> {
    cmds.iter().find_map(|c| match c {
        Cmd::LoadProfile { contact_id, .. } => Some(*contact_id),
        _ => None,
    })
}

/// An app that shows `rows` as the answer to its first search, on a list.
pub(super) fn showing(w: u16, h: u16, rows: Vec<ContactRow>, more: bool) -> App {
    let mut a = app(w, h);
    let cmds = init(&mut a);
    let (generation, _, _) = searched(&cmds).unwrap();
    update(
        &mut a,
        Msg::SearchDone {
            generation,
            append: false,
            result: Ok(page(rows, more)),
        },
    );
    update(&mut a, code(KeyCode::Esc));
    assert_eq!(a.focus, Focus::List);
    a
}

pub(super) fn profile_of(r: &ContactRow) -> Profile {
    Profile {
        contact_id: r.id,
        name: r.name.clone(),
        email: r.email.clone(),
        added_on: t0(),
        updated_at: t0(),
        subscriber: r.subscriber,
        tags: String::new(),
        notes: String::new(),
        offers: if r.customer {
            vec![HeldOffer {
                name: "Rust Mastery".into(),
                products: String::new(),
                source: "purchased".into(),
                granted_by: String::new(),
                granted_at: t0(),
            }]
        } else {
            Vec::new()
        },
        account: None,
        open_links: Vec::new(),
        latest_mail: None,
        activity: Vec::new(),
        notes_written: Vec::new(),
        email_history: Vec::new(),
    }
}

#[test]
fn opening_searches_everyone_and_asks_for_the_status() {
    let mut a = app(120, 40);
    let cmds = init(&mut a);
    let (generation, append, query) = searched(&cmds).unwrap();
    assert_eq!(
        (generation, append, query.text.as_str(), query.kind),
        (1, false, "", KindFilter::All)
    );
    assert!(cmds.contains(&Cmd::RefreshStatus));
    assert_eq!(a.focus, Focus::Search, "typing searches at once");
}

#[test]
fn each_keystroke_searches_and_an_older_answer_never_overwrites_a_newer_one() {
    let mut a = app(120, 40);
    init(&mut a);
    let g1 = searched(&update(&mut a, key('a'))).unwrap();
    let g2 = searched(&update(&mut a, key('d'))).unwrap();
    assert_eq!(g2.2.text, "ad");
    assert!(g2.0 > g1.0);
    update(
        &mut a,
        Msg::SearchDone {
            generation: g2.0,
            append: false,
            result: Ok(page(vec![row(1, "Ada Lovelace", true)], false)),
        },
    );
    // The slower, older answer arrives last and is dropped.
    update(
        &mut a,
        Msg::SearchDone {
            generation: g1.0,
            append: false,
            result: Ok(page(many(5), false)),
        },
    );
    assert_eq!(a.list.rows.len(), 1);
    assert_eq!(a.list.rows[0].name, "Ada Lovelace");
    assert_eq!(a.list.total, Some(MatchCount::Exact(1)));
}

#[test]
fn printable_keys_type_in_the_search_box_and_ctrl_c_quits() {
    let mut a = app(120, 40);
    init(&mut a);
    for c in "q.r?/jk".chars() {
        update(&mut a, key(c));
    }
    assert_eq!(a.search.value(), "q.r?/jk");
    assert!(!a.quit && a.dialogs.is_empty());
    update(&mut a, ctrl('c'));
    assert!(a.quit);
}

#[test]
fn the_search_key_in_an_empty_search_box_types_nothing() {
    let mut a = app(120, 40);
    init(&mut a);
    assert_eq!(a.focus, Focus::Search);
    // The README says "press / to search"; a new user does so first.
    let cmds = update(&mut a, key('/'));
    assert_eq!(a.search.value(), "");
    assert!(searched(&cmds).is_none(), "no search for \"/\"");
    for c in "ada/".chars() {
        update(&mut a, key(c));
    }
    // Once there is text, `/` is a character like any other.
    assert_eq!(a.search.value(), "ada/");
}

#[test]
fn the_selection_stays_on_the_same_contact_when_it_is_still_listed() {
    let mut a = showing(120, 40, many(30), false);
    update(&mut a, key('j'));
    update(&mut a, key('j'));
    assert_eq!(a.list.selected_row().unwrap().id, 3);
    update(&mut a, key('/'));
    let (generation, _, _) = searched(&update(&mut a, key('P'))).unwrap();
    let mut narrower = many(30);
    narrower.remove(0);
    update(
        &mut a,
        Msg::SearchDone {
            generation,
            append: false,
            result: Ok(page(narrower, false)),
        },
    );
    assert_eq!(a.list.selected_row().unwrap().id, 3);
    assert_eq!(a.list.selected, 1);
    // When it is gone, the selection goes to the top.
    let (generation, _, _) = searched(&update(&mut a, key('x'))).unwrap();
    update(
        &mut a,
        Msg::SearchDone {
            generation,
            append: false,
            result: Ok(page(many(30)[5..].to_vec(), false)),
        },
    );
    assert_eq!(a.list.selected, 0);
}

#[test]
fn moving_near_the_end_loads_the_next_page_once() {
    let mut a = showing(120, 40, many(50), true);
    let mut asked = Vec::new();
    for _ in 0..30 {
        asked.extend(update(&mut a, key('j')));
    }
    let appends: Vec<_> = asked
        .iter()
        .filter(|c| matches!(c, Cmd::Search { append: true, .. }))
        .collect();
    assert_eq!(appends.len(), 1, "one page at a time: {appends:?}");
    let Cmd::Search {
        generation, query, ..
    } = appends[0]
    else {
        unreachable!()
    };
    assert_eq!(
        query.after,
        Some(Cursor {
            name_lower: "person 050".into(),
            id: 50
        })
    );
    let more: Vec<ContactRow> = (51..=100)
        .map(|i| row(i, &format!("Person {i:03}"), false))
        .collect();
    update(
        &mut a,
        Msg::SearchDone {
            generation: *generation,
            append: true,
            result: Ok(page(more, false)),
        },
    );
    assert_eq!(a.list.rows.len(), 100);
    assert!(a.list.next.is_none());
    update(&mut a, key('G'));
    assert_eq!(a.list.selected, 99);
    assert!(a.list.offset > 0 && a.list.offset <= 99);
    update(&mut a, key('g'));
    assert_eq!((a.list.selected, a.list.offset), (0, 0));
    update(&mut a, code(KeyCode::PageDown));
    assert_eq!(a.list.selected, a.visible_rows());
}

#[test]
fn on_a_tall_screen_a_new_query_asks_for_one_page_that_fills_it() {
    // 200x80: more rows on screen than the store's page.
    let mut a = showing(200, 80, many(3), false);
    let want = a.visible_rows() + PREFETCH_ROWS + 1;
    assert!(want > crate::desk::PAGE_SIZE);
    update(&mut a, key('/'));
    let (generation, append, query) = searched(&update(&mut a, key('P'))).unwrap();
    assert!(!append);
    assert_eq!(query.page_size(), want);
    let done = update(
        &mut a,
        Msg::SearchDone {
            generation,
            append: false,
            result: Ok(page(many(i64::try_from(want).unwrap()), true)),
        },
    );
    assert!(
        searched(&done).is_none(),
        "no second search for the same key: {done:?}"
    );
    // A short screen keeps the store's page.
    let mut short = showing(120, 40, many(3), false);
    update(&mut short, key('/'));
    let (_, _, query) = searched(&update(&mut short, key('P'))).unwrap();
    assert_eq!(query.page_size(), crate::desk::PAGE_SIZE);
}

#[test]
fn tab_cycles_the_kind_filter_and_searches_again() {
    let mut a = showing(120, 40, many(3), false);
    let labels: Vec<&str> = (0..4)
        .map(|_| {
            let cmds = update(&mut a, code(KeyCode::Tab));
            assert_eq!(searched(&cmds).unwrap().2.kind, a.kind);
            a.kind.label()
        })
        .collect();
    assert_eq!(labels, ["Customers", "Subscribers", "Contacts", "All"]);
}

#[test]
fn wide_terminals_follow_the_selection_narrow_ones_open_the_profile_with_enter() {
    let mut wide = showing(120, 40, many(5), false);
    assert_eq!(loads_profile(&update(&mut wide, key('j'))), Some(2));

    let mut narrow = showing(80, 24, many(5), false);
    assert_eq!(
        loads_profile(&update(&mut narrow, key('j'))),
        None,
        "the profile is not on screen"
    );
    let cmds = update(&mut narrow, code(KeyCode::Enter));
    assert_eq!(narrow.screen, Screen::Profile);
    assert_eq!(loads_profile(&cmds), Some(2));
    update(&mut narrow, code(KeyCode::Esc));
    assert_eq!(narrow.screen, Screen::List);
}

#[test]
fn reset_password_confirms_with_the_platform_text_and_runs_the_action() {
    let mut a = showing(120, 40, vec![row(7, "Ada Lovelace", true)], false);
    update(&mut a, key('r'));
    let Some(Dialog::Confirm(c)) = a.dialogs.last() else {
        panic!("{:?}", a.dialogs)
    };
    assert_eq!(
        c.question,
        "Send a password reset email to Ada Lovelace <ada@example.com>? The link expires after 6 hours."
    );
    assert_eq!(c.confirm_label, "Send email");
    let cmds = update(&mut a, code(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Cmd::Act {
            contact_id: 7,
            action: Request::SendResetLink { force: false }
        }]
    );
    assert!(a.busy(), "the spinner runs while it works");
    let cmds = update(
        &mut a,
        Msg::ActionDone {
            contact_id: 7,
            action: Action::SendResetLink,
            outcome: ActionOutcome::Done("Reset link for Ada Lovelace: email sent".into()),
        },
    );
    assert!(a.dialogs.is_empty());
    assert_eq!(
        a.status.message,
        Some((
            Level::Success,
            "Reset link for Ada Lovelace: email sent".into()
        ))
    );
    assert_eq!(loads_profile(&cmds), Some(7), "the profile updates");
}

#[test]
fn cancel_and_escape_send_nothing() {
    let mut a = showing(120, 40, vec![row(7, "Ada Lovelace", true)], false);
    update(&mut a, key('r'));
    assert!(update(&mut a, code(KeyCode::Esc)).is_empty());
    assert!(a.dialogs.is_empty());
    update(&mut a, key('r'));
    update(&mut a, code(KeyCode::Tab));
    assert!(
        update(&mut a, code(KeyCode::Enter)).is_empty(),
        "Enter on Cancel"
    );
    assert!(a.dialogs.is_empty());
}

#[test]
fn a_cooldown_offers_to_send_anyway() {
    let mut a = showing(120, 40, vec![row(7, "Ada Lovelace", true)], false);
    update(&mut a, key('r'));
    update(&mut a, code(KeyCode::Enter));
    update(
        &mut a,
        Msg::ActionDone {
            contact_id: 7,
            action: Action::SendResetLink,
            outcome: ActionOutcome::Cooldown { remaining_secs: 40 },
        },
    );
    let Some(Dialog::Confirm(c)) = a.dialogs.last() else {
        panic!()
    };
    assert_eq!(c.confirm_label, "Send anyway");
    let cmds = update(&mut a, code(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Cmd::Act {
            contact_id: 7,
            action: Request::SendResetLink { force: true }
        }]
    );
}

#[test]
fn the_link_lifetime_in_the_question_follows_the_settings() {
    let mut a = showing(120, 40, vec![row(7, "Ada Lovelace", true)], false);
    a.config.link_ttl = std::time::Duration::from_secs(90 * 60);
    update(&mut a, key('r'));
    let Some(Dialog::Confirm(c)) = a.dialogs.last() else {
        panic!()
    };
    assert!(
        c.question.ends_with("The link expires after 90 minutes."),
        "{}",
        c.question
    );
}

#[test]
fn a_non_customer_gets_the_notice_not_the_action() {
    let mut a = showing(120, 40, vec![row(3, "Cleo Park", false)], false);
    assert!(update(&mut a, key('r')).is_empty());
    assert!(matches!(
        a.dialogs.last(),
        Some(Dialog::Notice(Notice::NotACustomer {
            asked: "Reset Password",
            ..
        }))
    ));
    update(&mut a, code(KeyCode::Esc));
    update(&mut a, key('.'));
    let Some(Dialog::Menu(m)) = a.dialogs.last() else {
        panic!()
    };
    let labels: Vec<&str> = m.items.iter().map(|i| i.label).collect();
    assert_eq!(
        labels,
        [
            "Change Password",
            "Revoke reset links",
            "Unlock account",
            "Sign out everywhere",
            "Grant Offer",
            "Revoke Offer",
            "Resend welcome email",
            "Copy email"
        ]
    );
    assert_eq!(m.items[0].disabled, Some(Disabled::NotACustomer));
    assert_eq!(
        m.items[4].disabled, None,
        "an offer can be granted to anyone"
    );
    assert_eq!(m.items[5].disabled, Some(Disabled::NotACustomer));
    assert_eq!(m.items[6].disabled, Some(Disabled::NotACustomer));
    assert_eq!(m.items[7].disabled, None, "Copy email works for anyone");
    assert!(update(&mut a, key('c')).is_empty());
    assert!(matches!(
        a.dialogs.last(),
        Some(Dialog::Notice(Notice::NotACustomer {
            asked: "Change Password",
            ..
        }))
    ));
}

#[test]
fn roles_disable_items_with_the_reason() {
    let mut a = showing(120, 40, vec![row(7, "Ada Lovelace", true)], false);
    update(
        &mut a,
        Msg::OperatorResolved(Ok(OperatorView {
            name: "sam".into(),
            role: Some(Role::Agent),
        })),
    );
    update(&mut a, key('.'));
    let Some(Dialog::Menu(m)) = a.dialogs.last() else {
        panic!()
    };
    assert_eq!(
        m.items[0].disabled,
        Some(Disabled::Reason(
            "needs the admin role (you are agent)".into()
        ))
    );
    assert_eq!(m.items[1].disabled, None, "agents revoke links");
    update(&mut a, code(KeyCode::Esc));
    update(
        &mut a,
        Msg::OperatorResolved(Ok(OperatorView {
            name: "val".into(),
            role: Some(Role::Viewer),
        })),
    );
    assert!(update(&mut a, key('r')).is_empty());
    let Some(Dialog::Notice(Notice::Message { text, .. })) = a.dialogs.last() else {
        panic!("{:?}", a.dialogs)
    };
    assert!(
        text.contains("needs the agent role (you are viewer)"),
        "{text}"
    );
}

#[test]
fn change_password_checks_live_saves_and_shows_the_password_once() {
    let mut a = showing(120, 40, vec![row(7, "Ada Lovelace", true)], false);
    update(&mut a, key('.'));
    update(&mut a, key('c'));
    assert!(matches!(a.dialogs.last(), Some(Dialog::ChangePassword(_))));
    let mut checks = Vec::new();
    for c in "correct horse".chars() {
        checks.extend(update(&mut a, key(c)));
    }
    let generations: Vec<u64> = checks
        .iter()
        .filter_map(|c| match c {
            Cmd::CheckPassword { generation, .. } => Some(*generation),
            _ => None,
        })
        .collect();
    assert_eq!(generations.len(), 13);
    let last = *generations.last().unwrap();
    // An older verdict is ignored; Enter waits for the newest.
    update(
        &mut a,
        Msg::PolicyChecked {
            generation: last - 1,
            feedback: PolicyFeedback {
                ok: true,
                ..Default::default()
            },
        },
    );
    assert!(update(&mut a, code(KeyCode::Enter)).is_empty());
    update(
        &mut a,
        Msg::PolicyChecked {
            generation: last,
            feedback: PolicyFeedback {
                ok: true,
                ..Default::default()
            },
        },
    );
    update(&mut a, ctrl('r'));
    let cmds = update(&mut a, code(KeyCode::Enter));
    let [
        Cmd::Act {
            contact_id: 7,
            action:
                Request::ChangePassword {
                    password,
                    require_change,
                },
        },
    ] = cmds.as_slice()
    else {
        panic!("{cmds:?}")
    };
    assert_eq!(password.expose(), "correct horse");
    assert!(!require_change, "Ctrl-R turned the checkbox off");
    assert!(
        !format!("{cmds:?}").contains("correct horse"),
        "secrets never print"
    );
    update(
        &mut a,
        Msg::ActionDone {
            contact_id: 7,
            action: Action::ChangePassword,
            outcome: ActionOutcome::Done("Password changed".into()),
        },
    );
    let Some(Dialog::Notice(Notice::PasswordSet { password, .. })) = a.dialogs.last() else {
        panic!()
    };
    assert_eq!(password.expose(), "correct horse");
    let cmds = update(&mut a, key('y'));
    let [Cmd::Copy(copied)] = cmds.as_slice() else {
        panic!()
    };
    assert_eq!(copied.expose(), "correct horse");
    update(&mut a, code(KeyCode::Enter));
    assert!(
        a.dialogs.is_empty(),
        "closed: the password is gone from the state"
    );
}

#[test]
fn change_password_fields_and_generation() {
    let mut a = showing(120, 40, vec![row(7, "Ada Lovelace", true)], false);
    update(&mut a, key('.'));
    update(&mut a, key('c'));
    assert_eq!(update(&mut a, ctrl('g')), vec![Cmd::GeneratePassword]);
    let cmds = update(
        &mut a,
        Msg::PasswordGenerated(Ok(crate::settings::Secret::new("abcd-efgh-jkmn-pqrs"))),
    );
    assert!(matches!(cmds.as_slice(), [Cmd::CheckPassword { .. }]));
    let Some(Dialog::ChangePassword(cp)) = a.dialogs.last() else {
        panic!()
    };
    assert_eq!(cp.input.value(), "abcd-efgh-jkmn-pqrs");
    assert!(cp.show, "a generated password is shown");
    // Left/Right edit inside the field; Tab moves through the fields.
    update(&mut a, code(KeyCode::Left));
    let Some(Dialog::ChangePassword(cp)) = a.dialogs.last() else {
        panic!()
    };
    assert_eq!(cp.focus, CpField::Password);
    for expected in [
        CpField::Require,
        CpField::Save,
        CpField::Cancel,
        CpField::Password,
    ] {
        update(&mut a, code(KeyCode::Tab));
        let Some(Dialog::ChangePassword(cp)) = a.dialogs.last() else {
            panic!()
        };
        assert_eq!(cp.focus, expected);
    }
    update(&mut a, code(KeyCode::Tab));
    update(&mut a, key(' '));
    let Some(Dialog::ChangePassword(cp)) = a.dialogs.last() else {
        panic!()
    };
    assert!(!cp.require_change, "Space toggles the focused checkbox");
}

#[test]
fn a_policy_refusal_keeps_the_dialog_open() {
    let mut a = showing(120, 40, vec![row(7, "Ada Lovelace", true)], false);
    update(&mut a, key('.'));
    update(&mut a, key('c'));
    let cmds = update(&mut a, key('x'));
    let generation = match cmds.as_slice() {
        [Cmd::CheckPassword { generation, .. }] => *generation,
        _ => panic!(),
    };
    update(
        &mut a,
        Msg::PolicyChecked {
            generation,
            feedback: PolicyFeedback {
                ok: true,
                ..Default::default()
            },
        },
    );
    update(&mut a, code(KeyCode::Enter));
    update(
        &mut a,
        Msg::ActionDone {
            contact_id: 7,
            action: Action::ChangePassword,
            outcome: ActionOutcome::Policy(vec!["Use at least 12 characters.".into()]),
        },
    );
    let Some(Dialog::ChangePassword(cp)) = a.dialogs.last() else {
        panic!()
    };
    assert!(!cp.running);
    assert_eq!(
        cp.feedback.as_ref().unwrap().problems,
        ["Use at least 12 characters."]
    );
}

#[test]
fn copy_email_writes_osc52_through_a_command() {
    let mut a = showing(120, 40, vec![row(3, "Cleo Park", false)], false);
    update(&mut a, key('.'));
    let cmds = update(&mut a, key('y'));
    let [Cmd::Copy(text)] = cmds.as_slice() else {
        panic!("{cmds:?}")
    };
    assert_eq!(text.expose(), "cleo@example.com");
    assert!(a.dialogs.is_empty());
}

#[test]
fn a_lost_database_keeps_the_list_and_recovers() {
    let mut a = showing(120, 40, many(5), false);
    let (generation, _, _) = searched(&update(&mut a, code(KeyCode::Tab))).unwrap();
    update(
        &mut a,
        Msg::SearchDone {
            generation,
            append: false,
            result: Err(TaskError::Unavailable("connection refused".into())),
        },
    );
    assert_eq!(a.list.rows.len(), 5, "what is shown stays");
    assert_eq!(a.status.db_down.as_deref(), Some("connection refused"));
    let later = t0() + chrono::TimeDelta::seconds(10);
    assert_eq!(update(&mut a, Msg::Tick(later)), vec![Cmd::Ping]);
    let cmds = update(&mut a, Msg::Pinged(Ok(())));
    assert!(a.status.db_down.is_none());
    assert!(
        searched(&cmds).is_some(),
        "the interrupted search runs again"
    );
}

#[test]
fn an_action_on_a_lost_database_keeps_the_dialog_for_a_retry() {
    let mut a = showing(120, 40, vec![row(7, "Ada Lovelace", true)], false);
    update(&mut a, key('r'));
    update(&mut a, code(KeyCode::Enter));
    update(
        &mut a,
        Msg::ActionDone {
            contact_id: 7,
            action: Action::SendResetLink,
            outcome: ActionOutcome::Unavailable("pool timed out".into()),
        },
    );
    let Some(Dialog::Confirm(c)) = a.dialogs.last() else {
        panic!()
    };
    assert!(!c.running);
    assert!(a.status.db_down.is_some());
    // The dialog itself says the action failed (the status line is busy
    // with the outage), until the agent tries again.
    assert_eq!(
        c.error.as_deref(),
        Some(super::update_actions::UNAVAILABLE_NOTHING_CHANGED)
    );
    update(&mut a, code(KeyCode::Enter));
    let Some(Dialog::Confirm(c)) = a.dialogs.last() else {
        panic!()
    };
    assert!(c.running);
    assert_eq!(c.error, None);
}

#[test]
fn tiny_terminals_only_quit() {
    let mut a = showing(120, 40, many(5), false);
    update(&mut a, Msg::Resize(1, 1));
    assert!(a.too_small());
    assert!(update(&mut a, key('r')).is_empty());
    assert!(a.dialogs.is_empty());
    update(&mut a, key('q'));
    assert!(a.quit);
}

#[test]
fn a_paste_is_one_line_of_search_text() {
    let mut a = app(120, 40);
    init(&mut a);
    let cmds = update(&mut a, Msg::Paste("ada\n\x1b[2J".into()));
    assert_eq!(searched(&cmds).unwrap().2.text, "ada  [2J");
}

#[test]
fn help_lists_the_keys_of_the_screen_below() {
    let mut a = showing(120, 40, many(3), false);
    update(&mut a, key('?'));
    let Some(Dialog::Help(h)) = a.dialogs.last() else {
        panic!()
    };
    assert_eq!(h.context, super::keymap::Context::List);
    update(&mut a, code(KeyCode::Esc));
    assert!(a.dialogs.is_empty());
}

#[test]
fn text_from_the_database_is_sanitised_on_the_way_in() {
    let mut a = app(120, 40);
    let cmds = init(&mut a);
    let (generation, _, _) = searched(&cmds).unwrap();
    let evil = row(9, "Eve\x1b]52;c;ZXZpbA==\x07\u{202e}", true);
    update(
        &mut a,
        Msg::SearchDone {
            generation,
            append: false,
            result: Ok(page(vec![evil.clone()], false)),
        },
    );
    assert_eq!(a.list.rows[0].name, "Eve␛]52;c;ZXZpbA==␇");
    let cmds = update(&mut a, Msg::Resize(121, 40));
    let _ = cmds;
    let generation = a.profile.generation;
    update(
        &mut a,
        Msg::ProfileLoaded {
            generation,
            result: Ok(Box::new(profile_of(&evil))),
        },
    );
    assert!(
        !a.profile
            .view
            .as_ref()
            .unwrap()
            .target
            .name
            .contains('\x1b')
    );
}

#[test]
fn a_generated_password_can_only_be_temporary() {
    let mut a = showing(120, 40, vec![row(7, "Ada Lovelace", true)], false);
    update(&mut a, key('.'));
    update(&mut a, key('c'));
    update(
        &mut a,
        Msg::PasswordGenerated(Ok(crate::settings::Secret::new("abcd-efgh-jkmn-pqrs"))),
    );
    let generation = a.check_generation;
    update(
        &mut a,
        Msg::PolicyChecked {
            generation,
            feedback: PolicyFeedback {
                ok: true,
                problems: Vec::new(),
                strength: Some(4),
            },
        },
    );
    update(&mut a, ctrl('r'));
    assert!(update(&mut a, code(KeyCode::Enter)).is_empty());
    let Some(Dialog::ChangePassword(cp)) = a.dialogs.last() else {
        panic!()
    };
    assert!(
        cp.error
            .as_deref()
            .unwrap_or_default()
            .contains("temporary")
    );
    update(&mut a, ctrl('r'));
    let cmds = update(&mut a, code(KeyCode::Enter));
    assert!(
        matches!(
            cmds.as_slice(),
            [Cmd::Act {
                action: Request::ChangePassword {
                    require_change: true,
                    ..
                },
                ..
            }]
        ),
        "{cmds:?}"
    );
}

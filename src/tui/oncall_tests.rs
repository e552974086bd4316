//! The on-call steps of `update` as plain functions: filters, the lockout
//! view's order, the selection, the bulk confirmation with its typed
//! count, the job's progress and `x`.

use std::collections::HashMap;

use ratatui::crossterm::event::KeyCode;

use super::app::Level;
use super::dialogs::Dialog;
use super::msg::{Cmd, Msg, OperatorView};
use super::update::update;
use super::update_tests::{code, key, many, searched, showing, t0};
use crate::desk::Role;
use crate::desk::bulk::{BulkAction, BulkPlan, BulkProgress, BulkSummary, Skip};
use crate::desk::filters::{Filter, IdSet, Lockout};

fn filter_load(cmds: &[Cmd]) -> Option<(u64, Vec<Filter>)> {
    cmds.iter().find_map(|c| match c {
        Cmd::LoadFilterSet {
            generation,
            filters,
        } => Some((*generation, filters.clone())),
        _ => None,
    })
}

#[test]
fn a_filter_narrows_the_search_to_its_set_and_one_key_clears_it() {
    let mut a = showing(120, 40, many(30), false);
    let cmds = update(&mut a, key('f'));
    assert!(matches!(a.dialogs.last(), Some(Dialog::Filters(_))));
    assert!(cmds.contains(&Cmd::LoadOffers));
    // Enter on the first line: Locked.
    let cmds = update(&mut a, code(KeyCode::Enter));
    let (generation, filters) = filter_load(&cmds).expect("asks for the set");
    assert_eq!(filters, vec![Filter::Locked]);
    update(&mut a, code(KeyCode::Esc));
    let set: IdSet = [2, 4].into_iter().collect();
    let cmds = update(
        &mut a,
        Msg::FilterSetLoaded {
            generation,
            result: Ok(Some(set.clone())),
        },
    );
    let (_, _, query) = searched(&cmds).expect("searches within the set");
    assert_eq!(query.only.as_deref(), Some(&set));
    assert_eq!(
        query.limit,
        super::oncall_state::LOCKOUT_PAGE,
        "the lockout view: one page"
    );
    // An older answer is dropped.
    assert!(
        update(
            &mut a,
            Msg::FilterSetLoaded {
                generation: generation - 1,
                result: Ok(None),
            },
        )
        .is_empty()
    );
    let cmds = update(&mut a, key('F'));
    let (_, _, query) = searched(&cmds).expect("searches again without filters");
    assert_eq!(query.only, None);
    assert!(a.filters.active.is_empty());
}

#[test]
fn the_lockout_view_puts_the_newest_lock_first() {
    let mut a = showing(120, 40, many(3), false);
    a.filters.active = vec![Filter::Locked];
    let lock = |mins: i64| Lockout {
        began: t0() - chrono::TimeDelta::minutes(mins),
        until: t0() + chrono::TimeDelta::minutes(10),
        failures: 10,
        source: "203.0.113.7\u{1b}[31m".into(),
    };
    let facts: HashMap<i64, Lockout> = [(1, lock(30)), (2, lock(5)), (3, lock(60))].into();
    update(&mut a, Msg::LockoutsLoaded(Ok(facts)));
    let order: Vec<i64> = a.list.rows.iter().map(|r| r.id).collect();
    assert_eq!(order, vec![2, 1, 3]);
    assert!(
        !a.filters.lockouts[&1].source.contains('\u{1b}'),
        "sources are sanitised"
    );
}

fn plan(n: i64, skipped: Vec<(i64, Skip)>) -> BulkPlan {
    BulkPlan {
        action: BulkAction::ResetPassword,
        act_on: (1..=n).collect(),
        skipped,
    }
}

#[test]
fn space_selects_v_selects_every_match_and_esc_clears() {
    let mut a = showing(120, 40, many(30), false);
    update(&mut a, key(' '));
    update(&mut a, key(' '));
    assert_eq!(a.selection.iter().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(a.list.selected, 2, "Space moves down");
    update(&mut a, key('k'));
    update(&mut a, key(' '));
    assert_eq!(a.selection.iter().collect::<Vec<_>>(), vec![1]);
    let cmds = update(&mut a, key('V'));
    assert!(matches!(cmds.as_slice(), [Cmd::SelectAll(_)]));
    update(&mut a, Msg::AllMatching(Ok((1..=130).collect())));
    assert_eq!(a.selection.len(), 130);
    update(&mut a, code(KeyCode::Esc));
    assert!(a.selection.is_empty());
}

#[test]
fn a_bulk_above_the_threshold_needs_the_count_typed_back() {
    let mut a = showing(120, 40, many(30), false);
    update(&mut a, key('V'));
    update(&mut a, Msg::AllMatching(Ok((1..=25).collect())));
    let cmds = update(&mut a, key('r'));
    assert!(matches!(
        cmds.as_slice(),
        [Cmd::PlanBulk {
            action: BulkAction::ResetPassword,
            ..
        }]
    ));
    update(
        &mut a,
        Msg::BulkPlanned(Ok(plan(
            23,
            vec![(24, Skip::NotACustomer), (25, Skip::Cooldown)],
        ))),
    );
    let Some(Dialog::BulkConfirm(c)) = a.dialogs.last() else {
        panic!("the confirmation opens");
    };
    assert!(c.need_typed, "23 is above bulk.confirm_over (20)");
    let question = c.question("6 hours");
    assert!(question.contains("23 contacts"), "{question}");
    assert!(
        question.contains("1 not a customer, 1 within the resend cooldown"),
        "{question}"
    );
    // Enter without the count does nothing but say so; letters do not type.
    assert!(update(&mut a, code(KeyCode::Enter)).is_empty());
    for c in "2x2".chars() {
        update(&mut a, key(c));
    }
    assert!(update(&mut a, code(KeyCode::Enter)).is_empty());
    // "22" (the x did not type): one back, then the 3.
    update(&mut a, code(KeyCode::Backspace));
    update(&mut a, key('3'));
    let cmds = update(&mut a, code(KeyCode::Enter));
    assert!(matches!(cmds.as_slice(), [Cmd::RunBulk(p)] if p.act_on.len() == 23));
    assert!(a.dialogs.is_empty() && a.selection.is_empty());
    assert!(a.job.is_some());

    // `x` waits for the job's id, then cancels once.
    update(&mut a, Msg::BulkStarted(7));
    update(
        &mut a,
        Msg::BulkProgress(BulkProgress {
            job_id: 7,
            total: 23,
            done: 10,
            ..BulkProgress::default()
        }),
    );
    assert_eq!(a.job.unwrap().progress.handled(), 10);
    assert_eq!(update(&mut a, key('x')), vec![Cmd::CancelBulk(7)]);
    assert!(update(&mut a, key('x')).is_empty());
    update(
        &mut a,
        Msg::BulkDone(Ok(BulkSummary {
            job_id: 7,
            action: BulkAction::ResetPassword,
            done: 11,
            skipped: vec![(24, Skip::NotACustomer)],
            failed: Vec::new(),
            not_reached: 12,
            cancelled: true,
        })),
    );
    assert!(a.job.is_none());
    let (level, text) = a.status.message.clone().unwrap();
    assert_eq!(level, Level::Success);
    assert!(text.starts_with("Cancelled, 12 not reached."), "{text}");
    assert!(
        text.contains("11 done") && text.contains("12 not reached"),
        "{text}"
    );
}

#[test]
fn a_small_bulk_confirms_with_enter_and_roles_disable_bulk_items() {
    let mut a = showing(120, 40, many(30), false);
    a.status.operator = Some(OperatorView {
        name: "ops".into(),
        role: Some(Role::Agent),
    });
    update(&mut a, key(' '));
    update(&mut a, key(' '));
    update(&mut a, key('.'));
    let Some(Dialog::BulkMenu(m)) = a.dialogs.last() else {
        panic!("More Actions with a selection offers the bulk actions");
    };
    assert_eq!(m.count, 2);
    assert!(m.items[0].1.is_none(), "agents reset");
    assert!(
        m.items[1].1.as_deref().unwrap().contains("admin"),
        "not unlock"
    );
    // `u` is refused with the reason; nothing is planned.
    assert!(update(&mut a, key('u')).is_empty());
    assert!(a.dialogs.is_empty());
    update(&mut a, key('.'));
    let cmds = update(&mut a, code(KeyCode::Enter));
    assert!(matches!(cmds.as_slice(), [Cmd::PlanBulk { .. }]));
    update(&mut a, Msg::BulkPlanned(Ok(plan(2, Vec::new()))));
    let cmds = update(&mut a, code(KeyCode::Enter));
    assert!(matches!(cmds.as_slice(), [Cmd::RunBulk(_)]));
}

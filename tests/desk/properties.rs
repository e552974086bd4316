//! Property tests on every backend: whatever sequence of operations runs
//! against a customer, the account has at most one live reset link, a
//! password change leaves no live link and no live session, no operation
//! fails with anything but a clear refusal, and no stored column ever
//! holds a raw token, session id or password.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keydesk::desk::{Desk, DeskError, Operator};
use keydesk::store::entity::{account, contact, reset_link, session};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::{db, mailbox, people, scan};

const PASSWORDS: [&str; 4] = [
    "violet lantern orbit meadow 77",
    "quiet copper falcon harbor 19",
    "amber thistle canyon rocket 58",
    "password1234", // refused by the policy
];

#[derive(Debug, Clone)]
enum Op {
    Send { force: bool },
    Forgot { client: u8 },
    Advance { secs: u64 },
    RedeemNewest { pw: usize },
    RedeemOldest { pw: usize },
    ChangePassword { pw: usize, require: bool },
    Generated,
    SignIn { right: bool },
    ChangeOwn { pw: usize },
    StartSession,
    Revoke,
    Unlock,
    SignOutEverywhere,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<bool>().prop_map(|force| Op::Send { force }),
        2 => (0u8..3).prop_map(|client| Op::Forgot { client }),
        3 => prop_oneof![Just(0u64), Just(30), Just(61), Just(3600), Just(6 * 3600), Just(72 * 3600)]
            .prop_map(|secs| Op::Advance { secs }),
        3 => (0..PASSWORDS.len()).prop_map(|pw| Op::RedeemNewest { pw }),
        1 => (0..PASSWORDS.len()).prop_map(|pw| Op::RedeemOldest { pw }),
        2 => ((0..PASSWORDS.len()), any::<bool>()).prop_map(|(pw, require)| Op::ChangePassword { pw, require }),
        1 => Just(Op::Generated),
        3 => any::<bool>().prop_map(|right| Op::SignIn { right }),
        2 => (0..PASSWORDS.len()).prop_map(|pw| Op::ChangeOwn { pw }),
        2 => Just(Op::StartSession),
        1 => Just(Op::Revoke),
        1 => Just(Op::Unlock),
        1 => Just(Op::SignOutEverywhere),
    ]
}

/// What the test knows of the customer, to aim operations.
#[derive(Default)]
struct Model {
    tokens: Vec<String>,
    sessions: Vec<String>,
    passwords: Vec<String>,
    current: Option<String>,
    account_id: Option<i64>,
}

fn clear(err: &DeskError) -> bool {
    !matches!(
        err,
        DeskError::Store(_) | DeskError::Internal(_) | DeskError::Unavailable(_)
    )
}

async fn account_id(db: &TestDb, email: &str) -> Option<i64> {
    let c = contact::Entity::find()
        .filter(contact::Column::EmailLower.eq(email))
        .one(db.store.conn())
        .await
        .unwrap()?;
    account::Entity::find()
        .filter(account::Column::ContactId.eq(c.id))
        .one(db.store.conn())
        .await
        .unwrap()
        .map(|a| a.id)
}

async fn open_links(db: &TestDb, account_id: i64) -> usize {
    reset_link::Entity::find()
        .filter(reset_link::Column::AccountId.eq(account_id))
        .filter(reset_link::Column::UsedAt.is_null())
        .filter(reset_link::Column::RevokedAt.is_null())
        .all(db.store.conn())
        .await
        .unwrap()
        .len()
}

async fn live_sessions(db: &TestDb, desk: &Desk, account_id: i64) -> usize {
    let now = desk.clock().now();
    session::Entity::find()
        .filter(session::Column::AccountId.eq(account_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .filter(session::Column::LastSeenAt.gt(now - chrono::TimeDelta::minutes(30)))
        .all(db.store.conn())
        .await
        .unwrap()
        .len()
}

async fn run_case(
    db: &TestDb,
    agent: &Operator,
    admin: &Operator,
    email: &str,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let (desk, clock) = db::desk(db);
    people::make_customer(&db.store, "Prop Customer", email).await;
    let mut m = Model::default();
    for op in ops {
        let mut password_changed = false;
        let outcome: Result<(), DeskError> = match op {
            Op::Send { force } => desk.send_reset_link(agent, email, *force).await.map(|_| ()),
            Op::Forgot { client } => desk
                .request_reset(email, &format!("10.9.0.{client}"))
                .await
                .map(|_| ()),
            Op::Advance { secs } => {
                clock.advance(Duration::from_secs(*secs));
                Ok(())
            }
            Op::RedeemNewest { pw } | Op::RedeemOldest { pw } => {
                let token = match op {
                    Op::RedeemNewest { .. } => m.tokens.last(),
                    _ => m.tokens.first(),
                };
                match token {
                    None => Ok(()),
                    Some(token) => {
                        let r = desk.redeem_reset(token, PASSWORDS[*pw]).await;
                        if r.is_ok() {
                            m.current = Some(PASSWORDS[*pw].to_owned());
                            password_changed = true;
                        }
                        r.map(|_| ())
                    }
                }
            }
            Op::ChangePassword { pw, require } => {
                let r = desk
                    .change_password(admin, email, PASSWORDS[*pw], *require)
                    .await;
                if r.is_ok() {
                    m.current = Some(PASSWORDS[*pw].to_owned());
                    password_changed = true;
                }
                r.map(|_| ())
            }
            Op::Generated => {
                let temp = desk.generate_temporary_password().unwrap();
                m.passwords.push(temp.clone());
                let r = desk.change_password(admin, email, &temp, true).await;
                prop_assert!(r.is_ok(), "a generated password was refused: {r:?}");
                m.current = Some(temp);
                password_changed = true;
                Ok(())
            }
            Op::SignIn { right } => {
                let pw = if *right {
                    m.current.clone().unwrap_or_default()
                } else {
                    "definitely not the password".to_owned()
                };
                desk.authenticate(email, &pw, "10.9.1.1").await.map(|s| {
                    m.account_id = Some(s.account_id);
                })
            }
            Op::ChangeOwn { pw } => match (m.sessions.last(), m.current.clone()) {
                (Some(session), Some(current)) => {
                    let r = desk
                        .change_own_password(session, &current, PASSWORDS[*pw])
                        .await;
                    if let Ok(changed) = &r {
                        m.current = Some(PASSWORDS[*pw].to_owned());
                        m.sessions.push(changed.session.clone());
                        password_changed = true;
                    }
                    r.map(|_| ())
                }
                _ => Ok(()),
            },
            Op::StartSession => match account_id(db, email).await {
                Some(id) => {
                    let s = desk.start_session(id, "10.9.2.2").await.unwrap();
                    m.sessions.push(s);
                    Ok(())
                }
                None => Ok(()),
            },
            Op::Revoke => desk.revoke_reset_links(agent, email).await.map(|_| ()),
            Op::Unlock => desk.unlock(admin, email).await.map(|_| ()),
            Op::SignOutEverywhere => desk.sign_out_everywhere(admin, email).await.map(|_| ()),
        };
        if let Err(err) = &outcome {
            prop_assert!(clear(err), "{op:?} failed unclearly: {err}");
        }
        if matches!(op, Op::Send { .. } | Op::Forgot { .. }) && outcome.is_ok() {
            let token = mailbox::token_mailed_to(&db.store, email).await;
            if m.tokens.last() != Some(&token) {
                m.tokens.push(token);
            }
        }
        if let Some(id) = account_id(db, email).await {
            m.account_id = Some(id);
            let open = open_links(db, id).await;
            prop_assert!(open <= 1, "{open} live links after {op:?}");
            if password_changed {
                prop_assert_eq!(open, 0, "a link survived a password change: {:?}", op);
                let live = live_sessions(db, &desk, id).await;
                // change_own_password hands back one fresh session.
                let allowed = usize::from(matches!(op, Op::ChangeOwn { .. }));
                prop_assert_eq!(live, allowed, "sessions survived {:?}", op);
            }
        }
    }
    // Nothing secret in any column (a queued reset mail carries its own link).
    for token in &m.tokens {
        let places = scan::places_holding(&db.store, token).await;
        prop_assert!(
            places.iter().all(|p| p == "outbox.body"),
            "a token is stored in {places:?}"
        );
    }
    for secret in m
        .sessions
        .iter()
        .chain(&m.passwords)
        .map(String::as_str)
        .chain(PASSWORDS)
    {
        let places = scan::places_holding(&db.store, secret).await;
        prop_assert!(places.is_empty(), "a secret is stored in {places:?}");
    }
    Ok(())
}

async fn any_sequence_keeps_the_invariants(db: TestDb) {
    let agent = people::make_operator(&db.store, "agent1", "agent").await;
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    let cases: u32 = std::env::var("KEYDESK_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let counter = AtomicUsize::new(0);
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner.run(&proptest::collection::vec(op(), 1..30), |ops| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let email = format!("prop{n}@example.com");
            handle.block_on(run_case(&db, &agent, &admin, &email, &ops))
        })
    });
    if let Err(err) = result {
        panic!("{err}");
    }
}
on_every_backend!(sequences, any_sequence_keeps_the_invariants);

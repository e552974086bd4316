//! Forgot Password on every backend: DESIGN.md rule 4 (the same answer,
//! in about the same time, known email or not; rate-limited per email and
//! per client address).

use std::time::{Duration, Instant};

use keydesk::desk::DeskError;
use keydesk::desk::error::exit;
use keydesk::desk::reset_links::ForgotAccepted;
use keydesk::store::entity::throttle;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::on_every_backend;
use crate::support::db::TestDb;
use crate::support::{db, mailbox, people, scan};

async fn forgot_password_answers_the_same_whoever_asks(db: TestDb) {
    let (desk, _clock) = db::desk(&db);
    let admin = people::make_operator(&db.store, "admin1", "admin").await;
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    people::make_contact(&db.store, "Sam Subscriber", "sam@example.com").await;
    let mut answers = Vec::new();
    for email in ["Ada@Example.com", "sam@example.com", "nobody@example.com"] {
        answers.push(desk.request_reset(email, "198.51.100.7").await);
    }
    assert!(
        answers.iter().all(|a| matches!(a, Ok(ForgotAccepted))),
        "{answers:?}"
    );

    // Only the customer got a link and mail.
    let mail = mailbox::outbox_rows(&db.store).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].recipient, "ada@example.com");
    let token = mailbox::token_mailed_to(&db.store, "ada@example.com").await;
    desk.redeem_reset(&token, "correct horse battery staple 42")
        .await
        .expect("the link works");

    // One audit row for the customer; none for the others, only a counter.
    let audit = desk.audit(&admin, &Default::default()).await.unwrap();
    let requested: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "reset_link.requested")
        .collect();
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0].actor_kind, "customer");
    assert_eq!(requested[0].source, "198.51.100.7");
    assert!(
        !audit
            .iter()
            .any(|e| e.actor.contains("nobody") || e.actor.contains("sam")),
        "{audit:?}"
    );
    let unknown = throttle::Entity::find()
        .filter(throttle::Column::Bucket.eq("forgot:unknown"))
        .one(db.store.conn())
        .await
        .unwrap()
        .expect("the counter of unknown requests");
    assert_eq!(unknown.hits, 2);
    // Buckets hold hashes, never the addresses.
    for needle in ["ada", "sam", "nobody", "198.51"] {
        assert!(
            scan::places_holding(&db.store, needle)
                .await
                .iter()
                .all(|place| !place.starts_with("throttles")),
            "{needle}"
        );
    }

    // Within the cooldown a customer's second request answers the same and
    // sends nothing new.
    assert!(matches!(
        desk.request_reset("ada@example.com", "198.51.100.7").await,
        Ok(ForgotAccepted)
    ));
    assert!(matches!(
        desk.request_reset("ada@example.com", "198.51.100.7").await,
        Ok(ForgotAccepted)
    ));
    assert_eq!(
        mailbox::outbox_rows(&db.store).await.len(),
        2,
        "the link and the password-changed notice, nothing more"
    );
    let audit = desk.audit(&admin, &Default::default()).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "reset_link.requested" && e.outcome == "refused")
            .count(),
        2
    );
}
on_every_backend!(same_answer, forgot_password_answers_the_same_whoever_asks);

async fn forgot_password_takes_the_same_floor_either_way(db: TestDb) {
    let (desk, _clock) = db::desk_with(&db, &[("KEYDESK__FORGOT__MIN_DURATION", "300ms")]);
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;
    for email in ["ada@example.com", "nobody@example.com"] {
        let started = Instant::now();
        desk.request_reset(email, "198.51.100.7").await.unwrap();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300),
            "{email} answered in {took:?}"
        );
    }
    // A refusal is padded the same way.
    let (strict, _clock) = db::desk_with(
        &db,
        &[
            ("KEYDESK__FORGOT__MIN_DURATION", "300ms"),
            ("KEYDESK__FORGOT__PER_EMAIL", "1"),
        ],
    );
    let started = Instant::now();
    assert!(
        strict
            .request_reset("nobody@example.com", "x")
            .await
            .is_err()
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}
on_every_backend!(
    timing_floor,
    forgot_password_takes_the_same_floor_either_way
);

async fn forgot_password_is_rate_limited_per_email_and_per_client(db: TestDb) {
    let (desk, clock) = db::desk_with(
        &db,
        &[
            ("KEYDESK__FORGOT__PER_EMAIL", "3"),
            ("KEYDESK__FORGOT__PER_CLIENT", "5"),
            ("KEYDESK__FORGOT__WINDOW", "1h"),
        ],
    );
    people::make_customer(&db.store, "Ada Lovelace", "ada@example.com").await;

    // Per email: the same for a customer and for an unknown address.
    for email in ["ada@example.com", "nobody@example.com"] {
        for i in 0..3 {
            desk.request_reset(email, &format!("10.0.0.{i}"))
                .await
                .unwrap();
        }
        let err = desk.request_reset(email, "10.0.0.99").await.unwrap_err();
        match &err {
            DeskError::RateLimited { retry_after } => {
                assert_eq!(*retry_after, Duration::from_secs(3600));
            }
            other => panic!("expected a rate limit, got {other}"),
        }
        assert_eq!(err.exit_code(), exit::RATE_LIMITED);
    }
    // Per client: five different addresses from one client, then no more.
    for i in 0..5 {
        desk.request_reset(&format!("p{i}@example.com"), "203.0.113.50")
            .await
            .unwrap();
    }
    assert!(matches!(
        desk.request_reset("fresh@example.com", "203.0.113.50")
            .await,
        Err(DeskError::RateLimited { .. })
    ));
    desk.request_reset("fresh@example.com", "203.0.113.51")
        .await
        .expect("another client is not limited");

    // A new window.
    clock.advance(Duration::from_secs(3600));
    desk.request_reset("nobody@example.com", "203.0.113.50")
        .await
        .expect("the window ended");
    desk.request_reset("ada@example.com", "203.0.113.50")
        .await
        .unwrap();
}
on_every_backend!(
    rate_limits,
    forgot_password_is_rate_limited_per_email_and_per_client
);

//! Reset-link lookup time for a valid token and for tokens that are not a
//! live link, on a SQLite store holding a thousand links of one customer.
//!
//! Lookup hashes what is presented (SHA-256) and asks the database for that
//! digest through its unique index (`desk::reset_links::link_lookup`); no
//! code compares the secret itself. This bench shows what that means in
//! time: a valid token, one differing only in its last character (the
//! case an early-exit comparison would leak), a random one, a revoked one
//! (found, then refused), and a malformed one (refused before the query).
//! It is a report, not an assertion: the figures depend on the machine.
//!
//! Run: `cargo bench --bench token_lookup`.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use keydesk::clock::Clock;
use keydesk::desk::{Desk, Identity};
use keydesk::settings::{Settings, Sources};
use keydesk::store::Store;
use keydesk::store::entity::{contact, grant, offer, outbox};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};

const LINKS: usize = 1_000;

fn settings(dir: &std::path::Path) -> Settings {
    let url = format!("sqlite://{}?mode=rwc", dir.join("kd.db").display());
    let env: BTreeMap<String, String> = [
        ("KEYDESK__DATABASE__URL", url.as_str()),
        ("KEYDESK__RESET__RESEND_COOLDOWN", "0s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env),
        data_dir: Some(dir.to_path_buf()),
    })
    .unwrap()
}

/// The token in the newest queued reset mail.
async fn newest_token(store: &Store) -> String {
    let row = outbox::Entity::find()
        .order_by_desc(outbox::Column::Id)
        .one(store.conn())
        .await
        .unwrap()
        .unwrap();
    let body = row.body.unwrap();
    let message = mail_parser::MessageParser::default()
        .parse(body.as_bytes())
        .unwrap();
    let text = message.body_text(0).unwrap().into_owned();
    let at = text.find("/password/reset/").unwrap() + "/password/reset/".len();
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A store with one customer who was sent [`LINKS`] links (all but the
/// newest revoked), and the newest and the first tokens.
async fn seeded(settings: &Settings) -> (Desk, String, String) {
    let store = Store::connect(&settings.database).await.unwrap();
    store.migrate().await.unwrap();
    let now = Clock::system().now();
    let c = contact::ActiveModel::new_contact("Ada Lovelace", "ada@example.com", false, now)
        .insert(store.conn())
        .await
        .unwrap();
    let o = offer::ActiveModel {
        name: Set("Course".into()),
        products: Set("Course".into()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(store.conn())
    .await
    .unwrap();
    grant::ActiveModel {
        contact_id: Set(c.id),
        offer_id: Set(o.id),
        source: Set("granted".into()),
        granted_by: Set("bench".into()),
        granted_at: Set(now),
        ..Default::default()
    }
    .insert(store.conn())
    .await
    .unwrap();
    let desk = Desk::new(store.clone(), settings.clone(), Clock::system()).unwrap();
    let me = Identity {
        name: "bench".into(),
        source: "bench".into(),
    };
    desk.ensure_first_admin(&me).await.unwrap();
    let op = desk.operator(&me).await.unwrap();
    let mut first = None;
    for _ in 0..LINKS {
        desk.send_reset_link(&op, "ada@example.com", true)
            .await
            .unwrap();
        if first.is_none() {
            first = Some(newest_token(&store).await);
        }
    }
    let valid = newest_token(&store).await;
    (desk, valid, first.unwrap())
}

fn token_lookup(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    let (desk, valid, revoked) = rt.block_on(seeded(&settings));
    assert!(rt.block_on(desk.inspect_reset_link(&valid)).is_ok());
    assert!(keydesk::desk::tokens::well_formed(&valid));
    // Changed characters keep the token canonical base64url (the decoder
    // refuses a last character with stray low bits before any lookup).
    let changed = |at: usize| {
        let mut bytes = valid.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'E' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    let first_changed = changed(0);
    let last_changed = changed(42);
    let random = URL_SAFE_NO_PAD.encode([0x5au8; 32]);
    let malformed = valid[..42].to_owned();
    for token in [&first_changed, &last_changed, &random] {
        assert!(
            keydesk::desk::tokens::well_formed(token),
            "{token} is looked up"
        );
    }

    let mut group = c.benchmark_group("reset link lookup");
    for (label, token, works) in [
        ("valid", &valid, true),
        ("first character changed", &first_changed, false),
        ("last character changed", &last_changed, false),
        ("random well-formed", &random, false),
        ("revoked", &revoked, false),
        ("malformed (42 chars)", &malformed, false),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                let outcome = rt.block_on(desk.inspect_reset_link(token));
                assert_eq!(outcome.is_ok(), works, "{label}");
            });
        });
    }
    group.finish();
}

criterion_group!(benches, token_lookup);
criterion_main!(benches);

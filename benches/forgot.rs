//! Forgot Password: how long a request takes for a customer's email and
//! for an unknown one, on a SQLite store, without the `forgot.min_duration`
//! floor (the raw difference the floor must cover) and with the default
//! floor (what a requester observes).
//!
//! Run: `cargo bench --bench forgot`.

use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use keydesk::clock::Clock;
use keydesk::desk::Desk;
use keydesk::settings::{Settings, Sources};
use keydesk::store::Store;
use keydesk::store::entity::{contact, grant, offer};
use sea_orm::{ActiveModelTrait, Set};

fn settings(dir: &std::path::Path, floor: &str) -> Settings {
    let mut env = BTreeMap::new();
    let url = format!("sqlite://{}?mode=rwc", dir.join("kd.db").display());
    for (k, v) in [
        ("KEYDESK__DATABASE__URL", url.as_str()),
        ("KEYDESK__FORGOT__PER_EMAIL", "1000000000"),
        ("KEYDESK__FORGOT__PER_CLIENT", "1000000000"),
        // Every request for the customer issues a link and a mail: the
        // heavier path, not the silent cooldown one.
        ("KEYDESK__RESET__RESEND_COOLDOWN", "0s"),
        ("KEYDESK__FORGOT__MIN_DURATION", floor),
    ] {
        env.insert(k.to_owned(), v.to_owned());
    }
    Settings::load(&Sources {
        file: None,
        skip_system_files: true,
        env: Some(env),
        data_dir: Some(dir.to_path_buf()),
    })
    .unwrap()
}

async fn seeded(settings: &Settings) -> Store {
    let store = Store::connect(&settings.database).await.unwrap();
    store.migrate().await.unwrap();
    let now = Clock::system().now();
    let c = contact::ActiveModel {
        name: Set("Ada Lovelace".into()),
        email: Set("ada@example.com".into()),
        name_lower: Set("ada lovelace".into()),
        email_lower: Set("ada@example.com".into()),
        subscribed: Set(false),
        tags: Set(String::new()),
        notes: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
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
    store
}

fn forgot(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for floor in ["0s", "250ms"] {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path(), floor);
        let store = rt.block_on(seeded(&settings));
        let desk = Desk::new(store, settings, Clock::system()).unwrap();
        let mut group = c.benchmark_group(format!("forgot floor={floor}"));
        if floor != "0s" {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(5));
        }
        for (label, email) in [
            ("customer", "ada@example.com"),
            ("unknown", "nobody@example.com"),
        ] {
            group.bench_function(label, |b| {
                b.iter(|| {
                    rt.block_on(desk.request_reset(email, "198.51.100.7"))
                        .unwrap()
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, forgot);
criterion_main!(benches);

//! The people a test needs, put straight into the store: contacts,
//! customers (a contact with a grant of the offer "Course") and operators.
//! Each is made at [`t0`] unless the test gives a time (the site's tests
//! use the site clock's "now").

use chrono::{DateTime, TimeZone, Utc};
use keydesk::store::Store;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};

/// 2026-03-01 09:00 UTC: where test clocks start.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .expect("valid date")
}

/// A contact (not a customer), made at [`t0`].
pub async fn make_contact(store: &Store, name: &str, email: &str) -> i64 {
    make_contact_at(store, name, email, t0()).await
}

/// A contact (not a customer), made at `at`.
pub async fn make_contact_at(store: &Store, name: &str, email: &str, at: DateTime<Utc>) -> i64 {
    keydesk::store::entity::contact::ActiveModel::new_contact(name, email, false, at)
        .insert(store.conn())
        .await
        .expect("insert contact")
        .id
}

/// A customer: a contact with a grant of the offer "Course", made at [`t0`].
pub async fn make_customer(store: &Store, name: &str, email: &str) -> i64 {
    make_customer_at(store, name, email, t0()).await
}

/// A customer made at `at`.
pub async fn make_customer_at(store: &Store, name: &str, email: &str, at: DateTime<Utc>) -> i64 {
    let id = make_contact_at(store, name, email, at).await;
    grant(store, id, &COURSE, at).await;
    id
}

/// An offer and how a customer came to hold it.
pub struct Offer {
    /// The offer's name (the profile shows it).
    pub name: &'static str,
    /// What it contains.
    pub products: &'static str,
    /// `purchased` or `granted`.
    pub source: &'static str,
    /// Who granted it (empty for a purchase).
    pub granted_by: &'static str,
}

/// The offer "Course", granted by "test": what [`make_customer`] grants.
pub const COURSE: Offer = Offer {
    name: "Course",
    products: "Course",
    source: "granted",
    granted_by: "test",
};

/// The offer "Rust Mastery", purchased: what the console's people hold.
pub const RUST_MASTERY: Offer = Offer {
    name: "Rust Mastery",
    products: "Course: Rust",
    source: "purchased",
    granted_by: "",
};

/// Grants `offer` (the offer row made on first use) to a contact at `at`.
pub async fn grant(store: &Store, contact_id: i64, offer: &Offer, at: DateTime<Utc>) {
    use keydesk::store::entity::{grant, offer};
    let offer_id = match offer::Entity::find()
        .filter(offer::Column::Name.eq(offer.name))
        .one(store.conn())
        .await
        .expect("find offer")
    {
        Some(o) => o.id,
        None => {
            offer::ActiveModel {
                name: Set(offer.name.into()),
                products: Set(offer.products.into()),
                created_at: Set(at),
                ..Default::default()
            }
            .insert(store.conn())
            .await
            .expect("insert offer")
            .id
        }
    };
    grant::ActiveModel {
        contact_id: Set(contact_id),
        offer_id: Set(offer_id),
        source: Set(offer.source.into()),
        granted_by: Set(offer.granted_by.into()),
        granted_at: Set(at),
        ..Default::default()
    }
    .insert(store.conn())
    .await
    .expect("insert grant");
}

/// Puts an operator row straight into the store (tests of roles start
/// from a known table; `operators add` is tested through the desk).
pub async fn make_operator(store: &Store, name: &str, role: &str) -> keydesk::desk::Operator {
    use keydesk::store::entity::operator;
    operator::ActiveModel {
        name: Set(name.to_owned()),
        role: Set(role.to_owned()),
        created_at: Set(t0()),
        created_by: Set("test".into()),
        ..Default::default()
    }
    .insert(store.conn())
    .await
    .expect("insert operator");
    keydesk::desk::Operator {
        name: name.to_owned(),
        source: "test".to_owned(),
        role: role.parse().expect("role"),
    }
}

/// The OS user the tests run as (the console's operator).
pub fn os_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .expect("read the user database")
        .expect("the OS user has a name")
        .name
}

/// Many customers at once, made at [`t0`]: `(name, email)` pairs written
/// in one transaction with multi-row inserts (contacts, then a grant of
/// "Course" each), the way `keydesk seed` loads, not one round trip per
/// row. Their ids, in the order given.
pub async fn make_customers(store: &Store, people: &[(String, String)]) -> Vec<i64> {
    use keydesk::store::entity::{contact, grant, offer};
    use std::collections::HashMap;
    // Rows per INSERT: well under every backend's bind-parameter limit.
    const ROWS: usize = 1_000;
    let at = t0();
    let txn = store.begin_write().await.expect("begin");
    let offer_id = match offer::Entity::find()
        .filter(offer::Column::Name.eq(COURSE.name))
        .one(&txn)
        .await
        .expect("find offer")
    {
        Some(o) => o.id,
        None => {
            offer::ActiveModel {
                name: Set(COURSE.name.into()),
                products: Set(COURSE.products.into()),
                created_at: Set(at),
                ..Default::default()
            }
            .insert(&txn)
            .await
            .expect("insert offer")
            .id
        }
    };
    for chunk in people.chunks(ROWS) {
        contact::Entity::insert_many(
            chunk
                .iter()
                .map(|(name, email)| contact::ActiveModel::new_contact(name, email, false, at)),
        )
        .exec_without_returning(&txn)
        .await
        .expect("insert contacts");
    }
    let mut id_of: HashMap<String, i64> = HashMap::with_capacity(people.len());
    for chunk in people.chunks(ROWS) {
        let rows: Vec<(i64, String)> = contact::Entity::find()
            .select_only()
            .column(contact::Column::Id)
            .column(contact::Column::EmailLower)
            .filter(contact::Column::EmailLower.is_in(chunk.iter().map(|(_, e)| e.to_lowercase())))
            .into_tuple()
            .all(&txn)
            .await
            .expect("read contact ids");
        id_of.extend(rows.into_iter().map(|(id, email)| (email, id)));
    }
    let ids: Vec<i64> = people
        .iter()
        .map(|(_, email)| id_of[&email.to_lowercase()])
        .collect();
    for chunk in ids.chunks(ROWS) {
        grant::Entity::insert_many(chunk.iter().map(|id| grant::ActiveModel {
            contact_id: Set(*id),
            offer_id: Set(offer_id),
            source: Set(COURSE.source.into()),
            granted_by: Set(COURSE.granted_by.into()),
            granted_at: Set(at),
            ..Default::default()
        }))
        .exec_without_returning(&txn)
        .await
        .expect("insert grants");
    }
    txn.commit().await.expect("commit customers");
    ids
}

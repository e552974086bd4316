//! Contact queries: search (SQL path), the profile, lookup by email.
//!
//! Search text is always a bound parameter (`LIKE ? ESCAPE '\'` with the
//! wildcards of the query escaped); no SQL is ever built from it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, LikeExpr, Order, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::StoreError;
use super::entity::{account, audit_event, contact, grant, note, offer, outbox, reset_link};

/// How many rows a search page holds unless asked otherwise.
pub const PAGE_SIZE: usize = 50;

/// The dashboard's kind filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KindFilter {
    /// Everyone.
    #[default]
    All,
    /// Contacts with at least one grant.
    Customers,
    /// Contacts who agreed to marketing email.
    Subscribers,
    /// Neither customers nor subscribers.
    Neither,
}

impl KindFilter {
    /// The next filter in the `Tab` cycle.
    #[must_use]
    pub fn next(self) -> Self {
        match self {
            Self::All => Self::Customers,
            Self::Customers => Self::Subscribers,
            Self::Subscribers => Self::Neither,
            Self::Neither => Self::All,
        }
    }
    /// Label as on the dashboard.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::All => "All",
            Self::Customers => "Customers",
            Self::Subscribers => "Subscribers",
            Self::Neither => "Contacts",
        }
    }
    /// Whether a contact with these flags passes.
    #[must_use]
    pub fn admits(self, customer: bool, subscriber: bool) -> bool {
        match self {
            Self::All => true,
            Self::Customers => customer,
            Self::Subscribers => subscriber,
            Self::Neither => !customer && !subscriber,
        }
    }
}

/// Keyset position: the last row seen, in `(name_lower, id)` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Lowercased name of the last row.
    pub name_lower: String,
    /// Its id, to break ties.
    pub id: i64,
}

/// One search request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Substring of name or email, any case; empty for everyone.
    pub text: String,
    /// Kind filter.
    pub kind: KindFilter,
    /// Continue after this row.
    pub after: Option<Cursor>,
    /// Only these contacts (the console's filters: Locked, Holds offer X, ...).
    pub only: Option<std::sync::Arc<super::id_set::IdSet>>,
    /// Page size; `0` means [`PAGE_SIZE`].
    pub limit: usize,
}

impl SearchQuery {
    /// The effective page size.
    #[must_use]
    pub fn page_size(&self) -> usize {
        if self.limit == 0 {
            PAGE_SIZE
        } else {
            self.limit.min(1000)
        }
    }
    /// The needle as the index and SQL compare it: trimmed, lowercased.
    #[must_use]
    pub fn needle(&self) -> String {
        self.text.trim().to_lowercase()
    }
}

/// How many contacts match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchCount {
    /// Counted exactly.
    Exact(u64),
    /// Estimated from a sample, because counting exactly would be slow.
    Estimate(u64),
}

impl MatchCount {
    /// The number, exact or not.
    #[must_use]
    pub fn value(self) -> u64 {
        match self {
            Self::Exact(n) | Self::Estimate(n) => n,
        }
    }
}

impl std::fmt::Display for MatchCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(n) => write!(f, "{n}"),
            Self::Estimate(n) => write!(f, "~{n}"),
        }
    }
}

/// A contact as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    /// Key.
    pub id: i64,
    /// Name as entered (not yet sanitised for a terminal).
    pub name: String,
    /// Email as entered.
    pub email: String,
    /// Sort key.
    pub name_lower: String,
    /// Has at least one grant.
    pub customer: bool,
    /// Agreed to marketing email.
    pub subscriber: bool,
    /// Added on.
    pub created_at: DateTime<Utc>,
}

impl ContactRow {
    /// The keyset cursor just after this row.
    #[must_use]
    pub fn cursor(&self) -> Cursor {
        Cursor {
            name_lower: self.name_lower.clone(),
            id: self.id,
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    /// The rows, in `(name_lower, id)` order.
    pub rows: Vec<ContactRow>,
    /// Matches in all pages.
    pub total: MatchCount,
    /// Where the next page starts, if there is one.
    pub next: Option<Cursor>,
}

/// Escapes `%`, `_` and `\` so the text matches literally in `LIKE`.
#[must_use]
pub fn like_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// Whether the contact of the row at hand holds a grant.
fn has_grant() -> Expr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(grant::Entity)
            .and_where(
                Expr::col((grant::Entity, grant::Column::ContactId))
                    .equals((contact::Entity, contact::Column::Id)),
            )
            .to_owned(),
    )
}

fn matching(query: &SearchQuery) -> SelectStatement {
    let mut select = Query::select();
    select.from(contact::Entity);
    let needle = query.needle();
    if !needle.is_empty() {
        let pattern = like_pattern(&needle);
        select.and_where(
            Expr::col(contact::Column::NameLower)
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
                .or(Expr::col(contact::Column::EmailLower)
                    .like(LikeExpr::new(pattern).escape('\\'))),
        );
    }
    let has_grant = has_grant();
    if let Some(only) = &query.only {
        // Integers only, so writing them into the statement is safe; a
        // bound list would run into SQLite's limit on parameters.
        let ids: Vec<String> = only.iter().map(|id| id.to_string()).collect();
        select.and_where(if ids.is_empty() {
            Expr::cust("1 = 0")
        } else {
            Expr::cust(format!("id IN ({})", ids.join(",")))
        });
    }
    match query.kind {
        KindFilter::All => {}
        KindFilter::Customers => {
            select.and_where(has_grant);
        }
        KindFilter::Subscribers => {
            select.and_where(Expr::col(contact::Column::Subscribed).eq(true));
        }
        KindFilter::Neither => {
            select
                .and_where(Expr::col(contact::Column::Subscribed).eq(false))
                .and_where(has_grant.not());
        }
    }
    select
}

/// Searches with SQL alone: the baseline, and the path while the in-memory
/// index loads or when it is turned off.
///
/// # Errors
/// When the database fails.
pub async fn search_sql(
    db: &impl ConnectionTrait,
    query: &SearchQuery,
) -> Result<SearchPage, StoreError> {
    if query.needle().contains('\0') {
        // No stored text holds NUL (PostgreSQL's text cannot, import refuses
        // control characters), so nothing matches; and the database must not
        // see it: PostgreSQL rejects the parameter and SQLite's LIKE stops
        // reading the pattern at it, matching everyone.
        return Ok(SearchPage {
            rows: Vec::new(),
            total: MatchCount::Exact(0),
            next: None,
        });
    }
    let limit = query.page_size();
    let mut page = matching(query);
    page.columns([contact::Column::Id, contact::Column::NameLower]);
    if let Some(after) = &query.after {
        page.and_where(
            Expr::col(contact::Column::NameLower)
                .gt(after.name_lower.clone())
                .or(Expr::col(contact::Column::NameLower)
                    .eq(after.name_lower.clone())
                    .and(Expr::col(contact::Column::Id).gt(after.id))),
        );
    }
    page.order_by(contact::Column::NameLower, Order::Asc)
        .order_by(contact::Column::Id, Order::Asc)
        .limit(limit as u64 + 1);
    let found = db.query_all(&page).await?;
    let mut ids = Vec::with_capacity(found.len());
    for row in &found {
        ids.push(row.try_get::<i64>("", "id")?);
    }
    let more = ids.len() > limit;
    ids.truncate(limit);

    let mut count = matching(query);
    count.expr_as(Func::count(Expr::col(contact::Column::Id)), Alias::new("n"));
    let total = db
        .query_one(&count)
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);

    let rows = rows_by_id(db, &ids).await?;
    let next = if more {
        rows.last().map(ContactRow::cursor)
    } else {
        None
    };
    Ok(SearchPage {
        rows,
        total: MatchCount::Exact(u64::try_from(total).unwrap_or(0)),
        next,
    })
}

/// Loads list rows for these ids, in the order given (missing ids are skipped).
///
/// # Errors
/// When the database fails.
pub async fn rows_by_id(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<ContactRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // One statement, the customer flag as a subquery: every search page
    // comes through here, and on a server store a second round trip for the
    // grants was a millisecond or more of each keystroke.
    let mut select = Query::select();
    select
        .columns([
            contact::Column::Id,
            contact::Column::Name,
            contact::Column::Email,
            contact::Column::NameLower,
            contact::Column::Subscribed,
            contact::Column::CreatedAt,
        ])
        .expr_as(has_grant(), Alias::new("customer"))
        .from(contact::Entity)
        .and_where(Expr::col(contact::Column::Id).is_in(ids.iter().copied()));
    let mut by_id = HashMap::with_capacity(ids.len());
    for row in db.query_all(&select).await? {
        let id = row.try_get::<i64>("", "id")?;
        by_id.insert(
            id,
            ContactRow {
                id,
                name: row.try_get("", "name")?,
                email: row.try_get("", "email")?,
                name_lower: row.try_get("", "name_lower")?,
                subscriber: row.try_get("", "subscribed")?,
                customer: row.try_get("", "customer")?,
                created_at: row.try_get("", "created_at")?,
            },
        );
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// An offer a contact holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldOffer {
    /// Offer title.
    pub name: String,
    /// Products it gives access to.
    pub products: String,
    /// `purchased` or `granted`.
    pub source: String,
    /// Who granted it.
    pub granted_by: String,
    /// When.
    pub granted_at: DateTime<Utc>,
}

/// Everything the profile pane shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The contact.
    pub contact: contact::Model,
    /// Offers held; non-empty means Customer.
    pub offers: Vec<HeldOffer>,
    /// The login, for customers who have one.
    pub account: Option<account::Model>,
    /// Reset links neither used, revoked nor expired.
    pub open_links: Vec<reset_link::Model>,
    /// The latest email queued for this contact.
    pub latest_mail: Option<outbox::Model>,
    /// Latest 20 audit events, newest first.
    pub audit: Vec<audit_event::Model>,
    /// Notes operators wrote, not deleted, newest first.
    pub note_rows: Vec<note::Model>,
    /// Every message queued for the contact, newest first (no bodies).
    pub mail_history: Vec<MailSummary>,
}

/// A message queued for a contact, as its email history shows it: never
/// the body (a secret while queued, gone once sent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailSummary {
    /// The outbox row (`keydesk outbox retry ID`).
    pub id: i64,
    /// `reset_link`, `password_changed`, `welcome`, `email_changed_old`, `email_changed_new`.
    pub kind: String,
    /// The address it was for.
    pub recipient: String,
    /// Queued at.
    pub queued_at: DateTime<Utc>,
    /// Delivered at.
    pub sent_at: Option<DateTime<Utc>>,
    /// `queued`, `sending`, `sent`, `failed`, `expired`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// The last server reply or error (empty when none).
    pub last_error: String,
}

/// How many messages an email history shows.
pub const HISTORY_LIMIT: u64 = 50;

/// The newest [`HISTORY_LIMIT`] messages queued for a contact, newest
/// first, without their bodies (the column is never read).
///
/// # Errors
/// A database error.
pub async fn mail_history(
    db: &impl ConnectionTrait,
    contact_id: i64,
) -> Result<Vec<MailSummary>, StoreError> {
    type Row = (
        i64,
        String,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        String,
        i32,
        String,
    );
    let rows: Vec<Row> = outbox::Entity::find()
        .select_only()
        .columns([
            outbox::Column::Id,
            outbox::Column::Kind,
            outbox::Column::Recipient,
            outbox::Column::CreatedAt,
            outbox::Column::SentAt,
            outbox::Column::State,
            outbox::Column::Attempts,
            outbox::Column::LastError,
        ])
        .filter(outbox::Column::ContactId.eq(contact_id))
        .order_by_desc(outbox::Column::Id)
        .limit(HISTORY_LIMIT)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, kind, recipient, queued_at, sent_at, state, attempts, last_error)| MailSummary {
                id,
                kind,
                recipient,
                queued_at,
                sent_at,
                state,
                attempts,
                last_error,
            },
        )
        .collect())
}

/// A contact's notes that are not deleted, newest first.
///
/// # Errors
/// A database error.
pub async fn live_notes(
    db: &impl ConnectionTrait,
    contact_id: i64,
) -> Result<Vec<note::Model>, StoreError> {
    Ok(note::Entity::find()
        .filter(note::Column::ContactId.eq(contact_id))
        .filter(note::Column::DeletedAt.is_null())
        .order_by_desc(note::Column::Id)
        .all(db)
        .await?)
}

impl Profile {
    /// Customer = holds at least one offer.
    #[must_use]
    pub fn is_customer(&self) -> bool {
        !self.offers.is_empty()
    }
    /// When the first offer was granted.
    #[must_use]
    pub fn customer_since(&self) -> Option<DateTime<Utc>> {
        self.offers.iter().map(|o| o.granted_at).min()
    }
}

/// Loads a contact's profile.
///
/// # Errors
/// [`StoreError::NotFound`] for an unknown id, or a database error.
pub async fn profile(
    db: &impl ConnectionTrait,
    contact_id: i64,
    now: DateTime<Utc>,
) -> Result<Profile, StoreError> {
    let contact = contact::Entity::find_by_id(contact_id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("contact {contact_id}")))?;
    let grants = grant::Entity::find()
        .filter(grant::Column::ContactId.eq(contact_id))
        .order_by_asc(grant::Column::GrantedAt)
        .all(db)
        .await?;
    let offer_ids: Vec<i64> = grants.iter().map(|g| g.offer_id).collect();
    let offers: HashMap<i64, offer::Model> = if offer_ids.is_empty() {
        HashMap::new()
    } else {
        offer::Entity::find()
            .filter(offer::Column::Id.is_in(offer_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect()
    };
    let offers = grants
        .into_iter()
        .map(|g| {
            let offer = offers.get(&g.offer_id);
            HeldOffer {
                name: offer.map(|o| o.name.clone()).unwrap_or_default(),
                products: offer.map(|o| o.products.clone()).unwrap_or_default(),
                source: g.source,
                granted_by: g.granted_by,
                granted_at: g.granted_at,
            }
        })
        .collect();
    let account = account::Entity::find()
        .filter(account::Column::ContactId.eq(contact_id))
        .one(db)
        .await?;
    let open_links = match &account {
        Some(acc) => {
            reset_link::Entity::find()
                .filter(reset_link::Column::AccountId.eq(acc.id))
                .filter(reset_link::Column::UsedAt.is_null())
                .filter(reset_link::Column::RevokedAt.is_null())
                .filter(reset_link::Column::ExpiresAt.gt(now))
                .order_by_desc(reset_link::Column::Id)
                .all(db)
                .await?
        }
        None => Vec::new(),
    };
    let latest_mail = outbox::Entity::find()
        .filter(outbox::Column::ContactId.eq(contact_id))
        .order_by_desc(outbox::Column::Id)
        .one(db)
        .await?;
    let audit = audit_event::Entity::find()
        .filter(audit_event::Column::ContactId.eq(contact_id))
        .order_by_desc(audit_event::Column::Id)
        .limit(20)
        .all(db)
        .await?;
    let note_rows = live_notes(db, contact_id).await?;
    let mail_history = mail_history(db, contact_id).await?;
    Ok(Profile {
        contact,
        offers,
        account,
        open_links,
        latest_mail,
        audit,
        note_rows,
        mail_history,
    })
}

/// Finds a contact by email, ignoring case.
///
/// # Errors
/// A database error.
pub async fn by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<contact::Model>, StoreError> {
    Ok(contact::Entity::find()
        .filter(contact::Column::EmailLower.eq(email.trim().to_lowercase()))
        .one(db)
        .await?)
}

/// Whether the contact holds any offer.
///
/// # Errors
/// A database error.
pub async fn is_customer(db: &impl ConnectionTrait, contact_id: i64) -> Result<bool, StoreError> {
    Ok(grant::Entity::find()
        .filter(grant::Column::ContactId.eq(contact_id))
        .one(db)
        .await?
        .is_some())
}

/// A customer (contact with an offer) by email, ignoring case, with their account.
///
/// # Errors
/// A database error.
pub async fn customer_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<(contact::Model, Option<account::Model>)>, StoreError> {
    let Some(contact) = by_email(db, email).await? else {
        return Ok(None);
    };
    if !is_customer(db, contact.id).await? {
        return Ok(None);
    }
    let account = account::Entity::find()
        .filter(account::Column::ContactId.eq(contact.id))
        .one(db)
        .await?;
    Ok(Some((contact, account)))
}

#[cfg(test)]
mod binding_tests {
    use sea_orm::sea_query::{MysqlQueryBuilder, PostgresQueryBuilder, SqliteQueryBuilder};

    use super::*;

    #[test]
    fn search_text_is_a_bound_parameter_never_sql() {
        for text in [
            "x' OR '1'='1",
            "%_\\",
            "\"; DROP TABLE contacts; --",
            "ünïcödé 東京",
        ] {
            let query = SearchQuery {
                text: text.to_owned(),
                ..SearchQuery::default()
            };
            let pattern = like_pattern(&query.needle());
            let built = [
                matching(&query).build(SqliteQueryBuilder),
                matching(&query).build(PostgresQueryBuilder),
                matching(&query).build(MysqlQueryBuilder),
            ];
            for (sql, values) in built {
                let needle = query.needle();
                assert!(!sql.contains(&needle), "{text:?} reached the SQL: {sql}");
                assert!(!sql.contains("DROP"), "{sql}");
                let bound: Vec<String> = values
                    .0
                    .iter()
                    .filter_map(|v| match v {
                        sea_orm::sea_query::Value::String(Some(s)) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                assert_eq!(bound, vec![pattern.clone(), pattern.clone()], "{sql}");
            }
        }
    }

    #[test]
    fn wildcards_in_the_text_are_escaped_in_the_pattern() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}

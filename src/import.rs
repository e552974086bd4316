//! `keydesk import FILE.csv`: contacts from a CSV file with a header row
//! `name,email[,subscribed][,offers]`.
//!
//! Every row is checked before anything is written: email syntax, a name,
//! duplicates within the file and against the store. By default one bad row
//! means nothing is written; with `skip_invalid` the good rows are written
//! and the bad ones reported. All writes happen in one transaction, with an
//! audit event, so an import is whole or absent.
//!
//! An import that at least doubles the store is a bulk load
//! ([`crate::store::bulk::Load`], as `seed`): the ids are given here, the
//! indexes built after the rows. Smaller ones keep the indexes: rebuilding
//! them would cost more than maintaining them for a few rows.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, Value,
};

use crate::store::bulk::rows::Rows;
use crate::store::bulk::{CONTACT_COLUMNS, GRANT_COLUMNS, Load};
use crate::store::entity::{contact, grant, offer};
use crate::store::{Store, StoreError};

/// Longest name accepted; longer ones are a row error, not a truncation.
pub const MAX_NAME_CHARS: usize = 500;
/// Rows written per INSERT statement (well under every backend's parameter limit).
const BATCH: usize = 500;
/// An import of at least this many rows that also at least doubles the
/// store is written as a bulk load.
const BULK_AT: usize = 10_000;
/// Emails per duplicate check against the store.
const CHECK_BATCH: usize = 5_000;
/// Rows per write of a bulk load.
const BULK_BATCH: usize = 10_000;

/// A row that cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// Why, in words.
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A row that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRow {
    /// Line number, for messages.
    pub line: u64,
    /// Name, trimmed.
    pub name: String,
    /// Email, trimmed, as written.
    pub email: String,
    /// Marketing consent.
    pub subscribed: bool,
    /// Offer names to grant.
    pub offers: Vec<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows written.
    pub written: u64,
    /// Rows refused, with reasons.
    pub errors: Vec<RowError>,
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not a CSV with the expected header.
    #[error("{0}")]
    Format(String),
    /// Some rows are bad and `--skip-invalid` was not given: nothing was written.
    #[error("{} invalid row(s); nothing was written (use --skip-invalid to import the valid rows)", .0.len())]
    Invalid(Vec<RowError>),
    /// The store failed; the transaction was rolled back, nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for ImportError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Store(crate::store::classify(err))
    }
}

fn parse_subscribed(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "n" => Some(false),
        "1" | "true" | "yes" | "y" => Some(true),
        _ => None,
    }
}

/// Checks a contact's name: not empty, at most [`MAX_NAME_CHARS`]
/// characters, no control characters. Returns it trimmed.
///
/// # Errors
/// A sentence saying what is wrong.
pub fn check_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "the name is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the name contains control characters".into());
    }
    Ok(name.to_owned())
}

/// Checks an email address's syntax; returns the trimmed address.
///
/// # Errors
/// A sentence saying what is wrong.
pub fn check_email(raw: &str) -> Result<String, String> {
    let email = raw.trim();
    if email.is_empty() {
        return Err("the email is empty".into());
    }
    if email.len() > 254 {
        return Err("the email is longer than 254 characters".into());
    }
    if email.chars().any(char::is_control) {
        return Err("the email contains control characters".into());
    }
    email
        .parse::<lettre::Address>()
        .map_err(|_| format!("{email:?} is not a valid email address"))?;
    // An address lettre parses but cannot put on an envelope could never
    // be sent a reset link: refuse it here rather than store it.
    crate::mail::compose::mailable(email).map_err(|reason| format!("{email:?}: {reason}"))?;
    Ok(email.to_owned())
}

/// Reads and checks every row (no store access). Returns the good rows and
/// the errors found so far; duplicates against the store are checked later.
///
/// # Errors
/// [`ImportError::Format`] when the header is wrong or the file is not CSV.
pub fn parse(
    input: impl Read,
    progress: &dyn Fn(u64),
) -> Result<(Vec<ValidRow>, Vec<RowError>), ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(input);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ImportError::Format(format!("cannot read the header row: {e}")))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect();
    let position = |name: &str| headers.iter().position(|h| h == name);
    let (Some(name_at), Some(email_at)) = (position("name"), position("email")) else {
        return Err(ImportError::Format(format!(
            "the header row must name the columns name,email[,subscribed][,offers]; found {}",
            headers.join(",")
        )));
    };
    if let Some(unknown) = headers
        .iter()
        .find(|h| !["name", "email", "subscribed", "offers"].contains(&h.as_str()))
    {
        return Err(ImportError::Format(format!(
            "unknown column {unknown:?}; expected name,email[,subscribed][,offers]"
        )));
    }
    let subscribed_at = position("subscribed");
    let offers_at = position("offers");

    let mut rows: Vec<ValidRow> = Vec::new();
    let mut errors = Vec::new();
    // Emails seen so far, by a 64-bit hash of the lowercase form to the
    // index of the first row with it: a million owned keys freed at the
    // end fragmented the heap so much that the writes after ran at a third
    // of their speed. A hash hit is confirmed against the row itself.
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        if line.is_multiple_of(10_000) {
            progress(line);
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line: e.position().map_or(line, csv::Position::line),
                    reason: format!("not valid CSV: {e}"),
                });
                continue;
            }
        };
        if record.len() != headers.len() {
            errors.push(RowError {
                line,
                reason: format!("expected {} fields, found {}", headers.len(), record.len()),
            });
            continue;
        }
        let field = |at: usize| record.get(at).unwrap_or_default();
        let name = match check_name(field(name_at)) {
            Ok(name) => name,
            Err(reason) => {
                errors.push(RowError { line, reason });
                continue;
            }
        };
        let email = match check_email(field(email_at)) {
            Ok(email) => email,
            Err(reason) => {
                errors.push(RowError { line, reason });
                continue;
            }
        };
        let lower = email.to_lowercase();
        let key = xxhash_rust::xxh3::xxh3_64(lower.as_bytes());
        let first = match seen.get(&key) {
            Some(&at) if rows[at].email.to_lowercase() == lower => Some(rows[at].line),
            // Another email with the same hash (about never): look the slow way.
            Some(_) => rows
                .iter()
                .find(|r| r.email.to_lowercase() == lower)
                .map(|r| r.line),
            None => None,
        };
        if let Some(first) = first {
            errors.push(RowError {
                line,
                reason: format!("{email} appears already on line {first}"),
            });
            continue;
        }
        let subscribed = match subscribed_at.map(field) {
            None => false,
            Some(value) => {
                if let Some(b) = parse_subscribed(value) {
                    b
                } else {
                    errors.push(RowError {
                        line,
                        reason: format!(
                            "subscribed must be yes/no, true/false or 1/0, not {value:?}"
                        ),
                    });
                    continue;
                }
            }
        };
        let offers: Vec<String> = offers_at
            .map(field)
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(long) = offers
            .iter()
            .find(|o| o.chars().count() > 200 || o.chars().any(char::is_control))
        {
            errors.push(RowError {
                line,
                reason: format!("offer name {long:?} is too long or has control characters"),
            });
            continue;
        }
        seen.entry(key).or_insert(rows.len());
        rows.push(ValidRow {
            line,
            name,
            email,
            subscribed,
            offers,
        });
    }
    Ok((rows, errors))
}

/// Imports a CSV into the store as `actor`.
///
/// # Errors
/// [`ImportError::Invalid`] (nothing written) when rows are bad and
/// `skip_invalid` is false; format and store errors otherwise.
pub async fn import(
    store: &Store,
    input: impl Read,
    skip_invalid: bool,
    actor: &str,
    now: DateTime<Utc>,
    progress: &dyn Fn(u64),
) -> Result<ImportReport, ImportError> {
    let (mut rows, mut errors) = parse(input, progress)?;

    // Duplicates against the store (none in an empty one), in chunks so
    // the IN list stays within every backend's parameter limit.
    let stored = count_contacts(store).await?;
    let mut existing: HashSet<String> = HashSet::new();
    let to_check = if stored == 0 { &rows[..0] } else { &rows[..] };
    for chunk in to_check.chunks(CHECK_BATCH) {
        let emails: Vec<String> = chunk.iter().map(|r| r.email.to_lowercase()).collect();
        let found: Vec<String> = contact::Entity::find()
            .select_only_email()
            .filter(contact::Column::EmailLower.is_in(emails))
            .into_tuple::<String>()
            .all(store.conn())
            .await?;
        existing.extend(found);
    }
    rows.retain(|row| {
        if existing.contains(&row.email.to_lowercase()) {
            errors.push(RowError {
                line: row.line,
                reason: format!("{} is already in the store", row.email),
            });
            false
        } else {
            true
        }
    });
    errors.sort_by_key(|e| e.line);
    if !errors.is_empty() && !skip_invalid {
        return Err(ImportError::Invalid(errors));
    }

    let bulk =
        store.backend() != DbBackend::MySql && rows.len() >= BULK_AT && rows.len() as u64 >= stored;
    let skipped = errors.len();
    let written = if bulk {
        write_bulk(store, &rows, skipped, actor, now, progress).await?
    } else {
        write_rows(store, &rows, skipped, actor, now, progress).await?
    };
    Ok(ImportReport { written, errors })
}

/// Every offer in the store: name to id.
async fn existing_offers(db: &impl ConnectionTrait) -> Result<HashMap<String, i64>, ImportError> {
    Ok(offer::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.name, o.id))
        .collect())
}

/// The offers the rows name, created where missing: name to id.
async fn offer_ids(
    db: &impl ConnectionTrait,
    rows: &[ValidRow],
    now: DateTime<Utc>,
) -> Result<HashMap<String, i64>, ImportError> {
    let mut offer_ids = existing_offers(db).await?;
    for name in rows.iter().flat_map(|r| r.offers.iter()) {
        if !offer_ids.contains_key(name) {
            let saved = offer::Entity::insert(offer::ActiveModel {
                name: Set(name.clone()),
                products: Set(String::new()),
                created_at: Set(now),
                ..Default::default()
            })
            .exec(db)
            .await?;
            offer_ids.insert(name.clone(), saved.last_insert_id);
        }
    }
    Ok(offer_ids)
}

/// The import's audit event, as a row to write in the import's transaction.
fn audit_row(actor: &str, now: DateTime<Utc>, written: u64, skipped: usize) -> Rows {
    let mut audit = Rows::new("audit_events", AUDIT_COLUMNS);
    audit.push([
        Value::ChronoDateTimeUtc(Some(now)),
        Value::String(Some(actor.to_owned())),
        Value::String(Some("operator".into())),
        Value::String(Some(String::new())),
        Value::String(Some("contacts.imported".into())),
        Value::String(Some("ok".into())),
        Value::BigInt(None),
        Value::String(Some(
            serde_json::json!({ "written": written, "skipped": skipped }).to_string(),
        )),
    ]);
    audit
}

/// A small import into a larger store: `INSERT`s with the indexes kept.
async fn write_rows(
    store: &Store,
    rows: &[ValidRow],
    skipped: usize,
    actor: &str,
    now: DateTime<Utc>,
    progress: &dyn Fn(u64),
) -> Result<u64, ImportError> {
    let txn = store.begin_write().await?;
    let offer_ids = offer_ids(&txn, rows, now).await?;
    let mut written = 0u64;
    for chunk in rows.chunks(BATCH) {
        let models = chunk
            .iter()
            .map(|r| contact::ActiveModel::new_contact(&r.name, &r.email, r.subscribed, now));
        contact::Entity::insert_many(models).exec(&txn).await?;
        let with_offers: Vec<&ValidRow> = chunk.iter().filter(|r| !r.offers.is_empty()).collect();
        if !with_offers.is_empty() {
            let emails: Vec<String> = with_offers.iter().map(|r| r.email.to_lowercase()).collect();
            let ids: HashMap<String, i64> = contact::Entity::find()
                .filter(contact::Column::EmailLower.is_in(emails))
                .all(&txn)
                .await?
                .into_iter()
                .map(|c| (c.email_lower, c.id))
                .collect();
            let mut grants = Vec::new();
            for row in with_offers {
                let Some(&contact_id) = ids.get(&row.email.to_lowercase()) else {
                    continue;
                };
                let mut granted = HashSet::new();
                for name in &row.offers {
                    let Some(&offer_id) = offer_ids.get(name) else {
                        continue;
                    };
                    if granted.insert(offer_id) {
                        grants.push(grant::ActiveModel {
                            contact_id: Set(contact_id),
                            offer_id: Set(offer_id),
                            source: Set("granted".into()),
                            granted_by: Set(actor.to_owned()),
                            granted_at: Set(now),
                            ..Default::default()
                        });
                    }
                }
            }
            if !grants.is_empty() {
                grant::Entity::insert_many(grants).exec(&txn).await?;
            }
        }
        written += chunk.len() as u64;
        progress(written);
    }
    audit_row(actor, now, written, skipped).flush(&txn).await?;
    txn.commit().await?;
    Ok(written)
}

const OFFER_COLUMNS: &[&str] = &["id", "name", "products", "created_at"];
const AUDIT_COLUMNS: &[&str] = &[
    "at",
    "actor",
    "actor_kind",
    "source",
    "action",
    "outcome",
    "contact_id",
    "detail",
];

/// An import at least as large as the store (a first load, a migration):
/// loaded like a seed ([`Load`]), the indexes built after the rows, the
/// contacts' ids given here so grants need no lookup. On PostgreSQL the
/// dropped indexes lock the contacts table until the commit, as a
/// schema change would.
async fn write_bulk(
    store: &Store,
    rows: &[ValidRow],
    skipped: usize,
    actor: &str,
    now: DateTime<Utc>,
    progress: &dyn Fn(u64),
) -> Result<u64, ImportError> {
    // The offers there are, read before the load holds its connection.
    let mut offer_ids = existing_offers(store.conn()).await?;
    let mut load = Load::begin(store, &["contacts", "grants"]).await?;
    for name in rows.iter().flat_map(|r| r.offers.iter()) {
        if !offer_ids.contains_key(name) {
            let id = load.new_id("offers").await?;
            let mut offer = Rows::new("offers", OFFER_COLUMNS);
            offer.push([
                Value::BigInt(Some(id)),
                Value::String(Some(name.clone())),
                Value::String(Some(String::new())),
                Value::ChronoDateTimeUtc(Some(now)),
            ]);
            load.write(&mut offer).await?;
            offer_ids.insert(name.clone(), id);
        }
    }
    let mut next_id = load.next_id("contacts").await?;
    let mut written = 0u64;
    for chunk in rows.chunks(BULK_BATCH) {
        let mut contacts = Rows::new("contacts", CONTACT_COLUMNS);
        let mut grants = Rows::new("grants", GRANT_COLUMNS);
        for row in chunk {
            let id = next_id;
            next_id += 1;
            contacts.push([
                Value::BigInt(Some(id)),
                Value::String(Some(row.name.clone())),
                Value::String(Some(row.email.clone())),
                Value::String(Some(row.name.to_lowercase())),
                Value::String(Some(row.email.to_lowercase())),
                Value::Bool(Some(row.subscribed)),
                Value::String(Some(String::new())),
                Value::String(Some(String::new())),
                Value::ChronoDateTimeUtc(Some(now)),
                Value::ChronoDateTimeUtc(Some(now)),
            ]);
            let mut granted = HashSet::new();
            for name in &row.offers {
                if let Some(&offer_id) = offer_ids.get(name)
                    && granted.insert(offer_id)
                {
                    grants.push([
                        Value::BigInt(Some(id)),
                        Value::BigInt(Some(offer_id)),
                        Value::String(Some("granted".into())),
                        Value::String(Some(actor.to_owned())),
                        Value::ChronoDateTimeUtc(Some(now)),
                    ]);
                }
            }
        }
        load.write(&mut contacts).await?;
        load.write(&mut grants).await?;
        written += chunk.len() as u64;
        progress(written);
    }
    load.write(&mut audit_row(actor, now, written, skipped))
        .await?;
    load.sync_sequence("contacts").await?;
    load.commit(store).await?;
    Ok(written)
}

async fn count_contacts(store: &Store) -> Result<u64, ImportError> {
    Ok(contact::Entity::find().count(store.conn()).await?)
}

/// `select_only` + the lowercase email column, for duplicate checks.
trait SelectEmail {
    fn select_only_email(self) -> Self;
}

impl SelectEmail for sea_orm::Select<contact::Entity> {
    fn select_only_email(self) -> Self {
        use sea_orm::QuerySelect;
        self.select_only().column(contact::Column::EmailLower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> (Vec<ValidRow>, Vec<RowError>) {
        parse(text.as_bytes(), &|_| {}).unwrap()
    }

    #[test]
    fn good_rows_parse_with_optional_columns() {
        let (rows, errors) = parse_str(
            "name,email,subscribed,offers\nAda,ada@example.com,yes,Photo 101;Video\nBo,bo@example.com,,\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 2);
        assert!(rows[0].subscribed);
        assert_eq!(
            rows[0].offers,
            vec!["Photo 101".to_owned(), "Video".to_owned()]
        );
        assert!(!rows[1].subscribed);
    }

    #[test]
    fn bad_rows_are_reported_with_line_and_reason() {
        let (rows, errors) = parse_str(
            "name,email\nAda,ada@example.com\nNo Email,not-an-email\n,empty@example.com\nAda Again,ADA@example.com\n",
        );
        assert_eq!(rows.len(), 1);
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(
            errors[0].reason.contains("not a valid email"),
            "{}",
            errors[0]
        );
        assert!(errors[2].reason.contains("line 2"), "{}", errors[2]);
    }

    #[test]
    fn a_wrong_header_is_a_format_error() {
        assert!(matches!(
            parse("who,where\nx,y\n".as_bytes(), &|_| {}),
            Err(ImportError::Format(_))
        ));
        assert!(matches!(
            parse("name,email,age\nx,x@y.z,3\n".as_bytes(), &|_| {}),
            Err(ImportError::Format(_))
        ));
    }

    #[test]
    fn an_address_no_mail_can_reach_is_refused() {
        let (rows, errors) =
            parse_str("name,email\nEve,\"\"\"<b>x</b>\"\"@example.com\"\nBo,bo@example.com\n");
        assert_eq!(rows.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, 2);
        assert!(
            errors[0].reason.contains("cannot be mailed"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn control_characters_in_a_name_are_refused() {
        let (rows, errors) =
            parse_str("name,email\n\"Evil\u{1b}]52;c;AAAA\u{7}\",evil@example.com\n");
        assert!(rows.is_empty());
        assert!(errors[0].reason.contains("control"));
    }
}

//! Reading the store for the index: every contact at load time, the
//! contacts changed since a time at each poll.
//!
//! A full load reads a million rows. Row by row, the SQLite driver hands
//! each one across a thread, which dominates the load; so on SQLite and
//! PostgreSQL the rows come aggregated, a few thousand contacts to one
//! string (`id,subscribed,name bytes,email bytes,name email` each, lengths
//! in bytes so any text survives), and are parsed here. MySQL reads rows.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, Func, Query};
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    IsolationLevel, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait, Value,
};

use crate::store::entity::{contact, grant};
use crate::store::id_set::IdSet;
use crate::store::search_index::{IndexBuilder, IndexEntry};
use crate::store::{Store, StoreError};

/// Contacts per query while loading the whole index.
const LOAD_CHUNK: u64 = 4_096;
/// Ids per `IN (...)` list.
const IN_CHUNK: usize = 1_000;

/// What one poll read, from one snapshot.
pub(super) struct Changes {
    /// Changed contacts with their `updated_at`; `None` when more than the cap.
    pub(super) rows: Option<Vec<(DateTime<Utc>, IndexEntry)>>,
    /// The census of the ids asked for.
    pub(super) census: Census,
}

/// How many contacts have an id in one range, and the highest id.
pub(super) struct Census {
    /// The ids counted.
    pub(super) ids: std::ops::Range<i64>,
    /// Contacts with such an id.
    pub(super) count: u64,
    /// The highest id of all.
    pub(super) max_id: Option<i64>,
}

/// Reads contacts changed at or after `since` (all when `None`), and the
/// census of the ids `census`, in one read-only snapshot. A
/// missed insert shows in the count or the highest id even when a
/// deletion cancels it in the count.
pub(super) async fn read_changes(
    store: &Store,
    since: Option<DateTime<Utc>>,
    cap: usize,
    census: std::ops::Range<i64>,
) -> Result<Changes, StoreError> {
    let snapshot = match store.backend() {
        // SQLite snapshots at the first read of any transaction and takes no options.
        DbBackend::Sqlite => store.conn().begin().await?,
        _ => {
            store
                .conn()
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
        }
    };
    let mut select = contact::Entity::find()
        .select_only()
        .columns([
            contact::Column::Id,
            contact::Column::NameLower,
            contact::Column::EmailLower,
            contact::Column::Subscribed,
            contact::Column::UpdatedAt,
        ])
        .limit(cap as u64 + 1);
    if let Some(since) = since {
        select = select.filter(contact::Column::UpdatedAt.gte(since));
    }
    let found: Vec<(i64, String, String, bool, DateTime<Utc>)> =
        select.into_tuple().all(&snapshot).await?;
    let rows = if found.len() > cap {
        None
    } else {
        let ids: Vec<i64> = found.iter().map(|r| r.0).collect();
        let customers = customers_among(&snapshot, &ids).await?;
        Some(
            found
                .into_iter()
                .map(|(id, name_lower, email_lower, subscriber, updated_at)| {
                    (
                        updated_at,
                        IndexEntry {
                            customer: customers.contains(&id),
                            id,
                            name_lower,
                            email_lower,
                            subscriber,
                        },
                    )
                })
                .collect(),
        )
    };
    // A range of the primary key: a few milliseconds however many
    // contacts there are, where counting them all took a second of both
    // cores at ten million.
    let mut count = Query::select();
    count
        .from(contact::Entity)
        .expr_as(Func::count(Expr::col(contact::Column::Id)), Alias::new("n"))
        .and_where(contact::Column::Id.gte(census.start))
        .and_where(contact::Column::Id.lt(census.end));
    let mut max = Query::select();
    max.from(contact::Entity).expr_as(
        Func::max(Expr::col(contact::Column::Id)),
        Alias::new("max_id"),
    );
    let n: i64 = match snapshot.query_one(&count).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    let max_id: Option<i64> = match snapshot.query_one(&max).await? {
        Some(row) => row.try_get("", "max_id")?,
        None => None,
    };
    let census = Census {
        ids: census,
        count: u64::try_from(n).unwrap_or(0),
        max_id,
    };
    snapshot.commit().await?;
    Ok(Changes { rows, census })
}

async fn customers_among(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashSet<i64>, StoreError> {
    let mut customers = HashSet::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let found: Vec<i64> = grant::Entity::find()
            .select_only()
            .column(grant::Column::ContactId)
            .filter(grant::Column::ContactId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        customers.extend(found);
    }
    Ok(customers)
}

/// Who holds a grant: the contacts the index marks as customers.
async fn customers(db: &DatabaseConnection) -> Result<IdSet, StoreError> {
    Ok(grant::Entity::find()
        .select_only()
        .column(grant::Column::ContactId)
        .distinct()
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Reads every contact into an index builder, in chunks by id so no
/// single query holds the store for long. On SQLite and PostgreSQL the ids
/// are split in two halves read side by side, each a chain of chunks
/// asked for ahead of the parsing: the database works on two chunks while
/// this process parses a third. Who is a customer is read beside them
/// (a few seconds at ten million) and marked once both are in.
///
/// A grant given or taken during the read bumps the contact's
/// `updated_at`, past the watermark the caller took before it: the next
/// poll reads that contact again, whichever read saw the grant.
pub(super) async fn load_all(db: &DatabaseConnection) -> Result<IndexBuilder, StoreError> {
    let mut builder = IndexBuilder::default();
    let backend = db.get_database_backend();
    if backend == DbBackend::MySql {
        let customers = customers(db).await?;
        let mut after = i64::MIN;
        while let Some((n, last)) = load_rows(db, after, &customers, &mut builder).await? {
            if n < LOAD_CHUNK {
                break;
            }
            after = last;
        }
        return Ok(builder);
    }
    // Contacts added after this read have a fresh `updated_at`: the next
    // poll brings them, whatever their id.
    let Some((first, last)) = id_range(db).await? else {
        return Ok(builder);
    };
    let granted = {
        let db = db.clone();
        tokio::spawn(async move { customers(&db).await })
    };
    let middle = first + (last - first) / 2;
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    for (after, upto) in [(first.saturating_sub(1), middle), (middle, last)] {
        let (db, tx) = (db.clone(), tx.clone());
        tokio::spawn(async move {
            let mut after = after;
            loop {
                let chunk = fetch_aggregated(&db, backend, after, upto).await;
                let more = match &chunk {
                    Ok(c) if c.rows == LOAD_CHUNK => Some(c.last),
                    _ => None,
                };
                // The reader has gone (it failed): stop.
                if tx.send(chunk).await.is_err() {
                    return;
                }
                match more {
                    Some(last) => after = last,
                    None => return,
                }
            }
        });
    }
    drop(tx);
    while let Some(chunk) = rx.recv().await {
        parse_aggregated(&chunk?.recs, &mut builder).map_err(|at| {
            StoreError::Unavailable(format!(
                "unexpected contact data at byte {at} while loading the search index"
            ))
        })?;
    }
    let customers = granted
        .await
        .map_err(|e| StoreError::Unavailable(format!("reading the customers: {e}")))??;
    builder.mark_customers(|id| customers.contains(id));
    Ok(builder)
}

/// The lowest and highest contact id, `None` with no contacts.
async fn id_range(db: &DatabaseConnection) -> Result<Option<(i64, i64)>, StoreError> {
    let q = Query::select()
        .from(contact::Entity)
        .expr_as(
            Func::min(Expr::col(contact::Column::Id)),
            Alias::new("first"),
        )
        .expr_as(
            Func::max(Expr::col(contact::Column::Id)),
            Alias::new("last"),
        )
        .to_owned();
    let Some(row) = db.query_one(&q).await? else {
        return Ok(None);
    };
    let first: Option<i64> = row.try_get("", "first")?;
    let last: Option<i64> = row.try_get("", "last")?;
    Ok(first.zip(last))
}

/// One chunk as rows; `(rows, last id)`, or `None` past the end.
async fn load_rows(
    db: &impl ConnectionTrait,
    after: i64,
    customers: &IdSet,
    builder: &mut IndexBuilder,
) -> Result<Option<(u64, i64)>, StoreError> {
    let chunk: Vec<(i64, String, String, bool)> = contact::Entity::find()
        .select_only()
        .columns([
            contact::Column::Id,
            contact::Column::NameLower,
            contact::Column::EmailLower,
            contact::Column::Subscribed,
        ])
        .filter(contact::Column::Id.gt(after))
        .order_by_asc(contact::Column::Id)
        .limit(LOAD_CHUNK)
        .into_tuple()
        .all(db)
        .await?;
    let Some(last) = chunk.last().map(|row| row.0) else {
        return Ok(None);
    };
    let n = chunk.len() as u64;
    for (id, name, email, subscriber) in chunk {
        builder.push(id, &name, &email, customers.contains(id), subscriber);
    }
    Ok(Some((n, last)))
}

/// One chunk of contacts as a single aggregated string, with how many it
/// holds and the last id.
struct Aggregated {
    recs: String,
    rows: u64,
    last: i64,
}

/// The chunk of contacts after id `after`, up to id `upto`.
async fn fetch_aggregated(
    db: &DatabaseConnection,
    backend: DbBackend,
    after: i64,
    upto: i64,
) -> Result<Aggregated, StoreError> {
    let sql = match backend {
        DbBackend::Postgres => format!(
            "SELECT COALESCE(string_agg(rec, ''), '') AS recs, COUNT(*) AS n, MAX(id) AS last \
             FROM (SELECT id, id::text || ',' || \
             (CASE WHEN subscribed THEN '1' ELSE '0' END) || ',' || octet_length(name_lower)::text \
             || ',' || octet_length(email_lower)::text || ',' || name_lower || email_lower AS rec \
             FROM contacts WHERE id > $1 AND id <= $2 ORDER BY id LIMIT {LOAD_CHUNK}) AS chunk"
        ),
        _ => format!(
            "SELECT COALESCE(group_concat(rec, ''), '') AS recs, COUNT(*) AS n, MAX(id) AS last \
             FROM (SELECT id, id || ',' || \
             (CASE WHEN subscribed THEN '1' ELSE '0' END) || ',' || \
             length(CAST(name_lower AS BLOB)) || ',' || length(CAST(email_lower AS BLOB)) || ',' \
             || name_lower || email_lower AS rec FROM contacts WHERE id > ? AND id <= ? ORDER BY id LIMIT \
             {LOAD_CHUNK}) AS chunk"
        ),
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [Value::BigInt(Some(after)), Value::BigInt(Some(upto))],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(Aggregated {
            recs: String::new(),
            rows: 0,
            last: after,
        });
    };
    let rows: i64 = row.try_get("", "n")?;
    let last: Option<i64> = row.try_get("", "last")?;
    Ok(Aggregated {
        recs: row.try_get("", "recs")?,
        rows: u64::try_from(rows).unwrap_or(0),
        last: last.unwrap_or(after),
    })
}

/// Parses `id,subscribed,name_len,email_len,<name><email>` records, none
/// a customer yet (see [`IndexBuilder::mark_customers`]); the error is the
/// byte offset where the text stopped making sense.
fn parse_aggregated(recs: &str, builder: &mut IndexBuilder) -> Result<Option<(u64, i64)>, usize> {
    let mut rest = recs;
    let mut n = 0u64;
    let mut last = None;
    while !rest.is_empty() {
        let at = recs.len() - rest.len();
        let mut fields = rest.splitn(5, ',');
        let (Some(id), Some(sub), Some(name_len), Some(email_len), Some(tail)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(at);
        };
        let id: i64 = id.parse().map_err(|_| at)?;
        let name_len: usize = name_len.parse().map_err(|_| at)?;
        let email_len: usize = email_len.parse().map_err(|_| at)?;
        let name = tail.get(..name_len).ok_or(at)?;
        let email = tail.get(name_len..name_len + email_len).ok_or(at)?;
        builder.push(id, name, email, false, sub == "1");
        rest = &tail[name_len + email_len..];
        n += 1;
        last = Some(last.map_or(id, |l: i64| l.max(id)));
    }
    Ok(last.map(|last| (n, last)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_records_parse_whatever_the_names_hold() {
        let customers: IdSet = [2].into_iter().collect();
        let mut builder = IndexBuilder::default();
        let name = "a,b 3,4,ünï\u{1f}x";
        let recs = format!("1,0,3,5,abcx@y.z2,1,{},3,{name}e@f", name.len());
        let got = parse_aggregated(&recs, &mut builder);
        assert_eq!(got, Ok(Some((2, 2))));
        builder.mark_customers(|id| customers.contains(id));
        let index = builder.finish().unwrap();
        let second = index
            .search(
                "ünï",
                crate::store::contacts::KindFilter::Customers,
                None,
                5,
            )
            .unwrap();
        assert_eq!(second.ids, vec![2]);
        assert!(parse_aggregated("1,0,9,9,short", &mut IndexBuilder::default()).is_err());
        assert_eq!(parse_aggregated("", &mut IndexBuilder::default()), Ok(None));
    }
}

//! `store_keys`: small named values every process sharing the store must
//! agree on, written once by whichever process comes first.
//!
//! Two uses: the secret the site's CSRF tokens are signed with (so that
//! several `keydesk serve` processes accept each other's forms, and a
//! restart does not expire open forms), and the one-time claim of the
//! first admin (the unique name makes two simultaneous claims on an empty
//! store impossible: the second insert fails with a duplicate key).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum StoreKeys {
    Table,
    Id,
    Name,
    Value,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        let mut name = ColumnDef::new(StoreKeys::Name);
        name.string_len(100).not_null();
        if backend == DbBackend::MySql {
            name.extra("COLLATE utf8mb4_bin");
        }
        let mut created = ColumnDef::new(StoreKeys::CreatedAt);
        match backend {
            DbBackend::MySql => created.custom(Alias::new("DATETIME(6)")),
            _ => created.timestamp_with_time_zone(),
        };
        created.not_null();
        m.create_table(
            Table::create()
                .table(StoreKeys::Table)
                .col(
                    ColumnDef::new(StoreKeys::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(name)
                .col(ColumnDef::new(StoreKeys::Value).text().not_null())
                .col(created)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_store_keys_name")
                .table(StoreKeys::Table)
                .col(StoreKeys::Name)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(StoreKeys::Table).to_owned())
            .await
    }
}

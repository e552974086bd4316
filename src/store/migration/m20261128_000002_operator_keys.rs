//! `operator_keys`: the SSH public keys an operator signs in to
//! `keydesk ssh-serve` with. A key belongs to one operator (its SHA-256
//! fingerprint is unique) and goes when the operator goes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Operators {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum OperatorKeys {
    Table,
    Id,
    OperatorId,
    Fingerprint,
    Algorithm,
    PublicKey,
    Comment,
    CreatedAt,
    CreatedBy,
}

fn timestamp(backend: DbBackend, c: OperatorKeys) -> ColumnDef {
    let mut def = ColumnDef::new(c);
    match backend {
        // MySQL's TIMESTAMP ends in 2038; the first migration uses the same.
        DbBackend::MySql => def.custom(Alias::new("DATETIME(6)")),
        _ => def.timestamp_with_time_zone(),
    };
    def.not_null().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        let mut fingerprint = ColumnDef::new(OperatorKeys::Fingerprint);
        fingerprint.string_len(100).not_null();
        match backend {
            // Fingerprints are base64: case matters.
            DbBackend::Postgres => fingerprint.extra("COLLATE \"C\""),
            DbBackend::MySql => fingerprint.extra("COLLATE utf8mb4_bin"),
            _ => &mut fingerprint,
        };
        m.create_table(
            Table::create()
                .table(OperatorKeys::Table)
                .col(
                    ColumnDef::new(OperatorKeys::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(OperatorKeys::OperatorId)
                        .big_integer()
                        .not_null(),
                )
                .col(fingerprint)
                .col(
                    ColumnDef::new(OperatorKeys::Algorithm)
                        .string_len(60)
                        .not_null(),
                )
                .col(ColumnDef::new(OperatorKeys::PublicKey).text().not_null())
                .col(
                    ColumnDef::new(OperatorKeys::Comment)
                        .string_len(200)
                        .not_null(),
                )
                .col(timestamp(backend, OperatorKeys::CreatedAt))
                .col(
                    ColumnDef::new(OperatorKeys::CreatedBy)
                        .string_len(200)
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(OperatorKeys::Table, OperatorKeys::OperatorId)
                        .to(Operators::Table, Operators::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_operator_keys_fingerprint")
                .table(OperatorKeys::Table)
                .col(OperatorKeys::Fingerprint)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_operator_keys_operator_id")
                .table(OperatorKeys::Table)
                .col(OperatorKeys::OperatorId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(OperatorKeys::Table).to_owned())
            .await
    }
}

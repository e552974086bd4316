//! `notes`: what agents write on a contact's profile, one row per note,
//! with its author and time. A deleted note keeps its row (who deleted
//! it and when) so the audit trail can point at it; listings skip it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Notes {
    Table,
    Id,
    ContactId,
    Author,
    Body,
    CreatedAt,
    DeletedAt,
    DeletedBy,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contacts {
    Table,
    Id,
}

/// A timestamp column of the backend's exact type (`DATETIME(6)` on MySQL,
/// whose `TIMESTAMP` ends in 2038), as the first migration makes them.
fn timestamp(backend: DbBackend, col: Notes) -> ColumnDef {
    let mut def = ColumnDef::new(col);
    match backend {
        DbBackend::MySql => def.custom(Alias::new("DATETIME(6)")),
        _ => def.timestamp_with_time_zone(),
    };
    def
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        m.create_table(
            Table::create()
                .table(Notes::Table)
                .col(
                    ColumnDef::new(Notes::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Notes::ContactId).big_integer().not_null())
                .col(ColumnDef::new(Notes::Author).string_len(200).not_null())
                .col(ColumnDef::new(Notes::Body).text().not_null())
                .col(timestamp(backend, Notes::CreatedAt).not_null())
                .col(timestamp(backend, Notes::DeletedAt).null())
                .col(ColumnDef::new(Notes::DeletedBy).string_len(200).null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Notes::Table, Notes::ContactId)
                        .to(Contacts::Table, Contacts::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_notes_contact")
                .table(Notes::Table)
                .col(Notes::ContactId)
                .col(Notes::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Notes::Table).to_owned())
            .await
    }
}

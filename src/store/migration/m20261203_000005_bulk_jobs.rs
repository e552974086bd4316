//! `bulk_jobs` and `bulk_job_items`: a bulk action (reset, unlock, sign
//! out) over a list of contacts, kept in the store so that it survives a
//! restart and no contact is acted on twice; and the index the outbox's
//! rate limit counts the last minute's sends with.

use sea_orm_migration::prelude::*;

use super::m20261128_000001_create_tables::{Cols, fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum BulkJobs {
    Table,
    Id,
    Action,
    Operator,
    Source,
    State,
    Total,
    Done,
    Skipped,
    Failed,
    CreatedAt,
    UpdatedAt,
    FinishedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum BulkJobItems {
    Table,
    Id,
    JobId,
    ContactId,
    State,
    Reason,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contacts {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Outbox {
    Table,
    State,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let c = Cols(m.get_database_backend());
        m.create_table(
            Table::create()
                .table(BulkJobs::Table)
                .col(c.id(BulkJobs::Id))
                .col(c.string(BulkJobs::Action, 40))
                .col(c.string(BulkJobs::Operator, 100))
                .col(c.string(BulkJobs::Source, 200))
                .col(c.string(BulkJobs::State, 20))
                .col(c.int(BulkJobs::Total))
                .col(c.int(BulkJobs::Done))
                .col(c.int(BulkJobs::Skipped))
                .col(c.int(BulkJobs::Failed))
                .col(c.ts(BulkJobs::CreatedAt))
                .col(c.ts(BulkJobs::UpdatedAt))
                .col(c.ts_null(BulkJobs::FinishedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_bulk_jobs_state",
            BulkJobs::Table,
            &[BulkJobs::State],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(BulkJobItems::Table)
                .col(c.id(BulkJobItems::Id))
                .col(c.fk(BulkJobItems::JobId))
                .col(c.fk(BulkJobItems::ContactId))
                .col(c.string(BulkJobItems::State, 20))
                .col(c.string(BulkJobItems::Reason, 200))
                .col(c.ts(BulkJobItems::UpdatedAt))
                .foreign_key(&mut fk(
                    (BulkJobItems::Table, BulkJobItems::JobId),
                    (BulkJobs::Table, BulkJobs::Id),
                ))
                .foreign_key(&mut fk(
                    (BulkJobItems::Table, BulkJobItems::ContactId),
                    (Contacts::Table, Contacts::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_bulk_job_items_job",
            BulkJobItems::Table,
            &[BulkJobItems::JobId, BulkJobItems::State, BulkJobItems::Id],
            false,
        )
        .await?;
        index(
            m,
            "ux_bulk_job_items_contact",
            BulkJobItems::Table,
            &[BulkJobItems::JobId, BulkJobItems::ContactId],
            true,
        )
        .await?;
        index(
            m,
            "ix_outbox_sent",
            Outbox::Table,
            &[Outbox::State, Outbox::SentAt],
            false,
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_outbox_sent")
                .table(Outbox::Table)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(BulkJobItems::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(BulkJobs::Table).to_owned())
            .await
    }
}

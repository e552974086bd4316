//! The initial schema: every table of DESIGN.md with its keys and indexes.
//!
//! Column types differ where the backends do: timestamps are `timestamptz`
//! on PostgreSQL and `DATETIME(6)` on MySQL (its `TIMESTAMP` ends in 2038);
//! the lowercase sort keys use byte order everywhere (`COLLATE "C"`,
//! `utf8mb4_bin`) so that paging agrees with the in-memory search index.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Contacts {
    Table,
    Id,
    Name,
    Email,
    NameLower,
    EmailLower,
    Subscribed,
    Tags,
    Notes,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Offers {
    Table,
    Id,
    Name,
    Products,
    CreatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Grants {
    Table,
    Id,
    ContactId,
    OfferId,
    Source,
    GrantedBy,
    GrantedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Accounts {
    Table,
    Id,
    ContactId,
    PasswordHash,
    MustChangePassword,
    PasswordChangedAt,
    TemporaryExpiresAt,
    SignInCount,
    LastLoginAt,
    FailedLogins,
    FailedWindowStartedAt,
    LockedUntil,
    CreatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum ResetLinks {
    Table,
    Id,
    AccountId,
    TokenSha256,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    RequestedBy,
}
#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    AccountId,
    IdSha256,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    RevokedAt,
    Client,
}
#[derive(DeriveIden, Clone, Copy)]
enum Operators {
    Table,
    Id,
    Name,
    Role,
    CreatedAt,
    CreatedBy,
}
#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    Id,
    At,
    Actor,
    ActorKind,
    Source,
    Action,
    Outcome,
    ContactId,
    Detail,
}
#[derive(DeriveIden, Clone, Copy)]
enum Outbox {
    Table,
    Id,
    Recipient,
    Kind,
    ContactId,
    ResetLinkId,
    Body,
    State,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    SentAt,
    LastError,
    CreatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Throttles {
    Table,
    Id,
    Bucket,
    WindowStartedAt,
    Hits,
}

/// Column builders that pick each backend's type (later migrations use them too).
pub(super) struct Cols(pub(super) DbBackend);

impl Cols {
    pub(super) fn id(&self, c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c)
            .big_integer()
            .not_null()
            .auto_increment()
            .primary_key()
            .take()
    }
    pub(super) fn fk(&self, c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c).big_integer().not_null().take()
    }
    pub(super) fn fk_null(&self, c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c).big_integer().null().take()
    }
    pub(super) fn string(&self, c: impl IntoIden, len: u32) -> ColumnDef {
        ColumnDef::new(c).string_len(len).not_null().take()
    }
    pub(super) fn text(&self, c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c).text().not_null().take()
    }
    pub(super) fn text_null(&self, c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c).text().null().take()
    }
    /// A string compared and ordered byte by byte.
    pub(super) fn key(&self, c: impl IntoIden, len: Option<u32>) -> ColumnDef {
        let mut def = ColumnDef::new(c);
        match len {
            Some(len) => def.string_len(len),
            None => def.text(),
        };
        def.not_null();
        match self.0 {
            DbBackend::Postgres => def.extra("COLLATE \"C\""),
            DbBackend::MySql => def.extra("COLLATE utf8mb4_bin"),
            _ => &mut def,
        };
        def.take()
    }
    pub(super) fn flag(&self, c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c).boolean().not_null().default(false).take()
    }
    pub(super) fn int(&self, c: impl IntoIden) -> ColumnDef {
        ColumnDef::new(c).integer().not_null().default(0).take()
    }
    fn ts_def(&self, c: impl IntoIden) -> ColumnDef {
        let mut def = ColumnDef::new(c);
        match self.0 {
            DbBackend::MySql => def.custom(Alias::new("DATETIME(6)")),
            _ => def.timestamp_with_time_zone(),
        };
        def
    }
    pub(super) fn ts(&self, c: impl IntoIden) -> ColumnDef {
        self.ts_def(c).not_null().take()
    }
    pub(super) fn ts_null(&self, c: impl IntoIden) -> ColumnDef {
        self.ts_def(c).null().take()
    }
}

pub(super) fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let c = Cols(m.get_database_backend());
        m.create_table(
            Table::create()
                .table(Contacts::Table)
                .col(c.id(Contacts::Id))
                .col(c.text(Contacts::Name))
                .col(c.string(Contacts::Email, 320))
                .col(c.key(Contacts::NameLower, None))
                .col(c.key(Contacts::EmailLower, Some(320)))
                .col(c.flag(Contacts::Subscribed))
                .col(c.text(Contacts::Tags))
                .col(c.text(Contacts::Notes))
                .col(c.ts(Contacts::CreatedAt))
                .col(c.ts(Contacts::UpdatedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_contacts_email_lower",
            Contacts::Table,
            &[Contacts::EmailLower],
            true,
        )
        .await?;
        index(
            m,
            "ix_contacts_updated_at",
            Contacts::Table,
            &[Contacts::UpdatedAt],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Offers::Table)
                .col(c.id(Offers::Id))
                .col(c.string(Offers::Name, 200))
                .col(c.text(Offers::Products))
                .col(c.ts(Offers::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(m, "ux_offers_name", Offers::Table, &[Offers::Name], true).await?;

        m.create_table(
            Table::create()
                .table(Grants::Table)
                .col(c.id(Grants::Id))
                .col(c.fk(Grants::ContactId))
                .col(c.fk(Grants::OfferId))
                .col(c.string(Grants::Source, 20))
                .col(c.string(Grants::GrantedBy, 200))
                .col(c.ts(Grants::GrantedAt))
                .foreign_key(&mut fk(
                    (Grants::Table, Grants::ContactId),
                    (Contacts::Table, Contacts::Id),
                ))
                .foreign_key(&mut fk(
                    (Grants::Table, Grants::OfferId),
                    (Offers::Table, Offers::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_grants_contact_offer",
            Grants::Table,
            &[Grants::ContactId, Grants::OfferId],
            true,
        )
        .await?;
        index(
            m,
            "ix_grants_offer",
            Grants::Table,
            &[Grants::OfferId],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Accounts::Table)
                .col(c.id(Accounts::Id))
                .col(c.fk(Accounts::ContactId))
                .col(c.text_null(Accounts::PasswordHash))
                .col(c.flag(Accounts::MustChangePassword))
                .col(c.ts_null(Accounts::PasswordChangedAt))
                .col(c.ts_null(Accounts::TemporaryExpiresAt))
                .col(c.int(Accounts::SignInCount))
                .col(c.ts_null(Accounts::LastLoginAt))
                .col(c.int(Accounts::FailedLogins))
                .col(c.ts_null(Accounts::FailedWindowStartedAt))
                .col(c.ts_null(Accounts::LockedUntil))
                .col(c.ts(Accounts::CreatedAt))
                .foreign_key(&mut fk(
                    (Accounts::Table, Accounts::ContactId),
                    (Contacts::Table, Contacts::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_accounts_contact",
            Accounts::Table,
            &[Accounts::ContactId],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ResetLinks::Table)
                .col(c.id(ResetLinks::Id))
                .col(c.fk(ResetLinks::AccountId))
                .col(c.key(ResetLinks::TokenSha256, Some(64)))
                .col(c.ts(ResetLinks::CreatedAt))
                .col(c.ts(ResetLinks::ExpiresAt))
                .col(c.ts_null(ResetLinks::UsedAt))
                .col(c.ts_null(ResetLinks::RevokedAt))
                .col(c.string(ResetLinks::RequestedBy, 200))
                .foreign_key(&mut fk(
                    (ResetLinks::Table, ResetLinks::AccountId),
                    (Accounts::Table, Accounts::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_reset_links_token",
            ResetLinks::Table,
            &[ResetLinks::TokenSha256],
            true,
        )
        .await?;
        index(
            m,
            "ix_reset_links_account",
            ResetLinks::Table,
            &[ResetLinks::AccountId],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(c.id(Sessions::Id))
                .col(c.fk(Sessions::AccountId))
                .col(c.key(Sessions::IdSha256, Some(64)))
                .col(c.ts(Sessions::CreatedAt))
                .col(c.ts(Sessions::LastSeenAt))
                .col(c.ts(Sessions::ExpiresAt))
                .col(c.ts_null(Sessions::RevokedAt))
                .col(c.string(Sessions::Client, 400))
                .foreign_key(&mut fk(
                    (Sessions::Table, Sessions::AccountId),
                    (Accounts::Table, Accounts::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_sessions_id",
            Sessions::Table,
            &[Sessions::IdSha256],
            true,
        )
        .await?;
        index(
            m,
            "ix_sessions_account",
            Sessions::Table,
            &[Sessions::AccountId],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Operators::Table)
                .col(c.id(Operators::Id))
                .col(c.key(Operators::Name, Some(200)))
                .col(c.string(Operators::Role, 20))
                .col(c.ts(Operators::CreatedAt))
                .col(c.string(Operators::CreatedBy, 200))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_operators_name",
            Operators::Table,
            &[Operators::Name],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditEvents::Table)
                .col(c.id(AuditEvents::Id))
                .col(c.ts(AuditEvents::At))
                .col(c.string(AuditEvents::Actor, 320))
                .col(c.string(AuditEvents::ActorKind, 20))
                .col(c.string(AuditEvents::Source, 200))
                .col(c.string(AuditEvents::Action, 100))
                .col(c.string(AuditEvents::Outcome, 20))
                .col(c.fk_null(AuditEvents::ContactId))
                .col(c.text(AuditEvents::Detail))
                .foreign_key(&mut fk(
                    (AuditEvents::Table, AuditEvents::ContactId),
                    (Contacts::Table, Contacts::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_audit_contact",
            AuditEvents::Table,
            &[AuditEvents::ContactId, AuditEvents::Id],
            false,
        )
        .await?;
        index(
            m,
            "ix_audit_at",
            AuditEvents::Table,
            &[AuditEvents::At],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(c.id(Outbox::Id))
                .col(c.string(Outbox::Recipient, 320))
                .col(c.string(Outbox::Kind, 40))
                .col(c.fk_null(Outbox::ContactId))
                .col(c.fk_null(Outbox::ResetLinkId))
                .col(c.text_null(Outbox::Body))
                .col(c.string(Outbox::State, 20))
                .col(c.int(Outbox::Attempts))
                .col(c.ts(Outbox::NextAttemptAt))
                .col(c.ts_null(Outbox::ClaimedUntil))
                .col(c.ts_null(Outbox::SentAt))
                .col(c.text(Outbox::LastError))
                .col(c.ts(Outbox::CreatedAt))
                .foreign_key(&mut fk(
                    (Outbox::Table, Outbox::ContactId),
                    (Contacts::Table, Contacts::Id),
                ))
                .foreign_key(&mut fk(
                    (Outbox::Table, Outbox::ResetLinkId),
                    (ResetLinks::Table, ResetLinks::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ix_outbox_due",
            Outbox::Table,
            &[Outbox::State, Outbox::NextAttemptAt],
            false,
        )
        .await?;
        index(
            m,
            "ix_outbox_contact",
            Outbox::Table,
            &[Outbox::ContactId, Outbox::Id],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Throttles::Table)
                .col(c.id(Throttles::Id))
                .col(c.key(Throttles::Bucket, Some(200)))
                .col(c.ts(Throttles::WindowStartedAt))
                .col(c.int(Throttles::Hits))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "ux_throttles_bucket",
            Throttles::Table,
            &[Throttles::Bucket],
            true,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Throttles::Table.into_iden(),
            Outbox::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            Operators::Table.into_iden(),
            Sessions::Table.into_iden(),
            ResetLinks::Table.into_iden(),
            Accounts::Table.into_iden(),
            Grants::Table.into_iden(),
            Offers::Table.into_iden(),
            Contacts::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

pub(super) async fn index<T: IntoIden + Copy, C: IntoIden + Copy>(
    m: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: &[C],
    unique: bool,
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(*col);
    }
    if unique {
        stmt.unique();
    }
    m.create_index(stmt).await
}

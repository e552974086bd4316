//! sea-orm entities, one file per table. Relations are expressed as
//! explicit joins in the queries; the entities stay plain rows.

pub mod account;
pub mod audit_event;
pub mod bulk_job;
pub mod bulk_job_item;
pub mod contact;
pub mod grant;
pub mod note;
pub mod offer;
pub mod operator;
pub mod operator_key;
pub mod outbox;
pub mod reset_link;
pub mod session;
pub mod store_key;
pub mod throttle;

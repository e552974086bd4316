//! The store: schema and constraints, search (SQL and the in-memory
//! index), demo seeding and the CSV import, on every backend.
//!
//! One module per capability; the support tree is shared by every test
//! binary (tests/support).

#[path = "../support/mod.rs"]
mod support;

mod import;
mod index_file;
mod schema;
mod search;
mod seed;

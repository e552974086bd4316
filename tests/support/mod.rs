//! The one test-support tree, shared by every integration-test binary
//! (`tests/<area>/main.rs` includes it with `#[path = "../support/mod.rs"]`)
//! and, module by module, by the benches. Each piece is written once:
//!
//! - [`db`]: a fresh migrated store on SQLite, PostgreSQL and MariaDB, test
//!   settings, a desk over it at a fixed time, `on_every_backend!`;
//! - [`people`]: contacts, customers and operators put into a store;
//! - [`mailbox`]: queued mail read back (text, reset token, link);
//! - [`scan`]: the whole store searched for a secret, row counts;
//! - [`outbox`]: outbox rows and reset links in every state;
//! - [`smtp`]: a real SMTP server (aiosmtpd) per test;
//! - [`tls`]: a private CA and a server certificate it signed (openssl);
//! - [`site`]: the real site served in-process, an HTTP client;
//! - [`browser`]: headless Chromium over WebDriver (chromedriver);
//! - [`process`]: the `keydesk` binary as a process, free ports;
//! - [`home`]: a test's own home for the binary, its runs and their exit codes;
//! - [`pty`]: any program in a pseudo-terminal, read by a vt100 parser;
//! - [`console`]: the real console in a pty and the store it browses;
//! - [`console_fixture`]: the console's state without a terminal;
//! - [`ssh`]: `keydesk ssh-serve` and the OpenSSH client;
//! - [`pg_cluster`]: a private PostgreSQL cluster to stop and start;
//! - [`logs`]: log lines caught in memory;
//! - [`hostile`]: the characters hostile text must never carry through.

// Each test binary uses only the pieces its area needs.
#![allow(dead_code)]

pub mod browser;
pub mod console;
pub mod console_fixture;
pub mod db;
pub mod home;
pub mod hostile;
pub mod logs;
pub mod mailbox;
pub mod outbox;
pub mod people;
pub mod pg_cluster;
pub mod process;
pub mod pty;
pub mod scan;
pub mod site;
pub mod smtp;
pub mod ssh;
pub mod tls;

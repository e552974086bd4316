//! The customer site over real HTTP: handlers, the password pages, `keydesk
//! serve`, floods, and the whole path in headless Chromium.
//!
//! One module per capability; the support tree is shared by every test
//! binary (tests/support).

#[path = "../support/mod.rs"]
mod support;

mod browser;
mod floods;
mod handlers;
mod password_pages;
mod serve;

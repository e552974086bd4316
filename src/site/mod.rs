//! The customer site: Log in, Forgot Password, the reset-link page and
//! account settings, served by axum. Every decision is `desk`'s: a handler
//! parses the form, calls one desk operation and renders the outcome.

pub mod csrf;
pub mod headers;
pub mod limits;
pub mod templates;

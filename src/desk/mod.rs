//! The use cases and the rules: contacts, passwords, reset links, roles,
//! audit. Front ends call these; only `desk` decides.

pub mod password;

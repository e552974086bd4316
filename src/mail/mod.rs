//! Mail: templates rendered into lettre messages, transports, and the
//! outbox worker. Does I/O and holds no rules.

pub mod compose;

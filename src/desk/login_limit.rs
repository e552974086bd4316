//! The per-client-address sign-in limit (ASVS V2.2.1): failed sign-ins
//! from one address are counted in the store's `throttles` table
//! (`login:client:<sha256>`), so every `keydesk serve` sharing the store
//! counts together. Past `login.per_client` failures within
//! `login.client_window`, sign-ins from that address are refused before
//! any password is checked. The per-account lock (`login.max_failures`)
//! lives on the account row and is shared the same way.

use std::time::Duration;

use super::error::DeskError;
use super::{Desk, throttle};

impl Desk {
    /// The time until the window ends when `bucket` is over the limit.
    pub(crate) async fn client_over_limit(
        &self,
        bucket: &str,
    ) -> Result<Option<Duration>, DeskError> {
        let login = &self.settings.login;
        throttle::exhausted(
            self.store.conn(),
            bucket,
            login.per_client,
            login.client_window,
            self.clock.now(),
        )
        .await
    }

    /// Counts one failed sign-in against `bucket`. A failure to count is
    /// logged; it never changes the answer the sign-in gets.
    pub(crate) async fn count_client_failure(&self, bucket: &str) {
        let login = &self.settings.login;
        let counted = self
            .in_write(move |txn, now| async move {
                let txn = &*txn;
                throttle::hit(txn, bucket, login.per_client, login.client_window, now).await
            })
            .await;
        if let Err(e) = counted {
            tracing::warn!(error = %e, "could not count a failed sign-in");
        }
    }
}

//! Checks of the settings that guard the front doors: the SSH server's
//! limits before authentication and the site's trusted proxies.

use std::time::Duration;

use super::{Settings, SettingsError};

/// Checks `[ssh]`'s pre-authentication limits and `site.trusted_proxies`.
///
/// # Errors
/// [`SettingsError::Invalid`] (made by `invalid`) naming the key.
pub(super) fn check(
    settings: &Settings,
    invalid: &dyn Fn(&str, String) -> SettingsError,
) -> Result<(), SettingsError> {
    let ssh = &settings.ssh;
    if ssh.login_grace < Duration::from_secs(1) {
        return Err(invalid("ssh.login_grace", "must be at least 1s".into()));
    }
    if !(1..=1000).contains(&ssh.per_address_rate) {
        return Err(invalid(
            "ssh.per_address_rate",
            format!("{} is out of range (1 to 1000)", ssh.per_address_rate),
        ));
    }
    if ssh.max_startups == 0 {
        return Err(invalid("ssh.max_startups", "must be at least 1".into()));
    }
    if ssh.max_startups_per_address == 0 {
        return Err(invalid(
            "ssh.max_startups_per_address",
            "must be at least 1".into(),
        ));
    }
    crate::site::client_addr::TrustedProxies::parse(&settings.site.trusted_proxies)
        .map_err(|problem| invalid("site.trusted_proxies", problem))?;
    Ok(())
}

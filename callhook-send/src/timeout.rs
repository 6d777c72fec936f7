//! The service's request timeout.

use std::time::Duration;

use callhook::Registry;

/// The timeout of `service`'s requests.
///
/// A shim until the service configuration's `timeout` lands
/// (`Registry::request_timeout`): its default, 30 s, for every service
/// the registry has.
pub(crate) fn of(registry: &Registry, service: &str) -> Result<Duration, callhook::Error> {
    registry
        .retry_policy(service)
        .map(|_| Duration::from_secs(30))
}

use std::time::Duration;

/// Everything a reconcile can fail with. Problems in a resource itself (a missing Secret, a
/// duplicate model) are not errors: they are reported in its status, and the reconcile succeeds.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or could not be reached.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// An object could not be turned into JSON for a patch (a bug, not bad input).
    #[error("serializing a patch: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The object has no name or namespace where one is required.
    #[error("object is missing {0}")]
    MissingField(&'static str),
}

impl Error {
    /// A short, bounded label for the `reconcile_errors_total` metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(status)) if status.code == 409 => "conflict",
            Error::Kube(kube::Error::Api(status)) if status.code == 403 => "forbidden",
            Error::Kube(kube::Error::Api(_)) => "api_error",
            Error::Kube(_) => "kube_client",
            Error::Serialize(_) => "serialize",
            Error::MissingField(_) => "missing_field",
        }
    }
}

/// Per-object exponential backoff for failed reconciles: 1 s doubling to 5 min, reset by a
/// success. Keyed by object so one failing object never slows down the others.
#[derive(Debug, Default)]
pub struct ErrorBackoff {
    failures: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl ErrorBackoff {
    const BASE: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(300);

    /// Records a failure of `key` and returns how long to wait before retrying it.
    pub fn failed(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let count = failures.entry(key.to_string()).or_insert(0);
        *count = count.saturating_add(1);
        let delay = Self::BASE.saturating_mul(1u32.checked_shl(count.saturating_sub(1).min(16)).unwrap_or(u32::MAX));
        delay.min(Self::MAX)
    }

    /// Forgets `key`'s failures after a successful reconcile.
    pub fn succeeded(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_object_caps_at_five_minutes_and_resets_on_success() {
        let backoff = ErrorBackoff::default();
        let delays: Vec<u64> = (0..4).map(|_| backoff.failed("a").as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8]);
        assert_eq!(backoff.failed("b").as_secs(), 1, "another object starts from the base");
        for _ in 0..20 {
            backoff.failed("a");
        }
        assert_eq!(backoff.failed("a"), ErrorBackoff::MAX);
        backoff.succeeded("a");
        assert_eq!(backoff.failed("a").as_secs(), 1);
    }
}

use std::fmt;

/// A problem in one resource: where it came from, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// `file (document N)` the resource was read from, or its `namespace/name` in a cluster.
    pub origin: String,
    /// `Kind namespace/name`.
    pub resource: String,
    /// Field path such as `spec.apiKeySecretRef.name`.
    pub path: String,
    pub reason: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}: {}", self.origin, self.resource, self.path, self.reason)
    }
}

impl std::error::Error for CompileError {}

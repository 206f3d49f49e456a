use serde::{Deserialize, Serialize};

/// The subset of Kubernetes object metadata the manifests use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    pub name: String,
    /// Defaults to `default`, as `kubectl apply` would.
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl ObjectMeta {
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }

    /// `namespace/name`, the identity used across the system.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace(), self.name)
    }
}

use std::collections::BTreeMap;

use base64::Engine;

use crate::ObjectMeta;

/// A Kubernetes `v1` Secret as written in a manifest, with `data` already base64-decoded and
/// merged with `stringData` (which wins, as in the API server).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    pub metadata: ObjectMeta,
    pub values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("metadata", &self.metadata)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Decodes one `data` entry; the error names what is wrong without echoing the value.
pub(crate) fn decode_data_value(encoded: &str) -> Result<String, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| format!("not valid base64 ({e})"))?;
    String::from_utf8(bytes).map_err(|_| "decoded value is not UTF-8".to_string())
}

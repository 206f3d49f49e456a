use serde::Deserialize;

/// `spec` of a `ModelPricing`: a price list. Prices are decimal strings per one million tokens,
/// never floats.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelPricingSpec {
    /// ISO 4217 code such as `USD` or `CNY`.
    pub currency: String,
    pub models: Vec<ModelPriceSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelPriceSpec {
    pub name: String,
    pub input: String,
    pub output: String,
    #[serde(default)]
    pub cached_input: Option<String>,
    #[serde(default)]
    pub cache_write: Option<String>,
}

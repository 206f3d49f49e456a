use std::collections::BTreeMap;

use serde::Deserialize;

/// `spec` of a `ModelPricing`: a price list. Prices are decimal strings per one million tokens,
/// never floats.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelPricingSpec {
    /// ISO 4217 code such as `USD` or `CNY`.
    pub currency: String,
    pub models: Vec<ModelPriceSpec>,
    /// When this list takes effect (RFC 3339). Among the lists pricing a model, the one with the
    /// latest `effectiveFrom` not in the future is active; a list without one is always
    /// effective, from the beginning of time.
    #[serde(default)]
    pub effective_from: Option<String>,
    /// Price multiplier per user group, as decimal strings (`vip: "0.8"`); groups not listed
    /// pay `1`.
    #[serde(default)]
    pub group_multipliers: BTreeMap<String, String>,
    /// Rate limits per user group. An entry without `model` limits each user of the group
    /// across all models; an entry with `model` limits the whole group on that model.
    #[serde(default)]
    pub group_limits: Vec<GroupLimitSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelPriceSpec {
    pub name: String,
    pub input: String,
    pub output: String,
    /// Defaults to `input`.
    #[serde(default)]
    pub cached_input: Option<String>,
    /// Defaults to `input`.
    #[serde(default)]
    pub cache_write: Option<String>,
    /// Price of reasoning tokens; defaults to `output`.
    #[serde(default)]
    pub reasoning: Option<String>,
    /// A flat price per request (not per million tokens).
    #[serde(default)]
    pub per_request: Option<String>,
    /// Higher prices above a prompt size (long-context pricing). The tier with the largest
    /// threshold below the request's input tokens applies to the whole request.
    #[serde(default)]
    pub tiers: Vec<PriceTierSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceTierSpec {
    /// The tier applies when the input tokens exceed this.
    pub above_input_tokens: u64,
    pub input: String,
    pub output: String,
    #[serde(default)]
    pub cached_input: Option<String>,
    #[serde(default)]
    pub cache_write: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupLimitSpec {
    pub group: String,
    #[serde(default)]
    pub model: Option<String>,
    /// Requests per minute.
    #[serde(default)]
    pub rpm: Option<u64>,
    /// Tokens per minute (input + output).
    #[serde(default)]
    pub tpm: Option<u64>,
}

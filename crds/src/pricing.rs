use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::status::Condition;

/// `spec` of a `ModelPricing`: a price list. Prices are decimal strings (per one million tokens,
/// or per the unit a field names), never floats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(kube::CustomResource, schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    kube(
        group = "oblivious.dev",
        version = "v1alpha1",
        kind = "ModelPricing",
        plural = "modelpricings",
        namespaced,
        status = "ModelPricingStatus",
        derive = "PartialEq",
        shortname = "price",
        shortname = "prices",
        category = "oblivious",
        doc = "A price list: per-model prices per one million tokens (and per image, second of audio, 1,000 characters or search) as decimal strings, group multipliers and group rate limits.",
        printcolumn(name = "Currency", type_ = "string", json_path = ".spec.currency"),
        printcolumn(name = "Effective", type_ = "string", json_path = ".spec.effectiveFrom"),
        printcolumn(name = "Active", type_ = "string", json_path = ".status.conditions[?(@.type==\"Active\")].status"),
        printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
        printcolumn(
            name = "Reason",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
            priority = 1
        ),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ModelPricingSpec {
    /// ISO 4217 code such as `USD` or `CNY`.
    #[cfg_attr(feature = "kube", schemars(regex(pattern = r"^[A-Z]{3}$"), length(max = 3)))]
    pub currency: String,
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(min = 1, max = 512),
            extend("x-kubernetes-validations" = [
                {"rule": "self.all(m, self.exists_one(n, n.name == m.name))", "message": "a model is priced at most once per list"}
            ])
        )
    )]
    pub models: Vec<ModelPriceSpec>,
    /// When this list takes effect (RFC 3339). Among the lists pricing a model, the one with the
    /// latest `effectiveFrom` not in the future is active; a list without one is always
    /// effective, from the beginning of time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::TIMESTAMP_PATTERN), length(max = 40)))]
    pub effective_from: Option<String>,
    /// Price multiplier per user group, as decimal strings (`vip: "0.8"`); groups not listed
    /// pay `1`.
    #[serde(default)]
    #[cfg_attr(
        feature = "kube",
        schemars(
            transform = crate::schema::bounded_string_map::<64, 63, 20>,
            extend("x-kubernetes-validations" = [
                {"rule": "self.all(g, self[g].matches('^[0-9]{1,12}(\\\\.[0-9]{1,6})?$'))", "message": "multipliers are decimal strings such as \"0.8\""}
            ])
        )
    )]
    pub group_multipliers: BTreeMap<String, String>,
    /// Rate limits per user group. An entry without `model` limits each user of the group
    /// across all models; an entry with `model` limits the whole group on that model.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 128)))]
    pub group_limits: Vec<GroupLimitSpec>,
    /// The model a blank chat of a user group starts with (`vip: gpt-4o`), unless the user
    /// chose their own default; groups not listed (or whose default they may not use) get the
    /// cheapest model they may use.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(transform = crate::schema::bounded_string_map::<64, 63, 256>))]
    pub group_default_models: BTreeMap<String, String>,
}

/// Prices of one model: per one million tokens, and for models billed by other units (images,
/// audio, characters, searches) per that unit. Every price applies to what the request used, so a
/// model may have both (an image model reporting tokens, a per-request fee on top).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ModelPriceSpec {
    /// Public model name.
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 256)))]
    pub name: String,
    /// Per one million input tokens; `0` when absent (models billed by other units).
    #[serde(default = "zero_price")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub input: String,
    /// Per one million output tokens; `0` when absent.
    #[serde(default = "zero_price")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub output: String,
    /// Defaults to `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub cached_input: Option<String>,
    /// Defaults to `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub cache_write: Option<String>,
    /// Price of reasoning tokens; defaults to `output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub reasoning: Option<String>,
    /// A flat price per request (not per million tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub per_request: Option<String>,
    /// Price of one generated image (`/v1/images/generations`), unless an `imagePrices` entry
    /// matches the image's size and quality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub per_image: Option<String>,
    /// Per-image prices by `size` and/or `quality` (DALL-E 3 `hd` at `1024x1792`, gpt-image-1
    /// `high`, ...). The entry naming both wins over one naming either; none matching: `perImage`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "kube", schemars(length(max = 32)))]
    pub image_prices: Vec<ImagePriceSpec>,
    /// Price of one second of input audio (`/v1/audio/transcriptions` and `translations`),
    /// charged by the millisecond of the duration the upstream reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub per_audio_second: Option<String>,
    /// Price of 1,000 characters of text turned into speech (`/v1/audio/speech`), charged by
    /// the character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub per_thousand_characters: Option<String>,
    /// Price of one search unit (`/v1/rerank`: one query over up to 100 documents, as Cohere
    /// counts them; the upstream's own count when it reports one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub per_search: Option<String>,
    /// Higher prices above a prompt size (long-context pricing). The tier with the largest
    /// threshold below the request's input tokens applies to the whole request.
    #[serde(default)]
    #[cfg_attr(
        feature = "kube",
        schemars(
            length(max = 8),
            extend("x-kubernetes-validations" = [
                {"rule": "self.all(t, self.exists_one(u, u.aboveInputTokens == t.aboveInputTokens))", "message": "tier thresholds must be unique"}
            ])
        )
    )]
    pub tiers: Vec<PriceTierSpec>,
}

fn zero_price() -> String {
    "0".to_string()
}

/// The price of one image of a size and/or quality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    schemars(extend("x-kubernetes-validations" = [
        {"rule": "has(self.size) || has(self.quality)", "message": "name a size, a quality or both (perImage prices every other image)"}
    ]))
)]
#[serde(rename_all = "camelCase")]
pub struct ImagePriceSpec {
    /// As requests name it: `1024x1024`, `1536x1024`, `auto`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 32)))]
    pub size: Option<String>,
    /// As requests name it: `standard`, `hd`, `low`, `medium`, `high`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 32)))]
    pub quality: Option<String>,
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub per_image: String,
}

/// Long-context prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PriceTierSpec {
    /// The tier applies when the input tokens exceed this.
    #[cfg_attr(feature = "kube", schemars(range(min = 1)))]
    pub above_input_tokens: u64,
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub input: String,
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub output: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub cached_input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(regex(pattern = crate::schema::DECIMAL_PATTERN), length(max = 20)))]
    pub cache_write: Option<String>,
}

/// A rate limit for a user group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "kube",
    schemars(extend("x-kubernetes-validations" = [
        {"rule": "has(self.rpm) || has(self.tpm)", "message": "set rpm, tpm or both"},
        {"rule": "(!has(self.rpm) || self.rpm > 0) && (!has(self.tpm) || self.tpm > 0)", "message": "a limit of 0 would refuse everything; remove the group's models instead"}
    ]))
)]
#[serde(rename_all = "camelCase")]
pub struct GroupLimitSpec {
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 63)))]
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "kube", schemars(length(min = 1, max = 256)))]
    pub model: Option<String>,
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens per minute (input + output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
}

/// What the operator decided about a price list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "kube", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ModelPricingStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted`, `Active` and `Ready`.
    #[serde(default)]
    #[cfg_attr(feature = "kube", schemars(length(max = 16), transform = crate::schema::condition_list_map))]
    pub conditions: Vec<Condition>,
    /// Models whose price in effect now comes from this list.
    #[serde(default)]
    pub active_models: u32,
    /// Models for which a newer list is in effect.
    #[serde(default)]
    pub superseded_models: u32,
}

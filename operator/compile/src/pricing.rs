//! ModelPricing resources -> every price of every model, plus the groups' rate limits.
//!
//! Several lists may price one model: the one in effect is the latest `effectiveFrom` not in
//! the future, decided at request time (`Snapshot::price`). Two lists pricing the same model
//! from the same instant are an error: nothing could pick one honestly.

use std::collections::BTreeMap;

use oblivious_config::{GroupLimit, ImagePrice, ModelPrice, PriceTier};
use oblivious_crds::{ImagePriceSpec, ModelPriceSpec, ModelPricingSpec, PriceTierSpec, Sourced};

use crate::{CompileError, parse_price_micros};

/// Most price tiers one model may have (the CRD schema enforces the same bound).
const MAX_TIERS: usize = 8;
/// Most per-size/quality image prices one model may have (the CRD schema's bound too).
const MAX_IMAGE_PRICES: usize = 32;

pub(crate) struct CompiledPricing {
    pub prices: Vec<ModelPrice>,
    pub group_limits: Vec<GroupLimit>,
    pub group_default_models: BTreeMap<String, String>,
}

pub(crate) fn compile_prices(
    pricings: &[Sourced<ModelPricingSpec>],
    errors: &mut Vec<CompileError>,
) -> CompiledPricing {
    let mut by_model: BTreeMap<(String, i64), ModelPrice> = BTreeMap::new();
    let mut limits: BTreeMap<(String, Option<String>), (GroupLimit, String)> = BTreeMap::new();
    let mut defaults: BTreeMap<String, (String, String)> = BTreeMap::new();
    for source in pricings {
        let name = source.metadata.key();
        let mut error = |path: String, reason: String| {
            errors.push(CompileError {
                origin: source.origin(),
                resource: format!("ModelPricing {name}"),
                path,
                reason,
            })
        };
        let spec = &source.spec;
        let currency = spec.currency.trim();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            error("spec.currency".into(), format!("`{currency}` is not an ISO 4217 code such as USD"));
            continue;
        }
        let effective_from = match spec.effective_from.as_deref().map(parse_rfc3339_ms).transpose() {
            Ok(from) => from.unwrap_or(0),
            Err(reason) => {
                error("spec.effectiveFrom".into(), reason);
                continue;
            }
        };
        let mut multipliers = BTreeMap::new();
        for (group, text) in &spec.group_multipliers {
            match parse_price_micros(text) {
                Ok(ppm) => {
                    multipliers.insert(group.clone(), ppm);
                }
                Err(reason) => error(format!("spec.groupMultipliers.{group}"), reason),
            }
        }
        for (i, entry) in spec.models.iter().enumerate() {
            let Some(mut price) =
                compile_entry(entry, &mut |field, reason| error(format!("spec.models[{i}].{field}"), reason))
            else {
                continue;
            };
            price.currency = currency.to_string();
            price.group_multipliers_ppm = multipliers.clone();
            price.effective_from = effective_from;
            price.source = name.clone();
            let slot = (price.model.clone(), effective_from);
            if let Some(existing) = by_model.get(&slot) {
                let reason = format!(
                    "model `{}` is already priced from the same instant by ModelPricing {}",
                    price.model, existing.source
                );
                error(format!("spec.models[{i}].name"), reason);
                continue;
            }
            by_model.insert(slot, price);
        }
        for (i, limit) in spec.group_limits.iter().enumerate() {
            if limit.rpm.is_none() && limit.tpm.is_none() {
                error(format!("spec.groupLimits[{i}]"), "set rpm, tpm or both".into());
                continue;
            }
            if limit.rpm == Some(0) || limit.tpm == Some(0) {
                error(
                    format!("spec.groupLimits[{i}]"),
                    "a limit of 0 would refuse everything; remove the group's models instead".into(),
                );
                continue;
            }
            let slot = (limit.group.clone(), limit.model.clone());
            if let Some((_, other)) = limits.get(&slot) {
                error(
                    format!("spec.groupLimits[{i}]"),
                    format!("this group/model limit is already set by ModelPricing {other}"),
                );
                continue;
            }
            let compiled =
                GroupLimit { group: limit.group.clone(), model: limit.model.clone(), rpm: limit.rpm, tpm: limit.tpm };
            limits.insert(slot, (compiled, name.clone()));
        }
        for (group, model) in &spec.group_default_models {
            if let Some((_, other)) = defaults.get(group) {
                error(
                    format!("spec.groupDefaultModels.{group}"),
                    format!("the group's default model is already set by ModelPricing {other}"),
                );
                continue;
            }
            defaults.insert(group.clone(), (model.trim().to_string(), name.clone()));
        }
    }
    CompiledPricing {
        prices: by_model.into_values().collect(),
        group_limits: limits.into_values().map(|(limit, _)| limit).collect(),
        group_default_models: defaults.into_iter().map(|(group, (model, _))| (group, model)).collect(),
    }
}

/// One model's entry; `error(field, reason)` reports problems relative to the entry.
fn compile_entry(entry: &ModelPriceSpec, error: &mut dyn FnMut(&str, String)) -> Option<ModelPrice> {
    let mut ok = true;
    let mut price = |field: &str, text: &str| match parse_price_micros(text) {
        Ok(micros) => Some(micros),
        Err(reason) => {
            error(field, reason);
            ok = false;
            None
        }
    };
    let input = price("input", &entry.input);
    let output = price("output", &entry.output);
    let cached_input = entry.cached_input.as_deref().and_then(|t| price("cachedInput", t));
    let cache_write = entry.cache_write.as_deref().and_then(|t| price("cacheWrite", t));
    let reasoning = entry.reasoning.as_deref().and_then(|t| price("reasoning", t));
    let per_request = entry.per_request.as_deref().and_then(|t| price("perRequest", t)).unwrap_or(0);
    let per_image = entry.per_image.as_deref().and_then(|t| price("perImage", t)).unwrap_or(0);
    let per_audio_second = entry.per_audio_second.as_deref().and_then(|t| price("perAudioSecond", t)).unwrap_or(0);
    let per_thousand_characters =
        entry.per_thousand_characters.as_deref().and_then(|t| price("perThousandCharacters", t)).unwrap_or(0);
    let per_search = entry.per_search.as_deref().and_then(|t| price("perSearch", t)).unwrap_or(0);
    let image_prices = compile_image_prices(&entry.image_prices, error);
    let image_prices = match image_prices {
        Some(prices) => prices,
        None => {
            ok = false;
            Vec::new()
        }
    };
    let mut tiers = Vec::new();
    for (i, tier) in entry.tiers.iter().enumerate() {
        if let Some(tier) = compile_tier(tier, &mut |field, reason| error(&format!("tiers[{i}].{field}"), reason)) {
            tiers.push(tier);
        } else {
            ok = false;
        }
    }
    if entry.tiers.len() > MAX_TIERS {
        error("tiers", format!("at most {MAX_TIERS} tiers"));
        ok = false;
    }
    tiers.sort_by_key(|t| t.above_input_tokens);
    if tiers.windows(2).any(|w| w[0].above_input_tokens == w[1].above_input_tokens) {
        error("tiers", "two tiers have the same aboveInputTokens".into());
        ok = false;
    }
    let model = entry.name.trim().to_string();
    if model.is_empty() {
        error("name", "must not be empty".into());
        ok = false;
    }
    let (Some(input), Some(output)) = (input, output) else { return None };
    ok.then(|| ModelPrice {
        model,
        input,
        output,
        cached_input,
        cache_write,
        reasoning,
        per_request,
        per_image,
        image_prices,
        per_audio_second,
        per_thousand_characters,
        per_search,
        tiers,
        ..ModelPrice::default()
    })
}

/// The per-size/quality image prices of one entry, or None (errors reported) when one is wrong:
/// each names a size or a quality, and no two name the same pair.
fn compile_image_prices(entries: &[ImagePriceSpec], error: &mut dyn FnMut(&str, String)) -> Option<Vec<ImagePrice>> {
    let mut ok = true;
    if entries.len() > MAX_IMAGE_PRICES {
        error("imagePrices", format!("at most {MAX_IMAGE_PRICES} image prices"));
        ok = false;
    }
    let mut compiled: Vec<ImagePrice> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let text =
            |field: &Option<String>| field.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
        let (size, quality) = (text(&entry.size), text(&entry.quality));
        if size.is_none() && quality.is_none() {
            error(
                &format!("imagePrices[{i}]"),
                "name a size, a quality or both (perImage prices every other image)".into(),
            );
            ok = false;
            continue;
        }
        if compiled.iter().any(|p| p.size == size && p.quality == quality) {
            error(&format!("imagePrices[{i}]"), "another entry already prices this size and quality".into());
            ok = false;
            continue;
        }
        match parse_price_micros(&entry.per_image) {
            Ok(per_image) => compiled.push(ImagePrice { size, quality, per_image }),
            Err(reason) => {
                error(&format!("imagePrices[{i}].perImage"), reason);
                ok = false;
            }
        }
    }
    ok.then_some(compiled)
}

fn compile_tier(tier: &PriceTierSpec, error: &mut dyn FnMut(&str, String)) -> Option<PriceTier> {
    let mut ok = true;
    let mut price = |field: &str, text: &str| match parse_price_micros(text) {
        Ok(micros) => Some(micros),
        Err(reason) => {
            error(field, reason);
            ok = false;
            None
        }
    };
    let input = price("input", &tier.input);
    let output = price("output", &tier.output);
    let cached_input = tier.cached_input.as_deref().and_then(|t| price("cachedInput", t));
    let cache_write = tier.cache_write.as_deref().and_then(|t| price("cacheWrite", t));
    let (Some(input), Some(output)) = (input, output) else { return None };
    ok.then_some(PriceTier { above_input_tokens: tier.above_input_tokens, input, output, cached_input, cache_write })
}

/// `2026-11-01T00:00:00Z` (UTC) -> milliseconds since the epoch.
pub(crate) fn parse_rfc3339_ms(text: &str) -> Result<i64, String> {
    let time = humantime::parse_rfc3339(text.trim())
        .map_err(|e| format!("`{text}` is not a UTC RFC 3339 time such as 2026-11-01T00:00:00Z: {e}"))?;
    let since = time.duration_since(std::time::UNIX_EPOCH).map_err(|_| format!("`{text}` is before 1970"))?;
    i64::try_from(since.as_millis()).map_err(|_| format!("`{text}` is too far in the future"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::Path;

    use oblivious_crds::{Manifests, parse_documents};

    use crate::compile;

    fn pricing(models: &str) -> Manifests {
        let text = format!(
            "apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {{name: media}}\nspec:\n  currency: USD\n  \
             models:\n{models}"
        );
        let mut manifests = Manifests::default();
        let mut errors = Vec::new();
        parse_documents(Path::new("dir/p.yaml"), &text, &mut manifests, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        manifests
    }

    #[test]
    fn unit_prices_compile_to_micro_units_and_token_prices_default_to_zero() {
        let models = "  - {name: dall-e-3, perImage: \"0.04\", imagePrices: [{quality: hd, perImage: \"0.08\"}, \
                      {size: 1024x1792, quality: hd, perImage: \"0.12\"}]}\n  \
                      - {name: whisper-1, perAudioSecond: \"0.0001\"}\n  \
                      - {name: tts-1, perThousandCharacters: \"0.015\"}\n  \
                      - {name: rerank-v3, input: \"0.02\", perSearch: \"0.002\"}\n";
        let snap = compile(&pricing(models)).unwrap();
        let image = snap.price("dall-e-3", 0).unwrap();
        assert_eq!((image.input, image.output, image.per_image), (0, 0, 40_000));
        assert_eq!(image.image_price(Some("1024x1024"), Some("hd")), 80_000);
        assert_eq!(image.image_price(Some("1024x1792"), Some("hd")), 120_000);
        assert_eq!(snap.price("whisper-1", 0).unwrap().per_audio_second, 100);
        assert_eq!(snap.price("tts-1", 0).unwrap().per_thousand_characters, 15_000);
        let rerank = snap.price("rerank-v3", 0).unwrap();
        assert_eq!((rerank.input, rerank.per_search), (20_000, 2_000));
    }

    #[test]
    fn wrong_unit_prices_and_ambiguous_image_prices_are_named() {
        let models = "  - {name: a, perImage: \"cheap\", perAudioSecond: \"0.0000001\"}\n  \
                      - {name: b, imagePrices: [{perImage: \"1\"}, {size: 1024x1024, perImage: \"1\"}, \
                      {size: 1024x1024, perImage: \"2\"}, {quality: hd, perImage: \"-1\"}]}\n  \
                      - {name: c, perThousandCharacters: \"1e3\", perSearch: \"x\"}\n";
        let errors = compile(&pricing(models)).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.models[0].perImage",
                "spec.models[0].perAudioSecond",
                "spec.models[1].imagePrices[0]",
                "spec.models[1].imagePrices[2]",
                "spec.models[1].imagePrices[3].perImage",
                "spec.models[2].perThousandCharacters",
                "spec.models[2].perSearch",
            ]
        );
    }
}

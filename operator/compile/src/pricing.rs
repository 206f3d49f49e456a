//! ModelPricing resources -> the active price of every model. Two lists pricing the same model
//! is an error: with no `effectiveFrom` yet there is no rule that could pick one honestly.

use std::collections::BTreeMap;

use oblivious_config::ModelPrice;
use oblivious_crds::{ModelPricingSpec, Sourced};

use crate::{CompileError, parse_price_micros};

pub(crate) fn compile_prices(pricings: &[Sourced<ModelPricingSpec>], errors: &mut Vec<CompileError>) -> Vec<ModelPrice> {
    let mut by_model: BTreeMap<String, ModelPrice> = BTreeMap::new();
    for source in pricings {
        let name = source.metadata.key();
        let mut error = |path: String, reason: String| {
            errors.push(CompileError { origin: source.origin(), resource: format!("ModelPricing {name}"), path, reason })
        };
        let currency = source.spec.currency.trim();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            error("spec.currency".into(), format!("`{currency}` is not an ISO 4217 code such as USD"));
            continue;
        }
        for (i, entry) in source.spec.models.iter().enumerate() {
            let mut price = |field: &str, text: &str| {
                parse_price_micros(text).map_err(|reason| error(format!("spec.models[{i}].{field}"), reason)).ok()
            };
            let input = price("input", &entry.input);
            let output = price("output", &entry.output);
            let cached_input = entry.cached_input.as_deref().map(|t| price("cachedInput", t));
            let cache_write = entry.cache_write.as_deref().map(|t| price("cacheWrite", t));
            let (Some(input), Some(output)) = (input, output) else { continue };
            if cached_input == Some(None) || cache_write == Some(None) {
                continue;
            }
            let model = entry.name.trim().to_string();
            if let Some(existing) = by_model.get(&model) {
                let reason = format!("model `{model}` is already priced by ModelPricing {}", existing.source);
                error(format!("spec.models[{i}].name"), reason);
                continue;
            }
            by_model.insert(
                model.clone(),
                ModelPrice {
                    model,
                    currency: currency.to_string(),
                    input,
                    output,
                    cached_input: cached_input.flatten(),
                    cache_write: cache_write.flatten(),
                    source: name.clone(),
                },
            );
        }
    }
    by_model.into_values().collect()
}

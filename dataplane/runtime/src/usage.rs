//! Token usage and what it costs: the one place money is computed from tokens, shared by the
//! relay (billing every request) and chat (showing a reply's cost).
//!
//! Local counts use tiktoken's `o200k_base` (the GPT-4o family encoding) for every model: exact
//! for OpenAI models, a close approximation for others.

use std::sync::OnceLock;

use oblivious_config::ModelPrice;
use tiktoken_rs::CoreBPE;

/// Token usage. `input_tokens` is the *total* prompt size including cached and cache-write
/// tokens (the OpenAI convention); Anthropic's `input_tokens`, which excludes them, is converted
/// on parse and on render. `output_tokens` includes `reasoning_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_tokens: u64,
}

impl Usage {
    /// True when nothing was counted (an upstream that reported zeros is treated as silent).
    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }

    /// Adds the counts of another call (a reply made of several model calls is billed for all).
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.output_tokens += other.output_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
    }
}

/// The BPE tables, loaded on first use (~100 ms and tens of MB: a relay whose upstreams always
/// report usage never pays for them).
fn encoder() -> Option<&'static CoreBPE> {
    static ENCODER: OnceLock<Option<CoreBPE>> = OnceLock::new();
    ENCODER.get_or_init(|| tiktoken_rs::o200k_base().ok()).as_ref()
}

/// Counts the tokens of a text.
pub fn count_text_tokens(text: &str) -> u64 {
    match encoder() {
        Some(bpe) => bpe.encode_ordinary(text).len() as u64,
        None => (text.len() as u64).div_ceil(4),
    }
}

/// Cost in micro-units of the price's currency, for a user of `group`.
///
/// Rounding rule: each token kind is multiplied by its price (micro-units per 1M tokens) in
/// 128-bit integers, the products are summed, multiplied by the group's multiplier (parts per
/// million) and divided by 10^12 rounding *up*; the per-request price is added after the same
/// multiplier. A request is never billed below its true cost, and at most one micro-unit above.
/// When the input exceeds a long-context tier's threshold, that tier's prices apply to the whole
/// request (as Gemini and Anthropic price long prompts).
pub fn cost_micros(usage: &Usage, price: &ModelPrice, group: &str) -> u64 {
    let tier = price.tiers.iter().rev().find(|t| usage.input_tokens > t.above_input_tokens);
    let (input, output, cached_input, cache_write) = match tier {
        Some(t) => (t.input, t.output, t.cached_input, t.cache_write),
        None => (price.input, price.output, price.cached_input, price.cache_write),
    };
    let cached = usage.cached_input_tokens.min(usage.input_tokens);
    let written = usage.cache_write_tokens.min(usage.input_tokens - cached);
    let plain_input = usage.input_tokens - cached - written;
    let reasoning = usage.reasoning_tokens.min(usage.output_tokens);
    let plain_output = usage.output_tokens - reasoning;
    let per_million = u128::from(plain_input) * u128::from(input)
        + u128::from(cached) * u128::from(cached_input.unwrap_or(input))
        + u128::from(written) * u128::from(cache_write.unwrap_or(input))
        + u128::from(plain_output) * u128::from(output)
        + u128::from(reasoning) * u128::from(price.reasoning.unwrap_or(output))
        + u128::from(price.per_request) * 1_000_000;
    let multiplied = per_million * u128::from(price.multiplier_ppm(group));
    u64::try_from(multiplied.div_ceil(1_000_000_000_000)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oblivious_config::PriceTier;

    fn price() -> ModelPrice {
        ModelPrice {
            model: "m".into(),
            currency: "USD".into(),
            input: 2_500_000,
            output: 10_000_000,
            cached_input: Some(1_250_000),
            ..ModelPrice::default()
        }
    }

    #[test]
    fn cached_tokens_are_priced_at_the_cached_rate_and_rounding_goes_up() {
        // 1000 input of which 400 cached, 100 output:
        // 600 * 2.5 + 400 * 1.25 + 100 * 10 = 1500 + 500 + 1000 = 3000 micro-units exactly.
        let usage = Usage { input_tokens: 1000, cached_input_tokens: 400, output_tokens: 100, ..Usage::default() };
        assert_eq!(cost_micros(&usage, &price(), "default"), 3000);
        // One input token costs 2.5 micro-units: billed as 3, never 2.
        let one = Usage { input_tokens: 1, ..Usage::default() };
        assert_eq!(cost_micros(&one, &price(), "default"), 3);
    }

    #[test]
    fn cache_writes_default_to_the_input_price() {
        let usage = Usage { input_tokens: 100, cache_write_tokens: 100, ..Usage::default() };
        assert_eq!(cost_micros(&usage, &price(), "default"), 250);
    }

    #[test]
    fn group_multipliers_tiers_reasoning_and_per_request_prices_apply() {
        let mut price = price();
        price.group_multipliers_ppm.insert("vip".into(), 500_000);
        price.reasoning = Some(20_000_000);
        price.per_request = 1_000;
        price.tiers =
            vec![PriceTier { above_input_tokens: 1000, input: 5_000_000, output: 20_000_000, ..PriceTier::default() }];
        // 100 input * 2.5 + 40 plain output * 10 + 60 reasoning * 20 = 250 + 400 + 1200, + 1000 per request.
        let usage = Usage { input_tokens: 100, output_tokens: 100, reasoning_tokens: 60, ..Usage::default() };
        assert_eq!(cost_micros(&usage, &price, "default"), 2850);
        assert_eq!(cost_micros(&usage, &price, "vip"), 1425);
        // Above 1000 input tokens the tier's prices apply to everything.
        let long = Usage { input_tokens: 2000, output_tokens: 10, ..Usage::default() };
        assert_eq!(cost_micros(&long, &price, "default"), 2000 * 5 + 10 * 20 + 1000);
    }
}

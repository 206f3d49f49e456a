//! What is billed by the unit rather than by the token: images, seconds of input audio,
//! characters of speech, rerank searches (`ModelPrice::per_image`, `image_prices`,
//! `per_audio_second`, `per_thousand_characters`, `per_search`).
//!
//! Rounding rule, like tokens': the quantities are priced in thousandths of a micro-unit (so a
//! millisecond of audio and a single character stay exact), summed, multiplied by the group's
//! multiplier and rounded *up* to a micro-unit. A request billed for tokens and units (an image
//! model reporting tokens) pays both, each rounded up: at most two micro-units above the truth.

use oblivious_config::{ModelPrice, Snapshot};
use oblivious_runtime::usage::cost_micros;

use crate::ir::Usage;
use crate::request_log::RequestRecord;

/// Billable quantities other than tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Units {
    pub images: u64,
    /// The size the images were made at, which may select an image price.
    pub image_size: Option<String>,
    /// The quality the images were made at, likewise.
    pub image_quality: Option<String>,
    /// Milliseconds of input audio.
    pub audio_ms: u64,
    /// Characters of text turned into speech.
    pub characters: u64,
    /// Search units (one rerank query over up to 100 documents).
    pub searches: u64,
}

impl Units {
    pub fn is_empty(&self) -> bool {
        self.images == 0 && self.audio_ms == 0 && self.characters == 0 && self.searches == 0
    }
}

/// Cost in micro-units of `units` for a user of `group` (the rounding rule above).
pub fn units_cost_micros(units: &Units, price: &ModelPrice, group: &str) -> u64 {
    if units.is_empty() {
        return 0;
    }
    let per_image = price.image_price(units.image_size.as_deref(), units.image_quality.as_deref());
    let milli = u128::from(units.images) * u128::from(per_image) * 1000
        + u128::from(units.audio_ms) * u128::from(price.per_audio_second)
        + u128::from(units.characters) * u128::from(price.per_thousand_characters)
        + u128::from(units.searches) * u128::from(price.per_search) * 1000;
    let multiplied = milli * u128::from(price.multiplier_ppm(group));
    u64::try_from(multiplied.div_ceil(1_000_000_000)).unwrap_or(u64::MAX)
}

/// Cost of a request that used `usage` tokens and `units`.
pub fn cost_of(usage: &Usage, units: &Units, price: &ModelPrice, group: &str) -> u64 {
    cost_micros(usage, price, group).saturating_add(units_cost_micros(units, price, group))
}

/// Adds the cost of `units` to a record whose token usage is already set (and priced by
/// `RecordGuard::set_usage`): the record's cost is what the request is charged.
pub fn charge_units(record: &mut RequestRecord, units: &Units, snapshot: &Snapshot) {
    let Some(price) = snapshot.price(&record.model, record.created_at_ms) else { return };
    let cost = units_cost_micros(units, price, &record.group);
    if cost > 0 {
        record.cost_micros = record.cost_micros.saturating_add(cost);
        record.currency = Some(price.currency.clone());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use oblivious_config::ImagePrice;

    use super::*;

    fn price() -> ModelPrice {
        ModelPrice {
            model: "m".into(),
            currency: "USD".into(),
            per_image: 40_000,
            image_prices: vec![ImagePrice { size: None, quality: Some("hd".into()), per_image: 80_000 }],
            per_audio_second: 100,
            per_thousand_characters: 15_000,
            per_search: 2_000,
            ..ModelPrice::default()
        }
    }

    #[test]
    fn images_are_priced_by_their_quality_and_size() {
        let units = |quality: &str| Units { images: 2, image_quality: Some(quality.into()), ..Units::default() };
        assert_eq!(units_cost_micros(&units("standard"), &price(), "default"), 80_000);
        assert_eq!(units_cost_micros(&units("hd"), &price(), "default"), 160_000);
    }

    #[test]
    fn audio_is_charged_by_the_millisecond_and_speech_by_the_character_rounding_up() {
        // 12.345 s at 100 micro-units per second = 1234.5 -> 1235.
        let audio = Units { audio_ms: 12_345, ..Units::default() };
        assert_eq!(units_cost_micros(&audio, &price(), "default"), 1_235);
        // 7 characters at 15,000 per thousand = 105 exactly; one character = 15.
        let speech = Units { characters: 7, ..Units::default() };
        assert_eq!(units_cost_micros(&speech, &price(), "default"), 105);
        let one = Units { characters: 1, ..Units::default() };
        assert_eq!(units_cost_micros(&one, &price(), "default"), 15);
    }

    #[test]
    fn group_multipliers_apply_to_units_and_tokens_and_units_add_up() {
        let mut price = price();
        price.group_multipliers_ppm.insert("vip".into(), 500_000);
        price.input = 1_000_000;
        let units = Units { searches: 3, ..Units::default() };
        assert_eq!(units_cost_micros(&units, &price, "vip"), 3_000);
        let usage = Usage { input_tokens: 1_000, ..Usage::default() };
        assert_eq!(cost_of(&usage, &units, &price, "default"), 1_000 + 6_000);
        assert_eq!(units_cost_micros(&Units::default(), &price, "default"), 0);
    }
}

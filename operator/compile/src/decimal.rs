/// Parses a non-negative decimal string (`"2.50"`) into integer micro-units (`2_500_000`).
/// More than six decimal places would need rounding, so they are refused rather than guessed.
pub fn parse_price_micros(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let dangling_point = text.ends_with('.');
    if dangling_point || !digits(whole) || !(fraction.is_empty() || digits(fraction)) {
        return Err(format!("`{text}` is not a non-negative decimal number"));
    }
    if fraction.len() > 6 {
        return Err(format!("`{text}` has more than 6 decimal places"));
    }
    let whole: u64 = whole.parse().map_err(|_| format!("`{text}` is too large"))?;
    let fraction_micros: u64 = format!("{fraction:0<6}").parse().map_err(|_| format!("`{text}` is invalid"))?;
    whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(fraction_micros))
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_prices_become_exact_micro_units() {
        assert_eq!(parse_price_micros("2.50"), Ok(2_500_000));
        assert_eq!(parse_price_micros("0.075"), Ok(75_000));
        assert_eq!(parse_price_micros("10"), Ok(10_000_000));
        assert_eq!(parse_price_micros("0.000001"), Ok(1));
    }

    #[test]
    fn negative_float_like_and_over_precise_prices_are_refused() {
        for bad in ["-1", "1e3", "0.0000001", "", ".5", "1.", "abc"] {
            assert!(parse_price_micros(bad).is_err(), "{bad} accepted");
        }
    }
}

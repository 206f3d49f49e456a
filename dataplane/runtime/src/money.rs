//! Money in JSON: decimal strings (`"12.50"`, `"-3"`) <-> integer micro-units.

/// Parses a signed decimal with at most six decimal places into micro-units.
pub fn parse_decimal_micros(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !(fraction.is_empty() || all_digits(fraction)) || digits.ends_with('.') {
        return Err(format!("`{text}` is not a decimal number such as \"12.50\""));
    }
    if fraction.len() > 6 {
        return Err(format!("`{text}` has more than 6 decimal places"));
    }
    let whole: i64 = whole.parse().map_err(|_| format!("`{text}` is too large"))?;
    let fraction: i64 = format!("{fraction:0<6}").parse().map_err(|_| format!("`{text}` is invalid"))?;
    let micros = whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(|| format!("`{text}` is too large"))?;
    Ok(if negative { -micros } else { micros })
}

/// Micro-units as a decimal string with at least two decimals (`12500000` -> `"12.50"`).
pub fn format_micros(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let fraction = format!("{:06}", abs % 1_000_000);
    let trimmed = fraction.trim_end_matches('0');
    let fraction = if trimmed.len() < 2 { &fraction[..2] } else { trimmed };
    format!("{sign}{}.{fraction}", abs / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_trip_exactly() {
        assert_eq!(parse_decimal_micros("12.50"), Ok(12_500_000));
        assert_eq!(parse_decimal_micros("-0.000001"), Ok(-1));
        assert_eq!(format_micros(12_500_000), "12.50");
        assert_eq!(format_micros(-1), "-0.000001");
        assert_eq!(format_micros(0), "0.00");
        assert_eq!(format_micros(1_234_567), "1.234567");
        for bad in ["", "1e3", "1.", ".5", "1.0000001", "abc"] {
            assert!(parse_decimal_micros(bad).is_err(), "{bad}");
        }
    }
}

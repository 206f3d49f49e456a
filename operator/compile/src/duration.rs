/// Parses a Go-style duration with one unit (`250ms`, `5s`, `2m`, `1h`) into milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split =
        text.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| format!("`{text}` has no unit (use ms, s, m or h)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("`{text}` does not start with a whole number"))?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("`{text}` has unknown unit `{unit}` (use ms, s, m or h)")),
    };
    number.checked_mul(factor).ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_with_each_unit_parse_and_garbage_is_refused() {
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("5s"), Ok(5_000));
        assert_eq!(parse_duration_ms("2m"), Ok(120_000));
        assert!(parse_duration_ms("5").is_err());
        assert!(parse_duration_ms("1.5s").is_err());
        assert!(parse_duration_ms("s").is_err());
    }
}

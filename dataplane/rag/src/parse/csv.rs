//! CSV and TSV: each row becomes a line of `header: value` pairs, so a chunk of rows still says
//! what each value is. Quoted fields (with doubled quotes and embedded separators or newlines)
//! follow RFC 4180.

use crate::chunk::Section;

pub fn parse(text: &str, separator: char) -> Vec<Section> {
    let mut rows = records(text, separator).into_iter();
    let Some(header) = rows.next() else { return Vec::new() };
    let lines: Vec<String> = rows
        .filter(|row| row.iter().any(|v| !v.trim().is_empty()))
        .map(|row| {
            row.iter()
                .enumerate()
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(i, v)| match header.get(i).filter(|h| !h.trim().is_empty()) {
                    Some(name) => format!("{}: {}", name.trim(), v.trim()),
                    None => v.trim().to_string(),
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .collect();
    // Rows are paragraphs: the chunker packs whole rows.
    vec![Section { headings: Vec::new(), page: None, text: lines.join("\n\n") }]
}

fn records(text: &str, separator: char) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, c) if c == separator => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn rows_name_their_columns_and_quotes_follow_rfc_4180() {
        let text = "city,note\r\nParis,\"big, old\"\r\n\r\nOslo,\"says \"\"hei\"\"\nhere\"\r\n";
        let sections = parse(text, ',');
        assert_eq!(sections[0].text, "city: Paris; note: big, old\n\ncity: Oslo; note: says \"hei\"\nhere");
        assert_eq!(parse("a\tb\n1\t2\n", '\t')[0].text, "a: 1; b: 2");
        assert!(parse("", ',').is_empty());
    }
}

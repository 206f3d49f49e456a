//! HTML: text without tags, scripts or styles; `<h1>`..`<h6>` open sections like Markdown
//! headings; block elements end paragraphs; common entities decoded. Deliberately small: pages
//! are documents here, not applications.

use crate::chunk::Section;

/// Elements whose content is never text.
const SKIPPED: &[&str] = &["script", "style", "noscript", "template", "svg", "head"];
/// Elements that end a paragraph.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "blockquote",
    "pre",
    "hr",
    "dd",
    "dt",
];

pub fn parse(html: &str) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut text = String::new();
    let mut heading_text: Option<(usize, String)> = None;
    let mut skipping: Option<String> = None;
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let (before, after) = rest.split_at(open);
        if skipping.is_none() {
            let decoded = decode_entities(before);
            match &mut heading_text {
                Some((_, h)) => h.push_str(&decoded),
                None => text.push_str(&decoded),
            }
        }
        let Some(close) = after.find('>') else { break };
        let tag = &after[1..close];
        rest = &after[close + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        let name = name.to_ascii_lowercase();
        if let Some(skipped) = &skipping {
            if closing && *skipped == name {
                skipping = None;
            }
            continue;
        }
        if !closing && SKIPPED.contains(&name.as_str()) && !tag.ends_with('/') {
            skipping = Some(name);
            continue;
        }
        let level = heading_level(&name);
        match (level, closing) {
            (Some(level), false) => heading_text = Some((level, String::new())),
            (Some(_), true) => {
                if let Some((level, title)) = heading_text.take() {
                    flush(&mut text, &headings, &mut sections);
                    headings.retain(|(l, _)| *l < level);
                    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !title.is_empty() {
                        headings.push((level, title));
                    }
                }
            }
            (None, _) if BLOCKS.contains(&name.as_str()) => text.push_str("\n\n"),
            _ => {}
        }
    }
    if skipping.is_none() {
        text.push_str(&decode_entities(rest));
    }
    flush(&mut text, &headings, &mut sections);
    sections
}

fn heading_level(name: &str) -> Option<usize> {
    match name.as_bytes() {
        [b'h', digit @ b'1'..=b'6'] => Some((digit - b'0') as usize),
        _ => None,
    }
}

fn flush(text: &mut String, headings: &[(usize, String)], sections: &mut Vec<Section>) {
    // Collapse the whitespace of each paragraph; paragraphs stay apart.
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect();
    if !paragraphs.is_empty() {
        let path = headings.iter().map(|(_, h)| h.clone()).collect();
        sections.push(Section { headings: path, page: None, text: paragraphs.join("\n\n") });
    }
    text.clear();
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let decoded = candidate.find(';').filter(|end| *end <= 10).and_then(|end| {
            let entity = &candidate[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &candidate[end + 1..];
            }
            None => {
                out.push('&');
                rest = &candidate[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn text_without_scripts_in_sections_by_heading() {
        let html = "<html><head><title>T</title><style>p{}</style></head><body><p>Before</p>\
                    <h1>Guide</h1><p>Fish &amp; chips &#x263A; &lt;3</p><script>alert('x')</script>\
                    <h2>Step <b>one</b></h2><ul><li>a</li><li>b</li></ul></body></html>";
        let sections = parse(html);
        assert_eq!(sections[0].text, "Before");
        assert_eq!(
            (sections[1].headings.clone(), sections[1].text.as_str()),
            (vec!["Guide".to_string()], "Fish & chips \u{263A} <3")
        );
        assert_eq!(sections[2].headings, ["Guide", "Step one"]);
        assert_eq!(sections[2].text, "a\n\nb");
        assert!(sections.iter().all(|s| !s.text.contains("alert") && !s.text.contains("p{}")));
    }
}

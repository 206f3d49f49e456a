//! Markdown: ATX headings (`#` .. `######`) open sections and set the heading path; fenced code
//! blocks are kept whole and their `#` lines are not headings.

use crate::chunk::Section;

pub fn parse(text: &str) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut fence: Option<&str> = None;
    let flush = |current: &mut String, headings: &[(usize, String)], sections: &mut Vec<Section>| {
        if !current.trim().is_empty() {
            let path = headings.iter().map(|(_, h)| h.clone()).collect();
            sections.push(Section { headings: path, page: None, text: std::mem::take(current).trim().to_string() });
        }
        current.clear();
    };
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            }
        } else if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
        } else if let Some((level, title)) = heading(trimmed) {
            flush(&mut current, &headings, &mut sections);
            headings.retain(|(l, _)| *l < level);
            headings.push((level, title));
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    flush(&mut current, &headings, &mut sections);
    sections
}

/// `## Title ##` -> (2, "Title").
fn heading(line: &str) -> Option<(usize, String)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    let title = rest.trim().trim_end_matches('#').trim();
    (!title.is_empty()).then(|| (level, title.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn headings_nest_and_code_fences_are_not_headings() {
        let text =
            "Preface.\n# Guide\nIntro.\n## Install\nRun it.\n```sh\n# not a heading\n```\n# FAQ #\nAsk.\n#hashtag\n";
        let sections = parse(text);
        let paths: Vec<Vec<String>> = sections.iter().map(|s| s.headings.clone()).collect();
        assert_eq!(
            paths,
            vec![vec![], vec!["Guide".to_string()], vec!["Guide".into(), "Install".into()], vec!["FAQ".into()]]
        );
        assert!(sections[2].text.contains("# not a heading"));
        assert!(sections[3].text.contains("#hashtag"), "no space, no heading");
    }
}

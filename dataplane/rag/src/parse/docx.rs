//! DOCX: the text of `word/document.xml`. Paragraphs (`w:p`) stay paragraphs; a paragraph in a
//! heading style (`Heading1`..`Heading9`, `Title`) opens a section and sets the heading path like
//! a Markdown heading; a table row becomes one line with its cells separated by ` | `. Headers,
//! footers, footnotes and comments live in other parts and are left out.
//!
//! Elements are matched by local name, so any namespace prefix works. Style ids are localized
//! (`berschrift1` in a German Word), so `word/styles.xml` maps them through their names, which
//! Word stores in English (`heading 1`).

use std::collections::HashMap;
use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;
use zip::result::ZipError;

use super::ParseError;
use crate::chunk::Section;

/// The most a part may inflate to: a zip bomb stops here instead of filling memory.
const MAX_PART_BYTES: u64 = 64 << 20;

/// Sections by heading, from `word/document.xml`.
pub fn parse(bytes: &[u8]) -> Result<Vec<Section>, ParseError> {
    parse_within(bytes, MAX_PART_BYTES)
}

fn parse_within(bytes: &[u8], limit: u64) -> Result<Vec<Section>, ParseError> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| damaged(&e))?;
    let document = read_part(&mut archive, "word/document.xml", limit)?
        .ok_or_else(|| ParseError("the DOCX has no word/document.xml".into()))?;
    let styles = match read_part(&mut archive, "word/styles.xml", limit)? {
        Some(xml) => heading_styles(&xml)?,
        None => HashMap::new(),
    };
    body(&document, &styles)
}

/// The part's bytes, `None` when the archive has no such part.
fn read_part(archive: &mut ZipArchive<Cursor<&[u8]>>, name: &str, limit: u64) -> Result<Option<Vec<u8>>, ParseError> {
    let part = match archive.by_name(name) {
        Ok(part) => part,
        Err(ZipError::FileNotFound) => return Ok(None),
        Err(error) => return Err(damaged(&error)),
    };
    // The declared size may lie: read one byte past the limit to know it was crossed.
    let mut out = Vec::new();
    part.take(limit + 1).read_to_end(&mut out).map_err(|e| damaged(&e))?;
    if out.len() as u64 > limit {
        return Err(ParseError(format!("the DOCX's {name} is larger than {} MiB uncompressed", limit >> 20)));
    }
    Ok(Some(out))
}

/// Heading level by paragraph style id: `Title` is 0, `heading N` is N.
fn heading_styles(xml: &[u8]) -> Result<HashMap<String, usize>, ParseError> {
    let mut styles = HashMap::new();
    let mut reader = Reader::from_reader(xml);
    let mut style_id = None;
    loop {
        match reader.read_event().map_err(|e| damaged(&e))? {
            Event::Start(e) if e.local_name().as_ref() == b"style" => style_id = attribute(&e, b"styleId"),
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"name" => {
                if let (Some(id), Some(level)) = (&style_id, attribute(&e, b"val").and_then(|n| heading_level(&n))) {
                    styles.insert(id.clone(), level);
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"style" => style_id = None,
            Event::Eof => return Ok(styles),
            _ => {}
        }
    }
}

/// `Heading3` / `heading 3` -> 3, `Title` -> 0.
fn heading_level(style: &str) -> Option<usize> {
    let style = style.to_ascii_lowercase();
    if style == "title" {
        return Some(0);
    }
    let level: usize = style.strip_prefix("heading")?.trim_start().parse().ok()?;
    (1..=9).contains(&level).then_some(level)
}

fn attribute(element: &BytesStart, local_name: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local_name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

fn damaged(error: &dyn std::fmt::Display) -> ParseError {
    ParseError(format!("the DOCX is damaged: {error}"))
}

/// One table being read; tables nest (a table inside a cell).
#[derive(Default)]
struct Table {
    rows: Vec<String>,
    cells: Vec<String>,
    cell: Vec<String>,
}

/// Walks `document.xml`, building sections.
#[derive(Default)]
struct Body {
    sections: Vec<Section>,
    headings: Vec<(usize, String)>,
    /// The current section's paragraphs.
    paragraphs: Vec<String>,
    /// Open paragraphs (a text box nests one inside another): text and heading level.
    open: Vec<(String, Option<usize>)>,
    tables: Vec<Table>,
}

fn body(xml: &[u8], styles: &HashMap<String, usize>) -> Result<Vec<Section>, ParseError> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().expand_empty_elements = true;
    let mut body = Body::default();
    // Local names of the open elements.
    let mut path: Vec<Vec<u8>> = Vec::new();
    // Inside `mc:Fallback`, the older rendering of content already read from `mc:Choice`.
    let mut fallback_depth: Option<usize> = None;
    loop {
        let event = reader.read_event().map_err(|e| damaged(&e))?;
        if let Event::End(_) = event {
            let name = path.pop().unwrap_or_default();
            if fallback_depth == Some(path.len()) {
                fallback_depth = None;
            } else if fallback_depth.is_none() {
                body.end(&name);
            }
            continue;
        }
        if fallback_depth.is_some() {
            if let Event::Start(e) = event {
                path.push(e.local_name().as_ref().to_vec());
            }
            continue;
        }
        let in_text = path.last().is_some_and(|n| n == b"t");
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_vec();
                let parent = path.last().map(Vec::as_slice);
                match (name.as_slice(), parent) {
                    (b"Fallback", _) => fallback_depth = Some(path.len()),
                    (b"p", _) => body.open.push((String::new(), None)),
                    (b"pStyle", _) => {
                        let level = attribute(&e, b"val")
                            .and_then(|id| styles.get(&id).copied().or_else(|| heading_level(&id)));
                        if let Some(paragraph) = body.open.last_mut() {
                            paragraph.1 = level;
                        }
                    }
                    (b"tab", Some(b"r")) => body.push_text("\t"),
                    (b"br" | b"cr", Some(b"r")) => body.push_text("\n"),
                    (b"tbl", _) => body.tables.push(Table::default()),
                    _ => {}
                }
                path.push(name);
            }
            Event::Text(e) if in_text => body.push_text(&e.xml10_content().map_err(|e| damaged(&e))?),
            Event::CData(e) if in_text => body.push_text(&e.decode().map_err(|e| damaged(&e))?),
            Event::GeneralRef(e) if in_text => {
                let name = e.decode().map_err(|e| damaged(&e))?;
                match e.resolve_char_ref().map_err(|e| damaged(&e))? {
                    Some(c) => body.push_text(c.encode_utf8(&mut [0; 4])),
                    None => body.push_text(resolve_predefined_entity(&name).unwrap_or_default()),
                }
            }
            Event::Eof => return Ok(body.finish()),
            _ => {}
        }
    }
}

impl Body {
    fn push_text(&mut self, text: &str) {
        if let Some((paragraph, _)) = self.open.last_mut() {
            paragraph.push_str(text);
        }
    }

    fn end(&mut self, name: &[u8]) {
        match name {
            b"p" => {
                if let Some((text, level)) = self.open.pop() {
                    self.paragraph(text.trim(), level);
                }
            }
            b"tc" => {
                if let Some(table) = self.tables.last_mut() {
                    let cell = std::mem::take(&mut table.cell).join(" ");
                    table.cells.push(cell);
                }
            }
            b"tr" => {
                if let Some(table) = self.tables.last_mut() {
                    let cells = std::mem::take(&mut table.cells);
                    if cells.iter().any(|c| !c.is_empty()) {
                        table.rows.push(cells.join(" | "));
                    }
                }
            }
            b"tbl" => {
                if let Some(table) = self.tables.pop() {
                    let text = table.rows.join("\n");
                    match self.tables.last_mut() {
                        // A nested table's rows stay inside the outer cell, on one line.
                        Some(outer) => outer.cell.push(text.replace('\n', "; ")),
                        None if !text.is_empty() => self.paragraphs.push(text),
                        None => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn paragraph(&mut self, text: &str, level: Option<usize>) {
        if text.is_empty() {
            return;
        }
        if let Some(table) = self.tables.last_mut() {
            // A row is one line: a cell's paragraphs (and line breaks) join with spaces.
            table.cell.push(text.split_whitespace().collect::<Vec<_>>().join(" "));
            return;
        }
        match level {
            Some(level) if self.open.is_empty() => {
                self.flush();
                self.headings.retain(|(l, _)| *l < level);
                self.headings.push((level, text.split_whitespace().collect::<Vec<_>>().join(" ")));
            }
            _ => self.paragraphs.push(text.to_string()),
        }
    }

    fn flush(&mut self) {
        if !self.paragraphs.is_empty() {
            let headings = self.headings.iter().map(|(_, h)| h.clone()).collect();
            let text = std::mem::take(&mut self.paragraphs).join("\n\n");
            self.sections.push(Section { headings, page: None, text });
        }
    }

    fn finish(mut self) -> Vec<Section> {
        self.flush();
        self.sections
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Write;

    use zip::write::{SimpleFileOptions, ZipWriter};

    use super::*;

    const W: &str = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"";

    /// A DOCX laid out like Word's: content types, package relationships, then the parts.
    fn docx(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in
            [("[Content_Types].xml", "<Types/>"), ("_rels/.rels", "<Relationships/>")].iter().chain(parts)
        {
            zip.start_file(*name, options).unwrap();
            zip.write_all(content.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn document(body: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:document {W}><w:body>{body}</w:body></w:document>"
        )
    }

    fn p(style: Option<&str>, runs: &str) -> String {
        let style = style.map(|s| format!("<w:pPr><w:pStyle w:val=\"{s}\"/></w:pPr>")).unwrap_or_default();
        format!("<w:p>{style}{runs}</w:p>")
    }

    fn r(text: &str) -> String {
        format!("<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r>")
    }

    #[test]
    fn heading_styles_set_the_path_and_paragraphs_keep_their_text() {
        let body = [
            p(None, &r("Preface.")),
            p(Some("Title"), &r("Handbook")),
            p(Some("Heading1"), &r("Setup")),
            p(None, &format!("{}{}", r("Fish &amp; chips"), r(" &#x263A; &lt;3"))),
            p(None, "<w:r><w:t>a</w:t><w:tab/><w:t>b</w:t><w:br/><w:t>c</w:t><w:delText>gone</w:delText></w:r>"),
            p(Some("Heading2"), &r("Linux")),
            p(None, &r("Run it.")),
            p(Some("Heading1"), &r("FAQ")),
            p(None, &r("Ask.")),
        ]
        .concat();
        let sections = parse(&docx(&[("word/document.xml", &document(&body))])).unwrap();
        let paths: Vec<Vec<String>> = sections.iter().map(|s| s.headings.clone()).collect();
        assert_eq!(
            paths,
            [
                vec![],
                vec!["Handbook".to_string(), "Setup".into()],
                vec!["Handbook".into(), "Setup".into(), "Linux".into()],
                vec!["Handbook".into(), "FAQ".into()]
            ]
        );
        assert_eq!(sections[0].text, "Preface.");
        assert_eq!(sections[1].text, "Fish & chips \u{263A} <3\n\na\tb\nc");
        assert_eq!(sections[3].text, "Ask.");
        assert!(sections.iter().all(|s| s.page.is_none()));
    }

    #[test]
    fn a_docx_is_sniffed_as_one_and_parsed_by_that_type() {
        let bytes = docx(&[("word/document.xml", &document(&p(None, &r("Hello"))))]);
        let sniffed = oblivious_files::sniff(&bytes, "upload.bin").unwrap();
        let sections = crate::parse::parse(sniffed.media_type, &bytes).unwrap();
        assert_eq!(sections[0].text, "Hello");
    }

    #[test]
    fn localized_heading_style_ids_are_found_through_styles_xml() {
        let styles = format!(
            "<w:styles {W}><w:style w:type=\"paragraph\" w:styleId=\"berschrift1\"><w:name w:val=\"heading 1\"/></w:style>\
             <w:style w:type=\"paragraph\" w:styleId=\"Standard\"><w:name w:val=\"Normal\"/></w:style></w:styles>"
        );
        let body = [p(Some("berschrift1"), &r("Einleitung")), p(Some("Standard"), &r("Hallo."))].concat();
        let sections = parse(&docx(&[("word/document.xml", &document(&body)), ("word/styles.xml", &styles)])).unwrap();
        assert_eq!(sections, [Section { headings: vec!["Einleitung".into()], page: None, text: "Hallo.".into() }]);
    }

    #[test]
    fn table_rows_are_lines_with_cells_separated_by_bars() {
        let cell = |text: &str| format!("<w:tc><w:tcPr/>{}</w:tc>", p(None, &r(text)));
        let row = |cells: &[&str]| format!("<w:tr>{}</w:tr>", cells.iter().map(|c| cell(c)).collect::<String>());
        let nested = format!("<w:tc><w:tbl>{}{}</w:tbl></w:tc>", row(&["x", "1"]), row(&["y", "2"]));
        let body = [
            p(None, &r("Prices:")),
            format!(
                "<w:tbl><w:tblPr/>{}{}<w:tr>{}{nested}</w:tr><w:tr><w:tc>{}{}</w:tc></w:tr></w:tbl>",
                row(&["Item", "Price"]),
                row(&["Tea", "2 EUR"]),
                cell("Sub"),
                p(Some("Heading1"), &r("Not a heading")),
                p(None, &r("two paragraphs")),
            ),
            p(None, &r("After.")),
        ]
        .concat();
        let sections = parse(&docx(&[("word/document.xml", &document(&body))])).unwrap();
        assert_eq!(sections.len(), 1);
        assert_eq!(
            sections[0].text,
            "Prices:\n\nItem | Price\nTea | 2 EUR\nSub | x | 1; y | 2\nNot a heading two paragraphs\n\nAfter."
        );
    }

    #[test]
    fn fallback_renderings_are_not_read_twice() {
        let text_box = |text: &str| format!("<w:txbxContent>{}</w:txbxContent>", p(None, &r(text)));
        let runs = format!(
            "{}<w:r><mc:AlternateContent><mc:Choice>{}</mc:Choice><mc:Fallback>{}</mc:Fallback></mc:AlternateContent></w:r>",
            r("Outer"),
            text_box("Boxed"),
            text_box("Boxed"),
        );
        let sections = parse(&docx(&[("word/document.xml", &document(&p(None, &runs)))])).unwrap();
        assert_eq!(sections[0].text, "Boxed\n\nOuter");
    }

    #[test]
    fn a_zip_without_document_xml_or_a_damaged_one_fails_clearly() {
        let reason = parse(&docx(&[("word/other.xml", "<x/>")])).unwrap_err().0;
        assert_eq!(reason, "the DOCX has no word/document.xml");
        let reason = parse(b"PK\x03\x04 not really a zip").unwrap_err().0;
        assert!(reason.starts_with("the DOCX is damaged"), "{reason}");
        let reason = parse(&docx(&[("word/document.xml", "<w:document><w:body></w:document>")])).unwrap_err().0;
        assert!(reason.starts_with("the DOCX is damaged"), "{reason}");
    }

    #[test]
    fn a_part_inflating_past_the_limit_is_refused() {
        let big = document(&p(None, &r(&"spam ".repeat(1 << 20))));
        let bytes = docx(&[("word/document.xml", &big)]);
        assert!(bytes.len() < 64 << 10, "it compresses well, like a zip bomb");
        let reason = parse_within(&bytes, 4 << 20).unwrap_err().0;
        assert_eq!(reason, "the DOCX's word/document.xml is larger than 4 MiB uncompressed");
        assert!(parse_within(&bytes, 8 << 20).is_ok());
    }
}

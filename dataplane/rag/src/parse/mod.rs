//! Parsers: a file's bytes (its type already sniffed) -> sections of text with their heading path
//! and page. One module per format; formats without structure give one section. Parsing is
//! CPU-bound (a PDF can take seconds): async callers run it on a blocking thread.

mod csv;
mod docx;
mod html;
mod markdown;
mod pdf;

use crate::chunk::Section;

/// Why a file could not be parsed; shown on the file as its failure reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// Parses `bytes` of `media_type` into sections.
pub fn parse(media_type: &str, bytes: &[u8]) -> Result<Vec<Section>, ParseError> {
    let text = || std::str::from_utf8(bytes).map_err(|_| ParseError(format!("a {media_type} file must be UTF-8 text")));
    let sections = match media_type {
        "text/markdown" => markdown::parse(text()?),
        "text/html" => html::parse(text()?),
        "text/csv" => csv::parse(text()?, ','),
        "text/tab-separated-values" => csv::parse(text()?, '\t'),
        // Source code stays one section: its blank-line blocks are the chunker's paragraphs,
        // packed whole and cut at line ends; a section per definition would stop small ones
        // from being packed together.
        "text/plain" | "text/x-source" | "application/json" => {
            vec![Section { text: text()?.to_string(), ..Section::default() }]
        }
        "application/pdf" => pdf::parse(bytes)?,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => docx::parse(bytes)?,
        other => return Err(ParseError(format!("files of type {other} cannot be indexed yet"))),
    };
    let sections: Vec<Section> = sections.into_iter().filter(|s| !s.text.trim().is_empty()).collect();
    if sections.is_empty() {
        return Err(ParseError("the file has no text to index".into()));
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn plain_text_is_one_section_and_empty_or_unknown_files_fail_with_a_reason() {
        let sections = parse("text/plain", b"hello\n\nworld").unwrap();
        assert_eq!(sections, [Section { text: "hello\n\nworld".into(), ..Section::default() }]);
        assert_eq!(parse("text/plain", b"  \n").unwrap_err().0, "the file has no text to index");
        assert!(parse("image/png", b"\x89PNG").unwrap_err().0.contains("cannot be indexed"));
        assert!(parse("text/markdown", b"\xff\xfe").unwrap_err().0.contains("UTF-8"));
    }
}

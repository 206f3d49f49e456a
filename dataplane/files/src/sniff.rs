//! A file's type from its bytes, never from its name or the client's `Content-Type` (a `.pdf`
//! that is really an executable is refused). Binary formats are recognised by their magic bytes;
//! anything else must be UTF-8 text, whose flavour (Markdown, CSV, HTML, JSON, source code) the
//! name may refine, since text carries no marker of its own.

/// What a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    pub media_type: &'static str,
}

impl Sniffed {
    pub fn is_image(&self) -> bool {
        self.media_type.starts_with("image/")
    }
}

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// Binary types we accept: images for vision models, and the document formats ingestion parses.
const ACCEPTED_BINARY: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", DOCX];

/// Text flavours by file extension.
const TEXT_BY_EXTENSION: &[(&[&str], &str)] = &[
    (&["md", "markdown", "mdx"], "text/markdown"),
    (&["csv"], "text/csv"),
    (&["tsv"], "text/tab-separated-values"),
    (&["html", "htm"], "text/html"),
    (&["json"], "application/json"),
    (
        &[
            "rs", "py", "js", "ts", "tsx", "jsx", "go", "java", "kt", "c", "h", "cc", "cpp", "hpp", "cs", "rb", "php",
            "swift", "scala", "sh", "sql", "yaml", "yml", "toml", "xml", "css", "lua", "r", "dart",
        ],
        "text/x-source",
    ),
];

/// The type of `bytes` (named `name`), or the reason it is refused.
pub fn sniff(bytes: &[u8], name: &str) -> Result<Sniffed, String> {
    // infer's text matchers (HTML, XML, shell scripts) are the text path's to decide.
    if let Some(kind) = infer::get(bytes).filter(|k| k.matcher_type() != infer::MatcherType::Text) {
        if kind.mime_type() == "application/zip" && lists_word_document(bytes) {
            return Ok(Sniffed { media_type: DOCX });
        }
        return match ACCEPTED_BINARY.iter().find(|t| **t == kind.mime_type()) {
            Some(media_type) => Ok(Sniffed { media_type }),
            None => Err(format!("files of type {} are not supported", kind.mime_type())),
        };
    }
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.contains(&0) || std::str::from_utf8(bytes).is_err() {
        return Err("the file is neither a supported document or image nor UTF-8 text".into());
    }
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let by_name = TEXT_BY_EXTENSION.iter().find(|(extensions, _)| extensions.contains(&extension.as_str()));
    let media_type = match by_name {
        Some((_, media_type)) => media_type,
        None if looks_like_html(bytes) => "text/html",
        None => "text/plain",
    };
    Ok(Sniffed { media_type })
}

/// Whether a zip's central directory lists `word/document.xml`. infer knows a DOCX only by
/// Word's entry order (`word/` third); other writers order entries differently and would be
/// refused as plain zip. Walks the directory from the end record; ZIP64 is not needed for a DOCX.
fn lists_word_document(bytes: &[u8]) -> bool {
    let u16_at = |at: usize| bytes.get(at..at + 2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])));
    let u32_at = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    // The end record (22 bytes) is followed by a comment of at most 64 KiB.
    let tail = bytes.len().saturating_sub(22 + usize::from(u16::MAX));
    let Some(end) = bytes[tail..].windows(4).rposition(|w| w == b"PK\x05\x06").map(|i| tail + i) else {
        return false;
    };
    let (Some(entries), Some(mut at)) = (u16_at(end + 10), u32_at(end + 16)) else { return false };
    for _ in 0..entries {
        let header = (bytes.get(at..at + 4), u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
        let (Some(b"PK\x01\x02"), Some(name), Some(extra), Some(comment)) = header else { return false };
        if bytes.get(at + 46..at + 46 + name) == Some(&b"word/document.xml"[..]) {
            return true;
        }
        at += 46 + name + extra + comment;
    }
    false
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let start = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).trim_start().to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

    #[test]
    fn binary_types_come_from_magic_bytes_not_the_name() {
        assert_eq!(sniff(PNG, "notes.txt").unwrap().media_type, "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "x.bin").unwrap().media_type, "application/pdf");
        let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0";
        assert!(sniff(elf, "report.pdf").is_err(), "an executable is no PDF");
        assert!(sniff(b"GIF89a\x01\0\x01\0\0\0\0", "x").is_ok_and(|s| s.is_image()));
        let zip = b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
        assert!(sniff(zip, "a.zip").unwrap_err().contains("not supported"));
        assert!(sniff(b"PK\x03\x04\x14\0\0\0\0\0", "a.docx").is_err(), "a plain zip is not a document");
    }

    /// A stored zip of empty entries, in the order given.
    fn zip(names: &[&str]) -> Vec<u8> {
        let (mut out, mut directory) = (Vec::new(), Vec::new());
        for name in names {
            let offset = (out.len() as u32).to_le_bytes();
            let length = (name.len() as u16).to_le_bytes();
            out.extend([&b"PK\x03\x04\x14\0"[..], &[0; 20], &length, &[0, 0], name.as_bytes()].concat());
            directory.extend(
                [&b"PK\x01\x02\x14\0\x14\0"[..], &[0; 20], &length, &[0; 12], &offset, name.as_bytes()].concat(),
            );
        }
        let count = (names.len() as u16).to_le_bytes();
        let (size, start) = ((directory.len() as u32).to_le_bytes(), (out.len() as u32).to_le_bytes());
        out.extend(directory);
        out.extend([&b"PK\x05\x06\0\0\0\0"[..], &count, &count, &size, &start, &[0, 0]].concat());
        out
    }

    #[test]
    fn a_docx_is_known_by_its_word_document_whatever_the_entry_order() {
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        let word_order = zip(&["[Content_Types].xml", "_rels/.rels", "word/document.xml"]);
        assert_eq!(sniff(&word_order, "a.docx").unwrap().media_type, docx, "infer knows Word's order");
        let other_order = zip(&["[Content_Types].xml", "_rels/.rels", "docProps/core.xml", "word/document.xml"]);
        assert_eq!(infer::get(&other_order).unwrap().mime_type(), "application/zip");
        assert_eq!(sniff(&other_order, "a.docx").unwrap().media_type, docx);
        let plain = zip(&["notes.txt", "word/other.xml"]);
        assert!(sniff(&plain, "a.docx").unwrap_err().contains("application/zip"), "a zip without word/document.xml");
        let mut truncated = other_order.clone();
        truncated.drain(40..60);
        assert!(sniff(&truncated, "a.docx").is_err(), "a directory that does not add up is not read past");
    }

    #[test]
    fn text_is_utf8_and_its_flavour_comes_from_the_name() {
        assert_eq!(sniff(b"# Title\n", "README.md").unwrap().media_type, "text/markdown");
        assert_eq!(sniff(b"a,b\n1,2\n", "data.CSV").unwrap().media_type, "text/csv");
        assert_eq!(sniff(b"fn main() {}\n", "main.rs").unwrap().media_type, "text/x-source");
        assert_eq!(sniff(b"  <!DOCTYPE html><p>hi", "page").unwrap().media_type, "text/html");
        assert_eq!(sniff("\u{4f60}\u{597d}".as_bytes(), "hello").unwrap().media_type, "text/plain");
        assert!(sniff(b"\xff\xfe\0a", "a.txt").is_err(), "not UTF-8");
        assert!(sniff(b"", "empty.txt").is_err());
    }
}

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

/// Binary types we accept: images for vision models, and the document formats ingestion parses.
const ACCEPTED_BINARY: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
];

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

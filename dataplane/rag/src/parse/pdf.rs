//! PDF: the text layer, one section per page so every chunk cites its page. Text comes from
//! `pdf-extract` (pure Rust, on `lopdf`), page by page on one loaded document: a page it cannot
//! read is skipped instead of ending the document there (as `extract_text_from_mem_by_pages`
//! would), and the encryption check sees the same document the text comes from.
//!
//! There is no OCR: a scanned PDF (images, no text layer) fails with a reason saying so.

use std::panic::{AssertUnwindSafe, catch_unwind};

// lopdf as re-exported by pdf-extract: always the version pdf-extract reads with.
use pdf_extract::{Document, PlainTextOutput, output_doc_page};

use super::ParseError;
use crate::chunk::Section;

/// One section per page with text; fails with a reason a user can act on.
pub fn parse(bytes: &[u8]) -> Result<Vec<Section>, ParseError> {
    let doc = guarded(|| Document::load_mem(bytes))?.map_err(|e| damaged(&e))?;
    // lopdf opens a document whose user password is empty on load (owner-password-only PDFs,
    // which restrict printing or copying, are common); any other encryption needs a password.
    if doc.trailer.has(b"Encrypt") && doc.encryption_state.is_none() {
        return Err(ParseError("the PDF is encrypted (password-protected)".into()));
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(ParseError("the PDF is damaged: it has no pages".into()));
    }
    let mut sections = Vec::new();
    let mut unreadable = Vec::new();
    for &number in pages.keys() {
        match guarded(|| page_text(&doc, number)) {
            Ok(Ok(text)) if text.trim().is_empty() => {}
            Ok(Ok(text)) => sections.push(Section { headings: Vec::new(), page: Some(number), text: tidy(&text) }),
            Ok(Err(error)) | Err(error) => {
                tracing::debug!(page = number, %error, "PDF page without readable text");
                unreadable.push(error);
            }
        }
    }
    if sections.is_empty() {
        let all_unreadable = unreadable.len() == pages.len();
        return Err(match unreadable.into_iter().next() {
            Some(first) if all_unreadable && pages.len() == 1 => first,
            Some(first) if all_unreadable => ParseError(format!("{first} (on every page)")),
            _ => ParseError("the PDF has no text layer (scanned pages would need OCR, which is not supported)".into()),
        });
    }
    Ok(sections)
}

fn page_text(doc: &Document, number: u32) -> Result<String, ParseError> {
    let mut text = String::new();
    output_doc_page(doc, &mut PlainTextOutput::new(&mut text), number).map_err(|e| damaged(&e))?;
    Ok(text)
}

/// Runs `f`, turning a panic into a `ParseError`. pdf-extract and lopdf `unwrap` their way
/// through odd documents (a missing MediaBox, a broken font), and one uploaded file must not
/// take down the worker. The document is only read, so nothing is left half-changed by a panic.
/// This relies on `panic = "unwind"` (the default; no profile here sets `abort`).
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, ParseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the PDF reader gave up".into());
        ParseError(format!("the PDF is damaged: {detail}"))
    })
}

fn damaged(error: &dyn std::fmt::Display) -> ParseError {
    ParseError(format!("the PDF is damaged: {error}"))
}

/// Lines without trailing spaces, and at most one blank line (a paragraph break) in a row.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines().map(str::trim_end) {
        blank = if line.is_empty() { blank + 1 } else { 0 };
        if blank < 2 {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use lopdf::content::{Content, Operation};
    use lopdf::{Document, EncryptionState, EncryptionVersion, Object, Permissions, Stream, dictionary};

    use super::*;

    /// A PDF with one page per entry, each showing its lines in Helvetica.
    fn pdf(pages: &[&[&str]]) -> Document {
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
        let resources = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font } });
        let mut kids = Vec::new();
        for lines in pages {
            let mut operations = vec![Operation::new("BT", vec![]), Operation::new("Tf", vec!["F1".into(), 12.into()])];
            operations.push(Operation::new("Td", vec![72.into(), 720.into()]));
            for line in *lines {
                operations.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
                operations.push(Operation::new("Td", vec![0.into(), (-16).into()]));
            }
            operations.push(Operation::new("ET", vec![]));
            let content = doc.add_object(Stream::new(dictionary! {}, Content { operations }.encode().unwrap()));
            kids.push(Object::Reference(doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "Contents" => content,
            })));
        }
        let count = kids.len() as i64;
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => kids,
                "Count" => count,
                "Resources" => resources,
                "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        doc
    }

    fn save(mut doc: Document) -> Vec<u8> {
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        bytes
    }

    fn encrypted(user_password: &str) -> Vec<u8> {
        let mut doc = pdf(&[&["Quarterly numbers"]]);
        // The file identifier salts the key.
        let id = Object::string_literal(b"0123456789abcdef".to_vec());
        doc.trailer.set("ID", vec![id.clone(), id]);
        let version = EncryptionVersion::V2 {
            document: &doc,
            owner_password: "owner",
            user_password,
            key_length: 128,
            permissions: Permissions::PRINTABLE,
        };
        let state = EncryptionState::try_from(version).unwrap();
        doc.encrypt(&state).unwrap();
        save(doc)
    }

    #[test]
    fn each_page_with_text_is_a_section_with_its_page_number() {
        let bytes = save(pdf(&[&["Hello from page one", "Second line"], &[], &["Page three says bye"]]));
        let sections = parse(&bytes).unwrap();
        let pages: Vec<Option<u32>> = sections.iter().map(|s| s.page).collect();
        assert_eq!(pages, [Some(1), Some(3)], "the empty page two is dropped");
        assert!(sections[0].text.contains("Hello from page one"), "{:?}", sections[0].text);
        assert!(sections[0].text.contains("Second line"));
        assert!(sections[1].text.contains("Page three says bye"));
        assert!(!sections[1].text.contains("Hello"));
    }

    #[test]
    fn a_password_protected_pdf_fails_as_encrypted_but_an_empty_user_password_is_read() {
        assert_eq!(parse(&encrypted("secret")).unwrap_err().0, "the PDF is encrypted (password-protected)");
        let sections = parse(&encrypted("")).unwrap();
        assert!(sections[0].text.contains("Quarterly numbers"), "{:?}", sections[0].text);
    }

    #[test]
    fn an_encrypt_dictionary_that_cannot_be_opened_fails_as_encrypted() {
        let mut doc = pdf(&[&["Hidden"]]);
        let encrypt = doc.add_object(dictionary! {
            "Filter" => "Standard",
            "V" => 2,
            "R" => 3,
            "Length" => 128,
            "O" => Object::string_literal(vec![7u8; 32]),
            "U" => Object::string_literal(vec![9u8; 32]),
            "P" => -4,
        });
        doc.trailer.set("Encrypt", encrypt);
        assert_eq!(parse(&save(doc)).unwrap_err().0, "the PDF is encrypted (password-protected)");
    }

    #[test]
    fn a_pdf_without_a_text_layer_says_so() {
        let reason = parse(&save(pdf(&[&[], &[]]))).unwrap_err().0;
        assert!(reason.contains("no text layer"), "{reason}");
    }

    #[test]
    fn garbage_after_a_pdf_header_fails_with_a_reason_instead_of_panicking() {
        for bytes in [&b"%PDF-1.7\n\x00\x01garbage\nstartxref\n999999\n%%EOF"[..], b"%PDF-", b"%PDF-1.4\n1 0 obj <<"] {
            let reason = parse(bytes).unwrap_err().0;
            assert!(reason.starts_with("the PDF is damaged"), "{reason}");
        }
        // A page whose MediaBox is missing makes pdf-extract panic; the panic becomes a reason.
        let mut doc = pdf(&[&["No media box"]]);
        for object in doc.objects.values_mut() {
            if let Ok(dict) = object.as_dict_mut() {
                dict.remove(b"MediaBox");
            }
        }
        let reason = parse(&save(doc)).unwrap_err().0;
        assert_eq!(reason, "the PDF is damaged: MediaBox");
    }

    #[test]
    fn tidy_keeps_paragraph_breaks_and_drops_trailing_space() {
        assert_eq!(tidy("\n a  \nb\n\n\n\nc \n"), "a\nb\n\nc");
    }
}

//! The text of attached documents as the model may get it whole, parsed once per process: a
//! reply reads the files of the newest messages of its branch, and without this every reply of
//! a topic would fetch and parse the same PDF again. Files never change (an upload is a new
//! file), so an entry is never stale; the oldest entries go when the cache is full.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use uuid::Uuid;

/// Documents kept; each holds at most `MAX_DOCUMENT_CHARS` characters.
const CAPACITY: usize = 64;

/// A document's text, up to `MAX_DOCUMENT_CHARS` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentText {
    /// The text (headings as `## A > B` lines), cut at `MAX_DOCUMENT_CHARS`.
    pub text: String,
    /// Characters left out after the cut; 0 when the text is whole.
    pub left_out: usize,
}

/// Text of one document given to the model whole; a longer one is cut, or searched when its
/// topic has indexed it.
pub const MAX_DOCUMENT_CHARS: usize = 24_000;

impl DocumentText {
    /// `text`, cut at `MAX_DOCUMENT_CHARS` characters on a character boundary.
    pub fn new(text: &str) -> Self {
        match text.char_indices().nth(MAX_DOCUMENT_CHARS) {
            None => DocumentText { text: text.to_string(), left_out: 0 },
            Some((at, _)) => DocumentText { text: text[..at].to_string(), left_out: text[at..].chars().count() },
        }
    }

    pub fn is_whole(&self) -> bool {
        self.left_out == 0
    }
}

#[derive(Default)]
pub struct DocumentTexts {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_file: HashMap<Uuid, Arc<DocumentText>>,
    oldest_first: VecDeque<Uuid>,
}

impl DocumentTexts {
    pub fn get(&self, file_id: Uuid) -> Option<Arc<DocumentText>> {
        self.entries.lock().ok()?.by_file.get(&file_id).cloned()
    }

    pub fn insert(&self, file_id: Uuid, text: Arc<DocumentText>) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.by_file.insert(file_id, text).is_none() {
            entries.oldest_first.push_back(file_id);
        }
        while entries.oldest_first.len() > CAPACITY {
            if let Some(oldest) = entries.oldest_first.pop_front() {
                entries.by_file.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn long_documents_are_cut_on_a_character_boundary_and_count_what_is_left_out() {
        assert_eq!(DocumentText::new("short"), DocumentText { text: "short".into(), left_out: 0 });
        let long = "é".repeat(MAX_DOCUMENT_CHARS + 6);
        let cut = DocumentText::new(&long);
        assert_eq!(cut.text.chars().count(), MAX_DOCUMENT_CHARS);
        assert_eq!(cut.left_out, 6);
        assert!(!cut.is_whole());
    }

    #[test]
    fn the_oldest_entry_goes_when_the_cache_is_full() {
        let texts = DocumentTexts::default();
        let ids: Vec<Uuid> = (0..=CAPACITY).map(|_| Uuid::now_v7()).collect();
        for id in &ids {
            texts.insert(*id, Arc::new(DocumentText::new("x")));
        }
        assert!(texts.get(ids[0]).is_none());
        assert!(texts.get(ids[1]).is_some());
        assert!(texts.get(ids[CAPACITY]).is_some());
    }
}

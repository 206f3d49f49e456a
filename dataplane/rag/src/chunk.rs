//! Token-aware, structure-aware chunking. A document arrives as sections (a heading path and,
//! for paged formats, a page); chunks never cross a section, so every chunk has one heading and
//! one page to cite. Inside a section, paragraphs are packed whole up to `max_tokens`; a
//! paragraph too long for one chunk is cut at sentence ends, and a sentence too long at word
//! boundaries. Each chunk after the first of a section starts with the previous one's last
//! `overlap_tokens` worth of pieces, so an answer spanning a cut is still found whole.
//!
//! Chunking is deterministic: the same document and settings give the same chunks, in the same
//! order (`ordinal`), which is what lets a resumed ingestion upsert instead of duplicating.

use oblivious_runtime::usage::count_text_tokens;

/// Chunk size and overlap, in tokens (the o200k tokenizer; close enough for any embedding model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSettings {
    pub max_tokens: usize,
    pub overlap_tokens: usize,
}

/// A part of a parsed document under one heading (and on one page, for paged formats).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Heading path, outermost first (`["Setup", "Linux"]`); empty before the first heading.
    pub headings: Vec<String>,
    pub page: Option<u32>,
    pub text: String,
}

/// One chunk of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Position in the document, from 0.
    pub ordinal: u32,
    pub text: String,
    pub tokens: u32,
    /// The heading path joined with ` > `.
    pub heading: String,
    pub page: Option<u32>,
}

/// A piece of text that is never cut further, with its token count.
struct Piece {
    text: String,
    tokens: usize,
}

pub fn chunk(sections: &[Section], settings: ChunkSettings) -> Vec<Chunk> {
    let max = settings.max_tokens.max(1);
    let overlap = settings.overlap_tokens.min(max / 2);
    let mut chunks = Vec::new();
    for section in sections {
        let heading = section.headings.join(" > ");
        let pieces = pieces(&section.text, max);
        for text in pack(&pieces, max, overlap) {
            let tokens = count_text_tokens(&text) as u32;
            chunks.push(Chunk {
                ordinal: chunks.len() as u32,
                text,
                tokens,
                heading: heading.clone(),
                page: section.page,
            });
        }
    }
    chunks
}

/// The section's text as pieces of at most `max` tokens: paragraphs, else sentences, else runs
/// of words.
fn pieces(text: &str, max: usize) -> Vec<Piece> {
    let mut out = Vec::new();
    for paragraph in paragraphs(text) {
        let tokens = count_text_tokens(&paragraph) as usize;
        if tokens <= max {
            out.push(Piece { text: paragraph, tokens });
            continue;
        }
        for sentence in sentences(&paragraph) {
            let tokens = count_text_tokens(&sentence) as usize;
            if tokens <= max {
                out.push(Piece { text: sentence, tokens });
            } else {
                out.extend(word_runs(&sentence, max));
            }
        }
    }
    out
}

/// Paragraphs: text between blank lines, trimmed, empty ones dropped.
fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.trim().is_empty() {
                out.push(current.trim().to_string());
            }
            current.clear();
        } else {
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(line.trim_end());
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// Sentences: cut after `.`, `!`, `?` followed by whitespace, after CJK full stops, and at line
/// ends.
fn sentences(paragraph: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = paragraph.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        let western_end = matches!(c, '.' | '!' | '?') && chars.peek().is_none_or(|n| n.is_whitespace());
        if western_end || matches!(c, '。' | '！' | '？' | '\n') {
            if !current.trim().is_empty() {
                out.push(current.trim().to_string());
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// Runs of whole words of at most `max` tokens (a single word longer than that is cut by
/// characters).
fn word_runs(sentence: &str, max: usize) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut current_tokens = 0;
    for word in sentence.split_whitespace().flat_map(|w| split_long_word(w, max)) {
        let tokens = count_text_tokens(&format!(" {word}")) as usize;
        if current_tokens + tokens > max && !current.is_empty() {
            out.push(Piece { tokens: count_text_tokens(&current) as usize, text: std::mem::take(&mut current) });
            current_tokens = 0;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
        current_tokens += tokens;
    }
    if !current.is_empty() {
        out.push(Piece { tokens: count_text_tokens(&current) as usize, text: current });
    }
    out
}

/// A word (CJK text has no spaces) in parts of at most `max` tokens.
fn split_long_word(word: &str, max: usize) -> Vec<String> {
    if count_text_tokens(word) as usize <= max {
        return vec![word.to_string()];
    }
    let mut out = Vec::new();
    let mut current = String::new();
    for c in word.chars() {
        current.push(c);
        if count_text_tokens(&current) as usize >= max {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Packs pieces into chunk texts of at most `max` tokens, each after the first starting with
/// the previous chunk's trailing pieces worth at most `overlap` tokens.
fn pack(pieces: &[Piece], max: usize, overlap: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current: Vec<&Piece> = Vec::new();
    let mut tokens = 0;
    for piece in pieces {
        // `current` always holds at least one new piece here: emit it, keep its tail.
        if tokens + piece.tokens > max && !current.is_empty() {
            chunks.push(join(&current));
            current = tail(&current, overlap);
            tokens = current.iter().map(|p| p.tokens).sum();
        }
        // The carried overlap gives way when it would not leave room for the next piece.
        while tokens + piece.tokens > max && !current.is_empty() {
            tokens -= current.remove(0).tokens;
        }
        current.push(piece);
        tokens += piece.tokens;
    }
    if !current.is_empty() {
        chunks.push(join(&current));
    }
    chunks
}

/// The last pieces of a chunk worth at most `budget` tokens.
fn tail<'a>(pieces: &[&'a Piece], budget: usize) -> Vec<&'a Piece> {
    let mut out = Vec::new();
    let mut used = 0;
    for piece in pieces.iter().rev() {
        if used + piece.tokens > budget {
            break;
        }
        used += piece.tokens;
        out.insert(0, *piece);
    }
    out
}

fn join(pieces: &[&Piece]) -> String {
    pieces.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn section(headings: &[&str], text: &str) -> Section {
        Section { headings: headings.iter().map(|h| h.to_string()).collect(), page: None, text: text.into() }
    }

    #[test]
    fn short_paragraphs_pack_into_one_chunk_per_section_with_its_heading() {
        let sections = [section(&["Intro"], "One.\n\nTwo."), section(&["Intro", "More"], "Three.")];
        let chunks = chunk(&sections, ChunkSettings { max_tokens: 100, overlap_tokens: 10 });
        assert_eq!(chunks.len(), 2, "chunks never cross a section");
        assert_eq!((chunks[0].text.as_str(), chunks[0].heading.as_str()), ("One.\n\nTwo.", "Intro"));
        assert_eq!((chunks[1].ordinal, chunks[1].heading.as_str()), (1, "Intro > More"));
    }

    #[test]
    fn every_chunk_fits_and_consecutive_chunks_overlap() {
        let text: Vec<String> = (0..40).map(|i| format!("Sentence number {i} is here.")).collect();
        let sections = [section(&[], &text.join("\n\n"))];
        let settings = ChunkSettings { max_tokens: 40, overlap_tokens: 10 };
        let chunks = chunk(&sections, settings);
        assert!(chunks.len() > 5);
        assert!(chunks.iter().all(|c| c.tokens as usize <= settings.max_tokens + 2), "{chunks:#?}");
        for pair in chunks.windows(2) {
            let last_of_first = pair[0].text.rsplit("\n\n").next().unwrap();
            assert!(pair[1].text.starts_with(last_of_first), "the next chunk repeats the tail");
        }
        let all: String = chunks.iter().map(|c| c.text.clone()).collect::<Vec<_>>().join(" ");
        assert!((0..40).all(|i| all.contains(&format!("number {i} "))), "nothing is lost");
        assert_eq!(chunks, chunk(&sections, settings), "deterministic");
    }

    #[test]
    fn a_huge_paragraph_is_cut_at_sentences_then_words_and_cjk_by_characters() {
        let long = "word ".repeat(300);
        let chunks = chunk(&[section(&[], &long)], ChunkSettings { max_tokens: 50, overlap_tokens: 0 });
        assert!(chunks.len() >= 6 && chunks.iter().all(|c| c.tokens <= 52), "{}", chunks.len());
        let cjk = "这是一个很长的中文句子没有任何空格".repeat(30);
        let chunks = chunk(&[section(&[], &cjk)], ChunkSettings { max_tokens: 30, overlap_tokens: 0 });
        assert!(chunks.len() > 3 && chunks.iter().all(|c| c.tokens <= 32));
        assert_eq!(chunks.iter().map(|c| c.text.as_str()).collect::<String>().replace(' ', ""), cjk);
    }

    #[test]
    fn empty_text_gives_no_chunks() {
        assert!(chunk(&[section(&["H"], "  \n\n ")], ChunkSettings { max_tokens: 10, overlap_tokens: 2 }).is_empty());
    }
}

//! English function words, left out of the full-text leg's query.
//!
//! The text leg ORs the question's words, so "What should I do about E-3302?" also asks for every
//! chunk containing "what", "should", "i", "do" or "about": on a question with few rare words these
//! decide the ranking. PostgreSQL's `ts_rank_cd` has no inverse document frequency to discount
//! them; SQLite's bm25 has, but over a small base it barely does. What such words mean is the
//! vector leg's job. The list is short on purpose — articles, pronouns, auxiliaries,
//! prepositions, conjunctions, question words — with no content word and nothing that is also a
//! common acronym in product documents ("us" as in a `-US` SKU, "it" as in the IT desk). Other
//! languages' words pass untouched: a German or Spanish question keeps all its words, which costs
//! some noise, never a match.

/// Whitespace-separated, lower case, by kind.
const ENGLISH: &str = concat!(
    // Articles and determiners.
    "a an the this that these those each every some any all both few more most other such same own ",
    // Pronouns.
    "i me my myself mine we our ours ourselves you your yours yourself yourselves he him his himself ",
    "she her hers herself its itself they them their theirs themselves ",
    // Auxiliaries and modals.
    "am is are was were be been being have has had having do does did doing ",
    "can could will would shall should may might must ought ",
    // What is left of contractions once split at the apostrophe ("customer's", "don't", "I'll").
    "s t d ll re ve don doesn didn isn aren wasn weren haven hasn hadn wouldn shouldn couldn ",
    // Prepositions.
    "about above after against at before below between by during for from in into of off on over ",
    "through to under until up down out with ",
    // Conjunctions and adverbs.
    "and but if or nor not no because as so than then too very just only again further once here ",
    "there while ",
    // Question words.
    "what which who whom whose when where why how",
);

/// Whether `word` (lower case) is an English function word.
pub fn is_stopword(word: &str) -> bool {
    ENGLISH.split_ascii_whitespace().any(|stopword| stopword == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_words_are_stopwords_and_content_words_acronyms_and_other_languages_are_not() {
        for word in ["the", "what", "do", "i", "which", "about", "s"] {
            assert!(is_stopword(word), "{word}");
        }
        for word in ["battery", "e", "4471", "us", "it", "keyward", "urlaubstage", "qué", "th"] {
            assert!(!is_stopword(word), "{word}");
        }
    }

    #[test]
    fn the_list_is_lower_case_words_each_once() {
        let words: Vec<&str> = ENGLISH.split_ascii_whitespace().collect();
        assert!(words.iter().all(|w| w.chars().all(|c| c.is_ascii_lowercase())));
        let mut unique = words.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), words.len());
    }
}

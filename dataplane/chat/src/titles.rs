//! Topic titles: a new topic is named after its first question at once, then — when the first
//! reply is done — gets a short title written by the same model (billed like any request). A
//! title the user typed is never replaced (`set_generated_topic_title` checks). A blank chat
//! ("New chat") takes its first generated topic title as its own, once.

use oblivious_core::lane::LaneContext;
use serde_json::json;
use uuid::Uuid;

use crate::Chat;

const PROVISIONAL_CHARS: usize = 40;
const MAX_TITLE_CHARS: usize = 60;
/// Enough of the conversation to name it.
const EXCERPT_CHARS: usize = 1_000;

/// The title a new topic starts with: the beginning of its first question.
pub fn provisional_title(question: &str) -> String {
    let line = question.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("New topic");
    shorten(line, PROVISIONAL_CHARS)
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars - 1).collect();
    format!("{}…", cut.trim_end())
}

/// Cleans what a model answered: first line, no quotes or trailing period, bounded.
pub fn clean_title(answer: &str) -> Option<String> {
    let line = answer.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = line.trim_start_matches(['#', '*', ' ']).trim_start_matches("Title:").trim();
    let line = line.trim_matches(|c| matches!(c, '"' | '\'' | '“' | '”' | '「' | '」' | '*')).trim_end_matches('.');
    let line = line.trim();
    (!line.is_empty()).then(|| shorten(line, MAX_TITLE_CHARS))
}

/// Asks the model for a title and stores it. Failures only leave the provisional title.
pub async fn generate(
    chat: &Chat,
    topic_id: Uuid,
    user_id: Uuid,
    model: &str,
    lane: &LaneContext,
    question: &str,
    reply: &str,
) {
    if !chat.config.generate_titles {
        return;
    }
    let excerpt = |text: &str| text.chars().take(EXCERPT_CHARS).collect::<String>();
    let request = json!({
        "model": model,
        "max_tokens": 24,
        "temperature": 0.3,
        "messages": [
            {"role": "system", "content": "Name the conversation below in at most six words, in the language of the \
              question. Answer with the title only: no quotes, no punctuation at the end."},
            {"role": "user", "content": format!("Question: {}\n\nAnswer: {}", excerpt(question), excerpt(reply))},
        ],
    });
    match chat.relay.complete(user_id, lane, &request).await {
        Ok(answer) => {
            let Some(title) = clean_title(&answer) else { return };
            if let Err(error) = chat.store().set_generated_topic_title(topic_id, &title).await {
                tracing::warn!(%error, "cannot store a generated topic title");
            }
            // A blank chat is named after its first named topic, like LobeChat's sessions.
            if let Err(error) = chat.store().set_generated_session_title(topic_id, &title).await {
                tracing::warn!(%error, "cannot store a generated session title");
            }
        }
        Err(failure) => tracing::debug!(code = %failure.code, "no generated topic title"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn provisional_titles_take_the_first_line_and_are_bounded() {
        assert_eq!(provisional_title("\n  How do I sort?\nmore"), "How do I sort?");
        let long = "word ".repeat(30);
        let title = provisional_title(&long);
        assert!(title.chars().count() <= PROVISIONAL_CHARS && title.ends_with('…'));
        assert_eq!(provisional_title("   "), "New topic");
    }

    #[test]
    fn model_titles_lose_quotes_markup_and_final_periods() {
        assert_eq!(clean_title("\"Sorting in Rust.\"\n"), Some("Sorting in Rust".into()));
        assert_eq!(clean_title("## Title: Trip to Kyoto"), Some("Trip to Kyoto".into()));
        assert_eq!(clean_title("「排序算法」"), Some("排序算法".into()));
        assert_eq!(clean_title("  \n "), None);
    }
}

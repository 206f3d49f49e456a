//! Files attached to a user message (API.md `Attachment`). On send they are checked (the
//! caller's own, at most `MAX_ATTACHMENTS`) and stored on the message as what they were then:
//! id, name, type, size and kind. When a reply is built, the newest attachments of the branch
//! go to the model: images as image parts (data URLs, so no provider has to fetch anything and
//! the relay's translations carry them to every dialect), documents as their parsed text — whole
//! when short; when long, cut until the topic's own knowledge base has indexed them (see
//! `topic_files`), then left to retrieval, which gives their relevant passages as sources.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use oblivious_gateway::{ApiResult, ProductError};
use oblivious_runtime::usage::count_text_tokens;
use oblivious_store::chat::ChatMessage;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Chat;
use crate::document_texts::DocumentText;
use crate::routes::input::{MAX_MESSAGE_CHARS, bounded, required_text};
use crate::topic_files::TopicFiles;

/// Files one message may carry.
pub const MAX_ATTACHMENTS: usize = 10;
/// Messages of a branch (newest first) whose files are sent; older ones are named only, so a
/// long topic does not resend every file it ever had.
const MESSAGES_WITH_FILES: usize = 4;
/// Largest image sent inline (base64 grows it by a third).
const MAX_IMAGE_BYTES: i64 = 8 * 1024 * 1024;
/// What an image costs in the context budget (OpenAI's high-detail tiles, roughly).
const IMAGE_TOKENS: u64 = 1_000;
/// Image types every vision model takes.
const IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// A message needs text unless it carries files (a picture alone is a question too).
pub fn check_content(content: &str, attachments: &Value) -> ApiResult<()> {
    match attachments.as_array().is_some_and(|files| !files.is_empty()) {
        true => bounded("content", content, MAX_MESSAGE_CHARS),
        false => required_text("content", content, MAX_MESSAGE_CHARS),
    }
}

/// Checks `ids` (the caller's files, no repeats) and returns what the message stores.
pub async fn resolve(chat: &Chat, user_id: Uuid, ids: &[Uuid]) -> ApiResult<Value> {
    if ids.len() > MAX_ATTACHMENTS {
        return Err(ProductError::invalid("attachments", format!("at most {MAX_ATTACHMENTS} files")));
    }
    let mut seen = Vec::new();
    let mut attachments = Vec::new();
    for id in ids {
        if seen.contains(id) {
            continue;
        }
        seen.push(*id);
        let file = chat
            .store()
            .file(user_id, *id)
            .await?
            .ok_or_else(|| ProductError::invalid("attachments", format!("no file {id} of yours")))?;
        let kind = if file.media_type.starts_with("image/") { "image" } else { "document" };
        attachments.push(json!({
            "file_id": file.id, "name": file.name, "media_type": file.media_type,
            "size": file.size_bytes, "kind": kind,
        }));
    }
    Ok(Value::Array(attachments))
}

/// A message's content with its files, as the model gets it.
pub struct AttachedContent {
    /// Chat Completions content parts: the text (documents first, then the message), then images.
    pub parts: Vec<Value>,
    /// What it costs of the context window.
    pub tokens: u64,
}

/// The content with files of the newest `MESSAGES_WITH_FILES` messages of `history` that have
/// any, by message id. A file that cannot be read is named and skipped, not fatal.
pub async fn load(chat: &Chat, history: &[ChatMessage], topic: &TopicFiles) -> HashMap<Uuid, AttachedContent> {
    let mut loaded = HashMap::new();
    let Some(files) = chat.gateway.files.as_ref() else { return loaded };
    let with_files = history.iter().rev().filter(|m| m.attachments.as_array().is_some_and(|a| !a.is_empty()));
    for message in with_files.take(MESSAGES_WITH_FILES) {
        let mut text = String::new();
        let mut images = Vec::new();
        for attachment in message.attachments.as_array().into_iter().flatten() {
            let name = attachment["name"].as_str().unwrap_or("file");
            match read(chat, files, message.user_id, attachment).await {
                Ok(Loaded::Document(id, document)) => text.push_str(&document_block(name, &document, topic, id)),
                Ok(Loaded::Image(url)) => images.push(json!({"type": "image_url", "image_url": {"url": url}})),
                Err(reason) => text.push_str(&format!("<file name=\"{name}\">({reason})</file>\n\n")),
            }
        }
        text.push_str(&message.content);
        let text = text.trim_end().to_string();
        let tokens = count_text_tokens(&text) + IMAGE_TOKENS * images.len() as u64;
        let parts = std::iter::once(json!({"type": "text", "text": text})).chain(images).collect();
        loaded.insert(message.id, AttachedContent { parts, tokens });
    }
    loaded
}

enum Loaded {
    Document(Uuid, Arc<DocumentText>),
    Image(String),
}

/// How a document goes into the prompt: whole, left to retrieval (long and indexed in the
/// topic's base), or cut (long and not yet indexed).
fn document_block(name: &str, document: &DocumentText, topic: &TopicFiles, file_id: Uuid) -> String {
    if document.is_whole() {
        return format!("<file name=\"{name}\">\n{}\n</file>\n\n", document.text);
    }
    if topic.indexed.contains(&file_id) {
        return format!(
            "<file name=\"{name}\">(A long document, indexed for search: its passages that bear on the \
             question are among the numbered sources.)</file>\n\n"
        );
    }
    format!(
        "<file name=\"{name}\">\n{}\n[… the rest of the file, {} characters, is left out]\n</file>\n\n",
        document.text, document.left_out
    )
}

/// One attachment's content for the model, or why it is left out.
async fn read(
    chat: &Chat,
    files: &oblivious_files::Files,
    user_id: Uuid,
    attachment: &Value,
) -> Result<Loaded, String> {
    let id = attachment["file_id"].as_str().and_then(|id| id.parse().ok()).ok_or("not a file")?;
    let file = chat.store().file(user_id, id).await.ok().flatten().ok_or("the file was deleted")?;
    if !file.media_type.starts_with("image/") {
        return document_text(chat, files, &file).await.map(|text| Loaded::Document(id, text));
    }
    if !IMAGE_TYPES.contains(&file.media_type.as_str()) {
        return Err(format!("images of type {} cannot be shown to the model", file.media_type));
    }
    if file.size_bytes > MAX_IMAGE_BYTES {
        return Err("the image is too large to show to the model".into());
    }
    let bytes = files.content(&file).await.map_err(|_| "the file cannot be read now".to_string())?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    Ok(Loaded::Image(format!("data:{};base64,{encoded}", file.media_type)))
}

/// The document's text, parsed once per process (`DocumentTexts`).
async fn document_text(
    chat: &Chat,
    files: &oblivious_files::Files,
    file: &oblivious_store::FileRecord,
) -> Result<Arc<DocumentText>, String> {
    if let Some(text) = chat.documents.get(file.id) {
        return Ok(text);
    }
    let bytes = files.content(file).await.map_err(|_| "the file cannot be read now".to_string())?;
    // Parsing is CPU-bound (a PDF can take seconds): off the async workers.
    let media_type = file.media_type.clone();
    let sections = tokio::task::spawn_blocking(move || oblivious_rag::parse::parse(&media_type, &bytes))
        .await
        .map_err(|_| "the file could not be read".to_string())?
        .map_err(|error| error.0)?;
    let mut body = String::new();
    for section in sections {
        if !section.headings.is_empty() {
            body.push_str(&format!("## {}\n", section.headings.join(" > ")));
        }
        body.push_str(section.text.trim());
        body.push_str("\n\n");
    }
    let text = Arc::new(DocumentText::new(body.trim_end()));
    chat.documents.insert(file.id, text.clone());
    Ok(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::document_texts::MAX_DOCUMENT_CHARS;

    #[test]
    fn a_document_is_given_whole_cut_or_left_to_retrieval() {
        let file = Uuid::now_v7();
        let mut topic = TopicFiles::default();
        let short = DocumentText::new("The warranty lasts ten years.");
        assert!(document_block("w.txt", &short, &topic, file).contains("The warranty lasts ten years."));

        let long = DocumentText::new(&"word ".repeat(MAX_DOCUMENT_CHARS));
        let cut = document_block("long.txt", &long, &topic, file);
        assert!(cut.contains("word word") && cut.contains("is left out"), "{}", &cut[cut.len() - 200..]);

        topic.indexed.insert(file);
        let searched = document_block("long.txt", &long, &topic, file);
        assert!(!searched.contains("word word") && searched.contains("numbered sources"), "{searched}");
        // Another long file of the topic that is not indexed yet is still cut.
        assert!(document_block("other.txt", &long, &topic, Uuid::now_v7()).contains("is left out"));
    }
}

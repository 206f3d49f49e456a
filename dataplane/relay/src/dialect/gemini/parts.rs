//! Gemini `parts` <-> IR parts for model turns and answers, plus the media parts both roles use.
//!
//! Thought signatures: Gemini attaches `thoughtSignature` to the part it belongs with — a thought,
//! a text part, or (Gemini 2.5/3 with tools) a `functionCall`, where Gemini 3 validates it. A
//! signature on a thought part is that reasoning's own signature. On any other part it becomes an
//! empty signed `Reasoning` placed immediately before the part, and such a `Reasoning` renders
//! back as the signature of the part that follows it, so the signature returns where it came from.

use serde_json::{Map, Value, json};

use crate::dialect::content::{arguments_object, parse_data_url};
use crate::ir::{Image, Part};

/// Who a model turn is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Audience {
    /// A Gemini client: call ids are shown, every thought summary is kept.
    Client,
    /// A Gemini upstream: no call ids (calls pair with responses by order), and thoughts without a
    /// signature are left out — another provider's reasoning, or summaries Gemini does not read.
    Upstream,
}

/// IR parts of a model turn -> Gemini parts.
pub(super) fn render_model_parts(parts: &[Part], audience: Audience) -> Vec<Value> {
    let mut out = Vec::with_capacity(parts.len());
    let mut pending: Option<&str> = None;
    for (i, part) in parts.iter().enumerate() {
        let wire = match part {
            // Signed reasoning right before a call: a client of another dialect (Anthropic) kept
            // the call's signature on its thinking block. Gemini validates it on the call.
            Part::Reasoning { signature: Some(signature), .. }
                if audience == Audience::Upstream && matches!(parts.get(i + 1), Some(Part::ToolCall { .. })) =>
            {
                if let Some(previous) = pending.replace(signature) {
                    out.push(signature_part(previous));
                }
                continue;
            }
            Part::Reasoning { text, signature } if text.is_empty() => {
                if let Some(signature) = signature.as_deref()
                    && let Some(previous) = pending.replace(signature)
                {
                    out.push(signature_part(previous));
                }
                continue;
            }
            Part::Reasoning { text, signature } => {
                if audience == Audience::Upstream && signature.is_none() {
                    continue;
                }
                if let Some(previous) = pending.take() {
                    out.push(signature_part(previous));
                }
                let mut thought = json!({"text": text, "thought": true});
                if let Some(signature) = signature {
                    thought["thoughtSignature"] = json!(signature);
                }
                out.push(thought);
                continue;
            }
            Part::Text(text) if text.is_empty() && pending.is_none() => continue,
            Part::Text(text) => json!({"text": text}),
            Part::ToolCall { id, name, arguments } => {
                let mut call = Map::new();
                call.insert("name".into(), json!(name));
                call.insert("args".into(), arguments_object(arguments));
                if audience == Audience::Client && !id.is_empty() {
                    call.insert("id".into(), json!(id));
                }
                json!({"functionCall": call})
            }
            Part::Image(image) => image_part(image),
            Part::ToolResult { .. } | Part::RedactedReasoning { .. } => continue,
        };
        out.push(with_signature(wire, pending.take()));
    }
    if let Some(signature) = pending {
        out.push(signature_part(signature));
    }
    out
}

fn with_signature(mut part: Value, signature: Option<&str>) -> Value {
    if let Some(signature) = signature {
        part["thoughtSignature"] = json!(signature);
    }
    part
}

/// A signature with nothing after it to carry it: an empty text part, as Gemini itself sends.
fn signature_part(signature: &str) -> Value {
    json!({"text": "", "thoughtSignature": signature})
}

/// An IR image (or other media) as an `inlineData` or `fileData` part.
pub(super) fn image_part(image: &Image) -> Value {
    match image {
        Image::Base64 { media_type, data } => json!({"inlineData": {"mimeType": media_type, "data": data}}),
        Image::Url(url) => match parse_data_url(url) {
            Some((media_type, data)) => json!({"inlineData": {"mimeType": media_type, "data": data}}),
            None => {
                let mut file = Map::new();
                file.insert("fileUri".into(), json!(url));
                if let Some(mime_type) = guess_mime_type(url) {
                    file.insert("mimeType".into(), json!(mime_type));
                }
                json!({"fileData": file})
            }
        },
    }
}

/// The media type a URL's extension implies; the IR keeps only the URL of a `fileData` part.
fn guess_mime_type(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        _ => return None,
    })
}

/// Parts of an upstream's answer -> IR parts. `new_id` names calls that came without an id.
/// Parts with no IR form (executable code and its results) are skipped.
pub(super) fn parse_model_parts(parts: &[Value], new_id: &mut dyn FnMut() -> String) -> Result<Vec<Part>, String> {
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let Some(part) = part.as_object() else {
            return Err(format!("parts[{i}] is not an object"));
        };
        let signature = part.get("thoughtSignature").and_then(Value::as_str).filter(|s| !s.is_empty());
        let signed = |out: &mut Vec<Part>| {
            if let Some(signature) = signature {
                out.push(Part::Reasoning { text: String::new(), signature: Some(signature.to_string()) });
            }
        };
        if let Some(text) = part.get("text").and_then(Value::as_str) {
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                if !text.is_empty() || signature.is_some() {
                    out.push(Part::Reasoning { text: text.to_string(), signature: signature.map(str::to_string) });
                }
            } else {
                signed(&mut out);
                if !text.is_empty() {
                    out.push(Part::Text(text.to_string()));
                }
            }
        } else if let Some(call) = part.get("functionCall") {
            let name = call
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("parts[{i}].functionCall.name is missing"))?;
            let id = call.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()).map(str::to_string);
            let arguments = match call.get("args") {
                None | Some(Value::Null) => "{}".to_string(),
                Some(args) => args.to_string(),
            };
            signed(&mut out);
            let id = match id {
                Some(id) => id,
                None => new_id(),
            };
            out.push(Part::ToolCall { id, name: name.to_string(), arguments });
        } else if let Some(inline) = part.get("inlineData") {
            let field = |name: &str| inline.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
            signed(&mut out);
            out.push(Part::Image(Image::Base64 { media_type: field("mimeType"), data: field("data") }));
        } else if let Some(uri) = part.get("fileData").and_then(|f| f.get("fileUri")).and_then(Value::as_str) {
            signed(&mut out);
            out.push(Part::Image(Image::Url(uri.to_string())));
        } else {
            signed(&mut out);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn reasoning(text: &str, signature: Option<&str>) -> Part {
        Part::Reasoning { text: text.into(), signature: signature.map(str::to_string) }
    }

    fn call(id: &str) -> Part {
        Part::ToolCall { id: id.into(), name: "f".into(), arguments: r#"{"a":1}"#.into() }
    }

    #[test]
    fn signatures_ride_on_the_part_that_follows_them_and_parse_back_before_it() {
        let parts = vec![
            reasoning("thinking", None),
            reasoning("", Some("sig_call")),
            call("c1"),
            call("c2"),
            reasoning("", Some("sig_text")),
            Part::Text("done".into()),
            reasoning("more", Some("sig_thought")),
            reasoning("", Some("sig_trailing")),
        ];
        let wire = render_model_parts(&parts, Audience::Client);
        assert_eq!(
            wire,
            vec![
                json!({"text": "thinking", "thought": true}),
                json!({"functionCall": {"name": "f", "args": {"a": 1}, "id": "c1"}, "thoughtSignature": "sig_call"}),
                json!({"functionCall": {"name": "f", "args": {"a": 1}, "id": "c2"}}),
                json!({"text": "done", "thoughtSignature": "sig_text"}),
                json!({"text": "more", "thought": true, "thoughtSignature": "sig_thought"}),
                json!({"text": "", "thoughtSignature": "sig_trailing"}),
            ]
        );
        let back = parse_model_parts(&wire, &mut || -> String { unreachable!("every call has an id") }).unwrap();
        assert_eq!(back, parts);
    }

    #[test]
    fn upstream_turns_carry_no_ids_and_no_unsigned_thoughts() {
        let parts = vec![reasoning("unsigned", None), reasoning("", Some("s")), call("c1"), reasoning("", Some("a"))];
        let wire = render_model_parts(&parts, Audience::Upstream);
        assert_eq!(
            wire,
            vec![
                json!({"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "s"}),
                json!({"text": "", "thoughtSignature": "a"}),
            ]
        );
    }

    #[test]
    fn upstream_calls_take_the_signature_of_the_thinking_just_before_them() {
        let parts = vec![reasoning("I will call f", Some("sig")), call("c1"), reasoning("later", Some("own"))];
        assert_eq!(
            render_model_parts(&parts, Audience::Upstream),
            vec![
                json!({"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "sig"}),
                json!({"text": "later", "thought": true, "thoughtSignature": "own"}),
            ]
        );
        // A client keeps the signature on its thinking, where its own provider put it.
        assert_eq!(
            render_model_parts(&parts, Audience::Client)[0],
            json!({"text": "I will call f", "thought": true, "thoughtSignature": "sig"})
        );
    }

    #[test]
    fn calls_without_ids_get_new_ones_and_unknown_parts_are_skipped() {
        let wire = vec![
            json!({"functionCall": {"name": "f"}}),
            json!({"executableCode": {"language": "PYTHON", "code": "print(1)"}}),
            json!({"text": ""}),
            json!({"inlineData": {"mimeType": "image/png", "data": "iVBO"}}),
        ];
        let mut n = 0;
        let parts = parse_model_parts(&wire, &mut || {
            n += 1;
            format!("gen{n}")
        })
        .unwrap();
        assert_eq!(
            parts,
            vec![
                Part::ToolCall { id: "gen1".into(), name: "f".into(), arguments: "{}".into() },
                Part::Image(Image::Base64 { media_type: "image/png".into(), data: "iVBO".into() }),
            ]
        );
        assert!(parse_model_parts(&[json!({"functionCall": {}})], &mut String::new).is_err());
        assert!(parse_model_parts(&[json!("text")], &mut String::new).is_err());
    }

    #[test]
    fn images_become_inline_data_or_file_data_with_a_guessed_type() {
        assert_eq!(
            image_part(&Image::Url("data:image/jpeg;base64,/9j/".into())),
            json!({"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}})
        );
        assert_eq!(
            image_part(&Image::Url("https://example.com/a.PNG?x=1".into())),
            json!({"fileData": {"fileUri": "https://example.com/a.PNG?x=1", "mimeType": "image/png"}})
        );
        assert_eq!(
            image_part(&Image::Url("https://example.com/files/abc".into())),
            json!({"fileData": {"fileUri": "https://example.com/files/abc"}})
        );
    }
}

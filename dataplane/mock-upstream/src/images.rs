//! `POST /v1/images/generations`: `n` images of a tiny valid PNG, as `b64_json` or as a `url` the
//! mock itself serves (`GET /_mock/images/{name}.png`). DALL-E models answer as DALL-E does
//! (`revised_prompt` from DALL-E 3, no usage); `gpt-image-*` models as gpt-image-1 does: always
//! `b64_json`, with `size`, `quality` and token `usage` (one text token per prompt word, 1,056
//! image tokens per image) unless `no_usage`.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use crate::answer::count_words;
use crate::errors::{self, Provider};
use crate::openai::bearer;
use crate::{created_now, prelude};

/// A 1x1 PNG.
const PIXEL_PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
/// Image tokens gpt-image-1 reports for one medium-quality square image.
pub const IMAGE_TOKENS: u64 = 1_056;

pub async fn generations(headers: &HeaderMap, body: &[u8], deployment: Option<&str>) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return errors::bad_request(Provider::OpenAi, "We could not parse the JSON body of your request.")
            .into_response();
    };
    let key = bearer(headers).or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()));
    let model = deployment
        .map(str::to_string)
        .or_else(|| request.get("model").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "dall-e-2".to_string());
    let directives = match prelude(Provider::OpenAi, key, &model, headers).await {
        Ok(directives) => directives,
        Err(response) => return response,
    };
    let Some(prompt) = request.get("prompt").and_then(Value::as_str) else {
        return errors::bad_request(Provider::OpenAi, "Missing required parameter: 'prompt'.").into_response();
    };
    let n = request.get("n").and_then(Value::as_u64).unwrap_or(1);
    let gpt_image = model.starts_with("gpt-image");
    let b64 = gpt_image || request.get("response_format").and_then(Value::as_str) == Some("b64_json");
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let data: Vec<Value> = (0..n)
        .map(|i| {
            let mut image = if b64 {
                json!({"b64_json": PIXEL_PNG_BASE64})
            } else {
                json!({"url": format!("http://{host}/_mock/images/{i}.png")})
            };
            if model.starts_with("dall-e-3") {
                image["revised_prompt"] = json!(format!("Mock: {prompt}"));
            }
            image
        })
        .collect();
    let mut answer = json!({"created": created_now(), "data": data});
    if gpt_image {
        let said = |name: &str, default: &str| request.get(name).and_then(Value::as_str).unwrap_or(default).to_string();
        answer["size"] = json!(said("size", "1024x1024"));
        answer["quality"] = json!(said("quality", "medium"));
        answer["output_format"] = json!("png");
        answer["background"] = json!("opaque");
        if !directives.no_usage {
            let text = count_words(prompt);
            let output = n * IMAGE_TOKENS;
            answer["usage"] = json!({
                "input_tokens": text, "output_tokens": output, "total_tokens": text + output,
                "input_tokens_details": {"text_tokens": text, "image_tokens": 0},
            });
        }
    }
    axum::Json(answer).into_response()
}

/// `GET /_mock/images/{name}`: the PNG every `url` answer points at.
pub async fn image() -> Response {
    let png = base64::engine::general_purpose::STANDARD.decode(PIXEL_PNG_BASE64).unwrap_or_default();
    let mut response = png.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    response
}

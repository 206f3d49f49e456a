//! The pass-through endpoints beyond chat — legacy completions, images, speech, transcriptions
//! and translations, moderations, rerank's search units — through the real relay and the mock
//! upstream: each answers in OpenAI's shape, fails over from a failing channel before the first
//! byte, is billed by its unit (tokens, images, characters, seconds, searches) exactly as the
//! request record says, and refuses bad input in OpenAI's error shape before any channel is tried.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Harness, channel, read_sse, user_with_key};
use oblivious_store::{NewApiKey, RequestLog, UserRecord};
use serde_json::{Value, json};

/// Unit prices with whole micro-units: a token of `instruct` costs 1 (in) or 2 (out), an image
/// of `dalle` 40,000 (80,000 in `hd`), a character of `tts` 15, a second of `whisper` 100, a
/// search of `rr` 2,000.
const PRICES: &str = "apiVersion: oblivious.dev/v1alpha1\nkind: ModelPricing\nmetadata: {name: p}\nspec:\n  \
    currency: USD\n  models:\n    - {name: instruct, input: \"1\", output: \"2\"}\n    \
    - {name: dalle, perImage: \"0.04\", imagePrices: [{quality: hd, perImage: \"0.08\"}]}\n    \
    - {name: gimage, input: \"5\", output: \"40\"}\n    - {name: tts, perThousandCharacters: \"0.015\"}\n    \
    - {name: tts-broken, perThousandCharacters: \"0.015\"}\n    - {name: whisper, perAudioSecond: \"0.0001\"}\n    \
    - {name: transcribe, input: \"6\", output: \"10\"}\n    - {name: omni-moderation-latest, input: \"1\"}\n    \
    - {name: rr, input: \"1\", perSearch: \"0.002\"}\n";

/// Every model on a healthy OpenAI channel, behind a failing one of higher priority, plus an
/// Anthropic channel (never an OpenAI pass-through's candidate).
fn manifests() -> String {
    let models = [
        ("instruct", "gpt-3.5-turbo-instruct@words=5"),
        ("dalle", "dall-e-3"),
        ("gimage", "gpt-image-1"),
        ("tts", "tts-1"),
        ("tts-broken", "tts-1@break_after=1"),
        ("whisper", "whisper-1"),
        ("transcribe", "gpt-4o-transcribe"),
        ("omni-moderation-latest", "omni-moderation-latest"),
        ("rr", "rr"),
    ];
    let good: Vec<String> =
        models.iter().map(|(name, up)| format!("{{name: {name}, upstreamModel: \"{up}\"}}")).collect();
    let failing: Vec<String> =
        models.iter().map(|(name, _)| format!("{{name: {name}, upstreamModel: \"x@status=503\"}}")).collect();
    channel("failing", "openai", 10, &format!("[{}]", failing.join(", ")), "")
        + &channel("good", "openai", 0, &format!("[{}]", good.join(", ")), "")
        + &channel("claude", "anthropic", 0, "[{name: claude}]", "")
        + PRICES
}

const BALANCE: i64 = 10_000_000;

/// A relay with the manifests and a user who has `BALANCE` to spend.
async fn start() -> (Harness, UserRecord, String) {
    let h = Harness::start(&manifests()).await;
    let (user, key) = user_with_key(&h.relay.runtime.store, BALANCE, NewApiKey::default()).await;
    (h, user, key)
}

async fn post(h: &Harness, key: &str, path: &str, body: Value) -> reqwest::Response {
    h.http.post(format!("{}{path}", h.base)).bearer_auth(key).json(&body).send().await.unwrap()
}

/// The record of the answer `response` was, and the user's balance, once written and settled.
async fn record_of(h: &Harness, request_id: &str) -> RequestLog {
    let logs = h.logs().await;
    logs.into_iter().find(|l| l.id.to_string() == request_id).unwrap_or_else(|| panic!("no record {request_id}"))
}

fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"].to_str().unwrap().to_string()
}

async fn spent(h: &Harness, user: &UserRecord) -> i64 {
    h.logs().await;
    BALANCE - h.relay.runtime.store.balance(user.id).await.unwrap().unwrap().balance_micros
}

/// The requests the upstream received on `path`.
async fn sent_to(h: &Harness, path: &str) -> Vec<Value> {
    h.upstream_chat_requests().await.into_iter().filter(|r| r["path"] == path).collect()
}

/// A `multipart/form-data` body: text fields, then a file field called `file` if given.
fn form(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "test-boundary-7d3f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some((file_name, data)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
                 Content-Type: audio/wav\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(h: &Harness, key: &str, path: &str, (content_type, body): (String, Vec<u8>)) -> reqwest::Response {
    h.http
        .post(format!("{}{path}", h.base))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A mono 16-bit PCM WAV of silence: `samples` samples at `rate` Hz.
fn wav(rate: u32, samples: u32) -> Vec<u8> {
    oblivious_mock_upstream::wav(rate, samples as usize * 2)
}

#[tokio::test]
async fn a_legacy_completion_fails_over_before_answering_and_is_billed_by_tokens_like_chat() {
    let (h, user, key) = start().await;
    let response =
        post(&h, &key, "/v1/completions", json!({"model": "instruct", "prompt": "Say this is a test"})).await;
    let id = request_id(&response);
    let answer: Value = response.json().await.unwrap();
    assert_eq!((answer["object"].as_str(), answer["model"].as_str()), (Some("text_completion"), Some("instruct")));
    assert!(answer["choices"][0]["text"].as_str().unwrap().starts_with("Mock"), "{answer}");
    let (prompt, completion) =
        (answer["usage"]["prompt_tokens"].as_i64().unwrap(), answer["usage"]["completion_tokens"].as_i64().unwrap());
    assert_eq!(completion, 5);

    let log = record_of(&h, &id).await;
    assert_eq!(
        (log.status, log.endpoint.as_str(), log.attempts, log.channel.as_deref()),
        (200, "completions", 2, Some("default/good"))
    );
    assert_eq!((log.input_tokens, log.output_tokens, log.usage_estimated), (prompt, completion, false));
    assert_eq!(log.cost_micros, prompt + 2 * completion);
    assert_eq!(spent(&h, &user).await, log.cost_micros, "the balance paid exactly the recorded cost");
    let sent = sent_to(&h, "/v1/completions").await;
    assert_eq!(sent.len(), 2, "the failing channel, then the good one");
    assert_eq!(sent[1]["body"]["model"], "gpt-3.5-turbo-instruct@words=5", "the channel's model name");
}

#[tokio::test]
async fn a_streamed_legacy_completion_relays_its_events_and_shows_usage_only_to_a_client_that_asked() {
    let (h, user, key) = start().await;
    let body = json!({"model": "instruct", "prompt": "Stream it", "stream": true});
    let response = post(&h, &key, "/v1/completions", body).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let id = request_id(&response);
    let (datas, clean) = read_sse(response).await;
    assert!(clean);
    assert_eq!(datas.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = datas[..datas.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    assert!(chunks.iter().all(|c| c["model"] == "instruct" && c.get("usage").is_none()), "{chunks:?}");
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["text"].as_str()).collect();
    assert_eq!(text.split_whitespace().count(), 5, "{text}");
    let sent = sent_to(&h, "/v1/completions").await;
    assert_eq!(sent.last().unwrap()["body"]["stream_options"]["include_usage"], true, "the upstream is always asked");
    let log = record_of(&h, &id).await;
    assert!(log.stream);
    assert_eq!((log.output_tokens, log.usage_estimated), (5, false), "the usage the upstream reported");
    assert_eq!(log.cost_micros, log.input_tokens + 2 * log.output_tokens);

    let body =
        json!({"model": "instruct", "prompt": "Stream it", "stream": true, "stream_options": {"include_usage": true}});
    let (datas, _) = read_sse(post(&h, &key, "/v1/completions", body).await).await;
    let last: Value = serde_json::from_str(&datas[datas.len() - 2]).unwrap();
    assert_eq!((last["choices"].as_array().map(Vec::len), &last["usage"]["completion_tokens"]), (Some(0), &json!(5)));
    let logs = h.logs().await;
    let billed: i64 = logs.iter().filter(|l| l.user_id == Some(user.id)).map(|l| l.cost_micros).sum();
    assert_eq!(spent(&h, &user).await, billed);
}

#[tokio::test]
async fn images_are_billed_per_image_at_the_price_of_their_quality_or_by_the_tokens_reported() {
    let (h, user, key) = start().await;
    let body =
        json!({"model": "dalle", "prompt": "a red cube", "n": 2, "quality": "hd", "response_format": "b64_json"});
    let response = post(&h, &key, "/v1/images/generations", body).await;
    assert_eq!(response.status(), 200);
    let id = request_id(&response);
    let answer: Value = response.json().await.unwrap();
    let data = answer["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(data[0]["b64_json"].as_str().is_some_and(|b| b.starts_with("iVBOR")), "a PNG: {answer}");
    assert!(answer.get("model").is_none(), "no field the upstream did not send");
    let log = record_of(&h, &id).await;
    assert_eq!((log.endpoint.as_str(), log.attempts, log.cost_micros), ("images", 2, 160_000), "2 hd images at 0.08");

    let body = json!({"model": "dalle", "prompt": "a red cube"});
    let response = post(&h, &key, "/v1/images/generations", body).await;
    let id = request_id(&response);
    let answer: Value = response.json().await.unwrap();
    let url = answer["data"][0]["url"].as_str().unwrap();
    assert!(url.starts_with("http://") && url.ends_with(".png"), "{answer}");
    assert_eq!(record_of(&h, &id).await.cost_micros, 40_000, "one standard image");

    let response = post(&h, &key, "/v1/images/generations", json!({"model": "gimage", "prompt": "a red cube"})).await;
    let id = request_id(&response);
    let answer: Value = response.json().await.unwrap();
    let (input, output) =
        (answer["usage"]["input_tokens"].as_i64().unwrap(), answer["usage"]["output_tokens"].as_i64().unwrap());
    let log = record_of(&h, &id).await;
    assert_eq!((log.input_tokens, log.output_tokens), (input, output));
    assert_eq!(log.cost_micros, input * 5 + output * 40, "gpt-image-1 is priced by its tokens");
    assert_eq!(spent(&h, &user).await, 160_000 + 40_000 + log.cost_micros);
}

#[tokio::test]
async fn speech_streams_the_upstreams_audio_with_its_content_type_and_bills_each_character() {
    let (h, user, key) = start().await;
    let input = "Hello there, relay!";
    let body = json!({"model": "tts", "input": input, "voice": "alloy", "response_format": "wav"});
    let response = post(&h, &key, "/v1/audio/speech", body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    let id = request_id(&response);
    let audio = response.bytes().await.unwrap();
    assert_eq!(&audio[..4], b"RIFF");
    assert_eq!(audio.len(), 44 + 19 * 40 * 8 * 2, "40 ms of 8 kHz 16-bit audio per character");
    let log = record_of(&h, &id).await;
    assert_eq!((log.endpoint.as_str(), log.attempts, log.status), ("speech", 2, 200));
    assert_eq!((log.cost_micros, log.usage_estimated), (19 * 15, false));
    assert_eq!(spent(&h, &user).await, 19 * 15);

    let body = json!({"model": "tts", "input": input, "voice": "alloy"});
    let response = post(&h, &key, "/v1/audio/speech", body).await;
    assert_eq!(response.headers()["content-type"], "audio/mpeg", "mp3 unless asked otherwise");
    assert_eq!(&response.bytes().await.unwrap()[..2], &[0xFF, 0xFB]);
}

#[tokio::test]
async fn a_speech_stream_broken_after_its_first_bytes_is_cut_and_billed_for_its_whole_input() {
    let (h, user, key) = start().await;
    let input = "x".repeat(200);
    let body = json!({"model": "tts-broken", "input": input, "voice": "alloy", "response_format": "wav"});
    let response = post(&h, &key, "/v1/audio/speech", body).await;
    assert_eq!(response.status(), 200, "the audio had started");
    let id = request_id(&response);
    assert!(response.bytes().await.is_err(), "the client sees a cut transfer, not a complete file");
    let log = record_of(&h, &id).await;
    assert_eq!((log.status, log.error_class.as_deref(), log.cost_micros), (200, Some("stream_broken"), 200 * 15));
    assert_eq!(spent(&h, &user).await, 200 * 15);
}

#[tokio::test]
async fn a_transcription_is_routed_by_its_form_model_and_billed_by_the_seconds_the_upstream_reports() {
    let (h, user, key) = start().await;
    let audio = wav(16_000, 24_000); // 1.5 s
    let fields = [("model", "whisper"), ("language", "en")];
    let response = upload(&h, &key, "/v1/audio/transcriptions", form(&fields, Some(("hello.wav", &audio)))).await;
    assert_eq!(response.status(), 200);
    let id = request_id(&response);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["text"], format!("Mock transcript of {} bytes of audio.", audio.len()));
    assert_eq!(answer["usage"], json!({"type": "duration", "seconds": 2}));
    let log = record_of(&h, &id).await;
    assert_eq!((log.endpoint.as_str(), log.attempts, log.status), ("transcriptions", 2, 200));
    assert_eq!((log.cost_micros, log.usage_estimated), (200, false), "2 s at 0.0001 per second");
    let sent = sent_to(&h, "/v1/audio/transcriptions").await;
    let last = &sent.last().unwrap()["body"];
    assert_eq!((&last["model"], &last["language"]), (&json!("whisper-1"), &json!("en")), "the channel's model");
    assert_eq!(last["file"], json!({"filename": "hello.wav", "content_type": "audio/wav", "bytes": audio.len()}));

    // As text the answer carries no usage: the file's own duration is billed, marked estimated.
    let fields = [("model", "whisper"), ("response_format", "text")];
    let response = upload(&h, &key, "/v1/audio/transcriptions", form(&fields, Some(("a.wav", &audio)))).await;
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let id = request_id(&response);
    assert!(response.text().await.unwrap().starts_with("Mock transcript"));
    let log = record_of(&h, &id).await;
    assert_eq!((log.cost_micros, log.usage_estimated), (150, true), "1.5 s read from the WAV header");

    // A token-billed model is billed by the tokens it reports; translations work alike.
    let fields = [("model", "transcribe"), ("response_format", "verbose_json")];
    let response = upload(&h, &key, "/v1/audio/translations", form(&fields, Some(("a.wav", &audio)))).await;
    let id = request_id(&response);
    let answer: Value = response.json().await.unwrap();
    assert_eq!((answer["task"].as_str(), answer["duration"].as_f64()), (Some("translate"), Some(1.5)));
    let (input, output) =
        (answer["usage"]["input_tokens"].as_i64().unwrap(), answer["usage"]["output_tokens"].as_i64().unwrap());
    let log = record_of(&h, &id).await;
    assert_eq!((log.endpoint.as_str(), log.input_tokens, log.output_tokens), ("translations", input, output));
    assert_eq!(log.cost_micros, input * 6 + output * 10);
    assert_eq!(spent(&h, &user).await, 200 + 150 + log.cost_micros);
}

#[tokio::test]
async fn an_upload_over_25_mb_is_refused_with_413_naming_the_file_before_any_channel_is_tried() {
    let (h, user, key) = start().await;
    let audio = vec![7u8; 25 * 1024 * 1024 + 1];
    let response =
        upload(&h, &key, "/v1/audio/transcriptions", form(&[("model", "whisper")], Some(("big.mp3", &audio)))).await;
    assert_eq!(response.status(), 413);
    let id = request_id(&response);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        (error["error"]["param"].as_str(), error["error"]["code"].as_str()),
        (Some("file"), Some("request_too_large"))
    );
    let log = record_of(&h, &id).await;
    assert_eq!((log.status, log.endpoint.as_str(), log.attempts), (413, "transcriptions", 0));
    assert!(sent_to(&h, "/v1/audio/transcriptions").await.is_empty());
    assert_eq!(spent(&h, &user).await, 0);
}

#[tokio::test]
async fn moderations_default_their_model_flag_the_marker_word_and_count_input_tokens() {
    let (h, _, key) = start().await;
    let body = json!({"input": ["I will kill the process", "hello"]});
    let response = post(&h, &key, "/v1/moderations", body).await;
    assert_eq!(response.status(), 200);
    let id = request_id(&response);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["model"], "omni-moderation-latest", "OpenAI's default model");
    let flagged: Vec<bool> =
        answer["results"].as_array().unwrap().iter().map(|r| r["flagged"].as_bool().unwrap()).collect();
    assert_eq!(flagged, [true, false]);
    assert_eq!(answer["results"][0]["categories"]["violence"], true);
    let log = record_of(&h, &id).await;
    assert_eq!((log.endpoint.as_str(), log.attempts, log.usage_estimated), ("moderations", 2, true));
    assert!(log.input_tokens >= 6, "counted locally: {log:?}");
    assert_eq!(log.cost_micros, log.input_tokens, "1 micro-unit per input token");
}

#[tokio::test]
async fn rerank_is_billed_per_search_unit_of_a_hundred_documents_and_its_tokens() {
    let (h, _, key) = start().await;
    let documents: Vec<String> = (0..150).map(|i| format!("document {i}")).collect();
    let response =
        post(&h, &key, "/v1/rerank", json!({"model": "rr", "query": "document", "documents": documents})).await;
    let id = request_id(&response);
    let answer: Value = response.json().await.unwrap();
    let tokens = answer["usage"]["total_tokens"].as_i64().unwrap();
    let log = record_of(&h, &id).await;
    assert_eq!(log.cost_micros, tokens + 2 * 2_000, "two search units");
}

#[tokio::test]
async fn bad_input_is_refused_in_openai_shape_naming_the_field_before_any_channel_is_tried() {
    let (h, _, key) = start().await;
    let cases = [
        ("/v1/completions", json!({"prompt": "x"}), "model"),
        ("/v1/completions", json!({"model": 5, "prompt": "x"}), "model"),
        ("/v1/completions", json!({"model": "instruct"}), "prompt"),
        ("/v1/completions", json!({"model": "instruct", "prompt": ""}), "prompt"),
        ("/v1/completions", json!({"model": "instruct", "prompt": [{}]}), "prompt[0]"),
        ("/v1/completions", json!({"model": "instruct", "prompt": "x", "max_tokens": "ten"}), "max_tokens"),
        ("/v1/completions", json!({"model": "instruct", "prompt": "x", "stream": "yes"}), "stream"),
        ("/v1/completions", json!({"model": "instruct", "prompt": "x", "n": 3, "best_of": 2}), "best_of"),
        ("/v1/images/generations", json!({"model": "dalle"}), "prompt"),
        ("/v1/images/generations", json!({"model": "dalle", "prompt": "p", "n": 0}), "n"),
        ("/v1/images/generations", json!({"model": "dalle", "prompt": "p", "size": 1024}), "size"),
        (
            "/v1/images/generations",
            json!({"model": "dalle", "prompt": "p", "response_format": "png"}),
            "response_format",
        ),
        ("/v1/audio/speech", json!({"model": "tts", "voice": "alloy"}), "input"),
        ("/v1/audio/speech", json!({"model": "tts", "input": " ", "voice": "alloy"}), "input"),
        ("/v1/audio/speech", json!({"model": "tts", "input": "x".repeat(4097), "voice": "alloy"}), "input"),
        ("/v1/audio/speech", json!({"model": "tts", "input": "hi"}), "voice"),
        (
            "/v1/audio/speech",
            json!({"model": "tts", "input": "hi", "voice": "alloy", "response_format": "ogg"}),
            "response_format",
        ),
        ("/v1/audio/speech", json!({"model": "tts", "input": "hi", "voice": "alloy", "speed": 9}), "speed"),
        ("/v1/moderations", json!({"model": "omni-moderation-latest"}), "input"),
        ("/v1/moderations", json!({"input": []}), "input"),
        ("/v1/moderations", json!({"input": [{"type": "audio"}]}), "input[0]"),
        ("/v1/embeddings", json!({"model": "rr", "input": ""}), "input"),
    ];
    for (path, body, param) in cases {
        let response = post(&h, &key, path, body.clone()).await;
        assert_eq!(response.status(), 400, "{path} {body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(
            (error["error"]["type"].as_str(), error["error"]["param"].as_str()),
            (Some("invalid_request_error"), Some(param)),
            "{path} {body}: {error}"
        );
    }
    let audio = wav(8_000, 800);
    let uploads = [
        (form(&[("model", "whisper")], None), "file"),
        (form(&[], Some(("a.wav", &audio))), "model"),
        (form(&[("model", "whisper"), ("response_format", "xml")], Some(("a.wav", &audio))), "response_format"),
        (form(&[("model", "whisper"), ("stream", "true")], Some(("a.wav", &audio))), "stream"),
        (form(&[("model", "whisper"), ("temperature", "hot")], Some(("a.wav", &audio))), "temperature"),
        (form(&[("model", "whisper")], Some(("a.wav", b""))), "file"),
    ];
    for (body, param) in uploads {
        let response = upload(&h, &key, "/v1/audio/transcriptions", body).await;
        assert_eq!(response.status(), 400, "{param}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["param"], param, "{error}");
    }
    let json_body = post(&h, &key, "/v1/audio/transcriptions", json!({"model": "whisper"})).await;
    assert_eq!(json_body.status(), 400, "a transcription is an upload");

    // Unknown models, and models only a non-OpenAI channel serves, are not found.
    for (path, body) in [
        ("/v1/completions", json!({"model": "nope", "prompt": "x"})),
        ("/v1/images/generations", json!({"model": "claude", "prompt": "x"})),
        ("/v1/images/generations", json!({"prompt": "x"})),
        ("/v1/audio/speech", json!({"model": "nope", "input": "x", "voice": "alloy"})),
        ("/v1/moderations", json!({"model": "nope", "input": "x"})),
    ] {
        let response = post(&h, &key, path, body).await;
        assert_eq!(response.status(), 404, "{path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "model_not_found");
    }
    let response =
        upload(&h, &key, "/v1/audio/transcriptions", form(&[("model", "nope")], Some(("a.wav", &audio)))).await;
    assert_eq!(response.status(), 404);
    assert!(h.upstream_chat_requests().await.is_empty(), "nothing reached an upstream");
    let logs = h.logs().await;
    assert!(logs.iter().all(|l| l.status == 400 || l.status == 404), "every refusal is recorded");
    assert_eq!(logs.len(), 22 + 6 + 1 + 5 + 1);
}

#[tokio::test]
async fn every_new_route_refuses_a_bad_key_and_records_the_refusal_under_its_endpoint() {
    let h = Harness::start(&manifests()).await;
    for (path, endpoint) in [
        ("/v1/completions", "completions"),
        ("/v1/images/generations", "images"),
        ("/v1/audio/speech", "speech"),
        ("/v1/audio/transcriptions", "transcriptions"),
        ("/v1/audio/translations", "translations"),
        ("/v1/moderations", "moderations"),
    ] {
        let response = post(&h, "sk-wrong", path, json!({})).await;
        assert_eq!(response.status(), 401, "{path}");
        let id = request_id(&response);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_api_key");
        assert_eq!(record_of(&h, &id).await.endpoint, endpoint);
    }
}

#[tokio::test]
async fn azure_channels_are_called_on_the_deployment_path() {
    let yaml = channel(
        "az",
        "azure-openai",
        0,
        "[{name: tts, upstreamModel: tts-dep}, {name: dalle, upstreamModel: dall-e-3}]",
        "",
    );
    let h = Harness::start(&yaml).await;
    let response = h.post("/v1/audio/speech", json!({"model": "tts", "input": "hi", "voice": "alloy"})).await;
    assert_eq!(response.status(), 200);
    let response = h.post("/v1/images/generations", json!({"model": "dalle", "prompt": "p"})).await;
    assert_eq!(response.status(), 200);
    let paths: Vec<Value> = h.upstream_chat_requests().await.into_iter().map(|r| r["path"].clone()).collect();
    assert_eq!(
        paths,
        [json!("/openai/deployments/tts-dep/audio/speech"), json!("/openai/deployments/dall-e-3/images/generations")]
    );
}

#[tokio::test]
async fn completion_streams_fail_over_on_a_first_event_error_and_are_billed_by_the_text_delivered_when_cut() {
    let yaml = channel("bad", "openai", 10, "[{name: instruct, upstreamModel: \"x@error_in_stream=overloaded\"}]", "")
        + &channel(
            "good",
            "openai",
            0,
            "[{name: instruct, upstreamModel: \"x@words=6\"}, {name: quiet, upstreamModel: \"x@words=6,no_usage\"}, \
             {name: cut, upstreamModel: \"x@words=10,break_after=3\"}]",
            "",
        );
    let h = Harness::start(&yaml).await;
    let stream =
        |model: &str| json!({"model": model, "prompt": "p", "stream": true, "stream_options": {"include_usage": true}});

    let response = h.post("/v1/completions", stream("instruct")).await;
    let id = request_id(&response);
    let (datas, clean) = read_sse(response).await;
    assert!(clean && datas.iter().all(|d| !d.contains("error")), "{datas:?}");
    assert_eq!(record_of(&h, &id).await.attempts, 2, "the in-stream error came before the first byte: failed over");

    // An upstream that reports no usage: the client that asked gets a local count, marked.
    let response = h.post("/v1/completions", stream("quiet")).await;
    let id = request_id(&response);
    let (datas, _) = read_sse(response).await;
    let usage: Value = serde_json::from_str(&datas[datas.len() - 2]).unwrap();
    assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{usage}");
    assert!(record_of(&h, &id).await.usage_estimated);

    // Cut after three words: an error event ends the stream, the three words are billed.
    let response = h.post("/v1/completions", stream("cut")).await;
    let id = request_id(&response);
    let (datas, _) = read_sse(response).await;
    let last: Value = serde_json::from_str(datas.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "server_error", "{datas:?}");
    let log = record_of(&h, &id).await;
    assert_eq!((log.status, log.error_class.as_deref(), log.usage_estimated), (200, Some("stream_broken"), true));
    assert_eq!(log.output_tokens, 3, "Mock answer <word>: three tokens delivered");
}

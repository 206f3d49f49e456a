//! OpenAI's audio endpoints, deterministically:
//!
//! - `POST /v1/audio/speech`: 40 ms of silence per input character, streamed in 4 KiB chunks
//!   (`tps` paces chunks, `break_after` cuts after N): a real WAV for `wav` (8 kHz mono 16-bit),
//!   raw PCM for `pcm`, silent MPEG audio frames otherwise, each with OpenAI's content type.
//! - `POST /v1/audio/transcriptions` and `/translations` (multipart): the transcript says how
//!   many bytes the file has; the duration is a WAV header's, else the file's size at 128 kbit/s.
//!   `json` carries `usage: {type: "duration", seconds}` (seconds rounded up, as OpenAI bills),
//!   `verbose_json` also `duration` and one segment, `text`/`srt`/`vtt` are plain text.
//!   `gpt-4o-*transcribe` models report `usage: {type: "tokens"}` instead (ten audio tokens per
//!   second, one output token per word). `no_usage` drops `usage`.

use axum::extract::Multipart;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::answer::count_words;
use crate::errors::{self, Provider};
use crate::openai::{bearer, json_request};
use crate::prelude;
use crate::record::Recorder;
use crate::streaming::{Delivery, Frame, streamed};

/// Milliseconds of audio per character of speech input.
pub const SPEECH_MS_PER_CHARACTER: u64 = 40;
const SPEECH_RATE: u32 = 8_000;
const CHUNK: usize = 4_096;
/// A silent MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz, 26 ms): header then zeros.
const MP3_FRAME_BYTES: usize = 417;
/// Bytes per second assumed of a file that is not a WAV (128 kbit/s).
const ASSUMED_BYTES_PER_SECOND: u64 = 16_000;

pub async fn speech(headers: &HeaderMap, body: &[u8], deployment: Option<&str>) -> Response {
    let (request, _model, directives) = match json_request(headers, body, deployment).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let (Some(input), Some(_voice)) = (request.get("input").and_then(Value::as_str), request.get("voice")) else {
        return errors::bad_request(Provider::OpenAi, "Missing required parameters: 'input' and 'voice'.")
            .into_response();
    };
    let format = request.get("response_format").and_then(Value::as_str).unwrap_or("mp3");
    let (audio, content_type) = speech_audio(input.chars().count() as u64, format);
    let frames = audio.chunks(CHUNK).map(|chunk| Frame::content(Bytes::copy_from_slice(chunk))).collect();
    streamed(frames, Delivery::from_tps(directives.tps, directives.break_after), content_type)
}

/// The audio for `characters` of input in `format`, and its content type.
pub fn speech_audio(characters: u64, format: &str) -> (Vec<u8>, &'static str) {
    let pcm_bytes = (characters * SPEECH_MS_PER_CHARACTER * u64::from(SPEECH_RATE) / 1000 * 2) as usize;
    match format {
        "wav" => (wav(SPEECH_RATE, pcm_bytes), "audio/wav"),
        "pcm" => (vec![0; pcm_bytes], "audio/pcm"),
        other => {
            let frames = (characters * SPEECH_MS_PER_CHARACTER).div_ceil(26).max(1) as usize;
            let mut audio = Vec::with_capacity(frames * MP3_FRAME_BYTES);
            for _ in 0..frames {
                audio.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
                audio.resize(audio.len() + MP3_FRAME_BYTES - 4, 0);
            }
            let content_type = match other {
                "opus" => "audio/opus",
                "aac" => "audio/aac",
                "flac" => "audio/flac",
                _ => "audio/mpeg",
            };
            (audio, content_type)
        }
    }
}

/// A mono 16-bit PCM WAV of silence, `data_bytes` long (tests of the relay make their uploads
/// with it too).
pub fn wav(rate: u32, data_bytes: usize) -> Vec<u8> {
    let data = data_bytes as u32;
    let mut out = Vec::with_capacity(44 + data_bytes);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    out.resize(44 + data_bytes, 0);
    out
}

/// An uploaded form: text fields and the file.
#[derive(Default)]
struct Upload {
    fields: Vec<(String, String)>,
    file: Option<(String, Option<String>, Bytes)>,
}

impl Upload {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// What the recorder keeps of the form (JSON; the file by name, type and size).
    fn summary(&self) -> Value {
        let mut summary: serde_json::Map<String, Value> =
            self.fields.iter().map(|(n, v)| (n.clone(), Value::String(v.clone()))).collect();
        if let Some((name, content_type, data)) = &self.file {
            summary.insert("file".into(), json!({"filename": name, "content_type": content_type, "bytes": data.len()}));
        }
        Value::Object(summary)
    }
}

/// `POST /v1/audio/transcriptions` (`translate: false`) and `/v1/audio/translations`.
pub async fn transcription(
    recorder: &Recorder,
    path: &str,
    headers: &HeaderMap,
    mut multipart: Multipart,
    translate: bool,
) -> Response {
    let mut upload = Upload::default();
    loop {
        match multipart.next_field().await {
            Ok(None) => break,
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let file_name = field.file_name().map(str::to_string);
                let content_type = field.content_type().map(str::to_string);
                let Ok(data) = field.bytes().await else {
                    return errors::bad_request(Provider::OpenAi, "Could not read the upload.").into_response();
                };
                match file_name {
                    Some(file_name) => upload.file = Some((file_name, content_type, data)),
                    None => upload.fields.push((name, String::from_utf8_lossy(&data).into_owned())),
                }
            }
            Err(_) => return errors::bad_request(Provider::OpenAi, "Malformed multipart body.").into_response(),
        }
    }
    let body = upload.summary().to_string();
    recorder.record("POST", path, None, headers, body.as_bytes());
    let key = bearer(headers).or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()));
    let Some(model) = upload.field("model").map(str::to_string) else {
        return errors::bad_request(Provider::OpenAi, "you must provide a model parameter").into_response();
    };
    let directives = match prelude(Provider::OpenAi, key, &model, headers).await {
        Ok(directives) => directives,
        Err(response) => return response,
    };
    let Some((_, _, data)) = &upload.file else {
        return errors::bad_request(Provider::OpenAi, "Missing required parameter: 'file'.").into_response();
    };
    let duration_ms =
        wav_duration_ms(data).unwrap_or_else(|| (data.len() as u64 * 1000).div_ceil(ASSUMED_BYTES_PER_SECOND));
    let duration = duration_ms as f64 / 1000.0;
    let text = format!("Mock transcript of {} bytes of audio.", data.len());
    let seconds = duration_ms.div_ceil(1000);
    let usage = if model.starts_with("gpt-4o") {
        let (audio, words) = (seconds * 10, count_words(&text));
        json!({"type": "tokens", "input_tokens": audio, "output_tokens": words, "total_tokens": audio + words,
               "input_token_details": {"text_tokens": 0, "audio_tokens": audio}})
    } else {
        json!({"type": "duration", "seconds": seconds})
    };
    let mut answer = match upload.field("response_format").unwrap_or("json") {
        "text" => return plain(format!("{text}\n"), "text/plain; charset=utf-8"),
        "srt" => {
            return plain(
                format!("1\n00:00:00,000 --> {}\n{text}\n\n", timestamp(duration_ms, ',')),
                "text/plain; charset=utf-8",
            );
        }
        "vtt" => {
            return plain(
                format!("WEBVTT\n\n00:00:00.000 --> {}\n{text}\n\n", timestamp(duration_ms, '.')),
                "text/vtt; charset=utf-8",
            );
        }
        "verbose_json" => json!({
            "task": if translate { "translate" } else { "transcribe" },
            "language": "english",
            "duration": duration,
            "text": text,
            "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": duration, "text": text, "tokens": [],
                          "temperature": 0.0, "avg_logprob": -0.1, "compression_ratio": 1.0, "no_speech_prob": 0.0}],
        }),
        _ => json!({"text": text}),
    };
    if !directives.no_usage {
        answer["usage"] = usage;
    }
    axum::Json(answer).into_response()
}

fn plain(text: String, content_type: &'static str) -> Response {
    let mut response = text.into_response();
    response.headers_mut().insert("content-type", axum::http::HeaderValue::from_static(content_type));
    response
}

/// `HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (VTT).
fn timestamp(ms: u64, separator: char) -> String {
    let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60);
    format!("{h:02}:{m:02}:{s:02}{separator}{:03}", ms % 1000)
}

/// A canonical WAV's duration: its data chunk over the byte rate of its `fmt ` chunk.
fn wav_duration_ms(bytes: &[u8]) -> Option<u64> {
    if bytes.len() < 44 || &bytes[..4] != b"RIFF" || &bytes[8..16] != b"WAVEfmt " {
        return None;
    }
    let byte_rate = u64::from(u32::from_le_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]));
    let data = bytes.len() as u64 - 44;
    (byte_rate > 0).then(|| (data * 1000).div_ceil(byte_rate))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn speech_is_a_wav_of_forty_milliseconds_per_character_and_mp3_frames_otherwise() {
        let (audio, content_type) = speech_audio(25, "wav");
        assert_eq!((content_type, &audio[..4], wav_duration_ms(&audio)), ("audio/wav", &b"RIFF"[..], Some(1_000)));
        let (mp3, content_type) = speech_audio(25, "mp3");
        assert_eq!((content_type, &mp3[..2]), ("audio/mpeg", &[0xFF, 0xFB][..]));
        assert_eq!(mp3.len() % MP3_FRAME_BYTES, 0);
        assert_eq!(timestamp(3_723_004, ','), "01:02:03,004");
    }
}

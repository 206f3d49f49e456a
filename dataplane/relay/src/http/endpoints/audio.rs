//! The audio endpoints, OpenAI's shapes:
//!
//! - `POST /v1/audio/speech`: JSON in, audio bytes out, relayed as they come with the upstream's
//!   content type. Billed per character of `input` (`perThousandCharacters`), known exactly
//!   before sending: once the audio has started, the whole input is billed (the provider has
//!   synthesized it), however the stream ends.
//! - `POST /v1/audio/transcriptions` and `/translations`: a multipart upload (`file`, `model`,
//!   `response_format`, …) read under caps (`multipart.rs`) and rebuilt with the channel's model.
//!   Billed per second of audio (`perAudioSecond`, by the millisecond): the duration the upstream
//!   reports (`usage: {type: "duration", seconds}` of newer answers, `duration` of
//!   `verbose_json`), else the file's own (a WAV header's), else a guess from its size, both
//!   marked estimated; plus the tokens a token-billed model reports (`usage: {type: "tokens"}`).
//!   The hold assumes the file is low-bitrate speech, so it is long rather than short.

use oblivious_core::ApiError;
use serde_json::Value;

use super::multipart::Form;
use super::{AnswerKind, Answered, BodyKind, Endpoint, Measured, Plan, Request};
use crate::billing::{Estimate, Units};
use crate::ir::Usage;

pub(super) const SPEECH: Endpoint = Endpoint {
    name: "speech",
    path: "audio/speech",
    body: BodyKind::Json,
    default_model: None,
    check: check_speech,
    measure: measure_speech,
};

pub(super) const TRANSCRIPTIONS: Endpoint = Endpoint {
    name: "transcriptions",
    path: "audio/transcriptions",
    body: BodyKind::Multipart,
    default_model: None,
    check: check_transcription,
    measure: measure_transcription,
};

pub(super) const TRANSLATIONS: Endpoint = Endpoint {
    name: "translations",
    path: "audio/translations",
    body: BodyKind::Multipart,
    default_model: None,
    check: check_transcription,
    measure: measure_transcription,
};

/// Longest text one speech request may turn into audio (OpenAI's limit).
const MAX_SPEECH_CHARACTERS: usize = 4_096;
const SPEECH_FORMATS: &[&str] = &["mp3", "opus", "aac", "flac", "wav", "pcm"];
const TRANSCRIPT_FORMATS: &[&str] = &["json", "text", "srt", "verbose_json", "vtt", "diarized_json"];
/// Bytes per second assumed of an audio file whose duration cannot be read: 32 kbit/s, the low
/// end of speech MP3/Opus, so a guess errs on the long side.
const ASSUMED_BYTES_PER_SECOND: u64 = 4_000;

fn check_speech(request: &Request) -> Result<Plan, ApiError> {
    let Some(json) = request.json() else { return Err(ApiError::invalid_request("Expected a JSON body.")) };
    let Some(input) = json.get("input").and_then(Value::as_str).filter(|i| !i.trim().is_empty()) else {
        return Err(ApiError::invalid_field("input", "is required: a non-empty string"));
    };
    let characters = input.chars().count();
    if characters > MAX_SPEECH_CHARACTERS {
        return Err(ApiError::invalid_field("input", format!("at most {MAX_SPEECH_CHARACTERS} characters")));
    }
    match json.get("voice") {
        Some(Value::String(voice)) if !voice.trim().is_empty() => {}
        // A custom voice: `{"id": "voice_..."}`.
        Some(Value::Object(voice)) if voice.get("id").is_some_and(Value::is_string) => {}
        _ => return Err(ApiError::invalid_field("voice", "is required: a voice name such as `alloy`")),
    }
    if let Some(format) = json.get("response_format").filter(|f| !f.is_null())
        && !format.as_str().is_some_and(|f| SPEECH_FORMATS.contains(&f))
    {
        return Err(ApiError::invalid_field(
            "response_format",
            format!("must be one of {}", SPEECH_FORMATS.join(", ")),
        ));
    }
    if let Some(speed) = json.get("speed").filter(|s| !s.is_null())
        && !speed.as_f64().is_some_and(|s| (0.25..=4.0).contains(&s))
    {
        return Err(ApiError::invalid_field("speed", "must be a number from 0.25 to 4.0"));
    }
    let units = Units { characters: characters as u64, ..Units::default() };
    let estimate = Estimate { units: units.clone(), ..Estimate::default() };
    Ok(Plan { estimate, units, answer: AnswerKind::Bytes, ..Plan::default() })
}

fn measure_speech(plan: &Plan, _answer: Answered<'_>) -> Measured {
    Measured { units: plan.units.clone(), ..Measured::default() }
}

fn check_transcription(request: &Request) -> Result<Plan, ApiError> {
    let Some(form) = request.form() else { return Err(ApiError::invalid_request("Expected a multipart body.")) };
    let Some(file) = form.file("file") else {
        return Err(ApiError::invalid_field("file", "is required: the audio file to transcribe"));
    };
    if file.data.is_empty() {
        return Err(ApiError::invalid_field("file", "is empty"));
    }
    let format = form.text("response_format").map(str::trim).unwrap_or("json");
    if !TRANSCRIPT_FORMATS.contains(&format) {
        return Err(ApiError::invalid_field(
            "response_format",
            format!("must be one of {}", TRANSCRIPT_FORMATS.join(", ")),
        ));
    }
    if form.text("stream").is_some_and(|s| s.trim() == "true") {
        return Err(ApiError::invalid_field("stream", "streamed transcriptions are not supported by this relay"));
    }
    if let Some(temperature) = form.text("temperature")
        && !temperature.trim().parse::<f64>().is_ok_and(|t| (0.0..=1.0).contains(&t))
    {
        return Err(ApiError::invalid_field("temperature", "must be a number from 0 to 1"));
    }
    let units = Units { audio_ms: file_duration_ms(form), ..Units::default() };
    let json = matches!(format, "json" | "verbose_json" | "diarized_json");
    let answer = if json { AnswerKind::Json } else { AnswerKind::Text };
    Ok(Plan { estimate: Estimate { units: units.clone(), ..Estimate::default() }, units, answer, ..Plan::default() })
}

fn measure_transcription(plan: &Plan, answer: Answered<'_>) -> Measured {
    let answer = match answer {
        Answered::Json(answer) => Some(answer),
        _ => None,
    };
    let usage = answer.and_then(|a| a.get("usage"));
    let reported_seconds = usage
        .filter(|u| u.get("type").and_then(Value::as_str) == Some("duration"))
        .and_then(|u| u.get("seconds"))
        .or_else(|| answer.and_then(|a| a.get("duration")))
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0);
    let tokens = usage.filter(|u| u.get("type").and_then(Value::as_str) == Some("tokens")).map(|u| {
        let n = |pointer: &str| u.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
        Usage { input_tokens: n("/input_tokens"), output_tokens: n("/output_tokens"), ..Usage::default() }
    });
    match (reported_seconds, tokens) {
        (Some(seconds), tokens) => {
            let audio_ms = (seconds * 1000.0).ceil() as u64;
            Measured {
                usage: tokens.unwrap_or_default(),
                units: Units { audio_ms, ..Units::default() },
                estimated: false,
            }
        }
        // A token-billed model (gpt-4o-transcribe) reports tokens, not seconds.
        (None, Some(usage)) => Measured { usage, units: Units::default(), estimated: false },
        (None, None) => Measured { units: plan.units.clone(), estimated: true, ..Measured::default() },
    }
}

/// The duration of the uploaded file: from its WAV header, else guessed from its size
/// (`ASSUMED_BYTES_PER_SECOND`).
fn file_duration_ms(form: &Form) -> u64 {
    let Some(file) = form.file("file") else { return 0 };
    wav_duration_ms(&file.data).unwrap_or_else(|| (file.data.len() as u64 * 1000).div_ceil(ASSUMED_BYTES_PER_SECOND))
}

/// The duration of a RIFF/WAVE file: its `data` chunk's size over the `fmt ` chunk's byte rate.
fn wav_duration_ms(bytes: &[u8]) -> Option<u64> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let u32_at = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let (mut at, mut byte_rate, mut data_size) = (12, None, None);
    while at + 8 <= bytes.len() && (byte_rate.is_none() || data_size.is_none()) {
        let id = &bytes[at..at + 4];
        let size = u32_at(at + 4)? as usize;
        match id {
            b"fmt " => byte_rate = u32_at(at + 16),
            // A streamed WAV may say 0 or 0xFFFFFFFF: then the rest of the file is the data.
            b"data" => {
                data_size = Some(if size == 0 || size == u32::MAX as usize { bytes.len() - at - 8 } else { size })
            }
            _ => {}
        }
        at += 8 + size + size % 2;
    }
    let byte_rate = u64::from(byte_rate.filter(|r| *r > 0)?);
    Some((data_size? as u64 * 1000).div_ceil(byte_rate))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A mono 16-bit PCM WAV of silence: `samples` samples at `rate` Hz.
    pub(crate) fn wav(rate: u32, samples: u32) -> Vec<u8> {
        oblivious_mock_upstream::wav(rate, samples as usize * 2)
    }

    #[test]
    fn a_wav_header_gives_the_duration_and_other_files_are_not_read() {
        assert_eq!(wav_duration_ms(&wav(16_000, 24_000)), Some(1_500));
        assert_eq!(wav_duration_ms(&wav(8_000, 1)), Some(1), "rounded up");
        assert_eq!(wav_duration_ms(b"ID3\x03mp3 bytes"), None);
        assert_eq!(wav_duration_ms(b"RIFF\0\0\0\0WAVE"), None, "no fmt chunk");
    }

    #[test]
    fn the_reported_duration_wins_then_reported_tokens_then_the_files_own() {
        let plan = Plan { units: Units { audio_ms: 5_000, ..Units::default() }, ..Plan::default() };
        let answer = serde_json::json!({"text": "x", "usage": {"type": "duration", "seconds": 2.0005}});
        let measured = measure_transcription(&plan, Answered::Json(&answer));
        assert_eq!((measured.units.audio_ms, measured.estimated), (2_001, false));
        let verbose = serde_json::json!({"text": "x", "duration": 3.25});
        assert_eq!(measure_transcription(&plan, Answered::Json(&verbose)).units.audio_ms, 3_250);
        let tokens =
            serde_json::json!({"text": "x", "usage": {"type": "tokens", "input_tokens": 14, "output_tokens": 45}});
        let measured = measure_transcription(&plan, Answered::Json(&tokens));
        assert_eq!((measured.usage.input_tokens, measured.usage.output_tokens, measured.units.audio_ms), (14, 45, 0));
        let measured = measure_transcription(&plan, Answered::Text("hello"));
        assert_eq!((measured.units.audio_ms, measured.estimated), (5_000, true));
    }
}

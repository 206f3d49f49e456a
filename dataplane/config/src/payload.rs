//! How a [`Snapshot`] travels on the config stream and sits on disk: JSON, gzip-compressed when
//! large, tagged with a schema number so a pod can refuse what it cannot read (see NOTES.md,
//! "Version skew").
//!
//! Decoding is the data plane's first line of defence: [`decode`] turns any problem into a
//! [`Refusal`] whose text becomes the NACK message the operator shows in the Channel's status.

use std::collections::HashSet;
use std::io::Read;

use crate::Snapshot;

/// The snapshot schema this build emits. Additive changes (a new field with a default) keep it;
/// a change an older pod would silently misread increments it.
pub const SCHEMA: u32 = 1;
/// Every snapshot schema this build can read.
pub const SUPPORTED_SCHEMAS: &[u32] = &[1];
/// The only media type so far.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// Uncompressed payloads (an empty encoding means the same).
pub const ENCODING_IDENTITY: &str = "identity";
/// Gzip-compressed payloads: the operator compresses once per snapshot, not once per pod.
pub const ENCODING_GZIP: &str = "gzip";
/// Below this, compressing costs more than it saves.
pub const COMPRESS_ABOVE_BYTES: usize = 64 * 1024;
/// A decompressed snapshot larger than this is refused (a gzip bomb, or a runaway config).
pub const MAX_DECODED_BYTES: usize = 256 * 1024 * 1024;

/// A snapshot ready to send: serialised (and maybe compressed) once, shared by every stream.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub version: String,
    pub schema: u32,
    pub content_type: &'static str,
    pub content_encoding: &'static str,
    pub bytes: Vec<u8>,
    /// Size of the JSON before compression.
    pub json_len: usize,
}

/// Serialises a snapshot for the wire.
pub fn encode(snapshot: &Snapshot) -> Result<Encoded, serde_json::Error> {
    let json = serde_json::to_vec(snapshot)?;
    let json_len = json.len();
    let (content_encoding, bytes) = if json.len() > COMPRESS_ABOVE_BYTES {
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::with_capacity(json.len() / 8), flate2::Compression::fast());
        // Writing into a Vec cannot fail; fall back to identity if it somehow does.
        match std::io::Write::write_all(&mut encoder, &json).and_then(|()| encoder.finish()) {
            Ok(compressed) => (ENCODING_GZIP, compressed),
            Err(_) => (ENCODING_IDENTITY, json),
        }
    } else {
        (ENCODING_IDENTITY, json)
    };
    Ok(Encoded {
        version: snapshot.version.clone(),
        schema: SCHEMA,
        content_type: CONTENT_TYPE_JSON,
        content_encoding,
        bytes,
        json_len,
    })
}

/// What arrived in a response, before anything is trusted.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    /// The version the envelope claims.
    pub version: &'a str,
    pub schema: u32,
    pub content_type: &'a str,
    pub content_encoding: &'a str,
    pub bytes: &'a [u8],
}

/// A decoded snapshot and its JSON (kept for the on-disk copy).
#[derive(Debug, Clone)]
pub struct Decoded {
    pub snapshot: Snapshot,
    pub json: Vec<u8>,
}

/// Why a pod refuses a snapshot. The `Display` text is the NACK message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "version skew refused: snapshot schema {schema} is not supported by this data plane (it reads {supported:?}); \
         upgrade the data plane before the operator emits this schema"
    )]
    VersionSkew { schema: u32, supported: Vec<u32> },
    #[error("version skew refused: unknown snapshot content type {0:?}")]
    UnknownContentType(String),
    #[error("version skew refused: unknown content encoding {0:?}")]
    UnknownEncoding(String),
    #[error("snapshot does not decompress: {0}")]
    Corrupt(String),
    #[error("snapshot is larger than {MAX_DECODED_BYTES} bytes once decompressed")]
    TooLarge,
    #[error("snapshot does not parse at `{path}`: {reason}")]
    Parse { path: String, reason: String },
    #[error("snapshot carries version {inside:?} but was announced as {announced:?}")]
    VersionMismatch { inside: String, announced: String },
    #[error("snapshot of tenant {got:?} refused by a pod of tenant {expected:?}")]
    WrongTenant { got: String, expected: String },
    #[error("invalid snapshot: {0}")]
    Invalid(String),
    #[error("refused by the data plane: {0}")]
    Rejected(String),
}

/// Checks the schema and format, decompresses, parses, and checks the invariants every
/// snapshot must hold. Unknown fields are accepted (a newer operator may add them).
pub fn decode(payload: Payload<'_>) -> Result<Decoded, Refusal> {
    check_schema(payload.schema)?;
    if payload.content_type != CONTENT_TYPE_JSON {
        return Err(Refusal::UnknownContentType(payload.content_type.to_string()));
    }
    let json = match payload.content_encoding {
        "" | ENCODING_IDENTITY => payload.bytes.to_vec(),
        ENCODING_GZIP => gunzip(payload.bytes)?,
        other => return Err(Refusal::UnknownEncoding(other.to_string())),
    };
    let snapshot = parse(&json)?;
    if snapshot.version != payload.version {
        return Err(Refusal::VersionMismatch { inside: snapshot.version, announced: payload.version.to_string() });
    }
    check_invariants(&snapshot)?;
    Ok(Decoded { snapshot, json })
}

/// Refuses a schema this build does not read.
pub fn check_schema(schema: u32) -> Result<(), Refusal> {
    if SUPPORTED_SCHEMAS.contains(&schema) {
        Ok(())
    } else {
        Err(Refusal::VersionSkew { schema, supported: SUPPORTED_SCHEMAS.to_vec() })
    }
}

/// Parses snapshot JSON, naming the field path of a problem.
pub fn parse(json: &[u8]) -> Result<Snapshot, Refusal> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| Refusal::Parse { path: error.path().to_string(), reason: error.inner().to_string() })
}

/// What the data plane relies on and compile guarantees; checked again because the bytes may
/// come from another version of the operator or from disk.
pub fn check_invariants(snapshot: &Snapshot) -> Result<(), Refusal> {
    if snapshot.version.is_empty() {
        return Err(Refusal::Invalid("empty version".into()));
    }
    let mut names = HashSet::with_capacity(snapshot.channels.len());
    for channel in &snapshot.channels {
        if !names.insert(channel.name.as_str()) {
            return Err(Refusal::Invalid(format!("channel {:?} appears twice", channel.name)));
        }
    }
    // `Snapshot::price` binary-searches by model and takes the last effective entry.
    let sorted = snapshot.prices.windows(2).all(|pair| {
        (pair[0].model.as_str(), pair[0].effective_from) <= (pair[1].model.as_str(), pair[1].effective_from)
    });
    if !sorted {
        return Err(Refusal::Invalid("prices are not sorted by model and effectiveFrom".into()));
    }
    Ok(())
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, Refusal> {
    let limit = u64::try_from(MAX_DECODED_BYTES).unwrap_or(u64::MAX);
    let mut json = Vec::with_capacity(bytes.len().saturating_mul(8).min(MAX_DECODED_BYTES));
    // Read one byte past the limit to tell "exactly at the limit" from "beyond it".
    flate2::read::GzDecoder::new(bytes)
        .take(limit + 1)
        .read_to_end(&mut json)
        .map_err(|error| Refusal::Corrupt(error.to_string()))?;
    if json.len() > MAX_DECODED_BYTES {
        return Err(Refusal::TooLarge);
    }
    Ok(json)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{Channel, ModelPrice};

    fn snapshot(channels: usize) -> Snapshot {
        Snapshot {
            version: "v1".into(),
            channels: (0..channels)
                .map(|i| Channel {
                    name: format!("default/c{i:05}"),
                    base_url: "https://x".into(),
                    ..Channel::default()
                })
                .collect(),
            ..Snapshot::default()
        }
    }

    fn payload(encoded: &Encoded) -> Payload<'_> {
        Payload {
            version: &encoded.version,
            schema: encoded.schema,
            content_type: encoded.content_type,
            content_encoding: encoded.content_encoding,
            bytes: &encoded.bytes,
        }
    }

    #[test]
    fn small_snapshots_travel_uncompressed_and_round_trip() {
        let encoded = encode(&snapshot(2)).unwrap();
        assert_eq!(encoded.content_encoding, ENCODING_IDENTITY);
        assert_eq!(decode(payload(&encoded)).unwrap().snapshot, snapshot(2));
    }

    #[test]
    fn large_snapshots_are_gzipped_and_round_trip() {
        let encoded = encode(&snapshot(2_000)).unwrap();
        assert_eq!(encoded.content_encoding, ENCODING_GZIP);
        assert!(encoded.bytes.len() * 4 < encoded.json_len, "{} vs {}", encoded.bytes.len(), encoded.json_len);
        assert_eq!(decode(payload(&encoded)).unwrap().snapshot, snapshot(2_000));
    }

    #[test]
    fn an_unknown_schema_is_refused_as_version_skew() {
        let encoded = encode(&snapshot(1)).unwrap();
        let refusal = decode(Payload { schema: SCHEMA + 1, ..payload(&encoded) }).unwrap_err();
        assert!(matches!(refusal, Refusal::VersionSkew { .. }));
        assert!(refusal.to_string().starts_with("version skew refused"), "{refusal}");
    }

    #[test]
    fn unknown_formats_and_encodings_are_refused() {
        let encoded = encode(&snapshot(1)).unwrap();
        let refusal = decode(Payload { content_type: "application/x-protobuf", ..payload(&encoded) }).unwrap_err();
        assert!(matches!(refusal, Refusal::UnknownContentType(_)));
        let refusal = decode(Payload { content_encoding: "zstd", ..payload(&encoded) }).unwrap_err();
        assert!(matches!(refusal, Refusal::UnknownEncoding(_)));
    }

    #[test]
    fn fields_added_by_a_newer_operator_are_ignored() {
        let json =
            br#"{"version":"v9","channels":[{"name":"a/b","provider":"openai","newKnob":{"x":1}}],"newTop":[1]}"#;
        let decoded = decode(Payload {
            version: "v9",
            schema: SCHEMA,
            content_type: CONTENT_TYPE_JSON,
            content_encoding: "",
            bytes: json,
        })
        .unwrap();
        assert_eq!(decoded.snapshot.channels[0].name, "a/b");
    }

    #[test]
    fn a_parse_error_names_the_field_path() {
        let json = br#"{"version":"v1","channels":[{"name":"a/b","weight":"heavy"}]}"#;
        let refusal = parse(json).unwrap_err();
        assert!(refusal.to_string().contains("channels[0].weight"), "{refusal}");
    }

    #[test]
    fn a_payload_whose_inner_version_differs_from_the_envelope_is_refused() {
        let encoded = encode(&snapshot(1)).unwrap();
        let refusal = decode(Payload { version: "other", ..payload(&encoded) }).unwrap_err();
        assert!(matches!(refusal, Refusal::VersionMismatch { .. }));
    }

    #[test]
    fn duplicate_channels_and_unsorted_prices_break_the_invariants() {
        let mut duplicated = snapshot(2);
        duplicated.channels[1].name = duplicated.channels[0].name.clone();
        assert!(matches!(check_invariants(&duplicated), Err(Refusal::Invalid(_))));

        let price = |model: &str| ModelPrice { model: model.into(), ..ModelPrice::default() };
        let unsorted = Snapshot { version: "v".into(), prices: vec![price("b"), price("a")], ..Snapshot::default() };
        assert!(matches!(check_invariants(&unsorted), Err(Refusal::Invalid(_))));
        assert!(check_invariants(&snapshot(3)).is_ok());
    }

    #[test]
    fn a_corrupt_gzip_body_is_refused_not_panicked_on() {
        let refusal = decode(Payload {
            version: "v1",
            schema: SCHEMA,
            content_type: CONTENT_TYPE_JSON,
            content_encoding: ENCODING_GZIP,
            bytes: b"not gzip at all",
        })
        .unwrap_err();
        assert!(matches!(refusal, Refusal::Corrupt(_)));
    }
}

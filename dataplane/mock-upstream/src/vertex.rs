//! Google Vertex AI: a fake OAuth token endpoint for service accounts (`POST /token`, the JWT
//! bearer grant) and the `generateContent` routes under
//! `/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}`, which
//! answer like the Gemini API once the bearer token is one this mock issued.
//!
//! The token endpoint checks the assertion the way Google does: RS256 over the test service
//! account's key ([`TEST_SERVICE_ACCOUNT_KEY`]), `iss`, `scope`, `aud` and a lifetime of at most
//! an hour. The service account's `client_email` scripts it: `expires-in-N@…` issues tokens that
//! live N seconds, `token-fails@…` answers 500 and `bad-…@…` 400 `invalid_grant`.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{self, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

use crate::errors;

/// The private key of the test service account (PKCS#8 PEM, as in a Google key file). Tests
/// only: it is public.
pub const TEST_SERVICE_ACCOUNT_KEY: &str = include_str!("testdata/vertex-service-account.pem");
/// Prefix of every access token this mock issues.
const TOKEN_PREFIX: &str = "ya29.mock-";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

static ISSUED: AtomicU64 = AtomicU64::new(0);

/// A service-account key file for the test key, as `gcloud iam service-accounts keys create`
/// writes it, whose tokens come from `token_uri`.
pub fn test_service_account(client_email: &str, token_uri: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "mock-project",
        "private_key_id": "0123456789abcdef",
        "private_key": TEST_SERVICE_ACCOUNT_KEY,
        "client_email": client_email,
        "client_id": "100000000000000000000",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    })
    .to_string()
}

/// The DER of a PKCS#8 PEM block.
pub fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("-----")).collect();
    STANDARD.decode(body).ok()
}

/// The test service account's public key (PKCS#1 `RSAPublicKey` DER), to verify signatures.
pub fn test_public_key() -> Vec<u8> {
    pem_to_der(TEST_SERVICE_ACCOUNT_KEY)
        .and_then(|der| RsaKeyPair::from_pkcs8(&der).ok())
        .map(|pair| pair.public_key().as_ref().to_vec())
        .unwrap_or_default()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

/// `POST /token`: exchanges a signed JWT for an access token.
pub fn token(body: &[u8]) -> Response {
    let form: Vec<(String, String)> = url_decode_form(body);
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if field("grant_type") != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Invalid grant_type.");
    }
    let Some(assertion) = field("assertion") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing required parameter: assertion");
    };
    let claims = match verify(assertion) {
        Ok(claims) => claims,
        Err(reason) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &reason),
    };
    let email = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
    if email.starts_with("token-fails@") {
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_failure", "Backend error.");
    }
    if email.starts_with("bad-") {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid JWT Signature.");
    }
    let expires_in = email
        .strip_prefix("expires-in-")
        .and_then(|rest| rest.split('@').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(3599);
    let n = ISSUED.fetch_add(1, Ordering::Relaxed);
    axum::Json(json!({"access_token": format!("{TOKEN_PREFIX}{n}"), "expires_in": expires_in, "token_type": "Bearer"}))
        .into_response()
}

/// Checks an assertion's header, signature and claims; returns the claims.
fn verify(jwt: &str) -> Result<Value, String> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(claims), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("Invalid JWT: not three segments.".into());
    };
    let decode = |segment: &str| URL_SAFE_NO_PAD.decode(segment).map_err(|_| "Invalid JWT: bad base64url.".to_string());
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|_| "Invalid JWT header.".to_string())?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err("Invalid JWT: alg must be RS256.".into());
    }
    let signed = &jwt[..jwt.rfind('.').unwrap_or(0)];
    let public = test_public_key();
    signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public)
        .verify(signed.as_bytes(), &decode(signature)?)
        .map_err(|_| "Invalid JWT Signature.".to_string())?;
    let claims: Value = serde_json::from_slice(&decode(claims)?).map_err(|_| "Invalid JWT claims.".to_string())?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let number = |name: &str| claims.get(name).and_then(Value::as_u64).unwrap_or_default();
    if text("iss").is_empty() {
        return Err("Invalid JWT: iss is missing.".into());
    }
    if text("scope") != SCOPE {
        return Err(format!("Invalid JWT: scope must be {SCOPE}."));
    }
    if !text("aud").ends_with("/token") {
        return Err("Invalid JWT: aud must be the token URI.".into());
    }
    let (iat, exp) = (number("iat"), number("exp"));
    if iat == 0 || exp <= iat || exp - iat > 3600 {
        return Err("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.".into());
    }
    Ok(claims)
}

/// `application/x-www-form-urlencoded` pairs.
fn url_decode_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `POST …/publishers/google/models/{model}:{method}` with `Authorization: Bearer <token>`.
pub async fn generate(headers: &HeaderMap, body: &[u8], model: &str, method: &str, sse: bool) -> Response {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(token) if token.starts_with(TOKEN_PREFIX) => crate::gemini::generate(headers, body, model, method, Some(token), sse).await,
        _ => errors::ProviderError {
            status: 401,
            body: json!({"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 access token.", "status": "UNAUTHENTICATED"}}),
        }
        .into_response(),
    }
    .into_response()
}

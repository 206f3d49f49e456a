//! Access tokens for Vertex AI from a service-account key: the OAuth 2.0 JWT bearer grant
//! (RFC 7523). An RS256 JWT signed with the account's key (`iss` = its email, the
//! `cloud-platform` scope, `aud` = its `token_uri`, one hour) is posted to `token_uri` for an
//! access token.
//!
//! Tokens are cached per channel and key, and refreshed [`REFRESH_MARGIN`] before they expire.
//! One refresh at a time per key: concurrent requests wait for the refresh under way instead of
//! each exchanging their own. A failed exchange is a transient channel failure (`token_exchange`),
//! so the request fails over before the client sees a byte.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use oblivious_config::ApiKey;
use oblivious_core::ErrorKind;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Deserialize;
use tokio::time::Instant;

use crate::dialect::{FailureAction, UpstreamFailure};
use crate::upstream;

/// The scope Vertex AI needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Lifetime asked for in the assertion (Google's maximum).
const ASSERTION_LIFETIME_SECS: u64 = 3600;
/// A token is replaced this long before it expires, so no request carries one that expires in flight.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Longest wait for the token endpoint.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(15);
/// Google's token endpoint, for key files without `token_uri`.
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The fields of a service-account key file the exchange needs.
#[derive(Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
    #[serde(default)]
    pub token_uri: Option<String>,
}

impl ServiceAccount {
    pub fn parse(json: &str) -> Result<Self, String> {
        // serde's message can quote a value of the key file (its private key, even): only where.
        serde_json::from_str(json).map_err(|e| {
            format!(
                "the key is not a service-account JSON ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            )
        })
    }

    pub fn token_uri(&self) -> &str {
        self.token_uri.as_deref().filter(|u| !u.is_empty()).unwrap_or(DEFAULT_TOKEN_URI)
    }
}

/// A parsed account with its signing key.
struct Signer {
    account: ServiceAccount,
    key: RsaKeyPair,
}

impl Signer {
    fn new(json: &str) -> Result<Self, String> {
        let account = ServiceAccount::parse(json)?;
        let der = pem_body(&account.private_key).ok_or("private_key is not a PEM block")?;
        let key = RsaKeyPair::from_pkcs8(&der).map_err(|e| format!("private_key is not a PKCS#8 RSA key: {e}"))?;
        Ok(Signer { account, key })
    }
}

/// The DER inside a PEM block.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("-----")).collect();
    STANDARD.decode(body).ok()
}

/// The signed assertion for `account` issued at `now` (Unix seconds).
fn assertion(signer: &Signer, now: u64) -> Result<String, String> {
    let account = &signer.account;
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = &account.private_key_id {
        header["kid"] = kid.clone().into();
    }
    let claims = serde_json::json!({
        "iss": account.client_email,
        "scope": SCOPE,
        "aud": account.token_uri(),
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
    });
    let signed =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut signature = vec![0; signer.key.public().modulus_len()];
    signer
        .key
        .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signed.as_bytes(), &mut signature)
        .map_err(|_| "signing the assertion failed".to_string())?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

struct CachedToken {
    token: ApiKey,
    refresh_at: Instant,
}

/// One service account's cache slot; its async lock is held across a refresh.
struct Slot {
    credential: String,
    signer: Result<Arc<Signer>, String>,
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

/// Access tokens per channel, shared by every request of the process.
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl TokenCache {
    /// A valid access token for `channel`'s service account `credential`, fetched with `http`
    /// when the cached one is missing or about to expire.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        channel: &str,
        credential: &ApiKey,
    ) -> Result<ApiKey, UpstreamFailure> {
        let slot = self.slot(channel, credential);
        let signer = slot.signer.clone().map_err(|reason| {
            tracing::warn!(channel, reason, "unusable Vertex AI service account");
            token_failure("The channel's service account key is unusable.")
        })?;
        let mut cached = slot.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.token.clone());
        }
        let fetched = fetch(http, &signer).await.inspect_err(|reason| {
            tracing::warn!(channel, reason, "Vertex AI token exchange failed");
        });
        let (token, expires_in) = fetched.map_err(|_| token_failure("The upstream token exchange failed."))?;
        let lifetime = Duration::from_secs(expires_in).saturating_sub(REFRESH_MARGIN);
        *cached = Some(CachedToken { token: token.clone(), refresh_at: Instant::now() + lifetime });
        Ok(token)
    }

    fn slot(&self, channel: &str, credential: &ApiKey) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        // Keyed by channel and credential, so a rotated Secret gets a fresh slot; slots of
        // replaced keys are dropped when the channel's current key is looked up.
        let key = format!("{channel}\n{}", slot_id(credential.expose()));
        slots.retain(|k, slot| !k.starts_with(&format!("{channel}\n")) || slot.credential == credential.expose());
        slots
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Slot {
                    credential: credential.expose().to_string(),
                    signer: Signer::new(credential.expose()).map(Arc::new),
                    token: tokio::sync::Mutex::new(None),
                })
            })
            .clone()
    }
}

/// Distinguishes keys of one channel without holding the key itself twice in the map key.
fn slot_id(credential: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    credential.hash(&mut hasher);
    hasher.finish()
}

async fn fetch(http: &reqwest::Client, signer: &Signer) -> Result<(ApiKey, u64), String> {
    let jwt = assertion(signer, unix_now())?;
    let form = [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", jwt.as_str())];
    let send = http.post(signer.account.token_uri()).form(&form).send();
    let response = tokio::time::timeout(TOKEN_TIMEOUT, send)
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| format!("transport: {}", e.without_url()))?;
    let status = response.status();
    let body = tokio::time::timeout(TOKEN_TIMEOUT, response.bytes())
        .await
        .map_err(|_| "timed out reading".to_string())?
        .map_err(|e| format!("transport: {}", e.without_url()))?;
    if !status.is_success() {
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let code = error.get("error").and_then(serde_json::Value::as_str).unwrap_or("unknown");
        return Err(format!("status {status}: {code}"));
    }
    let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| format!("malformed answer: {e}"))?;
    Ok((ApiKey(answer.access_token), answer.expires_in.unwrap_or(ASSERTION_LIFETIME_SECS)))
}

fn token_failure(message: &str) -> UpstreamFailure {
    upstream::failure(FailureAction::Retry, ErrorKind::BadGateway, 502, "token_exchange", message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use serde_json::Value;

    #[test]
    fn the_assertion_is_an_rs256_jwt_with_googles_claims_and_verifies_with_the_public_key() {
        let json =
            oblivious_mock_upstream::vertex::test_service_account("relay@p.iam.gserviceaccount.com", "http://t/token");
        let jwt = assertion(&Signer::new(&json).unwrap(), 1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |s: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], "0123456789abcdef");
        let claims = decode(parts[1]);
        assert_eq!(claims["iss"], "relay@p.iam.gserviceaccount.com");
        assert_eq!(claims["scope"], SCOPE);
        assert_eq!(claims["aud"], "http://t/token");
        assert_eq!(claims["iat"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_003_600u64);

        let public = oblivious_mock_upstream::vertex::test_public_key();
        let verifier = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public);
        let signed = format!("{}.{}", parts[0], parts[1]);
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        verifier.verify(signed.as_bytes(), &signature).unwrap();
        assert!(verifier.verify(b"tampered.claims", &signature).is_err(), "the signature covers header and claims");
    }

    #[test]
    fn a_key_file_without_a_usable_key_is_refused_with_a_reason() {
        let e = Signer::new("{\"client_email\": \"a@b\", \"private_key\": \"nope\"}").err().unwrap();
        assert!(e.contains("private_key"), "{e}");
        assert!(Signer::new("sk-not-json").is_err());
        let json = oblivious_mock_upstream::vertex::test_service_account("a@b", "");
        assert_eq!(ServiceAccount::parse(&json).unwrap().token_uri(), DEFAULT_TOKEN_URI);
    }
}

//! Access tokens: compact JWTs signed with HMAC-SHA256 (HS256) under a secret all gateway pods
//! share. Only HS256 is accepted — the header's `alg` is checked, so `none` or an asymmetric
//! algorithm can never be smuggled in — and the signature is compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    pub role: String,
    pub group: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    pub iat: i64,
    /// Unique token id.
    pub jti: Uuid,
}

/// Why a token was refused (all answered the same way to the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Signs `claims`.
pub fn sign(claims: &Claims, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(HEADER);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// Verifies a token at `now` (seconds since the epoch) and returns its claims.
pub fn verify(token: &str, secret: &[u8], now: i64) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header_json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)?;
    if header_json.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(TokenError::Malformed);
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
    let mut verifier = HmacSha256::new_from_slice(secret).map_err(|_| TokenError::Malformed)?;
    verifier.update(format!("{header}.{payload}").as_bytes());
    verifier.verify_slice(&signature).map_err(|_| TokenError::BadSignature)?;
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Malformed)?)
        .map_err(|_| TokenError::Malformed)?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

fn mac(secret: &[u8], input: &[u8]) -> Vec<u8> {
    match HmacSha256::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(input);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims { sub: Uuid::now_v7(), role: "user".into(), group: "default".into(), exp, iat: 0, jti: Uuid::now_v7() }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let token = sign(&claims(100), b"secret");
        assert_eq!(verify(&token, b"secret", 99).unwrap().exp, 100);
        assert_eq!(verify(&token, b"secret", 100), Err(TokenError::Expired));
        assert_eq!(verify(&token, b"other", 1), Err(TokenError::BadSignature));
    }

    #[test]
    fn tampered_payloads_and_other_algorithms_are_refused() {
        let token = sign(&claims(100), b"secret");
        let parts: Vec<&str> = token.split('.').collect();
        let mut admin = claims(100);
        admin.role = "admin".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&admin).unwrap());
        assert_eq!(
            verify(&format!("{}.{forged_payload}.{}", parts[0], parts[2]), b"secret", 1),
            Err(TokenError::BadSignature)
        );
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(verify(&format!("{none_header}.{}.", parts[1]), b"secret", 1), Err(TokenError::Malformed));
        assert_eq!(verify("a.b", b"secret", 1), Err(TokenError::Malformed));
    }

    #[test]
    fn the_mac_matches_rfc_4231_test_case_2() {
        let out = mac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex_of(&out), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

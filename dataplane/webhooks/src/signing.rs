//! Standard Webhooks signatures: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`
//! under the key a `whsec_` secret encodes — what receivers' existing libraries (Svix, the
//! Standard Webhooks ones) verify.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What every secret starts with; base64 of the key follows.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes of a new secret's key.
const KEY_BYTES: usize = 24;

/// A new secret: `whsec_` and the base64 of 24 random bytes.
pub fn generate_secret() -> String {
    let key: [u8; KEY_BYTES] = rand::random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// A secret ready to sign with. `Debug` never shows the key.
#[derive(Clone)]
pub struct SigningKey(Hmac<Sha256>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// The key of a `whsec_…` secret (the prefix is optional, as receivers' libraries accept);
    /// `None` when the rest is not base64 or is empty.
    pub fn from_secret(secret: &str) -> Option<SigningKey> {
        let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
        let key = STANDARD.decode(encoded).ok().filter(|key| !key.is_empty())?;
        Hmac::<Sha256>::new_from_slice(&key).ok().map(SigningKey)
    }

    /// The `webhook-signature` header value of message `id` sent at `timestamp` (Unix seconds).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.0.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_test_vector() {
        // The published vector of the Standard Webhooks (and Svix) reference libraries: a
        // receiver's library accepts what we send only if this matches byte for byte.
        let key = SigningKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let unprefixed = SigningKey::from_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            unprefixed.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#),
            signature
        );
    }

    #[test]
    fn the_id_timestamp_and_body_are_all_signed() {
        let key = SigningKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let base = key.sign("a", 1, b"{}");
        assert_ne!(key.sign("b", 1, b"{}"), base);
        assert_ne!(key.sign("a", 2, b"{}"), base);
        assert_ne!(key.sign("a", 1, b"{ }"), base);
    }

    #[test]
    fn new_secrets_are_prefixed_random_and_usable() {
        let (one, two) = (generate_secret(), generate_secret());
        assert_ne!(one, two);
        assert!(one.starts_with("whsec_") && one.len() == "whsec_".len() + 32, "{one}");
        assert!(SigningKey::from_secret(&one).is_some());
        assert!(SigningKey::from_secret("whsec_").is_none());
        assert!(SigningKey::from_secret("whsec_not base64!").is_none());
        assert_eq!(format!("{:?}", SigningKey::from_secret(&one).unwrap()), "SigningKey(<redacted>)");
    }
}

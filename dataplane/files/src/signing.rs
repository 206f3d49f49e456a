//! Expiring signed download URLs: `…/content?expires=UNIX&signature=HEX`, the signature an
//! HMAC-SHA256 over the file id and the expiry with a key every gateway replica shares. A URL
//! works without a session (an `<img src>`, a download link) until it expires, and for that one
//! file only; the same path serves both storage backends.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(<redacted>)")
    }
}

impl UrlSigner {
    /// A signer keyed by `secret` itself.
    pub fn new(secret: &[u8]) -> Self {
        UrlSigner { key: secret.to_vec() }
    }

    /// A signer whose key is derived from a secret every replica shares (the JWT secret), so the
    /// two never sign the same thing with the same key.
    pub fn derived_from(shared_secret: &[u8]) -> Self {
        UrlSigner { key: hmac_sha256(shared_secret, b"oblivious: file download URLs") }
    }

    /// The signature of `file_id` until `expires` (Unix seconds).
    pub fn sign(&self, file_id: Uuid, expires: i64) -> String {
        hex::encode(hmac_sha256(&self.key, format!("file:{file_id}:{expires}").as_bytes()))
    }

    /// Whether `signature` is this signer's for `file_id` until `expires`, and `now` (Unix
    /// seconds) is not past it.
    pub fn verify(&self, file_id: Uuid, expires: i64, signature: &str, now: i64) -> bool {
        now <= expires && bool::from(self.sign(file_id, expires).as_bytes().ct_eq(signature.as_bytes()))
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length: the error case cannot happen.
    HmacSha256::new_from_slice(key)
        .map(|mut mac| {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_signature_is_for_one_file_until_it_expires() {
        let signer = UrlSigner::new(b"secret");
        let (file, other) = (Uuid::now_v7(), Uuid::now_v7());
        let signature = signer.sign(file, 1000);
        assert!(signer.verify(file, 1000, &signature, 999));
        assert!(signer.verify(file, 1000, &signature, 1000));
        assert!(!signer.verify(file, 1000, &signature, 1001), "expired");
        assert!(!signer.verify(other, 1000, &signature, 0), "another file");
        assert!(!signer.verify(file, 2000, &signature, 0), "a later expiry is another signature");
        assert!(!UrlSigner::new(b"other").verify(file, 1000, &signature, 0), "another key");
    }
}

//! Gateway settings, from the environment in a cluster (`OBLIVIOUS_*`).

use std::path::Path;
use std::time::Duration;

use rand::RngCore;

/// How a fresh install gets users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Open,
    Closed,
}

#[derive(Clone)]
pub struct GatewayConfig {
    /// HS256 secret shared by every gateway pod (`OBLIVIOUS_JWT_SECRET`).
    pub jwt_secret: Vec<u8>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Credited to every new account (`OBLIVIOUS_INITIAL_BALANCE`, micro-units).
    pub initial_balance_micros: i64,
    pub registration: Registration,
    /// The first account ever registered becomes an administrator (`OBLIVIOUS_FIRST_USER_ADMIN`),
    /// which is how a fresh install gets one for the web UI.
    pub first_user_admin: bool,
    /// Failed logins allowed per username per `throttle_window`.
    pub login_failures_per_user: u64,
    /// Failed logins allowed per client address per `throttle_window`.
    pub login_failures_per_address: u64,
    pub throttle_window: Duration,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("jwt_secret", &"<redacted>")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("registration", &self.registration)
            .finish_non_exhaustive()
    }
}

impl GatewayConfig {
    /// Defaults with the given secret.
    pub fn with_secret(jwt_secret: Vec<u8>) -> Self {
        GatewayConfig {
            jwt_secret,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            initial_balance_micros: 0,
            registration: Registration::Open,
            first_user_admin: true,
            login_failures_per_user: 5,
            login_failures_per_address: 20,
            throttle_window: Duration::from_secs(15 * 60),
        }
    }
}

/// The JWT secret from `OBLIVIOUS_JWT_SECRET`, or (outside a cluster) one generated on first
/// start and kept in `data_dir/jwt.secret` (mode 0600) so sessions survive restarts.
pub fn jwt_secret(from_env: Option<&str>, data_dir: &Path) -> std::io::Result<Vec<u8>> {
    if let Some(secret) = from_env.filter(|s| s.len() >= 16) {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join("jwt.secret");
    if let Ok(existing) = std::fs::read(&path)
        && existing.len() >= 32
    {
        return Ok(existing);
    }
    std::fs::create_dir_all(data_dir)?;
    let mut secret = vec![0u8; 48];
    rand::rng().fill_bytes(&mut secret);
    write_private(&path, &secret)?;
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

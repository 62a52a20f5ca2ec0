//! The secret Runn's backend signs requests with: read from AWS Secrets Manager on first
//! use (never at init: a cold start makes no network call) and kept for a few minutes, so
//! a rotated secret takes over without a redeploy.

use secrecy::SecretString;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long a read secret is used before it is read again.
pub const CACHE_FOR: Duration = Duration::from_secs(300);
/// The least time between two reads forced by a signature that did not match (a just
/// rotated secret): forged requests cannot make every request read Secrets Manager.
pub const REFRESH_AFTER: Duration = Duration::from_secs(30);

#[async_trait::async_trait]
pub trait SigningKey: Send + Sync {
    /// The current secret; `Err` says why it could not be had (never the secret).
    async fn secret(&self) -> Result<SecretString, String>;
    /// The secret read afresh, if the cached one is older than [`REFRESH_AFTER`]: a
    /// signature that does not match may be made with a secret rotated since. `None`
    /// when there is nothing newer to try.
    async fn refreshed(&self) -> Option<SecretString> {
        None
    }
}

/// A fixed secret (unit tests).
pub struct FixedKey(pub SecretString);

#[async_trait::async_trait]
impl SigningKey for FixedKey {
    async fn secret(&self) -> Result<SecretString, String> {
        Ok(self.0.clone())
    }
}

/// The secret named by `SIGNING_SECRET_ARN`, cached.
pub struct SecretsManagerKey {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    cached: Mutex<Option<(SecretString, Instant)>>,
    refresh_after: Duration,
}

impl SecretsManagerKey {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: String) -> Self {
        Self {
            client,
            secret_id,
            cached: Mutex::new(None),
            refresh_after: REFRESH_AFTER,
        }
    }

    /// The least time between forced reads (tests shorten it).
    pub fn with_refresh_after(mut self, after: Duration) -> Self {
        self.refresh_after = after;
        self
    }
}

impl SecretsManagerKey {
    async fn read(&self) -> Result<SecretString, String> {
        let read = tokio::time::timeout(
            Duration::from_secs(5),
            self.client
                .get_secret_value()
                .secret_id(&self.secret_id)
                .send(),
        )
        .await
        .map_err(|_| "Secrets Manager did not answer in 5 s".to_owned())?
        .map_err(|e| {
            format!(
                "reading the signing secret failed: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?;
        let text = read
            .secret_string()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| "the signing secret is empty or binary".to_owned())?;
        Ok(SecretString::from(text.trim().to_owned()))
    }
}

#[async_trait::async_trait]
impl SigningKey for SecretsManagerKey {
    async fn secret(&self) -> Result<SecretString, String> {
        let mut cached = self.cached.lock().await;
        if let Some((secret, at)) = cached.as_ref() {
            if at.elapsed() < CACHE_FOR {
                return Ok(secret.clone());
            }
        }
        let secret = self.read().await?;
        *cached = Some((secret.clone(), Instant::now()));
        Ok(secret)
    }

    async fn refreshed(&self) -> Option<SecretString> {
        use secrecy::ExposeSecret;
        let mut cached = self.cached.lock().await;
        let (old, at) = cached.as_ref()?;
        if at.elapsed() < self.refresh_after {
            return None;
        }
        let old = old.expose_secret().to_owned();
        let fresh = self.read().await.ok()?;
        *cached = Some((fresh.clone(), Instant::now()));
        (fresh.expose_secret() != old).then_some(fresh)
    }
}

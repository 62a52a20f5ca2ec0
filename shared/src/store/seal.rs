use super::StoreError;
use crate::account::{AccountId, AccountSettings, Credential};
use aws_sdk_kms::primitives::Blob;
use secrecy::{ExposeSecret, SecretString};

/// How credentials are sealed now: with what each was checked for (see
/// [`SealContext::bound`]). Version 1 (items without a seal version) carried the account
/// alone; those open with it and are sealed anew when first opened.
pub const SEAL_VERSION: u64 = 2;

/// The KMS encryption context of one sealed credential: a ciphertext opens only with the
/// context it was sealed with, so a token copied to another account, or a key whose host
/// was changed without entering it again, does not open at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealContext(Vec<(&'static str, String)>);

const ACCOUNT_KEY: &str = "account";

impl SealContext {
    /// Version 1: the account alone.
    pub fn legacy(account: &AccountId) -> Self {
        Self(vec![(ACCOUNT_KEY, account.to_string())])
    }

    /// Version 2: the account and everything the credential was checked against
    /// (`{account, runn_host}` for the token; `{account, clockify_host, reports_url,
    /// workspace}` for the key), canonical.
    pub fn bound(credential: Credential, settings: &AccountSettings) -> Self {
        let mut pairs = vec![(ACCOUNT_KEY, settings.id.to_string())];
        pairs.extend(credential.binding(settings));
        Self(pairs)
    }

    /// The context a credential sealed at `version` opens with.
    pub fn for_version(version: u64, credential: Credential, settings: &AccountSettings) -> Self {
        if version >= SEAL_VERSION {
            Self::bound(credential, settings)
        } else {
            Self::legacy(&settings.id)
        }
    }

    pub fn pairs(&self) -> &[(&'static str, String)] {
        &self.0
    }

    /// The account it belongs to.
    pub fn account(&self) -> &str {
        self.0
            .iter()
            .find(|(k, _)| *k == ACCOUNT_KEY)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// What opening a sealed secret got: the secret, or that it does not open with the context
/// given (sealed for something else).
#[derive(Debug)]
pub enum Opened {
    Secret(SecretString),
    WrongContext,
}

/// Encrypts secrets before they are stored, bound to what they were checked for.
#[async_trait::async_trait]
pub trait Sealer: Send + Sync {
    async fn seal(
        &self,
        context: &SealContext,
        secret: &SecretString,
    ) -> Result<Vec<u8>, StoreError>;
    async fn open(&self, context: &SealContext, sealed: &[u8]) -> Result<Opened, StoreError>;
}

/// KMS, with the [`SealContext`] as the encryption context.
#[derive(Clone, Debug)]
pub struct KmsSealer {
    kms: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsSealer {
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            kms,
            key_id: key_id.into(),
        }
    }
}

/// A KMS failure in one line: the service's code and message, else the innermost cause.
fn kms_reason<E, R>(e: &aws_sdk_kms::error::SdkError<E, R>) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    crate::store::sdk_reason(e)
}

#[async_trait::async_trait]
impl Sealer for KmsSealer {
    async fn seal(
        &self,
        context: &SealContext,
        secret: &SecretString,
    ) -> Result<Vec<u8>, StoreError> {
        let mut req = self
            .kms
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(secret.expose_secret().as_bytes()));
        for (k, v) in context.pairs() {
            req = req.encryption_context(*k, v);
        }
        let out = req.send().await.map_err(|e| {
            tracing::debug!(error = ?e, "KMS encrypt failed");
            StoreError::Seal(format!("encrypt: {}", kms_reason(&e)))
        })?;
        Ok(out
            .ciphertext_blob()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default())
    }

    async fn open(&self, context: &SealContext, sealed: &[u8]) -> Result<Opened, StoreError> {
        let mut req = self.kms.decrypt().ciphertext_blob(Blob::new(sealed));
        for (k, v) in context.pairs() {
            req = req.encryption_context(*k, v);
        }
        let out = match req.send().await {
            Ok(out) => out,
            // KMS's answer for a context other than the one sealed with.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_ciphertext_exception()) =>
            {
                return Ok(Opened::WrongContext)
            }
            Err(e) => {
                tracing::debug!(error = ?e, "KMS decrypt failed");
                return Err(StoreError::Seal(format!("decrypt: {}", kms_reason(&e))));
            }
        };
        let bytes = out
            .plaintext()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let text = String::from_utf8(bytes)
            .map_err(|_| StoreError::Corrupt("a sealed secret is not text".into()))?;
        Ok(Opened::Secret(SecretString::from(text)))
    }
}

/// For functions with no right to secrets: every seal or open is refused.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSecrets;

#[async_trait::async_trait]
impl Sealer for NoSecrets {
    async fn seal(&self, context: &SealContext, _: &SecretString) -> Result<Vec<u8>, StoreError> {
        Err(StoreError::Seal(format!(
            "this function may not seal the secrets of account {}",
            context.account()
        )))
    }
    async fn open(&self, context: &SealContext, _: &[u8]) -> Result<Opened, StoreError> {
        Err(StoreError::Seal(format!(
            "this function may not open the secrets of account {}",
            context.account()
        )))
    }
}

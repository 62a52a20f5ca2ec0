use super::StoreError;
use crate::account::AccountId;
use aws_sdk_kms::primitives::Blob;
use secrecy::{ExposeSecret, SecretString};

/// Encrypts secrets before they are stored, bound to their account.
#[async_trait::async_trait]
pub trait Sealer: Send + Sync {
    async fn seal(&self, account: &AccountId, secret: &SecretString)
        -> Result<Vec<u8>, StoreError>;
    async fn open(&self, account: &AccountId, sealed: &[u8]) -> Result<SecretString, StoreError>;
}

/// KMS with the account id as encryption context, so a sealed token copied to another
/// account's record does not open.
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

const CONTEXT_KEY: &str = "account";

#[async_trait::async_trait]
impl Sealer for KmsSealer {
    async fn seal(
        &self,
        account: &AccountId,
        secret: &SecretString,
    ) -> Result<Vec<u8>, StoreError> {
        let out = self
            .kms
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(secret.expose_secret().as_bytes()))
            .encryption_context(CONTEXT_KEY, account.as_str())
            .send()
            .await
            .map_err(|e| {
                StoreError::Seal(format!(
                    "encrypt: {}",
                    aws_sdk_kms::error::DisplayErrorContext(e)
                ))
            })?;
        Ok(out
            .ciphertext_blob()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default())
    }

    async fn open(&self, account: &AccountId, sealed: &[u8]) -> Result<SecretString, StoreError> {
        let out = self
            .kms
            .decrypt()
            .ciphertext_blob(Blob::new(sealed))
            .encryption_context(CONTEXT_KEY, account.as_str())
            .send()
            .await
            .map_err(|e| {
                StoreError::Seal(format!(
                    "decrypt: {}",
                    aws_sdk_kms::error::DisplayErrorContext(e)
                ))
            })?;
        let bytes = out
            .plaintext()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let text = String::from_utf8(bytes)
            .map_err(|_| StoreError::Corrupt("a sealed secret is not text".into()))?;
        Ok(SecretString::from(text))
    }
}

/// For functions with no right to secrets: every seal or open is refused.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSecrets;

#[async_trait::async_trait]
impl Sealer for NoSecrets {
    async fn seal(&self, account: &AccountId, _: &SecretString) -> Result<Vec<u8>, StoreError> {
        Err(StoreError::Seal(format!(
            "this function may not seal the secrets of account {account}"
        )))
    }
    async fn open(&self, account: &AccountId, _: &[u8]) -> Result<SecretString, StoreError> {
        Err(StoreError::Seal(format!(
            "this function may not open the secrets of account {account}"
        )))
    }
}

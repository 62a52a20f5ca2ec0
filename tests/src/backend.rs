//! Runn's backend, as the tests and the demo play it: signed requests to the api function,
//! delivered as API Gateway (HTTP API, payload 2.0) events through the Lambda runtime
//! emulator (`cargo lambda watch`), with the answers read back from the proxy response.

use crate::gateway::HttpRequest;
use serde_json::Value;
use shared::SecretString;
use std::time::Duration;

/// The API Gateway v2 event for a request of Runn's backend (the `$default` stage: the
/// path is the caller's), built as the gateway stand-in builds every event.
pub fn apigw_event(
    method: &str,
    path_and_query: &str,
    body: &str,
    signature: Option<&str>,
) -> Value {
    let mut request = HttpRequest::new(method, path_and_query);
    let header = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    request.headers = vec![
        header("content-type", "application/json"),
        header("host", crate::gateway::DOMAIN),
        header("user-agent", "runn-backend/1.0"),
        header("x-forwarded-proto", "https"),
    ];
    if let Some(s) = signature {
        request.headers.push(header("runn-signature", s));
    }
    request.body = body.as_bytes().to_vec();
    crate::gateway::v2_event(&request)
}

/// Reads the signing secret from Secrets Manager (moto in tests and the demo).
pub async fn read_secret(cfg: &aws_config::SdkConfig, arn: &str) -> SecretString {
    let out = aws_sdk_secretsmanager::Client::new(cfg)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .expect("read the signing secret");
    SecretString::from(out.secret_string().unwrap_or_default().to_owned())
}

/// Creates a signing secret (as the template does); its ARN.
pub async fn create_secret(cfg: &aws_config::SdkConfig, name: &str, value: &str) -> String {
    aws_sdk_secretsmanager::Client::new(cfg)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create the signing secret")
        .arn()
        .unwrap_or_default()
        .to_owned()
}

/// Runn's backend, calling the api function through the runtime emulator at `invoke_url`.
pub struct Backend {
    pub invoke_url: String,
    pub secret: SecretString,
    http: reqwest::Client,
}

/// An answer: its status and JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Backend {
    pub fn new(invoke_url: String, secret: SecretString) -> Self {
        Self {
            invoke_url,
            secret,
            http: reqwest::Client::new(),
        }
    }

    /// A request signed now.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let body = body.map(Value::to_string).unwrap_or_default();
        let t = shared::signature::fresh_time();
        let sig = shared::signature::sign(&self.secret, t, method, path, body.as_bytes());
        self.call_raw(method, path, &body, Some(&sig)).await
    }

    /// A request with the signature given (or none).
    pub async fn call_raw(
        &self,
        method: &str,
        path: &str,
        body: &str,
        signature: Option<&str>,
    ) -> Answer {
        let event = apigw_event(method, path, body, signature);
        let proxy: Value = self
            .http
            .post(&self.invoke_url)
            .json(&event)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("invoke the api function")
            .json()
            .await
            .expect("a JSON proxy response");
        let status = proxy["statusCode"].as_u64().unwrap_or(0) as u16;
        let body = proxy["body"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        Answer { status, body }
    }
}

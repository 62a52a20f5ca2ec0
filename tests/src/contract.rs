//! The HTTP API's own contract, `infra/api.yaml` (OpenAPI 3.1), as validators: the tests
//! check every answer of the api function against the operation and status it answers
//! (and every request body they send against its schema), so the document and the code
//! cannot drift apart.

use serde_json::Value;
use std::sync::LazyLock;

const RAW: &str = include_str!("../../infra/api.yaml");

pub struct Contract {
    doc: Value,
}

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| Contract {
    doc: serde_yaml_ng::from_str(RAW).expect("infra/api.yaml parses"),
});

pub fn contract() -> &'static Contract {
    &CONTRACT
}

/// Whether a concrete path matches a template (`/accounts/{accountId}/status`).
fn matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('?').next().unwrap_or("").split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}

impl Contract {
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// The document's paths, as templates.
    pub fn paths(&self) -> Vec<String> {
        self.doc["paths"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let ptr = r.trim_start_matches('#');
                self.doc
                    .pointer(ptr)
                    .unwrap_or_else(|| panic!("no {r} in api.yaml"))
            }
            None => v,
        }
    }

    fn validate(&self, schema: &Value, value: &Value) -> Result<(), String> {
        let mut root = schema.clone();
        if let Value::Object(m) = &mut root {
            m.insert("components".into(), self.doc["components"].clone());
        }
        let v = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| format!("the schema does not compile: {e}"))?;
        let first = v
            .iter_errors(value)
            .next()
            .map(|e| format!("{} {e}", e.instance_path()));
        first.map_or(Ok(()), Err)
    }

    fn operation(&self, method: &str, path: &str) -> Result<&Value, String> {
        let paths = self.doc["paths"].as_object().ok_or("no paths")?;
        let (_, item) = paths
            .iter()
            .find(|(t, _)| matches(t, path))
            .ok_or_else(|| format!("{path} is not in api.yaml"))?;
        item.get(method.to_ascii_lowercase())
            .ok_or_else(|| format!("{method} {path} is not in api.yaml"))
    }

    /// Checks an answer against the document: the operation lists the status, and the
    /// body fits its schema. An answer to a path or method the document does not have
    /// must be a 404 or 405 error body.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let error_schema = &self.doc["components"]["schemas"]["Error"];
        let op = match self.operation(method, path) {
            Ok(op) => op,
            Err(why) => {
                // Unsigned or unroutable requests are refused before routing.
                if matches!(status, 400 | 401 | 404 | 405 | 503) {
                    return self.validate(error_schema, body);
                }
                return Err(why);
            }
        };
        let response = op["responses"]
            .get(status.to_string())
            .ok_or_else(|| format!("{method} {path} does not document status {status}"))?;
        let response = self.resolve(response);
        let schema = self.resolve(&response["content"]["application/json"]["schema"]);
        self.validate(schema, body)
            .map_err(|e| format!("{method} {path} → {status}: {e}"))
    }

    /// Checks a request body against the operation's request schema.
    pub fn check_request(&self, method: &str, path: &str, body: &Value) -> Result<(), String> {
        let op = self.operation(method, path)?;
        let schema = self.resolve(&op["requestBody"]["content"]["application/json"]["schema"]);
        self.validate(schema, body)
            .map_err(|e| format!("request {method} {path}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_document_parses_and_an_answer_that_breaks_it_is_caught() {
        let c = contract();
        assert_eq!(c.doc()["openapi"], "3.1.0");
        assert!(c
            .paths()
            .contains(&"/accounts/{accountId}/imports".to_owned()));
        let path = "/accounts/acme/imports";
        let ok = json!({"account": "acme", "run_id": "r1", "queued": true});
        assert_eq!(c.check_response("POST", path, 202, &ok), Ok(()));
        let extra = json!({"account": "acme", "run_id": "r1", "queued": true, "secret": "x"});
        assert!(c.check_response("POST", path, 202, &extra).is_err());
        assert!(
            c.check_response("POST", path, 201, &ok).is_err(),
            "undocumented status"
        );
        let err = json!({"error": {"code": "refused", "field": "kinds", "message": "m"}});
        assert_eq!(c.check_response("POST", path, 422, &err), Ok(()));
        assert!(c
            .check_request("POST", path, &json!({"kinds": ["invoices"]}))
            .is_err());
        assert!(c
            .check_request("POST", path, &json!({"kinds": ["people"]}))
            .is_ok());
    }
}

//! Runn's official JSON schemas (`specs/runn-schemas.json`, copied from the spec digest)
//! turned into validators. The Runn simulator checks every request body against them and,
//! when asked, every answer it gives, so it cannot drift from the contract.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::LazyLock;

const RAW: &str = include_str!("../specs/runn-schemas.json");

pub struct Schemas {
    validators: HashMap<String, jsonschema::Validator>,
}

static SCHEMAS: LazyLock<Schemas> = LazyLock::new(Schemas::load);

/// The validators, built once per process.
pub fn schemas() -> &'static Schemas {
    &SCHEMAS
}

/// OpenAPI 3.0's `nullable: true` becomes a JSON Schema type union with `null`.
fn to_json_schema(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), serde_json::json!([t, "null"]));
                } else if let Some(Value::Array(mut ts)) = map.get("type").cloned() {
                    ts.push("null".into());
                    map.insert("type".into(), Value::Array(ts));
                }
                if let Some(Value::Array(e)) = map.get_mut("enum") {
                    e.push(Value::Null);
                }
            }
            map.values_mut().for_each(to_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

impl Schemas {
    fn load() -> Self {
        let mut all: serde_json::Map<String, Value> =
            serde_json::from_str(RAW).expect("runn-schemas.json parses");
        all.values_mut().for_each(to_json_schema);
        // Components are referenced as `#/components/schemas/<Name>`.
        let components: serde_json::Map<String, Value> = all
            .iter()
            .filter(|(k, _)| !k.starts_with("inline:"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let validators = all
            .iter()
            .map(|(key, schema)| {
                let mut root = schema.clone();
                if let Value::Object(m) = &mut root {
                    m.insert(
                        "components".into(),
                        serde_json::json!({ "schemas": components }),
                    );
                }
                let v = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("schema {key} compiles: {e}"));
                (key.clone(), v)
            })
            .collect();
        Self { validators }
    }

    /// Checks `value` against the schema named `key`; the error reads like Runn's
    /// (`body/clients must NOT have more than 100 items`).
    pub fn check(&self, key: &str, value: &Value, prefix: &str) -> Result<(), String> {
        let v = self
            .validators
            .get(key)
            .unwrap_or_else(|| panic!("no schema named {key}"));
        match v.iter_errors(value).next() {
            None => Ok(()),
            Some(e) => {
                let path = e.instance_path().to_string();
                Err(format!("{prefix}{path} {e}"))
            }
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.validators.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bulk_clients_schema_enforces_the_spec() {
        let s = schemas();
        let key = "inline:POST /clients/bulk/ requestBody";
        assert!(s
            .check(key, &json!({"clients": [{"name": "A"}]}), "body")
            .is_ok());
        assert!(s.check(key, &json!({"clients": []}), "body").is_err());
        assert!(s
            .check(key, &json!({"clients": [{"name": ""}]}), "body")
            .is_err());
        let many: Vec<_> = (0..101).map(|i| json!({"name": format!("c{i}")})).collect();
        assert!(s.check(key, &json!({ "clients": many }), "body").is_err());
    }

    #[test]
    fn nullable_fields_accept_null() {
        let client = json!({"id": 1, "name": "A", "website": null, "isArchived": false, "references": [],
                            "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-01-01T00:00:00Z"});
        assert!(schemas().check("Client", &client, "").is_ok());
        let mut missing = client.clone();
        missing.as_object_mut().unwrap().remove("website");
        assert!(schemas().check("Client", &missing, "").is_err());
    }
}

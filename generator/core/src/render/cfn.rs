//! Small builders for CloudFormation templates: typed values, serialised once.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

/// A CloudFormation intrinsic function or plain value.
#[derive(Debug, Clone)]
pub enum Expr {
    /// `!Ref name`.
    Ref(String),
    /// `!GetAtt resource.attribute`.
    GetAtt(String, String),
    /// `!Sub template` (with `${AWS::Region}` style placeholders).
    Sub(String),
    /// `!Join [sep, items]`.
    Join(String, Vec<Value>),
    /// `!Select [index, list]`.
    Select(u32, Box<Value>),
    /// `!If [condition, then, else]`.
    If(String, Box<Value>, Box<Value>),
}

impl Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let value = match self {
            Expr::Ref(name) => json!({ "Ref": name }),
            Expr::GetAtt(resource, attribute) => json!({ "Fn::GetAtt": [resource, attribute] }),
            Expr::Sub(template) => json!({ "Fn::Sub": template }),
            Expr::Join(sep, items) => json!({ "Fn::Join": [sep, items] }),
            Expr::Select(index, list) => json!({ "Fn::Select": [index.to_string(), list] }),
            Expr::If(condition, then, otherwise) => json!({ "Fn::If": [condition, then, otherwise] }),
        };
        value.serialize(s)
    }
}

/// `{"Ref": name}` as a JSON value.
pub fn r(name: &str) -> Value {
    json!(Expr::Ref(name.to_string()))
}

/// `{"Fn::GetAtt": [resource, attribute]}` as a JSON value.
pub fn att(resource: &str, attribute: &str) -> Value {
    json!(Expr::GetAtt(resource.to_string(), attribute.to_string()))
}

/// `{"Fn::Sub": template}` as a JSON value.
pub fn sub(template: impl Into<String>) -> Value {
    json!(Expr::Sub(template.into()))
}

/// One resource. The fields of this and the other template structs are in the sorted order of
/// their keys: templates are serialised straight from them, with sorted keys like every JSON
/// value inside them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    pub properties: Value,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_replace_policy: Option<&'static str>,
}

impl Resource {
    /// A resource of `kind` with `properties`.
    pub fn new(kind: &str, properties: Value) -> Self {
        Resource {
            kind: kind.to_string(),
            condition: None,
            depends_on: Vec::new(),
            deletion_policy: None,
            update_replace_policy: None,
            metadata: None,
            properties,
        }
    }

    /// Keeps the resource (and its data) when it is removed from the template or replaced.
    pub fn retain(mut self) -> Self {
        self.deletion_policy = Some("Retain");
        self.update_replace_policy = Some("Retain");
        self
    }

    /// Keeps the resource when the stack is deleted or the resource replaced, except on the rollback
    /// of the operation that created it.
    pub fn retain_except_on_create(mut self) -> Self {
        self.deletion_policy = Some("RetainExceptOnCreate");
        self.update_replace_policy = Some("Retain");
        self
    }

    /// Takes a snapshot (volumes) when removed or replaced.
    pub fn snapshot(mut self) -> Self {
        self.deletion_policy = Some("Snapshot");
        self.update_replace_policy = Some("Snapshot");
        self
    }

    /// Adds explicit dependencies.
    pub fn depends_on(mut self, names: &[&str]) -> Self {
        self.depends_on.extend(names.iter().map(|n| n.to_string()));
        self
    }

    /// Documents a skipped checkov check or cfn-lint rule with its reason, in the resource metadata.
    pub fn skip_check(mut self, id: &str, reason: &str) -> Self {
        let metadata = self.metadata.get_or_insert_with(|| json!({}));
        if id.starts_with("CKV") {
            let skips = metadata
                .as_object_mut()
                .expect("metadata is an object")
                .entry("checkov")
                .or_insert_with(|| json!({ "skip": [] }));
            skips["skip"].as_array_mut().expect("skip list").push(json!({ "id": id, "comment": reason }));
        } else {
            let cfn_lint = metadata
                .as_object_mut()
                .expect("metadata is an object")
                .entry("cfn-lint")
                .or_insert_with(|| json!({ "config": { "ignore_checks": [], "ignore_reasons": {} } }));
            cfn_lint["config"]["ignore_checks"].as_array_mut().expect("ignore list").push(json!(id));
            cfn_lint["config"]["ignore_reasons"][id] = json!(reason);
        }
        self
    }
}

/// A template parameter.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_echo: Option<bool>,
    #[serde(rename = "Type")]
    pub kind: String,
}

/// A template output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    pub description: String,
    pub value: Value,
}

/// A whole template.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    #[serde(rename = "AWSTemplateFormatVersion")]
    pub version: &'static str,
    #[serde(rename = "Conditions", skip_serializing_if = "BTreeMap::is_empty")]
    pub conditions: BTreeMap<String, Value>,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "Metadata", skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Value>,
    #[serde(rename = "Outputs", skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, Output>,
    #[serde(rename = "Parameters", skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, Parameter>,
    #[serde(rename = "Resources")]
    pub resources: BTreeMap<String, Resource>,
}

impl Template {
    /// An empty template.
    pub fn new(description: impl Into<String>) -> Self {
        Template {
            version: "2010-09-09",
            description: description.into(),
            metadata: BTreeMap::new(),
            parameters: BTreeMap::new(),
            conditions: BTreeMap::new(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }

    /// Adds a resource; a logical id must be unique, which is a programming error otherwise.
    pub fn add(&mut self, logical_id: impl Into<String>, resource: Resource) {
        let logical_id = logical_id.into();
        let previous = self.resources.insert(logical_id.clone(), resource);
        assert!(previous.is_none(), "duplicate logical id {logical_id}");
    }

    /// Adds a plain string parameter.
    pub fn parameter(&mut self, name: &str, kind: &str, description: &str, default: Option<&str>) {
        self.parameters.insert(
            name.to_string(),
            Parameter {
                kind: kind.to_string(),
                description: description.to_string(),
                default: default.map(str::to_string),
                allowed_pattern: None,
                no_echo: None,
            },
        );
    }

    /// Adds an output.
    pub fn output(&mut self, name: &str, description: &str, value: Value) {
        self.outputs.insert(name.to_string(), Output { description: description.to_string(), value });
    }

    /// The template as YAML, keys sorted (the struct fields are in key order), without a copy
    /// into a JSON value first.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).expect("templates serialise to YAML")
    }
}

/// A rendered template (YAML) as compact JSON, the form `gen deploy` sends inline: the same
/// document without indentation, so templates somewhat over CloudFormation's 51,200-byte inline
/// limit as YAML still go inline (and a dry run on a new account, whose artifact bucket does not
/// exist yet, can still review them). The templates use only long-form intrinsics (`Fn::Sub`, not
/// `!Sub`), so nothing is lost in the conversion.
pub fn compact_json(yaml: &str) -> Result<String, String> {
    let value: Value = serde_saphyr::from_str(yaml).map_err(|e| format!("not a YAML template: {e}"))?;
    serde_json::to_string(&value).map_err(|e| e.to_string())
}

/// CloudFormation tags from a map.
pub fn tags(tags: &BTreeMap<String, String>) -> Value {
    Value::Array(tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect())
}

/// A logical id from a name (CloudFormation allows only ASCII letters and digits).
pub fn logical_id(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|p| p.split(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intrinsic_functions_serialise_to_their_long_form() {
        assert_eq!(r("Vpc"), json!({"Ref": "Vpc"}));
        assert_eq!(att("Key", "Arn"), json!({"Fn::GetAtt": ["Key", "Arn"]}));
        assert_eq!(sub("${AWS::Region}"), json!({"Fn::Sub": "${AWS::Region}"}));
    }

    #[test]
    fn templates_serialise_with_sorted_keys_like_their_json_values() {
        // to_yaml serialises the structs as they are: their fields must stay in key order.
        let mut t = Template::new("every field set");
        t.conditions.insert("IsProd".into(), json!({"Fn::Equals": ["a", "b"]}));
        t.metadata.insert("Note".into(), json!({"b": 1, "a": 2}));
        t.parameter("Size", "Number", "a size", Some("3"));
        let p = t.parameters.get_mut("Size").expect("parameter");
        (p.allowed_pattern, p.no_echo) = (Some("[0-9]+".into()), Some(true));
        t.output("Arn", "the key", att("Key", "Arn"));
        let mut key = Resource::new("AWS::KMS::Key", json!({"z": 1, "a": 2})).retain().depends_on(&["Other"]);
        key.condition = Some("IsProd".into());
        t.add("Key", key.skip_check("CKV_AWS_1", "why"));
        let sorted = serde_saphyr::to_string(&serde_json::to_value(&t).unwrap()).unwrap();
        assert_eq!(t.to_yaml(), sorted);
    }

    #[test]
    fn skip_checks_land_in_the_metadata_each_validator_reads() {
        let resource = Resource::new("AWS::S3::Bucket", json!({}))
            .skip_check("CKV_AWS_18", "access logs go to the central bucket")
            .skip_check("W3045", "bucket policy is separate");
        let metadata = resource.metadata.unwrap();
        assert_eq!(metadata["checkov"]["skip"][0]["id"], "CKV_AWS_18");
        assert_eq!(metadata["cfn-lint"]["config"]["ignore_checks"][0], "W3045");
    }

    #[test]
    fn the_compact_json_form_is_the_same_document_and_smaller() {
        let mut template = Template::new("a test stack");
        template.add(
            "Bucket",
            Resource::new("AWS::S3::Bucket", json!({ "BucketName": sub("b-${AWS::Region}"), "Tags": [] })),
        );
        template.output("Name", "the bucket", r("Bucket"));
        let yaml = template.to_yaml();
        let compact = compact_json(&yaml).unwrap();
        let back: Value = serde_json::from_str(&compact).unwrap();
        assert_eq!(back, serde_json::to_value(&template).unwrap());
        assert!(compact.len() < yaml.len(), "{} >= {}", compact.len(), yaml.len());
        assert!(compact_json("Resources: [unclosed").is_err());
    }

    #[test]
    fn logical_ids_are_alphanumeric() {
        assert_eq!(logical_id(&["broker", "b0", "kafka.dev"]), "BrokerB0KafkaDev");
    }
}

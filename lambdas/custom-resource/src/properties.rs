//! Typed access to `ResourceProperties`.
//!
//! CloudFormation hands every scalar to the Lambda as a string (`"32"`, `"true"`), while a test
//! or a hand-written event may send the native JSON type. Every accessor accepts both and names
//! the property when the value is wrong.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The property CloudFormation adds to every custom resource; never part of a handler's schema.
pub const SERVICE_TOKEN: &str = "ServiceToken";

/// The `ResourceProperties` (or `OldResourceProperties`) of one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Properties(Map<String, Value>);

impl Properties {
    /// Wraps a JSON value; anything but an object (or null, meaning none) is an error.
    pub fn from_value(value: Value) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Properties(map)),
            Value::Null => Ok(Properties::default()),
            other => Err(Error::MalformedEvent(format!(
                "ResourceProperties must be an object, got {}",
                kind(&other)
            ))),
        }
    }

    /// Fails on the first property that is not in `known` (ServiceToken is always allowed),
    /// so that a typo in a template does not silently fall back to a default.
    pub fn deny_unknown(&self, known: &[&str]) -> Result<()> {
        for key in self.0.keys() {
            if key != SERVICE_TOKEN && !known.contains(&key.as_str()) {
                return Err(Error::property(
                    key,
                    format!("unknown property; expected one of: {}", known.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// The properties without ServiceToken, to compare old and new for a no-op update.
    pub fn without_service_token(&self) -> Map<String, Value> {
        let mut map = self.0.clone();
        map.remove(SERVICE_TOKEN);
        map
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A required, non-empty string.
    pub fn required_str(&self, name: &str) -> Result<String> {
        self.optional_str(name)?.ok_or_else(|| Error::property(name, "is required"))
    }

    /// An optional string; an empty string counts as absent, as CloudFormation renders
    /// `!If [cond, value, ""]` that way.
    pub fn optional_str(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(Error::property(name, format!("expected a string, got {}", kind(other)))),
        }
    }

    /// An optional integer within `range`, given as a number or a decimal string.
    pub fn optional_u32(&self, name: &str, range: RangeInclusive<u32>) -> Result<Option<u32>> {
        let expected = || format!("expected an integer from {} to {}", range.start(), range.end());
        let n = match self.get(name) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        match n.and_then(|n| u32::try_from(n).ok()) {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(Error::property(name, format!("{}, got {}", expected(), shown(self.get(name))))),
        }
    }

    /// An optional boolean, given as `true`/`false` or the strings "true"/"false" (any case).
    pub fn optional_bool(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            other => Err(Error::property(name, format!("expected true or false, got {}", shown(other)))),
        }
    }

    /// An optional list of strings; a single string (or a comma-separated one, as
    /// `!Join [",", ...]` gives) is accepted too.
    pub fn string_list(&self, name: &str) -> Result<Vec<String>> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => {
                Ok(s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) if !s.is_empty() => Ok(s.clone()),
                    other => Err(Error::property(
                        name,
                        format!("expected a list of non-empty strings, found {}", shown(Some(other))),
                    )),
                })
                .collect(),
            other => Err(Error::property(name, format!("expected a list of strings, got {}", shown(other)))),
        }
    }

    /// Tags as CloudFormation writes them (`[{Key, Value}]`), or a plain `{key: value}` map.
    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        let bad = |problem: String| Error::property(name, problem);
        match self.get(name) {
            None => Ok(BTreeMap::new()),
            Some(Value::Array(items)) => {
                let mut tags = BTreeMap::new();
                for item in items {
                    let key = item.get("Key").and_then(Value::as_str);
                    let value = item.get("Value").map(scalar_string);
                    match (key, value) {
                        (Some(k), Some(Some(v))) if !k.is_empty() => {
                            if tags.insert(k.to_string(), v).is_some() {
                                return Err(bad(format!("tag key {k:?} appears twice")));
                            }
                        }
                        _ => {
                            return Err(bad(format!(
                                "expected a list of {{Key, Value}} objects, found {}",
                                shown(Some(item))
                            )));
                        }
                    }
                }
                Ok(tags)
            }
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| {
                    scalar_string(v)
                        .map(|v| (k.clone(), v))
                        .ok_or_else(|| bad(format!("tag {k:?} must have a string value")))
                })
                .collect(),
            other => Err(bad(format!("expected a list of {{Key, Value}} objects, got {}", shown(other)))),
        }
    }
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Shows a bad value in an error, shortened so that a reason stays small. Properties hold no
/// secrets (secrets are generated, never passed in), so echoing them is safe.
fn shown(v: Option<&Value>) -> String {
    let text = match v {
        None => return "nothing".to_string(),
        Some(v) => v.to_string(),
    };
    if text.chars().count() > 60 { format!("{}...", text.chars().take(60).collect::<String>()) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Properties {
        Properties::from_value(v).unwrap()
    }

    #[test]
    fn integers_arrive_as_strings_or_numbers() {
        let p = props(json!({"A": "32", "B": 64, "C": " 16 "}));
        assert_eq!(p.optional_u32("A", 16..=128).unwrap(), Some(32));
        assert_eq!(p.optional_u32("B", 16..=128).unwrap(), Some(64));
        assert_eq!(p.optional_u32("C", 16..=128).unwrap(), Some(16));
        assert_eq!(p.optional_u32("D", 16..=128).unwrap(), None);
    }

    #[test]
    fn bad_integers_name_the_property_and_the_range() {
        let p = props(json!({"Length": "abc", "Short": "8", "Neg": -1, "List": [1]}));
        for name in ["Length", "Short", "Neg", "List"] {
            let msg = p.optional_u32(name, 16..=128).unwrap_err().to_string();
            assert!(
                msg.starts_with(&format!("property {name}: expected an integer from 16 to 128")),
                "{msg}"
            );
        }
    }

    #[test]
    fn booleans_arrive_as_strings_or_booleans() {
        let p = props(json!({"A": "true", "B": false, "C": "False", "D": "yes"}));
        assert_eq!(p.optional_bool("A").unwrap(), Some(true));
        assert_eq!(p.optional_bool("B").unwrap(), Some(false));
        assert_eq!(p.optional_bool("C").unwrap(), Some(false));
        let msg = p.optional_bool("D").unwrap_err().to_string();
        assert_eq!(msg, "property D: expected true or false, got \"yes\"");
    }

    #[test]
    fn required_strings_reject_missing_empty_and_objects() {
        let p = props(json!({"Empty": "", "Obj": {"a": 1}, "Num": 5}));
        assert_eq!(p.required_str("Missing").unwrap_err().to_string(), "property Missing: is required");
        assert_eq!(p.required_str("Empty").unwrap_err().to_string(), "property Empty: is required");
        assert!(p.required_str("Obj").unwrap_err().to_string().contains("expected a string"));
        assert_eq!(p.required_str("Num").unwrap(), "5");
    }

    #[test]
    fn unknown_properties_are_rejected_but_service_token_is_not() {
        let p = props(json!({"ServiceToken": "arn", "Name": "x", "Lenght": "3"}));
        let msg = p.deny_unknown(&["Name", "Length"]).unwrap_err().to_string();
        assert_eq!(msg, "property Lenght: unknown property; expected one of: Name, Length");
        assert!(props(json!({"ServiceToken": "arn"})).deny_unknown(&[]).is_ok());
    }

    #[test]
    fn string_lists_accept_lists_and_comma_strings() {
        let p = props(json!({"L": ["a", "b"], "S": "a, b,", "Bad": [1]}));
        assert_eq!(p.string_list("L").unwrap(), ["a", "b"]);
        assert_eq!(p.string_list("S").unwrap(), ["a", "b"]);
        assert!(p.string_list("None").unwrap().is_empty());
        assert!(p.string_list("Bad").unwrap_err().to_string().starts_with("property Bad:"));
    }

    #[test]
    fn tags_accept_cloudformation_lists_and_maps() {
        let p = props(json!({
            "T": [{"Key": "team", "Value": "kafka"}, {"Key": "n", "Value": 1}],
            "M": {"team": "kafka"},
            "Dup": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}],
            "Bad": [{"Name": "a"}]
        }));
        assert_eq!(p.tags("T").unwrap().get("n").map(String::as_str), Some("1"));
        assert_eq!(p.tags("M").unwrap().get("team").map(String::as_str), Some("kafka"));
        assert!(p.tags("Dup").unwrap_err().to_string().contains("appears twice"));
        assert!(p.tags("Bad").unwrap_err().to_string().starts_with("property Bad:"));
    }

    #[test]
    fn properties_must_be_an_object() {
        assert!(Properties::from_value(json!("x")).is_err());
        assert_eq!(Properties::from_value(Value::Null).unwrap(), Properties::default());
    }
}

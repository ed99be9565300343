//! The stack policy of production stacks.

use serde_json::{Value, json};

/// A stack policy that allows every update except replacing or deleting the stateful
/// resources (CA, broker volumes, KMS key), so that no change set can destroy their data.
///
/// Lifting it takes a deliberate, temporary policy override in the console or CLI.
pub fn stack_policy(stateful_resources: &[String]) -> String {
    let mut statements = vec![json!({
        "Effect": "Allow",
        "Action": "Update:*",
        "Principal": "*",
        "Resource": "*"
    })];
    if !stateful_resources.is_empty() {
        let mut ids: Vec<&String> = stateful_resources.iter().collect();
        ids.sort();
        ids.dedup();
        let resources: Vec<Value> =
            ids.iter().map(|id| Value::String(format!("LogicalResourceId/{id}"))).collect();
        statements.push(json!({
            "Effect": "Deny",
            "Action": ["Update:Replace", "Update:Delete"],
            "Principal": "*",
            "Resource": resources
        }));
    }
    serde_json::to_string_pretty(&json!({ "Statement": statements })).expect("a JSON value always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stateful_resources_may_be_updated_but_not_replaced_or_deleted() {
        let policy: Value =
            serde_json::from_str(&stack_policy(&["KmsKey".into(), "Ca".into(), "Ca".into()])).unwrap();
        assert_eq!(
            policy,
            json!({"Statement": [
                {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": ["Update:Replace", "Update:Delete"], "Principal": "*",
                 "Resource": ["LogicalResourceId/Ca", "LogicalResourceId/KmsKey"]}
            ]})
        );
    }

    #[test]
    fn without_stateful_resources_everything_is_allowed() {
        let policy: Value = serde_json::from_str(&stack_policy(&[])).unwrap();
        assert_eq!(policy["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(policy["Statement"][0]["Effect"], "Allow");
    }
}

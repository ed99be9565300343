//! A custom-resource request, parsed once from the Lambda event.

use aws_lambda_events::cloudformation::CloudFormationCustomResourceRequest as CfnRequest;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::properties::Properties;

/// Physical id prefix given to a resource whose Create failed. CloudFormation sends a Delete
/// with it during rollback, which then succeeds without touching anything. `:` cannot appear
/// in an SSM parameter name or at that place in an ARN, so it never collides with a real id.
pub const FAILED_CREATE_PREFIX: &str = "create-failed:";

/// What CloudFormation asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Create a new resource.
    Create,
    /// Update `physical_id`, whose properties were `old`.
    Update {
        /// The physical id returned by the last successful Create or Update.
        physical_id: String,
        /// The properties of that resource.
        old: Properties,
    },
    /// Delete `physical_id`.
    Delete {
        /// The physical id to delete.
        physical_id: String,
    },
}

/// One custom-resource request.
#[derive(Clone, Debug)]
pub struct Request {
    /// Create, Update or Delete.
    pub action: Action,
    /// The resource's properties (for Delete: the properties of the resource being deleted).
    pub properties: Properties,
    /// Unique per request; CloudFormation reuses it when it retries the same request.
    pub request_id: String,
    /// ARN of the stack, also gives partition, region and account.
    pub stack_id: String,
    /// Logical id of the resource in the template.
    pub logical_resource_id: String,
    /// e.g. `Custom::SecurePassword`.
    pub resource_type: String,
}

/// The fields needed to answer, read before the full parse so that even a malformed event
/// gets an answer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Envelope {
    pub response_url: String,
    pub request_id: String,
    pub stack_id: String,
    pub logical_resource_id: String,
    pub request_type: String,
    pub physical_resource_id: Option<String>,
}

impl Envelope {
    /// Reads the envelope; `None` when there is no ResponseURL, as then nobody can be answered.
    pub fn read(event: &Value) -> Option<Envelope> {
        let s = |k: &str| event.get(k).and_then(Value::as_str).map(String::from);
        Some(Envelope {
            response_url: s("ResponseURL").filter(|u| !u.is_empty())?,
            request_id: s("RequestId").unwrap_or_default(),
            stack_id: s("StackId").unwrap_or_default(),
            logical_resource_id: s("LogicalResourceId").unwrap_or_default(),
            request_type: s("RequestType").unwrap_or_default(),
            physical_resource_id: s("PhysicalResourceId").filter(|p| !p.is_empty()),
        })
    }

    /// The physical id to report when the request fails: the existing one for Update and
    /// Delete (so that CloudFormation does not see a replacement), a marker for Create.
    pub fn failure_physical_id(&self) -> String {
        match (&self.physical_resource_id, self.request_type.as_str()) {
            (Some(id), "Update" | "Delete") => id.clone(),
            _ => format!("{FAILED_CREATE_PREFIX}{}", self.request_id),
        }
    }
}

impl Request {
    /// Parses a Lambda event into a request.
    pub fn parse(event: Value) -> Result<Request> {
        let parsed: CfnRequest<Value, Value> =
            serde_json::from_value(event).map_err(|e| Error::MalformedEvent(e.to_string()))?;
        let request = match parsed {
            CfnRequest::Create(r) => Request {
                action: Action::Create,
                properties: Properties::from_value(r.resource_properties)?,
                request_id: r.request_id,
                stack_id: r.stack_id,
                logical_resource_id: r.logical_resource_id,
                resource_type: r.resource_type,
            },
            CfnRequest::Update(r) => Request {
                action: Action::Update {
                    physical_id: r.physical_resource_id,
                    old: Properties::from_value(r.old_resource_properties)?,
                },
                properties: Properties::from_value(r.resource_properties)?,
                request_id: r.request_id,
                stack_id: r.stack_id,
                logical_resource_id: r.logical_resource_id,
                resource_type: r.resource_type,
            },
            CfnRequest::Delete(r) => Request {
                action: Action::Delete { physical_id: r.physical_resource_id },
                properties: Properties::from_value(r.resource_properties)?,
                request_id: r.request_id,
                stack_id: r.stack_id,
                logical_resource_id: r.logical_resource_id,
                resource_type: r.resource_type,
            },
            _ => return Err(Error::MalformedEvent("unknown RequestType".into())),
        };
        if let Action::Update { physical_id, .. } | Action::Delete { physical_id } = &request.action
            && physical_id.is_empty()
        {
            return Err(Error::MalformedEvent("PhysicalResourceId is empty".into()));
        }
        Ok(request)
    }

    /// A token that is the same for retries of this request and different for any other
    /// request: 32 hex characters (fits ACM PCA's 36-character idempotency token).
    pub fn idempotency_token(&self) -> String {
        let mut h = Sha256::new();
        for part in [&self.stack_id, &self.logical_resource_id, &self.request_id] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..16])
    }

    /// A text that marks a resource as owned by this stack's resource; stored with what the
    /// handler creates so that it never adopts or deletes something it did not make.
    pub fn owner_marker(&self) -> String {
        format!(
            "Managed by CloudFormation: {} {} in {}",
            self.resource_type, self.logical_resource_id, self.stack_id
        )
    }

    /// The name of the stack this request comes from (`kafka-dev-secrets`), from its StackId.
    pub fn stack_name(&self) -> Option<&str> {
        stack_name(&self.stack_id)
    }

    /// The partition of the stack's ARN (`aws`, `aws-cn`, ...).
    pub fn partition(&self) -> &str {
        self.stack_arn_part(1).unwrap_or("aws")
    }

    /// The region of the stack's ARN.
    pub fn region(&self) -> &str {
        self.stack_arn_part(3).unwrap_or_default()
    }

    /// The account id of the stack's ARN.
    pub fn account_id(&self) -> &str {
        self.stack_arn_part(4).unwrap_or_default()
    }

    fn stack_arn_part(&self, index: usize) -> Option<&str> {
        self.stack_id.split(':').nth(index).filter(|s| !s.is_empty())
    }
}

/// The owner an ownership marker names (see [`Request::owner_marker`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// e.g. `Custom::SecurePassword`.
    pub resource_type: String,
    /// Logical id in the owner's template.
    pub logical_resource_id: String,
    /// The owner's unique stack id (an ARN).
    pub stack_id: String,
}

impl Owner {
    /// Reads the marker at the start of a description; `None` when there is none.
    pub fn parse(description: &str) -> Option<Owner> {
        let rest = description.strip_prefix("Managed by CloudFormation: ")?;
        let mut words = rest.split(' ');
        let (resource_type, logical_resource_id, in_word, stack_id) =
            (words.next()?, words.next()?, words.next()?, words.next()?);
        (in_word == "in" && stack_name(stack_id).is_some()).then(|| Owner {
            resource_type: resource_type.to_string(),
            logical_resource_id: logical_resource_id.to_string(),
            stack_id: stack_id.to_string(),
        })
    }
}

/// `arn:PARTITION:cloudformation:REGION:ACCOUNT:stack/NAME/GUID` -> `NAME`.
pub fn stack_name(stack_id: &str) -> Option<&str> {
    let (head, resource) = stack_id.rsplit_once(':')?;
    let parts: Vec<&str> = head.split(':').collect();
    if parts.len() != 5 || parts[0] != "arn" || parts[2] != "cloudformation" {
        return None;
    }
    let mut segments = resource.split('/');
    match (segments.next(), segments.next(), segments.next(), segments.next()) {
        (Some("stack"), Some(name), Some(guid), None) if !name.is_empty() && !guid.is_empty() => Some(name),
        _ => None,
    }
}

/// The part of a stack ARN before the name (`arn:aws:cloudformation:eu-west-1:123456789012:stack/`):
/// two stack ids with the same prefix and name are the same stack name in the same account and
/// region.
pub fn stack_arn_prefix(stack_id: &str) -> Option<&str> {
    let name = stack_name(stack_id)?;
    let end = stack_id.find(&format!(":stack/{name}/"))? + ":stack/".len();
    Some(&stack_id[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str) -> Value {
        json!({
            "RequestType": kind,
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:f",
            "ResponseURL": "http://127.0.0.1/response",
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/kafka-dev/guid",
            "RequestId": "req-1",
            "LogicalResourceId": "AdminPassword",
            "PhysicalResourceId": "/kafka/dev/admin",
            "ResourceType": "Custom::SecurePassword",
            "ResourceProperties": {"ServiceToken": "arn", "ParameterName": "/kafka/dev/admin"},
            "OldResourceProperties": {"ServiceToken": "arn", "ParameterName": "/kafka/dev/old"}
        })
    }

    #[test]
    fn parses_all_three_request_types() {
        let c = Request::parse(event("Create")).unwrap();
        assert_eq!(c.action, Action::Create);
        let u = Request::parse(event("Update")).unwrap();
        match u.action {
            Action::Update { physical_id, old } => {
                assert_eq!(physical_id, "/kafka/dev/admin");
                assert_eq!(old.required_str("ParameterName").unwrap(), "/kafka/dev/old");
            }
            other => panic!("expected update, got {other:?}"),
        }
        let d = Request::parse(event("Delete")).unwrap();
        assert_eq!(d.action, Action::Delete { physical_id: "/kafka/dev/admin".into() });
        assert_eq!(d.account_id(), "123456789012");
        assert_eq!(d.region(), "eu-west-1");
        assert_eq!(d.partition(), "aws");
    }

    #[test]
    fn malformed_events_are_errors_but_keep_an_envelope() {
        let mut e = event("Explode");
        assert!(matches!(Request::parse(e.clone()), Err(Error::MalformedEvent(_))));
        let env = Envelope::read(&e).unwrap();
        assert_eq!(env.failure_physical_id(), "create-failed:req-1");
        e["RequestType"] = json!("Update");
        assert_eq!(Envelope::read(&e).unwrap().failure_physical_id(), "/kafka/dev/admin");
        e.as_object_mut().unwrap().remove("ResponseURL");
        assert!(Envelope::read(&e).is_none());
    }

    #[test]
    fn owner_markers_are_read_back() {
        let r = Request::parse(event("Create")).unwrap();
        let owner = Owner::parse(&format!("{} certificate arn:x", r.owner_marker())).unwrap();
        assert_eq!(owner.resource_type, "Custom::SecurePassword");
        assert_eq!(owner.logical_resource_id, "AdminPassword");
        assert_eq!(owner.stack_id, r.stack_id);
        assert_eq!(r.stack_name(), Some("kafka-dev"));
        assert_eq!(
            stack_arn_prefix(&r.stack_id),
            Some("arn:aws:cloudformation:eu-west-1:123456789012:stack/")
        );
        for bad in
            ["", "Managed by CloudFormation: T L at arn", "Managed by CloudFormation: T L in not-an-arn"]
        {
            assert_eq!(Owner::parse(bad), None, "{bad}");
        }
        assert_eq!(stack_name("arn:aws:cloudformation:r:1:stack/a/b/c"), None);
        assert_eq!(stack_name("arn:aws:s3:r:1:stack/a/b"), None);
    }

    #[test]
    fn idempotency_token_is_stable_per_request() {
        let a = Request::parse(event("Create")).unwrap();
        let mut e = event("Create");
        e["RequestId"] = json!("req-2");
        let b = Request::parse(e).unwrap();
        assert_eq!(a.idempotency_token(), Request::parse(event("Create")).unwrap().idempotency_token());
        assert_ne!(a.idempotency_token(), b.idempotency_token());
        assert_eq!(a.idempotency_token().len(), 32);
    }
}

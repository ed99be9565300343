//! The answer to CloudFormation: a PUT of a small JSON document to the pre-signed ResponseURL.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceResponse as CfnResponse,
    CloudFormationCustomResourceResponseStatus as CfnStatus,
};

use crate::error::{Error, Result};
use crate::request::Envelope;

/// CloudFormation rejects response bodies above 4096 bytes; stay a little below.
const MAX_BODY: usize = 4000;

/// What a handler returns on success.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Success {
    /// The physical id; a different one on Update means replacement.
    pub physical_id: String,
    /// Attributes for `Fn::GetAtt`. Never a secret value.
    pub data: BTreeMap<String, String>,
}

impl Success {
    /// A success with `physical_id` and no data.
    pub fn new(physical_id: impl Into<String>) -> Self {
        Success { physical_id: physical_id.into(), data: BTreeMap::new() }
    }

    /// Adds one attribute.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.data.insert(key.to_string(), value.into());
        self
    }
}

/// The final status of one request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    Success(Success),
    Failed { physical_id: String, reason: String },
}

/// Renders the response body, shortening the reason so the body stays under the limit.
pub(crate) fn body(envelope: &Envelope, outcome: &Outcome) -> String {
    let mut response = CfnResponse::default();
    response.stack_id = envelope.stack_id.clone();
    response.request_id = envelope.request_id.clone();
    response.logical_resource_id = envelope.logical_resource_id.clone();
    match outcome {
        Outcome::Success(s) => {
            response.status = CfnStatus::Success;
            response.physical_resource_id = s.physical_id.clone();
            response.data = s.data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let text = serde_json::to_string(&response).expect("response serialises");
            if text.len() <= MAX_BODY {
                return text;
            }
            // A too-large success cannot be delivered: turn it into a failure that says so.
            response.status = CfnStatus::Failed;
            response.data = HashMap::new();
            response.reason = Some(format!(
                "the response Data is {} bytes, more than CloudFormation accepts (4096)",
                text.len()
            ));
        }
        Outcome::Failed { physical_id, reason } => {
            response.status = CfnStatus::Failed;
            response.physical_resource_id = physical_id.clone();
            response.reason = Some(reason.clone());
        }
    }
    fit_reason(response)
}

/// Serialises a FAILED response, its reason cut (at a character boundary, marked `...`) so that
/// the body stays under the limit. The reason is the only field that may change: the ids must
/// echo the request. When the ids alone are too large, no answer can fit; the reason then says
/// so in a few words and the body goes out anyway (CloudFormation refuses it and the stack
/// operation times out, which is all that can happen to such a request).
fn fit_reason(mut response: CfnResponse) -> String {
    let serialise = |r: &CfnResponse| serde_json::to_string(r).expect("response serialises");
    let reason = response.reason.take().unwrap_or_default();
    response.reason = Some(reason.clone());
    let text = serialise(&response);
    if text.len() <= MAX_BODY {
        return text;
    }
    response.reason = Some(String::new());
    let ids_only = serialise(&response).len();
    // The body's length is that of the ids plus the reason's JSON string, quotes excluded.
    let room = MAX_BODY.saturating_sub(ids_only);
    let json_len = |s: &str| serde_json::to_string(s).expect("a string serialises").len() - 2;
    const MARK: &str = "...";
    if room < MARK.len() {
        tracing::error!(bytes = ids_only, "the request's ids alone exceed what CloudFormation accepts");
        response.reason = Some("response ids too large".into());
        return serialise(&response);
    }
    // The longest prefix whose escaped form fits: escapes make the length non-linear, so search.
    let cuts: Vec<usize> = reason.char_indices().map(|(i, _)| i).collect();
    let (mut fits, mut too_long) = (0, cuts.len());
    while fits + 1 < too_long {
        let mid = (fits + too_long) / 2;
        if json_len(&reason[..cuts[mid]]) + MARK.len() <= room {
            fits = mid;
        } else {
            too_long = mid;
        }
    }
    response.reason = Some(format!("{}{MARK}", &reason[..cuts.get(fits).copied().unwrap_or(0)]));
    serialise(&response)
}

/// PUTs `body` to the ResponseURL, retrying transient failures until `budget` is spent.
///
/// The pre-signed S3 URL is signed without a content type, so none may be sent.
pub(crate) async fn send(client: &reqwest::Client, url: &str, body: String, budget: Duration) -> Result<()> {
    let start = tokio::time::Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let left = budget.saturating_sub(start.elapsed());
        let result =
            client.put(url).timeout(left.max(Duration::from_millis(500))).body(body.clone()).send().await;
        let problem = match result {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => format!("HTTP {} from the ResponseURL", r.status()),
            Err(e) => format!("{e}"),
        };
        let pause = Duration::from_millis(200 * 2u64.pow(attempt.min(4)));
        if attempt >= 4 || start.elapsed() + pause >= budget {
            return Err(Error::Response(format!("{problem} (after {attempt} attempts)")));
        }
        tracing::warn!(attempt, %problem, "response PUT failed, retrying");
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn envelope() -> Envelope {
        Envelope {
            response_url: "http://x".into(),
            request_id: "r".into(),
            stack_id: "s".into(),
            logical_resource_id: "L".into(),
            request_type: "Create".into(),
            physical_resource_id: None,
        }
    }

    #[test]
    fn success_body_has_the_fields_cloudformation_reads() {
        let b = body(&envelope(), &Outcome::Success(Success::new("p").with("A", "1")));
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["Status"], "SUCCESS");
        assert_eq!(v["PhysicalResourceId"], "p");
        assert_eq!(v["RequestId"], "r");
        assert_eq!(v["StackId"], "s");
        assert_eq!(v["LogicalResourceId"], "L");
        assert_eq!(v["Data"]["A"], "1");
        assert_eq!(v["NoEcho"], false);
    }

    #[test]
    fn long_reasons_are_cut_to_fit() {
        let reason = "é".repeat(5000);
        let b = body(&envelope(), &Outcome::Failed { physical_id: "p".into(), reason });
        assert!(b.len() <= MAX_BODY, "{}", b.len());
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["Status"], "FAILED");
        assert!(v["Reason"].as_str().unwrap().ends_with("..."));
    }

    #[test]
    fn reasons_full_of_escapes_are_cut_to_fit() {
        for reason in ["\"".repeat(5000), "\u{1}".repeat(3000), format!("{}é", "a".repeat(3990))] {
            let b = body(&envelope(), &Outcome::Failed { physical_id: "p".into(), reason });
            assert!(b.len() <= MAX_BODY && b.len() > MAX_BODY - 10, "{}", b.len());
        }
    }

    // Before the fix, ids above ~4 KB made the shortening loop cut "..." to "..." for ever.
    #[test]
    fn oversized_ids_end_with_a_short_reason_instead_of_looping() {
        let physical_id = "p".repeat(5000);
        let b =
            body(&envelope(), &Outcome::Failed { physical_id: physical_id.clone(), reason: "r".repeat(100) });
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["Status"], "FAILED");
        assert_eq!(v["Reason"], "response ids too large");
        assert_eq!(v["PhysicalResourceId"], physical_id.as_str());

        // Large ids with data: the data goes, the ids stay, the reason is cut to what is left.
        let s = Success::new("p".repeat(3800)).with("Big", "x".repeat(500));
        let b = body(&envelope(), &Outcome::Success(s));
        assert!(b.len() <= MAX_BODY, "{}", b.len());
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["Status"], "FAILED");
        assert_eq!(v["Data"], serde_json::json!({}));
        assert!(v["Reason"].as_str().unwrap().starts_with("the response Data is"), "{v}");
    }

    #[test]
    fn oversized_data_becomes_a_failure() {
        let s = Success::new("p").with("Big", "x".repeat(5000));
        let v: Value = serde_json::from_str(&body(&envelope(), &Outcome::Success(s))).unwrap();
        assert_eq!(v["Status"], "FAILED");
        assert!(v["Reason"].as_str().unwrap().contains("Data is"));
        assert_eq!(v["Data"], serde_json::json!({}));
    }
}

//! Custom::SecurePassword end to end: the real binary, a played Runtime API and ResponseURL,
//! and moto as SSM. Needs MOTO_ENDPOINT (tests/scripts/moto.sh).
//!
//! moto accepts any KmsKeyId, even one that does not exist; AWS would fail the PutParameter
//! with a KMS error, which the function reports as FAILED naming the parameter.

mod lambda_support;

use std::time::Duration;

use aws_sdk_ssm::types::ResourceTypeForTagging;
use lambda_support::*;
use serde_json::{Value, json};

const TYPE: &str = "Custom::SecurePassword";
const BIN: &str = "secure-password-lambda";
const DEADLINE: Duration = Duration::from_secs(60);

struct Ssm(aws_sdk_ssm::Client);

impl Ssm {
    async fn new() -> Ssm {
        Ssm(aws_sdk_ssm::Client::new(&sdk_config().await))
    }

    /// (value, version, type) of a parameter, or None when it does not exist.
    async fn get(&self, name: &str) -> Option<(String, i64, String)> {
        match self.0.get_parameter().name(name).with_decryption(true).send().await {
            Ok(out) => {
                let p = out.parameter.unwrap();
                Some((p.value.unwrap(), p.version, p.r#type.unwrap().as_str().to_string()))
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => None,
            Err(e) => panic!("GetParameter {name}: {e:?}"),
        }
    }

    async fn tags(&self, name: &str) -> Vec<(String, String)> {
        let out = self
            .0
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await
            .unwrap();
        let mut tags: Vec<_> =
            out.tag_list.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect();
        tags.sort();
        tags
    }
}

fn props(name: &str, extra: Value) -> Value {
    let mut p =
        json!({"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:pw", "ParameterName": name});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

#[tokio::test]
async fn create_update_rotate_rename_delete() {
    let ssm = Ssm::new().await;
    let h = Harness::start().await;
    let lambda = h.spawn(BIN, &moto_endpoint(), &[]);
    let base = format!("/{}", unique("pw"));
    let name = format!("{base}/admin");

    // Create: scalars as CloudFormation sends them (strings).
    let p1 = props(
        &name,
        json!({"Length": "40", "KmsKeyId": "alias/kafka-test",
        "Tags": [{"Key": "team", "Value": "kafka"}], "RotationToken": "1"}),
    );
    let created = h
        .invoke(h.event("Create", TYPE, "AdminPassword", None, p1.clone(), None), DEADLINE)
        .await
        .expect_success();
    assert_eq!(created.physical_id(), name);
    assert_eq!(created.data("ParameterName"), name);
    assert_eq!(created.data("ParameterArn"), format!("arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}"));
    assert_eq!(created.data("Version"), "1");
    assert_eq!(created.body["NoEcho"], json!(false));
    assert_eq!(created.content_type, None, "a pre-signed S3 PUT must not carry a content type");
    let (first, version, kind) = ssm.get(&name).await.expect("parameter created");
    assert_eq!((first.len(), version, kind.as_str()), (40, 1, "SecureString"));
    assert!(
        first.bytes().all(|c| c.is_ascii_graphic() && !b"\"'\\`".contains(&c)),
        "{} has excluded characters",
        first.len()
    );
    assert_eq!(ssm.tags(&name).await, [("team".to_string(), "kafka".to_string())]);

    // Update without a change that matters (native JSON types this time): same value.
    let p1_native = props(
        &name,
        json!({"Length": 40, "KmsKeyId": "alias/kafka-test",
        "Tags": [{"Key": "team", "Value": "kafka"}], "RotationToken": "1"}),
    );
    let same = h
        .invoke(
            h.event("Update", TYPE, "AdminPassword", Some(&name), p1_native.clone(), Some(p1.clone())),
            DEADLINE,
        )
        .await
        .expect_success();
    assert_eq!((same.physical_id(), same.data("Version")), (name.as_str(), "1"));
    assert_eq!(ssm.get(&name).await.unwrap().0, first);

    // Rotation: a new RotationToken gives a new value in place; tags follow the template.
    let p2 = props(
        &name,
        json!({"Length": 40, "KmsKeyId": "alias/kafka-test", "RotationToken": "2",
        "Tags": [{"Key": "team", "Value": "platform"}, {"Key": "stage", "Value": "dev"}]}),
    );
    let rotated = h
        .invoke(h.event("Update", TYPE, "AdminPassword", Some(&name), p2.clone(), Some(p1_native)), DEADLINE)
        .await
        .expect_success();
    assert_eq!((rotated.physical_id(), rotated.data("Version")), (name.as_str(), "2"));
    let (second, _, _) = ssm.get(&name).await.unwrap();
    assert_ne!(second, first);
    assert_eq!(
        ssm.tags(&name).await,
        [("stage".to_string(), "dev".to_string()), ("team".to_string(), "platform".to_string())]
    );

    // Rename: a new parameter and a new physical id; the old one stays until CloudFormation
    // deletes it with the old properties.
    let renamed_name = format!("{base}/admin-v2");
    let p3 = props(&renamed_name, json!({"RotationToken": "2"}));
    let renamed = h
        .invoke(h.event("Update", TYPE, "AdminPassword", Some(&name), p3.clone(), Some(p2.clone())), DEADLINE)
        .await
        .expect_success();
    assert_eq!(renamed.physical_id(), renamed_name);
    let (third, _, _) = ssm.get(&renamed_name).await.expect("new parameter");
    assert_eq!(third.len(), 32, "default length");
    assert!(ssm.get(&name).await.is_some());

    let deleted_old = h
        .invoke(h.event("Delete", TYPE, "AdminPassword", Some(&name), p2, None), DEADLINE)
        .await
        .expect_success();
    assert_eq!(deleted_old.physical_id(), name);
    assert!(ssm.get(&name).await.is_none(), "old parameter deleted");

    // Deleting twice (a retry) succeeds.
    h.invoke(h.event("Delete", TYPE, "AdminPassword", Some(&name), props(&name, json!({})), None), DEADLINE)
        .await
        .expect_success();

    // RetainOnDelete keeps the parameter.
    let p3_retain = props(&renamed_name, json!({"RotationToken": "2", "RetainOnDelete": "true"}));
    h.invoke(h.event("Delete", TYPE, "AdminPassword", Some(&renamed_name), p3_retain, None), DEADLINE)
        .await
        .expect_success();
    assert_eq!(ssm.get(&renamed_name).await.unwrap().0, third);
    h.invoke(h.event("Delete", TYPE, "AdminPassword", Some(&renamed_name), p3, None), DEADLINE)
        .await
        .expect_success();
    assert!(ssm.get(&renamed_name).await.is_none());

    // No password in any log line, response body or Runtime API result.
    let mut texts = lambda.logs();
    texts.extend(h.all_answers());
    texts.extend(h.all_runtime_results());
    assert!(texts.iter().any(|l| l.contains("request SUCCESS")), "the function logs its requests");
    for secret in [&first, &second, &third] {
        assert_secret_absent(secret, &texts);
    }

    // Figures for the report (not asserted): start-up to the first /next and peak RSS.
    if let Some(first_next) = h.first_next() {
        eprintln!(
            "secure-password: first /next {:?} after spawn, peak RSS {:?} KiB",
            first_next.duration_since(lambda.started()),
            lambda.peak_rss_kib()
        );
    }
}

#[tokio::test]
async fn a_retried_create_adopts_its_own_parameter_but_never_a_foreign_one() {
    let ssm = Ssm::new().await;
    let h = Harness::start().await;
    let _lambda = h.spawn(BIN, &moto_endpoint(), &[]);
    let name = format!("/{}/svc", unique("pw"));
    let event = h.event("Create", TYPE, "SvcPassword", None, props(&name, json!({})), None);

    let first = h.invoke(event.clone(), DEADLINE).await.expect_success();
    let mut retry = event.clone();
    retry["ResponseURL"] = json!(format!("{}-retry", event["ResponseURL"].as_str().unwrap()));
    let second = h.invoke(retry, DEADLINE).await.expect_success();
    assert_eq!(second.physical_id(), first.physical_id());
    assert_eq!(second.data("Version"), "1", "the retry did not write a second value");

    // Another resource (another logical id) must not take it over.
    let other = h.event("Create", TYPE, "Intruder", None, props(&name, json!({})), None);
    let refused =
        h.invoke(other, DEADLINE).await.expect_failed("already exists and is not managed by this resource");
    assert!(refused.physical_id().starts_with("create-failed:"));
    assert_eq!(ssm.get(&name).await.unwrap().1, 1, "the foreign parameter is untouched");

    // CloudFormation's rollback deletes the failed resource: nothing to do, and the parameter stays.
    let rollback =
        h.event("Delete", TYPE, "Intruder", Some(refused.physical_id()), props(&name, json!({})), None);
    h.invoke(rollback, DEADLINE).await.expect_success();
    assert!(ssm.get(&name).await.is_some());

    h.invoke(h.event("Delete", TYPE, "SvcPassword", Some(&name), props(&name, json!({})), None), DEADLINE)
        .await
        .expect_success();
    assert!(ssm.get(&name).await.is_none());
}

#[tokio::test]
async fn values_above_4_kb_use_the_advanced_tier() {
    use cfn_custom_resource::ssm::{NewParameter, Parameters, PutOutcome};
    let client = aws_sdk_ssm::Client::new(&sdk_config().await);
    let parameters = Parameters::new(client.clone());
    let name = format!("/{}/chain", unique("tier"));
    let big = "A".repeat(5000);
    let put = NewParameter {
        name: &name,
        value: &big,
        secure: None,
        description: "tier test",
        overwrite: false,
        tags: &Default::default(),
    };
    assert_eq!(parameters.put(&put).await.unwrap(), PutOutcome::Written(1));
    let info = parameters.describe(&[&name]).await.unwrap();
    assert_eq!(info[&name].tier, "Advanced");
    parameters.delete(&[&name]).await.unwrap();
}

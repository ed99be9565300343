//! CA rollover with overlapping trust (docs/operators-guide.md, "CA rollover"): what each phase
//! renders (its rules, KP118 and KP119, are in rules.rs).

mod support;

use kafka_platform_core::render::{kafka_config, names, templates};
use kafka_platform_core::{StageModel, StageName};
use serde_json::{Value, json};
use support::*;

const DEV_FILE: &str = "stages/dev.yaml";

fn dev_with(settings: &str) -> String {
    format!("{DEV}{settings}")
}

fn rollover(phase: &str) -> String {
    dev_with(&format!("certificate_authority:\n  rollover:\n    phase: {phase}\n"))
}

fn stack(model: &StageModel, part: &str) -> Value {
    let (_, t) = templates(model).into_iter().find(|(p, _)| *p == part).expect("the stack");
    serde_json::to_value(&t).unwrap()
}

fn certificate_lambda(foundation: &Value) -> &Value {
    &foundation["Resources"]["PrivateCertificateFunction"]["Properties"]["Environment"]["Variables"]
}

#[test]
fn a_stage_without_a_rollover_renders_one_ca_and_no_trust_bundle() {
    let env = Env::baseline();
    let model = env.model(StageName::Dev);
    let foundation = stack(&model, "foundation");
    assert!(foundation["Resources"].get("NextCertificateAuthority").is_none());
    assert!(foundation["Resources"].get("TrustBundleParameter").is_none());
    assert!(certificate_lambda(&foundation).get("STAGE_CERTIFICATE_AUTHORITY_ARNS").is_none());
    let node = &model.cluster.brokers[0];
    assert!(kafka_config::node_secrets(&model, node).iter().all(|(n, _)| n != "TLS_TRUST"));
    let topics = stack(&model, "topics");
    assert!(topics["Resources"]["Reconciliation"]["Properties"].get("TrustBundleParameter").is_none());
}

#[test]
fn each_phase_renders_its_trust_bundle_and_issuing_ca() {
    let old_cert = json!({ "Fn::GetAtt": ["CertificateAuthorityCertificate", "Certificate"] });
    let new_cert = json!({ "Fn::GetAtt": ["NextCertificateAuthorityCertificate", "Certificate"] });
    let (old, new) = (json!({ "Ref": "CertificateAuthority" }), json!({ "Ref": "NextCertificateAuthority" }));
    for (phase, bundle, issuing, status) in [
        ("trust", json!([old_cert, "\n", new_cert]), None, "ACTIVE"),
        ("issue", json!([old_cert, "\n", new_cert]), Some(new.clone()), "ACTIVE"),
        ("retire", json!([new_cert]), Some(new.clone()), "DISABLED"),
    ] {
        let env = Env::baseline().with(DEV_FILE, &rollover(phase));
        let model = env.model(StageName::Dev);
        let f = stack(&model, "foundation");
        let r = &f["Resources"];
        assert_eq!(r["NextCertificateAuthority"]["Properties"]["Subject"]["CommonName"], "Kafka dev CA 2");
        assert_eq!(r["NextCertificateAuthority"]["DeletionPolicy"], "Retain", "{phase}");
        assert_eq!(r["CertificateAuthorityActivation"]["Properties"]["Status"], status, "{phase}");
        assert_eq!(r["NextCertificateAuthorityActivation"]["Properties"]["Status"], "ACTIVE");
        let p = &r["TrustBundleParameter"]["Properties"];
        assert_eq!(p["Name"], names::trust_bundle(&model));
        assert_eq!(p["Value"]["Fn::Join"][1], bundle, "{phase}");
        assert_eq!(r["CaRolloverPhaseParameter"]["Properties"]["Value"], phase);
        let vars = certificate_lambda(&f);
        assert_eq!(vars["STAGE_CERTIFICATE_AUTHORITY_ARNS"]["Fn::Join"][1], json!([old, new]));
        assert_eq!(vars.get("RENEWAL_CERTIFICATE_AUTHORITY_ARN"), issuing.as_ref(), "{phase}");
        // The Lambda issues and revokes with both CAs, and no other.
        let role = &r["PrivateCertificateRole"]["Properties"]["Policies"][0]["PolicyDocument"];
        let statements: Vec<&Value> = role["Statement"].as_array().unwrap().iter().collect();
        let issue = statements.iter().find(|s| s["Sid"] == "IssueEndEntityCertificates").unwrap();
        assert_eq!(issue["Resource"], json!([old, new]), "{phase}");

        // Every node starts with the bundle as its trust store, and may read it.
        let node = &model.cluster.brokers[0];
        let secrets = kafka_config::node_secrets(&model, node);
        assert!(secrets.contains(&("TLS_TRUST".to_string(), names::trust_bundle(&model))), "{secrets:?}");
        let cluster = serde_json::to_string(&stack(&model, "cluster")).unwrap();
        assert!(cluster.contains(&format!("parameter{}", names::trust_bundle(&model))), "{phase}");
        assert!(kafka_config::launcher_script().contains("${TLS_TRUST:-$TLS_CHAIN}"));
        // The reconciler verifies nodes of either CA with the bundle, and may read it.
        let topics = stack(&model, "topics");
        let reconciliation = &topics["Resources"]["Reconciliation"]["Properties"];
        assert_eq!(reconciliation["TrustBundleParameter"], names::trust_bundle(&model), "{phase}");
        let topics_text = serde_json::to_string(&topics).unwrap();
        assert!(topics_text.contains(&format!("parameter{}\"", names::trust_bundle(&model))), "{phase}");
    }
}

//! SCRAM credential rotation in the rendered output: each SCRAM account's password resource names
//! its two Kafka users and its own rotation token, its alternate user carries the same ACLs, and a
//! managed policy per account reads exactly that account's parameter (docs/operators-guide.md,
//! "Credential rotation"). The rules of the new settings (KP111, KP308) are here too.

mod support;

use kafka_platform_core::StageName;
use kafka_platform_core::desired::desired_state;
use kafka_platform_core::render::templates;
use serde_json::{Value, json};
use support::*;

const DEV_FILE: &str = "stages/dev.yaml";

fn secrets(env: &Env) -> Value {
    let model = env.model(StageName::Dev);
    let (_, t) = templates(&model).into_iter().find(|(part, _)| *part == "secrets").expect("secrets stack");
    serde_json::to_value(&t).unwrap()
}

fn parameter_arn(account: &str) -> Value {
    json!({"Fn::Sub": format!(
        "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/kafka/dev/service-accounts/{account}/password"
    )})
}

#[test]
fn each_scram_account_gets_a_policy_that_reads_its_own_parameter_only() {
    let t = secrets(&Env::baseline());
    let policy = &t["Resources"]["AccountAlphaShopReadPolicy"];
    assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
    let statements = policy["Properties"]["PolicyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2, "{statements:#?}");
    assert_eq!(statements[0]["Action"], json!(["ssm:GetParameter"]));
    assert_eq!(statements[0]["Resource"], parameter_arn("alpha-shop"), "exactly the parameter, no wildcard");
    assert_eq!(statements[1]["Action"], json!(["kms:Decrypt"]));
    assert_eq!(statements[1]["Resource"], json!({"Ref": "KmsKeyArn"}));
    let condition = &statements[1]["Condition"]["StringEquals"];
    assert_eq!(condition["kms:ViaService"], json!({"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"}));
    assert_eq!(condition["kms:EncryptionContext:PARAMETER_ARN"], parameter_arn("alpha-shop"));
    assert!(statements.iter().all(|s| s["Effect"] == "Allow"));
    assert_eq!(policy["Properties"]["ManagedPolicyName"], "kafka-dev-alpha-shop-read-credential");
    assert!(t["Outputs"].get("AccountAlphaShopReadPolicyArn").is_none(), "no output per account (limit 200)");
    // mTLS accounts read certificates through their own means: no password policy.
    assert!(t["Resources"].get("AccountBetaBillingReadPolicy").is_none());
}

#[test]
fn the_password_names_both_users_and_an_account_token_rotates_that_account_alone() {
    let gamma = "project: gamma\ndescription: g.\nowner:\n  team: g\n  email: g@example.com\ndata_classification: internal\ntopics:\n  - name: gamma.events.v1\nservice_accounts:\n  - name: gamma-app\n    authentication: scram\n    consumes: [gamma.events.v1]\n";
    let env = Env::baseline().with("projects/gamma.yaml", gamma);
    let before = secrets(&env);
    let password = &before["Resources"]["AccountAlphaShopPassword"]["Properties"];
    assert_eq!(password["Usernames"], json!(["alpha-shop", "alpha-shop.alt"]));
    assert_eq!(password["RotationToken"], "1");
    assert!(before["Resources"]["AdminPassword"]["Properties"].get("Usernames").is_none(), "admin: bare");

    let dev = format!("{DEV}passwords:\n  account_rotation_tokens:\n    alpha-shop: \"2026-11\"\n");
    let env = env.with(DEV_FILE, &dev);
    let after = secrets(&env);
    let token = |t: &Value, id: &str| t["Resources"][id]["Properties"]["RotationToken"].clone();
    assert_eq!(token(&after, "AccountAlphaShopPassword"), "1/2026-11");
    assert_eq!(token(&after, "AccountGammaAppPassword"), token(&before, "AccountGammaAppPassword"));
    assert_eq!(token(&after, "AdminPassword"), token(&before, "AdminPassword"));
    // The desired state changes too, so the reconciler runs after the rotation.
    let desired = desired_state(&env.model(StageName::Dev));
    let shop = desired.service_accounts.iter().find(|a| a.name == "alpha-shop").unwrap();
    assert_eq!(shop.rotation_token.as_deref(), Some("1/2026-11"));
    assert_eq!(shop.scram_users, vec!["alpha-shop", "alpha-shop.alt"]);
    assert_eq!(desired.rotation_overlap_hours, 24);
}

#[test]
fn the_alternate_user_has_exactly_the_accounts_acls() {
    let desired = desired_state(&Env::baseline().model(StageName::Dev));
    let of = |principal: &str| {
        let mut acls: Vec<_> = desired
            .acls
            .iter()
            .filter(|a| a.principal == principal)
            .map(|a| (a.resource_type, a.pattern_type, a.resource_name.clone(), a.operation, a.host.clone()))
            .collect();
        acls.sort();
        acls
    };
    assert!(!of("User:alpha-shop").is_empty());
    assert_eq!(of("User:alpha-shop.alt"), of("User:alpha-shop"));
    assert!(of("User:beta-billing.alt").is_empty(), "mTLS accounts have one principal");
}

#[test]
fn kp111_overlap_is_bounded_and_account_tokens_name_scram_accounts() {
    let dev = format!("{DEV}passwords:\n  rotation_overlap_hours: 0\n");
    let env = Env::baseline().with(DEV_FILE, &dev);
    assert_one(env.findings(&[]), at(&env, "KP111", DEV_FILE, value_at(&dev, "rotation_overlap_hours: 0")));
    let ok = format!("{DEV}passwords:\n  rotation_overlap_hours: 720\n");
    assert_clean(Env::baseline().with(DEV_FILE, &ok).findings(&[]));

    for name in ["nobody-app", "beta-billing"] {
        let dev = format!("{DEV}passwords:\n  account_rotation_tokens:\n    {name}: \"x7\"\n");
        let env = Env::baseline().with(DEV_FILE, &dev);
        let f = assert_one(env.findings(&[]), at(&env, "KP111", DEV_FILE, position(&dev, "\"x7\"")));
        assert!(f.message.contains(name), "{}", f.message);
    }
}

#[test]
fn kp308_names_ending_in_alt_belong_to_a_scram_accounts_second_user() {
    let defaults = DEFAULTS.replace("'^{project}-[a-z0-9-]+$'", "'^[a-z0-9.-]+$'");
    let gamma = "project: gamma\ndescription: g.\nowner:\n  team: g\n  email: g@example.com\ndata_classification: internal\ntopics:\n  - name: gamma.events.v1\nservice_accounts:\n  - name: alpha-shop.alt\n    authentication: mtls\n    consumes: [gamma.events.v1]\n    consumer_groups: [gamma-x]\n";
    let env = Env::baseline().with("defaults.yaml", &defaults).with("projects/gamma.yaml", gamma);
    let findings = env.findings(&[]);
    assert!(
        findings.iter().any(|f| f.rule == "KP308" && f.message.contains("alpha-shop.alt")),
        "{}",
        show(&findings)
    );
}

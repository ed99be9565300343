//! What a first deploy on a real AWS account needs and lint cannot see (issue 8), checked on the
//! templates of the committed environments: KMS and IAM for the encrypted node volumes, a bounded
//! volume attach at boot, PrivateLink consumers admitted, every NLB listener with targets, public
//! DNS, protection of production-like stages, and the optional VPC endpoints.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use kafka_platform_core::render::cluster::{ATTACH_ATTEMPTS, DEVICE_CHECKS};
use kafka_platform_core::render::render_stage;
use kafka_platform_core::{StageModel, StageName, load_and_resolve};
use serde_json::{Value, json};
use support::*;

/// The committed model of `stage`.
fn committed(stage: StageName) -> StageModel {
    let (mut models, findings) = load_and_resolve(committed_environments(), &[stage]);
    models
        .remove(&stage)
        .unwrap_or_else(|| panic!("the committed {stage} stage has errors:\n{}", show(&findings)))
}

/// The rendered templates of a stage by part (`cluster`, `foundation`, ...), parsed.
fn templates(model: &StageModel) -> BTreeMap<String, Value> {
    render_stage(model)
        .files
        .iter()
        .filter_map(|(file, text)| {
            let part = file.strip_suffix(".yaml")?;
            Some((part.to_string(), serde_saphyr::from_str(text).expect("templates are YAML")))
        })
        .collect()
}

fn manifest(model: &StageModel) -> Value {
    serde_json::from_str(&render_stage(model).files["manifest.json"]).expect("manifest.json is JSON")
}

/// A value or list of values as a list.
fn list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// The statements of a policy document.
fn statements(document: &Value) -> Vec<Value> {
    list(&document["Statement"])
}

/// Whether a statement allows every one of `actions` (an action may match a `prefix*` wildcard).
fn allows(statement: &Value, actions: &[&str]) -> bool {
    let granted: Vec<String> =
        list(&statement["Action"]).iter().map(|a| a.as_str().unwrap_or_default().to_string()).collect();
    statement["Effect"] == "Allow"
        && actions.iter().all(|wanted| {
            granted.iter().any(|g| match g.strip_suffix('*') {
                Some(prefix) => wanted.starts_with(prefix),
                None => g == wanted,
            })
        })
}

#[test]
fn the_key_of_the_node_volumes_admits_the_auto_scaling_service_linked_role() {
    let role = json!({ "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling" });
    for stage in StageName::ALL {
        let model = committed(stage);
        let templates = templates(&model);
        let (cluster, foundation) = (&templates["cluster"], &templates["foundation"]);

        // The launch templates encrypt the root volume and the stack the data volumes with the key
        // the foundation stack publishes as kms-key-arn: its Key.
        let kms_parameter = &cluster["Parameters"]["KmsKeyArn"];
        assert!(kms_parameter["Default"].as_str().unwrap().ends_with("/cfn/kms-key-arn"), "{stage}");
        let published = resources(foundation, "AWS::SSM::Parameter");
        assert_eq!(
            published["KeyArnParameter"]["Properties"]["Value"],
            json!({ "Fn::GetAtt": ["Key", "Arn"] })
        );
        let launch_templates = resources(cluster, "AWS::EC2::LaunchTemplate");
        assert!(!launch_templates.is_empty());
        for (id, lt) in &launch_templates {
            for mapping in lt["Properties"]["LaunchTemplateData"]["BlockDeviceMappings"].as_array().unwrap() {
                assert_eq!(mapping["Ebs"]["KmsKeyId"], json!({ "Ref": "KmsKeyArn" }), "{stage} {id}");
            }
        }
        for (id, volume) in resources(cluster, "AWS::EC2::Volume") {
            assert_eq!(volume["Properties"]["KmsKeyId"], json!({ "Ref": "KmsKeyArn" }), "{stage} {id}");
        }

        // So the key policy must let Auto Scaling's service-linked role use the key and create
        // grants for the instances it launches (Auto Scaling user guide, key policy for EBS).
        let policy = &resources(foundation, "AWS::KMS::Key")["Key"]["Properties"]["KeyPolicy"];
        let for_role: Vec<Value> =
            statements(policy).into_iter().filter(|s| list(&s["Principal"]["AWS"]).contains(&role)).collect();
        assert!(
            for_role.iter().any(|s| s["Resource"] == "*"
                && allows(
                    s,
                    &[
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncryptFrom",
                        "kms:GenerateDataKeyWithoutPlaintext",
                        "kms:DescribeKey"
                    ]
                )),
            "{stage}: the service-linked role may not use the key: {for_role:?}"
        );
        assert!(
            for_role.iter().any(|s| allows(s, &["kms:CreateGrant"])
                && s["Condition"]["Bool"]["kms:GrantIsForAWSResource"] == json!(true)),
            "{stage}: the service-linked role may not create grants for AWS resources: {for_role:?}"
        );
    }
}

#[test]
fn an_instance_may_attach_only_the_node_volumes_and_use_the_key_only_through_ec2() {
    let model = committed(StageName::Prod);
    let cluster = &templates(&model)["cluster"];
    let role = &resources(cluster, "AWS::IAM::Role")["InstanceRole"];
    let granted: Vec<Value> = role["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| statements(&p["PolicyDocument"]))
        .collect();
    let volumes: BTreeSet<String> =
        resources(cluster, "AWS::EC2::Volume").keys().map(|id| format!("${{{id}}}")).collect();
    let attach: Vec<&Value> = granted.iter().filter(|s| allows(s, &["ec2:AttachVolume"])).collect();
    let attachable: BTreeSet<String> = attach
        .iter()
        .flat_map(|s| list(&s["Resource"]))
        .filter_map(|r| r["Fn::Sub"].as_str().and_then(|arn| arn.split(":volume/").nth(1)).map(String::from))
        .collect();
    assert_eq!(attachable, volumes, "exactly the node volumes");

    let ec2 = json!({ "Fn::Sub": "ec2.${AWS::Region}.amazonaws.com" });
    let grant =
        granted.iter().find(|s| allows(s, &["kms:CreateGrant"])).expect("kms:CreateGrant for the attach");
    assert_eq!(grant["Resource"], json!({ "Ref": "KmsKeyArn" }));
    assert_eq!(grant["Condition"]["Bool"]["kms:GrantIsForAWSResource"], json!(true));
    assert_eq!(grant["Condition"]["StringEquals"]["kms:ViaService"], ec2);
    for statement in
        granted.iter().filter(|s| list(&s["Action"]).iter().any(|a| a.as_str().unwrap().starts_with("kms:")))
    {
        assert_eq!(statement["Condition"]["StringEquals"]["kms:ViaService"], ec2, "{statement}");
    }
}

/// The user data of node `b0` with the CloudFormation substitutions resolved for a test run.
fn user_data_script(model: &StageModel) -> String {
    let cluster = &templates(model)["cluster"];
    let template = &resources(cluster, "AWS::EC2::LaunchTemplate")["B0LaunchTemplate"];
    let text = template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
        .as_str()
        .expect("user data is one Fn::Sub string")
        .to_string();
    let resolved = text
        .replace("${AWS::Region}", "eu-west-1")
        .replace("${B0Volume}", "vol-0test")
        .replace("${Cluster}", "kafka-dev");
    assert!(!resolved.contains("${"), "an unresolved substitution is left: {resolved}");
    resolved
}

/// Runs `script` with stand-ins for the commands a test machine must not (or cannot) run: the
/// instance metadata (`curl`), the EC2 API (`aws`, answering `aws_status`), `sleep` (no waiting)
/// and, should the script ever get that far, everything that would touch a disk. Each stand-in
/// stops the script after 1,000 calls, so an unbounded loop fails the test instead of hanging it.
fn run_with_stand_ins(script: &str, aws_status: u8) -> (Option<i32>, String, usize, usize) {
    let dir = std::env::temp_dir().join(format!("kp-user-data-{}-{aws_status}", std::process::id()));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let count = |name: &str| {
        format!(
            "#!/bin/bash\nn=$(cat {dir}/{name}.count 2>/dev/null || echo 0)\nn=$((n + 1))\necho $n > {dir}/{name}.count\nif [ $n -gt 1000 ]; then echo runaway >> {dir}/runaway; kill -9 $PPID; fi\n",
            dir = dir.display()
        )
    };
    let stand_ins = [
        ("curl", format!("{}echo i-0test\n", count("curl"))),
        ("aws", format!("{}exit {aws_status}\n", count("aws"))),
        ("sleep", count("sleep")),
        ("blkid", "#!/bin/bash\nexit 99\n".to_string()),
        ("mkfs.xfs", "#!/bin/bash\nexit 99\n".to_string()),
        ("mount", "#!/bin/bash\nexit 99\n".to_string()),
        ("mkdir", "#!/bin/bash\nexit 99\n".to_string()),
        ("chown", "#!/bin/bash\nexit 99\n".to_string()),
    ];
    for (name, body) in stand_ins {
        let path = bin.join(name);
        std::fs::write(&path, body).unwrap();
        Command::new("chmod").arg("+x").arg(&path).status().unwrap();
    }
    std::fs::write(dir.join("user-data.sh"), script).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let output = Command::new("bash").arg(dir.join("user-data.sh")).env("PATH", path).output().unwrap();
    let calls = |name: &str| -> usize {
        std::fs::read_to_string(dir.join(format!("{name}.count")))
            .ok()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    let (aws_calls, sleeps) = (calls("aws"), calls("sleep"));
    assert!(!dir.join("runaway").exists(), "the script looped without bound");
    let _ = std::fs::remove_dir_all(&dir);
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned(), aws_calls, sleeps)
}

#[test]
fn a_volume_that_never_attaches_fails_the_boot_with_a_message() {
    // A real instance, EC2 API and EBS volume cannot run here: the rendered script runs against
    // stand-ins (see run_with_stand_ins), and EC2 refuses every attach.
    let script = user_data_script(&committed(StageName::Dev));
    let (status, stderr, aws_calls, sleeps) = run_with_stand_ins(&script, 1);
    assert_eq!(status, Some(1), "{stderr}");
    assert_eq!((aws_calls, sleeps), (ATTACH_ATTEMPTS as usize, ATTACH_ATTEMPTS as usize - 1), "{stderr}");
    assert!(
        stderr.contains(&format!("volume vol-0test not attached after {ATTACH_ATTEMPTS} attempts")),
        "{stderr}"
    );
}

#[test]
fn an_attached_volume_without_a_device_fails_the_boot_with_a_message() {
    if Path::new("/dev/xvdf").exists() || Path::new("/dev/nvme1n1").exists() {
        // The stand-ins cannot hide a real device; the script would go on to mount it.
        eprintln!("skipped: this machine has /dev/xvdf or /dev/nvme1n1");
        return;
    }
    let script = user_data_script(&committed(StageName::Dev));
    let (status, stderr, aws_calls, sleeps) = run_with_stand_ins(&script, 0);
    assert_eq!((status, aws_calls, sleeps), (Some(1), 1, DEVICE_CHECKS as usize - 1), "{stderr}");
    assert!(stderr.contains("volume vol-0test attached but no device appeared"), "{stderr}");
}

/// Ingress rules of a security group as (source, from port, to port).
fn ingress_rules(group: &Value) -> Vec<(String, u64, u64)> {
    group["Properties"]["SecurityGroupIngress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| {
            let source =
                rule["CidrIp"].as_str().or(rule["CidrIpv6"].as_str()).unwrap_or_default().to_string();
            (source, rule["FromPort"].as_u64().unwrap(), rule["ToPort"].as_u64().unwrap())
        })
        .collect()
}

#[test]
fn privatelink_consumers_are_admitted_by_their_own_addresses() {
    let mut seen = 0;
    for stage in StageName::ALL {
        let model = committed(stage);
        let Some(link) = &model.private_link else { continue };
        seen += 1;
        assert!(!link.consumer_cidrs.is_empty(), "{stage}");
        let cluster = &templates(&model)["cluster"];
        let lb = &resources(cluster, "AWS::ElasticLoadBalancingV2::LoadBalancer")["InternalLoadBalancer"];
        // With inbound rules enforced on PrivateLink traffic, the NLB sees the consumer's own
        // address (NLB guide, "Update the security groups for your Network Load Balancer").
        assert_eq!(lb["Properties"]["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"], "on", "{stage}");
        let group = &resources(cluster, "AWS::EC2::SecurityGroup")["InternalLoadBalancerSecurityGroup"];
        let rules = ingress_rules(group);
        let listeners = resources(cluster, "AWS::ElasticLoadBalancingV2::Listener");
        let ports: Vec<u64> = listeners
            .iter()
            .filter(|(id, _)| id.starts_with("PrivateLink"))
            .map(|(_, l)| l["Properties"]["Port"].as_u64().unwrap())
            .collect();
        assert_eq!(ports.len(), model.cluster.brokers.len(), "{stage}");
        for cidr in &link.consumer_cidrs {
            for port in &ports {
                assert!(
                    rules.iter().any(|(source, from, to)| source == cidr && (from..=to).contains(&port)),
                    "{stage}: consumer {cidr} is refused on port {port}: {rules:?}"
                );
            }
            // Consumers reach the PrivateLink ports only, not the VPC's own bootstrap listeners.
            assert!(
                rules.iter().filter(|(source, ..)| source == cidr).all(|(_, from, _)| *from >= 9200),
                "{stage}: {rules:?}"
            );
        }
    }
    assert!(seen >= 2, "acc and prod declare PrivateLink");
}

#[test]
fn every_nlb_listener_forwards_to_a_target_group_that_gets_targets() {
    for stage in StageName::ALL {
        let model = committed(stage);
        let cluster = &templates(&model)["cluster"];
        let groups = resources(cluster, "AWS::ElasticLoadBalancingV2::TargetGroup");
        let listeners = resources(cluster, "AWS::ElasticLoadBalancingV2::Listener");
        // Target group -> the services registering in it.
        let mut registered: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (id, service) in resources(cluster, "AWS::ECS::Service") {
            let load_balancers =
                service["Properties"]["LoadBalancers"].as_array().cloned().unwrap_or_default();
            // ECS attaches at most five target groups to a service (ECS guide, multiple target groups).
            assert!(load_balancers.len() <= 5, "{stage} {id}: {} target groups", load_balancers.len());
            for lb in &load_balancers {
                let group = lb["TargetGroupArn"]["Ref"].as_str().unwrap().to_string();
                // A service cannot be created before its target group is behind a listener.
                let forwarding: Vec<&&str> = listeners
                    .iter()
                    .filter(|(_, l)| {
                        l["Properties"]["DefaultActions"][0]["TargetGroupArn"]["Ref"] == group.as_str()
                    })
                    .map(|(listener, _)| listener)
                    .collect();
                assert_eq!(forwarding.len(), 1, "{stage} {id}: {group}");
                let depends: Vec<Value> = list(&service["DependsOn"]);
                assert!(
                    depends.contains(&json!(forwarding[0])),
                    "{stage} {id} must depend on {}",
                    forwarding[0]
                );
                registered.entry(group).or_default().push(id);
            }
        }
        assert!(!listeners.is_empty());
        for (id, listener) in &listeners {
            let group =
                listener["Properties"]["DefaultActions"][0]["TargetGroupArn"]["Ref"].as_str().unwrap();
            let has_targets = groups[group]["Properties"]
                .get("Targets")
                .is_some_and(|t| t.as_array().is_some_and(|t| !t.is_empty()));
            assert!(
                has_targets || registered.contains_key(group),
                "{stage}: listener {id} forwards to {group}, which nothing registers in"
            );
        }
    }
}

#[test]
fn public_records_are_rendered_when_the_stage_declares_the_public_zone() {
    // prod declares its public hosted zone; acc leaves the records to the operator.
    let prod = committed(StageName::Prod);
    let public = prod.public_endpoint.as_ref().unwrap();
    let zone = public.hosted_zone_id.as_deref().expect("prod declares its public zone");
    let name = public.dns_name.as_deref().unwrap();
    let cluster = &templates(&prod)["cluster"];
    let records: BTreeMap<String, &Value> = resources(cluster, "AWS::Route53::RecordSet")
        .into_values()
        .filter(|r| r["Properties"]["HostedZoneId"] == zone)
        .map(|r| (r["Properties"]["Name"].as_str().unwrap().to_string(), r))
        .collect();
    let mut expected: BTreeSet<String> =
        prod.cluster.brokers.iter().map(|b| format!("{}.{name}", b.name)).collect();
    expected.insert(name.to_string());
    assert_eq!(records.keys().cloned().collect::<BTreeSet<_>>(), expected);
    for record in records.values() {
        assert_eq!(
            record["Properties"]["AliasTarget"]["DNSName"],
            json!({ "Fn::GetAtt": ["PublicLoadBalancer", "DNSName"] })
        );
    }

    let acc = committed(StageName::Acc);
    assert!(acc.public_endpoint.as_ref().unwrap().hosted_zone_id.is_none());
    let cluster = &templates(&acc)["cluster"];
    assert!(resources(cluster, "AWS::Route53::RecordSet").keys().all(|id| *id == "BootstrapRecord"));
    let output = cluster["Outputs"]["BootstrapServersPublic"]["Description"].as_str().unwrap();
    assert!(output.contains("point the public DNS names at PublicLoadBalancerDns"), "{output}");
}

#[test]
fn acc_is_protected_like_prod_and_keeps_its_logs() {
    let prod = manifest(&committed(StageName::Prod));
    for stage in StageName::ALL {
        let model = committed(stage);
        assert_eq!(model.production_like(), stage >= StageName::Acc);
        let manifest = manifest(&model);
        assert_eq!(manifest["termination_protection"], model.production_like(), "{stage}");
        // The stack policy guards the same stateful resources as in prod (the node volumes differ
        // in number only).
        let guarded = |m: &Value| -> Vec<BTreeSet<String>> {
            m["stacks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    list(&s["stateful_resources"])
                        .iter()
                        .map(|r| r.as_str().unwrap().to_string())
                        .filter(|r| !r.ends_with("Volume"))
                        .collect()
                })
                .collect()
        };
        assert_eq!(guarded(&manifest), guarded(&prod), "{stage}");
        for (part, template) in templates(&model) {
            for (id, group) in resources(&template, "AWS::Logs::LogGroup") {
                let policies = (group.get("DeletionPolicy"), group.get("UpdateReplacePolicy"));
                if model.production_like() {
                    assert_eq!(
                        policies,
                        (Some(&json!("RetainExceptOnCreate")), Some(&json!("Retain"))),
                        "{stage} {part} {id}"
                    );
                } else {
                    assert_eq!(
                        policies,
                        (None, None),
                        "{stage} {part} {id}: short-lived stages delete their logs"
                    );
                }
            }
        }
        let cluster = &templates(&model)["cluster"];
        for (id, lb) in resources(cluster, "AWS::ElasticLoadBalancingV2::LoadBalancer") {
            let protection = lb["Properties"]["LoadBalancerAttributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["Key"] == "deletion_protection.enabled")
                .unwrap()["Value"]
                .clone();
            assert_eq!(protection, json!(model.production_like().to_string()), "{stage} {id}");
        }
    }
}

#[test]
fn vpc_endpoints_cover_what_the_private_subnets_call() {
    let model = committed(StageName::Prod);
    let endpoints = model.network.vpc_endpoints.as_ref().expect("prod declares VPC endpoints");
    let cluster = &templates(&model)["cluster"];
    let rendered = resources(cluster, "AWS::EC2::VPCEndpoint");
    let services: BTreeMap<String, &Value> = rendered
        .values()
        .map(|e| {
            (
                e["Properties"]["ServiceName"]["Fn::Sub"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("com.amazonaws.${AWS::Region}.")
                    .to_string(),
                *e,
            )
        })
        .collect();
    for service in
        ["ecr.api", "ecr.dkr", "logs", "ssm", "ecs", "ecs-agent", "ecs-telemetry", "ec2", "sts", "s3"]
    {
        assert!(services.contains_key(service), "no endpoint for {service}: {:?}", services.keys());
    }
    let s3 = &services["s3"]["Properties"];
    assert_eq!(s3["VpcEndpointType"], "Gateway");
    assert_eq!(s3["RouteTableIds"], json!(endpoints.route_table_ids));
    let s3_policy = statements(&s3["PolicyDocument"]);
    let response = "cloudformation-custom-resource-response-euwest1/*";
    assert!(
        s3_policy.iter().any(|s| allows(s, &["s3:PutObject"])
            && s["Resource"]["Fn::Sub"].as_str().unwrap().ends_with(response)),
        "the reconciler's response URL"
    );
    assert!(
        s3_policy.iter().any(|s| allows(s, &["s3:GetObject"])
            && s["Resource"]["Fn::Sub"].as_str().unwrap().contains("starport-layer-bucket")),
        "ECR image layers"
    );
    for (service, endpoint) in &services {
        let properties = &endpoint["Properties"];
        if *service != "s3" {
            assert_eq!(properties["PrivateDnsEnabled"], true, "{service}");
            assert_eq!(properties["SubnetIds"], json!(model.network.subnet_ids), "{service}");
            assert_eq!(
                properties["SecurityGroupIds"],
                json!([{ "Ref": "VpcEndpointSecurityGroup" }]),
                "{service}"
            );
        }
        if let Some(policy) = properties.get("PolicyDocument") {
            for statement in statements(policy) {
                assert!(!list(&statement["Action"]).contains(&json!("*")), "{service}: {statement}");
            }
        }
    }
    let group = &resources(cluster, "AWS::EC2::SecurityGroup")["VpcEndpointSecurityGroup"];
    assert_eq!(ingress_rules(group), vec![(model.network.vpc_cidr.clone(), 443, 443)]);
    // Nothing boots before the endpoints are there.
    let ids: Vec<Value> = rendered.keys().map(|id| json!(id)).collect();
    for (id, group) in resources(cluster, "AWS::AutoScaling::AutoScalingGroup") {
        assert!(ids.iter().all(|e| list(&group["DependsOn"]).contains(e)), "{id}");
    }
    // Without the option, nothing is rendered.
    let dev = committed(StageName::Dev);
    assert!(dev.network.vpc_endpoints.is_none());
    assert!(resources(&templates(&dev)["cluster"], "AWS::EC2::VPCEndpoint").is_empty());
}

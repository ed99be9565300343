//! The cluster stack: security groups, Cloud Map DNS, ECS on EC2 with one Auto Scaling group,
//! capacity provider, EBS volume, task definition and service per node, the internal (bootstrap,
//! PrivateLink) and public NLBs, and the Schema Registry.

use serde_json::{Value, json};

use crate::manifest::{RollingDecl, RollingNode};
use crate::model::{Node, SchemaRegistry, StageModel, ports};
use crate::render::cfn::{Resource, Template, att, logical_id, r, sub, tags};
use crate::render::foundation::{export, log_group_resource};
use crate::render::kafka_config::{DATA_DIR, launcher_script, node_environment, node_secrets};
use crate::render::names;
use crate::render::node_metrics;
use crate::render::registry_proxy;
use crate::render::secrets::{import, schema_registry_dns_name};

const HOST_DATA_DIR: &str = "/data/kafka";

/// Renders the cluster stack.
pub fn render(model: &StageModel) -> Template {
    let mut t = Template::new(format!(
        "Kafka platform {}: ECS cluster, brokers, controllers, DNS, load balancers, Schema Registry",
        model.stage
    ));
    import(&mut t, model, "KmsKeyArn", "kms-key-arn");
    t.parameter(
        "EcsAmi",
        "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
        "ECS-optimised Amazon Linux 2023 AMI (AWS public parameter)",
        Some("/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"),
    );
    let name = model.name();
    let root = model.parameter_root();

    security_groups(&mut t, model);
    t.add(
        "Namespace",
        Resource::new(
            "AWS::ServiceDiscovery::PrivateDnsNamespace",
            json!({
                "Name": model.dns_zone,
                "Vpc": model.network.vpc_id,
                "Description": format!("Broker names of Kafka {}", model.stage),
                "Tags": tags(&model.tags),
            }),
        ),
    );
    t.add(
        "Cluster",
        Resource::new(
            "AWS::ECS::Cluster",
            json!({
                "ClusterName": name,
                "ClusterSettings": [{ "Name": "containerInsights", "Value": "enabled" }],
                "Tags": tags(&model.tags),
            }),
        ),
    );
    let log_group = format!("/{}/{}/kafka", model.resource_prefix, model.stage);
    t.add("KafkaLogGroup", log_group_resource(model, &log_group, r("KmsKeyArn")));
    t.add(
        "MetricsLogGroup",
        log_group_resource(model, &node_metrics::metrics_log_group(model), r("KmsKeyArn")),
    );
    roles(&mut t, model);

    let endpoints = crate::render::endpoints::render(&mut t, model);
    let nodes: Vec<&Node> = model.cluster.brokers.iter().chain(&model.cluster.controllers).collect();
    let mut capacity_providers = Vec::new();
    for node in &nodes {
        capacity_providers.push(r(&logical_id(&[&node.name, "capacity-provider"])));
        node_resources(&mut t, model, node, &log_group, &endpoints);
    }
    t.add(
        "ClusterCapacityProviders",
        Resource::new(
            "AWS::ECS::ClusterCapacityProviderAssociations",
            json!({
                "Cluster": r("Cluster"),
                "CapacityProviders": capacity_providers,
                "DefaultCapacityProviderStrategy": [],
            }),
        ),
    );

    internal_load_balancer(&mut t, model);
    if model.public_endpoint.is_some() {
        public_load_balancer(&mut t, model);
    }
    if let Some(sr) = &model.schema_registry {
        schema_registry(&mut t, model, sr, &endpoints);
    }
    if model.cluster.scram {
        let chain = crate::render::debug_task::chain_parameter(model);
        crate::render::debug_task::render(&mut t, model, execution_role(model, &[chain]));
    }

    t.add(
        "BrokerSecurityGroupParameter",
        export(model, "broker-security-group-id", r("BrokerSecurityGroup")),
    );
    t.add(
        "ReconcilerSecurityGroupParameter",
        export(model, "reconciler-security-group-id", r("ReconcilerSecurityGroup")),
    );
    let bootstrap = model.bootstrap_dns_name();
    t.output(
        "BootstrapServersScram",
        "Internal bootstrap servers, SASL_SSL with SCRAM-SHA-512",
        json!(format!("{bootstrap}:{}", ports::SCRAM)),
    );
    t.output(
        "BootstrapServersMtls",
        "Internal bootstrap servers, SSL with client certificates",
        json!(format!("{bootstrap}:{}", ports::MTLS)),
    );
    if let Some(public) = &model.public_endpoint {
        let host = public.dns_name.clone().unwrap_or_else(|| bootstrap.clone());
        let port = public.first_port + model.cluster.brokers.len() as u32;
        let description = if public.hosted_zone_id.is_some() {
            "Public bootstrap servers (SASL_SSL); this stack writes the public DNS records"
        } else {
            "Public bootstrap servers (SASL_SSL); point the public DNS names at PublicLoadBalancerDns"
        };
        t.output("BootstrapServersPublic", description, json!(format!("{host}:{port}")));
        t.output("PublicLoadBalancerDns", "DNS name of the public NLB", att("PublicLoadBalancer", "DNSName"));
    }
    if model.private_link.is_some() {
        t.output(
            "EndpointServiceName",
            "VPC endpoint service for PrivateLink consumers",
            sub("com.amazonaws.vpce.${AWS::Region}.${EndpointService}"),
        );
    }
    if model.schema_registry.is_some() {
        t.output(
            "SchemaRegistryUrl",
            "Schema Registry (HTTPS)",
            json!(format!("https://{}:{}", schema_registry_dns_name(model), ports::SCHEMA_REGISTRY)),
        );
    }
    t.output("ParameterRoot", "SSM path of the stage's secrets and certificates", json!(root));
    t
}

fn ingress(port: u32, to_port: u32, cidr: &str, description: &str) -> Value {
    // IPv6 sources need CidrIpv6: CloudFormation rejects an IPv6 CIDR in CidrIp at deploy time.
    let key = if cidr.contains(':') { "CidrIpv6" } else { "CidrIp" };
    json!({ "IpProtocol": "tcp", "FromPort": port, "ToPort": to_port, key: cidr, "Description": description })
}

fn security_groups(t: &mut Template, model: &StageModel) {
    let mut client_sources = vec![model.network.vpc_cidr.clone()];
    client_sources.extend(model.network.client_cidrs.iter().cloned());
    let mut rules = Vec::new();
    for cidr in &client_sources {
        if model.cluster.scram {
            rules.push(ingress(ports::SCRAM, ports::SCRAM, cidr, "Kafka clients, SASL_SSL/SCRAM"));
        }
        if model.cluster.mtls {
            rules.push(ingress(ports::MTLS, ports::MTLS, cidr, "Kafka clients, mTLS"));
        }
    }
    // The NLBs forward from their own addresses inside the VPC.
    if model.public_endpoint.is_some() {
        rules.push(ingress(ports::PUBLIC, ports::PUBLIC, &model.network.vpc_cidr, "public NLB to brokers"));
    }
    if model.private_link.is_some() {
        rules.push(ingress(
            ports::PRIVATE_LINK,
            ports::PRIVATE_LINK,
            &model.network.vpc_cidr,
            "PrivateLink NLB to brokers",
        ));
    }
    let egress = json!([
        { "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0", "Description": "ECR, SSM, CloudWatch and ECS endpoints" },
        { "IpProtocol": "tcp", "FromPort": ports::INTERNAL, "ToPort": ports::CONTROLLER, "CidrIp": model.network.vpc_cidr, "Description": "node to node" },
    ]);
    t.add(
        "BrokerSecurityGroup",
        Resource::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("Kafka {} nodes: TLS listeners only", model.stage),
                "VpcId": model.network.vpc_id,
                "SecurityGroupIngress": rules,
                "SecurityGroupEgress": egress,
                "Tags": tags(&model.tags),
            }),
        ),
    );
    t.add(
        "BrokerSelfIngress",
        Resource::new(
            "AWS::EC2::SecurityGroupIngress",
            json!({
                "GroupId": r("BrokerSecurityGroup"),
                "SourceSecurityGroupId": r("BrokerSecurityGroup"),
                "IpProtocol": "tcp",
                "FromPort": ports::INTERNAL,
                "ToPort": ports::CONTROLLER,
                "Description": "inter-broker and controller traffic (TLS)",
            }),
        ),
    );
    let mut reconciler_egress = vec![
        json!({ "IpProtocol": "tcp", "FromPort": ports::MTLS, "ToPort": ports::MTLS, "CidrIp": model.network.vpc_cidr, "Description": "brokers, mTLS admin" }),
        json!({ "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0", "Description": "SSM and S3 endpoints, CloudFormation response URL" }),
    ];
    // Dedicated controllers have no broker listener: the certificate renewal pushes to their
    // controller listener (kafka_reconcile::controller_push). Combined nodes get it as brokers.
    let dedicated = !model.cluster.combined();
    if dedicated {
        reconciler_egress.push(json!({ "IpProtocol": "tcp", "FromPort": ports::CONTROLLER, "ToPort": ports::CONTROLLER, "CidrIp": model.network.vpc_cidr, "Description": "controllers, certificate push (mTLS)" }));
    }
    if model.schema_registry.is_some() {
        // The reconciler registers the declared subjects (render::topics, SchemaRegistryUrl).
        reconciler_egress.push(json!({ "IpProtocol": "tcp", "FromPort": ports::SCHEMA_REGISTRY, "ToPort": ports::SCHEMA_REGISTRY, "CidrIp": model.network.vpc_cidr, "Description": "Schema Registry (HTTPS)" }));
    }
    t.add(
        "ReconcilerSecurityGroup",
        Resource::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("Kafka {} reconciler Lambda", model.stage),
                "VpcId": model.network.vpc_id,
                "SecurityGroupEgress": reconciler_egress,
                "Tags": tags(&model.tags),
            }),
        ),
    );
    t.add(
        "BrokerIngressFromReconciler",
        Resource::new(
            "AWS::EC2::SecurityGroupIngress",
            json!({
                "GroupId": r("BrokerSecurityGroup"),
                "SourceSecurityGroupId": r("ReconcilerSecurityGroup"),
                "IpProtocol": "tcp",
                "FromPort": ports::MTLS,
                "ToPort": ports::MTLS,
                "Description": "reconciler (admin, mTLS)",
            }),
        ),
    );
    if dedicated {
        t.add(
            "ControllerIngressFromReconciler",
            Resource::new(
                "AWS::EC2::SecurityGroupIngress",
                json!({
                    "GroupId": r("BrokerSecurityGroup"),
                    "SourceSecurityGroupId": r("ReconcilerSecurityGroup"),
                    "IpProtocol": "tcp",
                    "FromPort": ports::CONTROLLER,
                    "ToPort": ports::CONTROLLER,
                    "Description": "reconciler to controller listener (certificate push, mTLS)",
                }),
            ),
        );
    }
}

fn roles(t: &mut Template, model: &StageModel) {
    let ec2_trust = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "Service": "ec2.amazonaws.com" }, "Action": "sts:AssumeRole" }] });
    let volumes: Vec<Value> = model
        .cluster
        .brokers
        .iter()
        .chain(&model.cluster.controllers)
        .map(|n| {
            sub(format!(
                "arn:${{AWS::Partition}}:ec2:${{AWS::Region}}:${{AWS::AccountId}}:volume/${{{}}}",
                logical_id(&[&n.name, "volume"])
            ))
        })
        .collect();
    let ec2_service = sub("ec2.${AWS::Region}.amazonaws.com");
    t.add("InstanceRole", Resource::new("AWS::IAM::Role", json!({
        "AssumeRolePolicyDocument": ec2_trust,
        "ManagedPolicyArns": [
            sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"),
            sub("arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"),
        ],
        "Policies": [{ "PolicyName": "attach-own-volume", "PolicyDocument": { "Version": "2012-10-17", "Statement": [
            { "Sid": "NodeVolumes", "Effect": "Allow", "Action": ["ec2:AttachVolume"], "Resource": volumes },
            { "Sid": "NodeInstances", "Effect": "Allow", "Action": ["ec2:AttachVolume"],
              "Resource": sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*"),
              "Condition": { "StringEquals": { "aws:ResourceTag/kafka-cluster": model.name() } } },
            // The volumes are encrypted with the stage key: EC2 creates a grant for the instance
            // on the caller's behalf when it attaches one (EBS guide, "Permissions for users").
            { "Sid": "NodeVolumeKeyGrant", "Effect": "Allow", "Action": ["kms:CreateGrant"], "Resource": r("KmsKeyArn"),
              "Condition": { "Bool": { "kms:GrantIsForAWSResource": true }, "StringEquals": { "kms:ViaService": ec2_service.clone() } } },
            { "Sid": "NodeVolumeKeyUse", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": r("KmsKeyArn"),
              "Condition": { "StringEquals": { "kms:ViaService": ec2_service } } },
            node_metrics::instance_role_statement(model)
        ]}}],
        "Tags": tags(&model.tags),
    })));
    t.add(
        "InstanceProfile",
        Resource::new("AWS::IAM::InstanceProfile", json!({ "Roles": [r("InstanceRole")] })),
    );
    let ecs_trust = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "Service": "ecs-tasks.amazonaws.com" }, "Action": "sts:AssumeRole" }] });
    t.add("TaskRole", Resource::new("AWS::IAM::Role", json!({
        "AssumeRolePolicyDocument": ecs_trust,
        "Description": "Kafka itself needs no AWS access; the metrics sidecar writes its own log group and namespace",
        "Policies": [{ "PolicyName": "metrics-agent", "PolicyDocument": { "Version": "2012-10-17", "Statement": node_metrics::task_role_statements(model) } }],
        "Tags": tags(&model.tags),
    })));
}

/// A task execution role that reads exactly `parameters` (a node's or the Schema Registry's own
/// secrets, as listed in its container's `Secrets`), so that no task can start with another
/// principal's private key.
fn execution_role(model: &StageModel, parameters: &[String]) -> Resource {
    let ecs_trust = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "Service": "ecs-tasks.amazonaws.com" }, "Action": "sts:AssumeRole" }] });
    let arns: Vec<Value> = parameters
        .iter()
        .map(|p| {
            sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{p}"))
        })
        .collect();
    Resource::new(
        "AWS::IAM::Role",
        json!({
            "AssumeRolePolicyDocument": ecs_trust,
            "ManagedPolicyArns": [sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")],
            "Policies": [{ "PolicyName": "own-secrets", "PolicyDocument": { "Version": "2012-10-17", "Statement": [
                { "Sid": "OwnSecrets", "Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": arns },
                { "Sid": "DecryptSecrets", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": r("KmsKeyArn") }
            ]}}],
            "Tags": tags(&model.tags),
        }),
    )
}

/// Attempts to attach the node's volume (10 s apart): a replaced instance's volume is detached within
/// minutes; anything longer is a fault the boot must report, not wait out.
pub const ATTACH_ATTEMPTS: u32 = 60;
/// Checks for the attached device (2 s apart).
pub const DEVICE_CHECKS: u32 = 90;

/// The node's boot script (`scripts/user-data.sh`, shellchecked by tests/scripts/shellcheck.sh) as
/// an `Fn::Sub` body: attach the node's own volume (bounded: the boot fails with a message naming
/// the volume instead of looping for ever, so the instance never joins and ECS reports it), mount
/// it, fetch the metrics agent, and join the ECS cluster with the node's placement attribute.
fn user_data(model: &StageModel, node: &Node) -> Value {
    let volume = format!("${{{}}}", logical_id(&[&node.name, "volume"]));
    let script = crate::render::kafka_config::script(include_str!("scripts/user-data.sh"))
        .replace("@METRICS_STEP@\n", &node_metrics::boot_step(model))
        .replace("@REGION@", "${AWS::Region}")
        .replace("@VOLUME@", &volume)
        .replace("@ATTACH_ATTEMPTS@", &ATTACH_ATTEMPTS.to_string())
        .replace("@DEVICE_CHECKS@", &DEVICE_CHECKS.to_string())
        .replace("@HOST_DATA_DIR@", HOST_DATA_DIR)
        .replace("@CLUSTER@", "${Cluster}")
        .replace("@NODE@", &node.name);
    json!({ "Fn::Base64": sub(script) })
}

fn node_resources(t: &mut Template, model: &StageModel, node: &Node, log_group: &str, endpoints: &[String]) {
    let id = |suffix: &str| logical_id(&[&node.name, suffix]);
    let is_broker = model.cluster.brokers.contains(node);
    let storage = &model.cluster.storage;
    let subnet = &model.network.subnet_ids[node.subnet_index];
    let zone = &model.network.availability_zones[node.subnet_index];
    let mut node_tags = model.tags.clone();
    node_tags.insert("kafka-node".into(), node.name.clone());
    node_tags.insert("kafka-cluster".into(), model.name());

    let mut volume = json!({
        "AvailabilityZone": zone,
        "Size": if is_broker { storage.size_gib } else { 20 },
        "VolumeType": if is_broker { storage.volume_type.as_str() } else { "gp3" },
        "Encrypted": true,
        "KmsKeyId": r("KmsKeyArn"),
        "Tags": tags(&node_tags),
    });
    if is_broker {
        if let Some(tp) = storage.throughput_mibps {
            volume["Throughput"] = json!(tp);
        }
        if let Some(iops) = storage.iops {
            volume["Iops"] = json!(iops);
        }
    }
    t.add(
        id("volume"),
        Resource::new("AWS::EC2::Volume", volume)
            .snapshot()
            .skip_check("W3010", "the volume must be in the availability zone of the node's declared subnet; the stage declares both together"),
    );

    t.add(id("launch-template"), Resource::new("AWS::EC2::LaunchTemplate", json!({
        "LaunchTemplateData": {
            "ImageId": r("EcsAmi"),
            "InstanceType": model.cluster.instance_type,
            "IamInstanceProfile": { "Arn": att("InstanceProfile", "Arn") },
            "SecurityGroupIds": [r("BrokerSecurityGroup")],
            "MetadataOptions": { "HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled" },
            "BlockDeviceMappings": [{ "DeviceName": "/dev/xvda", "Ebs": { "VolumeSize": 30, "VolumeType": "gp3", "Encrypted": true, "KmsKeyId": r("KmsKeyArn"), "DeleteOnTermination": true } }],
            "Monitoring": { "Enabled": true },
            "UserData": user_data(model, node),
            "TagSpecifications": [{ "ResourceType": "instance", "Tags": tags(&node_tags) }],
        },
    })));
    t.add(id("auto-scaling-group"), Resource::new("AWS::AutoScaling::AutoScalingGroup", json!({
        "MinSize": "1",
        "MaxSize": "1",
        "DesiredCapacity": "1",
        "VPCZoneIdentifier": [subnet],
        "LaunchTemplate": { "LaunchTemplateId": r(&id("launch-template")), "Version": att(&id("launch-template"), "LatestVersionNumber") },
        "HealthCheckType": "EC2",
        "Tags": node_tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v, "PropagateAtLaunch": true })).collect::<Vec<_>>(),
    })).depends_on(&endpoints.iter().map(String::as_str).collect::<Vec<_>>()));
    t.add(
        id("capacity-provider"),
        Resource::new(
            "AWS::ECS::CapacityProvider",
            json!({
                "AutoScalingGroupProvider": {
                    "AutoScalingGroupArn": r(&id("auto-scaling-group")),
                    "ManagedScaling": { "Status": "DISABLED" },
                    "ManagedTerminationProtection": "DISABLED",
                },
                "Tags": tags(&node_tags),
            }),
        ),
    );

    let env = node_environment(model, node);
    let secrets: Vec<Value> = node_secrets(model, node)
        .into_iter()
        .map(|(name, parameter)| json!({ "Name": name, "ValueFrom": sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{parameter}")) }))
        .collect();
    let mut port_mappings = vec![ports::INTERNAL, ports::CONTROLLER];
    if is_broker {
        port_mappings.extend([ports::SCRAM, ports::MTLS, ports::PUBLIC, ports::PRIVATE_LINK]);
    }
    let memory =
        if is_broker { model.cluster.broker_memory_mib } else { model.cluster.controller_heap_mib * 2 };
    let own: Vec<String> = node_secrets(model, node).into_iter().map(|(_, parameter)| parameter).collect();
    t.add(id("execution-role"), execution_role(model, &own));
    let mut task_definition = Resource::new("AWS::ECS::TaskDefinition", json!({
        "Family": format!("{}-{}", model.name(), node.name),
        "NetworkMode": "awsvpc",
        "RequiresCompatibilities": ["EC2"],
        "ExecutionRoleArn": att(&id("execution-role"), "Arn"),
        "TaskRoleArn": att("TaskRole", "Arn"),
        "Volumes": [{ "Name": "data", "Host": { "SourcePath": HOST_DATA_DIR } }, { "Name": "metrics", "Host": { "SourcePath": node_metrics::METRICS_DIR } }],
        "PlacementConstraints": [{ "Type": "memberOf", "Expression": format!("attribute:kafka.node == {}", node.name) }],
        "ContainerDefinitions": [{
            "Name": "kafka",
            "Image": model.cluster.image.reference(),
            "Essential": true,
            "Memory": memory,
            "EntryPoint": ["bash", "-c"],
            "Command": [launcher_script()],
            "Environment": env.iter().map(|(k, v)| json!({ "Name": k, "Value": v })).collect::<Vec<_>>(),
            "Secrets": secrets,
            "PortMappings": port_mappings.iter().map(|p| json!({ "ContainerPort": p, "Protocol": "tcp" })).collect::<Vec<_>>(),
            "MountPoints": [{ "SourceVolume": "data", "ContainerPath": DATA_DIR, "ReadOnly": false }, { "SourceVolume": "metrics", "ContainerPath": node_metrics::METRICS_DIR, "ReadOnly": true }],
            "Ulimits": [{ "Name": "nofile", "SoftLimit": 128000, "HardLimit": 128000 }],
            "StopTimeout": 120,
            // Healthy once the node's own listener serves TLS: for a broker, caught up and unfenced.
            "HealthCheck": crate::render::readiness::health_check(if is_broker { ports::INTERNAL } else { ports::CONTROLLER }),
            "LogConfiguration": { "LogDriver": "awslogs", "Options": {
                "awslogs-group": log_group, "awslogs-region": r("AWS::Region"), "awslogs-stream-prefix": node.name
            }},
        }, node_metrics::agent_container(model, node, log_group)],
        "Tags": tags(&node_tags),
    }))
    .skip_check("CKV_AWS_336", "the Confluent image writes its generated configuration below /etc/kafka at start; a read-only root file system stops it")
    .skip_check("W3011", "only a replaced revision is kept (pinned services run it during a rolling update); deleting the stack deregisters the node's revision as usual");
    // A replaced revision stays registered: the pinned services of a rolling update still run it,
    // and the rollback of a node's step must be able to return to it (ECS refuses to point a
    // service at a deregistered revision).
    task_definition.update_replace_policy = Some("Retain");
    t.add(id("task-definition"), task_definition);
    let pin = pin_parameter(node);
    t.parameter(
        &pin,
        "String",
        &format!("Set by gen deploy during a rolling update: the task definition ARN node {} keeps running until its turn; empty for its own", node.name),
        Some(""),
    );
    t.conditions.insert(pin_condition(node), json!({ "Fn::Not": [{ "Fn::Equals": [r(&pin), ""] }] }));

    t.add(
        id("discovery"),
        Resource::new(
            "AWS::ServiceDiscovery::Service",
            json!({
                "Name": node.name,
                "NamespaceId": att("Namespace", "Id"),
                "DnsConfig": { "DnsRecords": [{ "Type": "A", "TTL": 10 }], "RoutingPolicy": "MULTIVALUE" },
                "HealthCheckCustomConfig": { "FailureThreshold": 1 },
            }),
        ),
    );
    let mut load_balancers = Vec::new();
    if is_broker {
        if model.cluster.scram {
            load_balancers.push(json!({ "ContainerName": "kafka", "ContainerPort": ports::SCRAM, "TargetGroupArn": r("BootstrapScramTargetGroup") }));
        }
        if model.cluster.mtls {
            load_balancers.push(json!({ "ContainerName": "kafka", "ContainerPort": ports::MTLS, "TargetGroupArn": r("BootstrapMtlsTargetGroup") }));
        }
        if model.public_endpoint.is_some() {
            load_balancers.push(json!({ "ContainerName": "kafka", "ContainerPort": ports::PUBLIC, "TargetGroupArn": r(&logical_id(&["public", &node.name, "target-group"])) }));
            // Every broker answers the public bootstrap port; its metadata names the per-broker ports.
            load_balancers.push(json!({ "ContainerName": "kafka", "ContainerPort": ports::PUBLIC, "TargetGroupArn": r("PublicBootstrapTargetGroup") }));
        }
        if model.private_link.is_some() {
            load_balancers.push(json!({ "ContainerName": "kafka", "ContainerPort": ports::PRIVATE_LINK, "TargetGroupArn": r(&logical_id(&["private-link", &node.name, "target-group"])) }));
        }
    }
    let mut service = Resource::new("AWS::ECS::Service", json!({
        "ServiceName": node.name,
        "Cluster": r("Cluster"),
        // Pinned by gen deploy while other nodes take their turn (rolling updates, one node at a time).
        "TaskDefinition": { "Fn::If": [pin_condition(node), r(&pin), r(&id("task-definition"))] },
        "DesiredCount": 1,
        // A node must never run twice: its volume and node id are its identity.
        "DeploymentConfiguration": { "MinimumHealthyPercent": 0, "MaximumPercent": 100, "DeploymentCircuitBreaker": { "Enable": true, "Rollback": true } },
        "CapacityProviderStrategy": [{ "CapacityProvider": r(&id("capacity-provider")), "Weight": 1 }],
        "NetworkConfiguration": { "AwsvpcConfiguration": { "AssignPublicIp": "DISABLED", "Subnets": [subnet], "SecurityGroups": [r("BrokerSecurityGroup")] } },
        "ServiceRegistries": [{ "RegistryArn": att(&id("discovery"), "Arn") }],
        "LoadBalancers": load_balancers,
        "PropagateTags": "SERVICE",
        "EnableECSManagedTags": true,
        "Tags": tags(&node_tags),
    }))
    .depends_on(&["ClusterCapacityProviders"]);
    if !load_balancers.is_empty() {
        // ECS replaces a task whose load balancer targets fail their checks; a starting broker gets
        // the time its container check allows (the grace period needs a load balancer: only
        // broker services have one).
        service.properties["HealthCheckGracePeriodSeconds"] = json!(crate::render::readiness::START_PERIOD);
    }
    if is_broker {
        let mut deps = vec!["InternalScramListener", "InternalMtlsListener"];
        deps.retain(|d| {
            (d.contains("Scram") && model.cluster.scram) || (d.contains("Mtls") && model.cluster.mtls)
        });
        service = service.depends_on(&deps);
        let index = model.cluster.brokers.iter().position(|b| b == node).unwrap_or(0);
        if model.public_endpoint.is_some() {
            service = service.depends_on(&[
                &logical_id(&["public", &format!("b{index}"), "listener"]),
                "PublicBootstrapListener",
            ]);
        }
        if model.private_link.is_some() {
            service = service.depends_on(&[&logical_id(&["private-link", &format!("b{index}"), "listener"])]);
        }
    }
    t.add(id("service"), service);
}

/// The parameter that pins a node's service to a task definition ARN during a rolling update.
pub fn pin_parameter(node: &Node) -> String {
    logical_id(&[&node.name, "pinned-task-definition"])
}

fn pin_condition(node: &Node) -> String {
    logical_id(&[&node.name, "pinned"])
}

/// The node services `gen deploy` updates one at a time, in the order Kafka wants: dedicated
/// controllers first (the quorum), then brokers.
pub fn rolling(model: &StageModel) -> RollingDecl {
    let combined = model.cluster.combined();
    let controllers = model.cluster.controllers.iter().map(|node| (node, false, true));
    let brokers = model.cluster.brokers.iter().map(|node| (node, true, combined));
    RollingDecl {
        cluster: "Cluster".to_string(),
        nodes: controllers
            .chain(brokers)
            .map(|(node, broker, controller)| RollingNode {
                name: node.name.clone(),
                service: logical_id(&[&node.name, "service"]),
                task_definition: logical_id(&[&node.name, "task-definition"]),
                pin_parameter: pin_parameter(node),
                node_id: i32::try_from(node.node_id).expect("node ids are small"),
                broker,
                controller,
            })
            .collect(),
        kafka_bootstrap: format!("{}:{}", model.bootstrap_dns_name(), ports::MTLS),
    }
}

fn target_group(model: &StageModel, port: u32) -> Resource {
    Resource::new(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        json!({
            "Protocol": "TCP",
            "Port": port,
            "TargetType": "ip",
            "VpcId": model.network.vpc_id,
            "HealthCheckProtocol": "TCP",
            "TargetGroupAttributes": [{ "Key": "deregistration_delay.timeout_seconds", "Value": "30" }],
            "Tags": tags(&model.tags),
        }),
    )
}

fn listener(lb: &str, port: u32, target_group: &str) -> Resource {
    // TCP pass-through: TLS ends at the broker, so that mTLS and SNI work end to end.
    Resource::new("AWS::ElasticLoadBalancingV2::Listener", json!({
        "LoadBalancerArn": r(lb),
        "Protocol": "TCP",
        "Port": port,
        "DefaultActions": [{ "Type": "forward", "TargetGroupArn": r(target_group) }],
    }))
    .skip_check("CKV_AWS_2", "TLS is end to end: the NLB passes TCP through to the brokers' TLS listeners (mTLS needs the client certificate at the broker)")
    .skip_check("CKV_AWS_103", "TLS is end to end: the NLB passes TCP through to the brokers' TLS listeners")
}

fn load_balancer(model: &StageModel, scheme: &str, subnets: &[String], security_group: &str) -> Resource {
    Resource::new("AWS::ElasticLoadBalancingV2::LoadBalancer", json!({
        "Type": "network",
        "Scheme": scheme,
        "Subnets": subnets,
        "SecurityGroups": [r(security_group)],
        "LoadBalancerAttributes": [
            { "Key": "load_balancing.cross_zone.enabled", "Value": "true" },
            { "Key": "deletion_protection.enabled", "Value": if model.production_like() { "true" } else { "false" } },
        ],
        "Tags": tags(&model.tags),
    }))
    .skip_check("CKV_AWS_91", "NLB access logs only record TLS listeners; these listeners pass TCP through")
    .skip_check("CKV_AWS_150", "deletion protection is on in acc and prod; dev and test stacks are torn down freely")
}

fn internal_load_balancer(t: &mut Template, model: &StageModel) {
    let mut rules = Vec::new();
    let mut sources = vec![model.network.vpc_cidr.clone()];
    sources.extend(model.network.client_cidrs.iter().cloned());
    for cidr in &sources {
        rules.push(ingress(ports::SCRAM, ports::MTLS, cidr, "bootstrap"));
    }
    let brokers = model.cluster.brokers.len() as u32;
    if let Some(link) = &model.private_link {
        // The inbound rules apply to PrivateLink traffic (enforced below), and that traffic keeps
        // the consumer's own source address: admit the declared consumer networks, on the
        // PrivateLink ports only (docs/architecture.md).
        for cidr in &link.consumer_cidrs {
            rules.push(ingress(
                ports::PRIVATE_LINK_FIRST,
                ports::PRIVATE_LINK_FIRST + brokers - 1,
                cidr,
                "PrivateLink consumers, per-broker ports",
            ));
        }
    }
    t.add("InternalLoadBalancerSecurityGroup", Resource::new("AWS::EC2::SecurityGroup", json!({
        "GroupDescription": format!("Kafka {} internal NLB", model.stage),
        "VpcId": model.network.vpc_id,
        "SecurityGroupIngress": rules,
        "SecurityGroupEgress": [{ "IpProtocol": "tcp", "FromPort": ports::SCRAM, "ToPort": ports::PRIVATE_LINK, "CidrIp": model.network.vpc_cidr, "Description": "to brokers" }],
        "Tags": tags(&model.tags),
    })));
    let mut internal =
        load_balancer(model, "internal", &model.network.subnet_ids, "InternalLoadBalancerSecurityGroup");
    if model.private_link.is_some() {
        // Explicit although it is the default: turning it off would open every listener of this
        // NLB, the bootstrap ports included, to any endpoint the service accepts.
        internal.properties["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] = json!("on");
    }
    t.add("InternalLoadBalancer", internal);
    if model.cluster.scram {
        t.add("BootstrapScramTargetGroup", target_group(model, ports::SCRAM));
        t.add(
            "InternalScramListener",
            listener("InternalLoadBalancer", ports::SCRAM, "BootstrapScramTargetGroup"),
        );
    }
    if model.cluster.mtls {
        t.add("BootstrapMtlsTargetGroup", target_group(model, ports::MTLS));
        t.add(
            "InternalMtlsListener",
            listener("InternalLoadBalancer", ports::MTLS, "BootstrapMtlsTargetGroup"),
        );
    }
    t.add("BootstrapRecord", Resource::new("AWS::Route53::RecordSet", json!({
        "HostedZoneId": att("Namespace", "HostedZoneId"),
        "Name": model.bootstrap_dns_name(),
        "Type": "A",
        "AliasTarget": { "DNSName": att("InternalLoadBalancer", "DNSName"), "HostedZoneId": att("InternalLoadBalancer", "CanonicalHostedZoneID"), "EvaluateTargetHealth": true },
    })));
    if let Some(link) = &model.private_link {
        for (i, node) in model.cluster.brokers.iter().enumerate() {
            let tg = logical_id(&["private-link", &node.name, "target-group"]);
            t.add(tg.clone(), target_group(model, ports::PRIVATE_LINK));
            t.add(
                logical_id(&["private-link", &format!("b{i}"), "listener"]),
                listener("InternalLoadBalancer", ports::PRIVATE_LINK_FIRST + i as u32, &tg),
            );
        }
        t.add(
            "EndpointService",
            Resource::new(
                "AWS::EC2::VPCEndpointService",
                json!({
                    "NetworkLoadBalancerArns": [r("InternalLoadBalancer")],
                    "AcceptanceRequired": link.acceptance_required,
                }),
            ),
        );
        t.add(
            "EndpointServicePermissions",
            Resource::new(
                "AWS::EC2::VPCEndpointServicePermissions",
                json!({
                    "ServiceId": r("EndpointService"),
                    "AllowedPrincipals": link.allowed_principals,
                }),
            ),
        );
    }
}

fn public_load_balancer(t: &mut Template, model: &StageModel) {
    let public = model.public_endpoint.as_ref().expect("called when enabled");
    let brokers = model.cluster.brokers.len() as u32;
    let rules: Vec<Value> = public
        .allowed_cidrs
        .iter()
        .map(|cidr| ingress(public.first_port, public.first_port + brokers, cidr, "declared public clients"))
        .collect();
    t.add("PublicLoadBalancerSecurityGroup", Resource::new("AWS::EC2::SecurityGroup", json!({
        "GroupDescription": format!("Kafka {} public NLB: declared CIDRs only", model.stage),
        "VpcId": model.network.vpc_id,
        "SecurityGroupIngress": rules,
        "SecurityGroupEgress": [{ "IpProtocol": "tcp", "FromPort": ports::PUBLIC, "ToPort": ports::PUBLIC, "CidrIp": model.network.vpc_cidr, "Description": "to brokers" }],
        "Tags": tags(&model.tags),
    })));
    t.add(
        "PublicLoadBalancer",
        load_balancer(model, "internet-facing", &public.subnet_ids, "PublicLoadBalancerSecurityGroup"),
    );
    for (i, node) in model.cluster.brokers.iter().enumerate() {
        let tg = logical_id(&["public", &node.name, "target-group"]);
        t.add(tg.clone(), target_group(model, ports::PUBLIC));
        t.add(
            logical_id(&["public", &format!("b{i}"), "listener"]),
            listener("PublicLoadBalancer", public.first_port + i as u32, &tg),
        );
    }
    // The public bootstrap port reaches any broker (every broker service registers in it).
    t.add("PublicBootstrapTargetGroup", target_group(model, ports::PUBLIC));
    t.add(
        "PublicBootstrapListener",
        listener("PublicLoadBalancer", public.first_port + brokers, "PublicBootstrapTargetGroup"),
    );
    if let (Some(zone), Some(name)) = (&public.hosted_zone_id, &public.dns_name) {
        let names = std::iter::once(name.clone())
            .chain(model.cluster.brokers.iter().map(|b| format!("{}.{name}", b.name)));
        for (i, record) in names.enumerate() {
            let id = if i == 0 {
                "PublicBootstrapRecord".to_string()
            } else {
                logical_id(&["public", &model.cluster.brokers[i - 1].name, "record"])
            };
            t.add(id, Resource::new("AWS::Route53::RecordSet", json!({
                "HostedZoneId": zone,
                "Name": record,
                "Type": "A",
                "AliasTarget": { "DNSName": att("PublicLoadBalancer", "DNSName"), "HostedZoneId": att("PublicLoadBalancer", "CanonicalHostedZoneID"), "EvaluateTargetHealth": false },
            })));
        }
    }
}

fn schema_registry(t: &mut Template, model: &StageModel, sr: &SchemaRegistry, endpoints: &[String]) {
    let (instances, image) = (sr.instances, sr.image.reference());
    let prefix = names::tls_prefix(model, "schema-registry");
    let bootstrap = format!("{}:{}", model.bootstrap_dns_name(), ports::MTLS);
    let log_group = format!("/{}/{}/schema-registry", model.resource_prefix, model.stage);
    t.add("SchemaRegistryLogGroup", log_group_resource(model, &log_group, r("KmsKeyArn")));
    t.add("SchemaRegistrySecurityGroup", Resource::new("AWS::EC2::SecurityGroup", json!({
        "GroupDescription": format!("Kafka {} Schema Registry (HTTPS)", model.stage),
        "VpcId": model.network.vpc_id,
        "SecurityGroupIngress": std::iter::once(&model.network.vpc_cidr).chain(&model.network.client_cidrs)
            .map(|c| ingress(ports::SCHEMA_REGISTRY, ports::SCHEMA_REGISTRY, c, "Schema Registry clients")).collect::<Vec<_>>(),
        "SecurityGroupEgress": [
            { "IpProtocol": "tcp", "FromPort": ports::MTLS, "ToPort": ports::MTLS, "CidrIp": model.network.vpc_cidr, "Description": "Kafka (mTLS)" },
            { "IpProtocol": "tcp", "FromPort": ports::SCHEMA_REGISTRY, "ToPort": ports::SCHEMA_REGISTRY, "CidrIp": model.network.vpc_cidr, "Description": "writes forwarded to the leader's proxy" },
            { "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0", "Description": "ECR, SSM, CloudWatch endpoints" },
        ],
        "Tags": tags(&model.tags),
    })));
    t.add(
        "BrokerIngressFromSchemaRegistry",
        Resource::new(
            "AWS::EC2::SecurityGroupIngress",
            json!({
                "GroupId": r("BrokerSecurityGroup"),
                "SourceSecurityGroupId": r("SchemaRegistrySecurityGroup"),
                "IpProtocol": "tcp", "FromPort": ports::MTLS, "ToPort": ports::MTLS,
                "Description": "Schema Registry (mTLS)",
            }),
        ),
    );
    let script = crate::render::kafka_config::script(include_str!("scripts/schema-registry.sh"));
    // The registry answers on the task's loopback only, behind its proxy (render::registry_proxy).
    // Its host name is its task address (set at start) and its advertised port the proxy's: a
    // follower forwards a write, with the client's credentials, to the leader's proxy.
    let env = [
        ("SCHEMA_REGISTRY_LISTENERS", format!("https://127.0.0.1:{}", registry_proxy::REGISTRY_PORT)),
        ("SCHEMA_REGISTRY_HOST_PORT", ports::SCHEMA_REGISTRY.to_string()),
        // Forwarded writes: the leader's proxy certificate is checked against the stage chain; it
        // names the service, not the leader's address, so the host name is not compared.
        ("SCHEMA_REGISTRY_SSL_TRUSTSTORE_TYPE", "PEM".into()),
        ("SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION", "/etc/schema-registry/secrets/ca.pem".into()),
        ("SCHEMA_REGISTRY_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", String::new()),
        ("SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS", format!("SSL://{bootstrap}")),
        ("SCHEMA_REGISTRY_KAFKASTORE_SECURITY_PROTOCOL", "SSL".into()),
        ("SCHEMA_REGISTRY_KAFKASTORE_SSL_KEYSTORE_TYPE", "PEM".into()),
        ("SCHEMA_REGISTRY_KAFKASTORE_SSL_KEYSTORE_LOCATION", "/etc/schema-registry/secrets/node.pem".into()),
        ("SCHEMA_REGISTRY_KAFKASTORE_SSL_TRUSTSTORE_TYPE", "PEM".into()),
        ("SCHEMA_REGISTRY_KAFKASTORE_SSL_TRUSTSTORE_LOCATION", "/etc/schema-registry/secrets/ca.pem".into()),
        ("SCHEMA_REGISTRY_SSL_KEYSTORE_TYPE", "PEM".into()),
        ("SCHEMA_REGISTRY_SSL_KEYSTORE_LOCATION", "/etc/schema-registry/secrets/node.pem".into()),
        ("SCHEMA_REGISTRY_KAFKASTORE_TOPIC", "_schemas".into()),
        (
            "SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL",
            model
                .schema_registry
                .as_ref()
                .map_or("backward_transitive", |sr| sr.compatibility.as_str())
                .into(),
        ),
        ("SCHEMA_REGISTRY_HEAP_OPTS", "-Xms512m -Xmx512m".into()),
    ];
    let secrets: Vec<Value> = ["certificate", "chain", "private-key"]
        .iter()
        .map(|part| json!({
            "Name": format!("TLS_{}", part.replace('-', "_").to_uppercase()),
            "ValueFrom": sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{prefix}/{part}")),
        }))
        .collect();
    // The registry's own key store, and the proxy's certificate (the same) and passwords.
    let own = registry_proxy::parameters(model);
    t.add("SchemaRegistryExecutionRole", execution_role(model, &own));
    t.add("SchemaRegistryTaskDefinition", Resource::new("AWS::ECS::TaskDefinition", json!({
        "Family": format!("{}-schema-registry", model.name()),
        "NetworkMode": "awsvpc",
        "RequiresCompatibilities": ["FARGATE"],
        "Cpu": "512",
        "Memory": "1024",
        "ExecutionRoleArn": att("SchemaRegistryExecutionRole", "Arn"),
        "TaskRoleArn": att("TaskRole", "Arn"),
        "ContainerDefinitions": [{
            "Name": "schema-registry",
            "Image": image,
            "Essential": true,
            "EntryPoint": ["bash", "-c"],
            "Command": [script],
            "Environment": env.iter().map(|(k, v)| json!({ "Name": k, "Value": v })).collect::<Vec<_>>(),
            "Secrets": secrets,
            "LogConfiguration": { "LogDriver": "awslogs", "Options": {
                "awslogs-group": log_group, "awslogs-region": r("AWS::Region"), "awslogs-stream-prefix": "schema-registry"
            }},
        }, registry_proxy::container(model, &sr.proxy_image.reference(), &log_group)],
        "Tags": tags(&model.tags),
    }))
    .depends_on(&["SchemaRegistryLogGroup"])
    .skip_check("CKV_AWS_336", "the Confluent image and the proxy write their generated configuration at start; a read-only root file system stops them"));
    t.add(
        "SchemaRegistryDiscovery",
        Resource::new(
            "AWS::ServiceDiscovery::Service",
            json!({
                "Name": "schema-registry",
                "NamespaceId": att("Namespace", "Id"),
                "DnsConfig": { "DnsRecords": [{ "Type": "A", "TTL": 10 }], "RoutingPolicy": "MULTIVALUE" },
                "HealthCheckCustomConfig": { "FailureThreshold": 1 },
            }),
        ),
    );
    t.add("SchemaRegistryService", Resource::new("AWS::ECS::Service", json!({
        "ServiceName": "schema-registry",
        "Cluster": r("Cluster"),
        "TaskDefinition": r("SchemaRegistryTaskDefinition"),
        "DesiredCount": instances,
        "LaunchType": "FARGATE",
        "DeploymentConfiguration": { "MinimumHealthyPercent": 50, "MaximumPercent": 200, "DeploymentCircuitBreaker": { "Enable": true, "Rollback": true } },
        "NetworkConfiguration": { "AwsvpcConfiguration": { "AssignPublicIp": "DISABLED", "Subnets": model.network.subnet_ids, "SecurityGroups": [r("SchemaRegistrySecurityGroup")] } },
        "ServiceRegistries": [{ "RegistryArn": att("SchemaRegistryDiscovery", "Arn") }],
        "PropagateTags": "SERVICE",
        "EnableECSManagedTags": true,
        "Tags": tags(&model.tags),
    })).depends_on(&endpoints.iter().map(String::as_str).collect::<Vec<_>>()));
}

//! Cluster-level rules (KP1xx): required settings, counts, CIDRs, ports, images, CA, policies.

use std::collections::BTreeSet;

use ipnet::IpNet;
use regex::Regex;

use crate::config::stage::*;
use crate::diagnostics::Finding;
use crate::model::*;
use crate::resolve::{Required, plain_tags};
use crate::span::Spanned;

/// Most brokers a stage may declare; nothing is built from a larger count.
pub const MAX_BROKERS: u32 = 30;
/// Largest JVM heap (MiB) of a broker or controller: above ~32 GiB the JVM loses compressed
/// object pointers, and the bound keeps the memory arithmetic far from overflowing.
pub const MAX_HEAP_MIB: u32 = 32_768;
/// Largest broker container memory (MiB).
pub const MAX_MEMORY_MIB: u32 = 262_144;
/// Most Schema Registry instances a stage may run.
pub const MAX_SCHEMA_REGISTRY_INSTANCES: u32 = 10;
/// Fewest printable characters the password generator must have left after `exclude_characters`.
pub const MIN_PASSWORD_ALPHABET: usize = 32;
/// Hours a rotated SCRAM account's previous password keeps working, by default and at most.
const DEFAULT_ROTATION_OVERLAP_HOURS: u32 = 24;
const ROTATION_OVERLAP_HOURS: std::ops::RangeInclusive<u32> = 1..=720;

/// KP111: every per-account rotation token names a SCRAM service account of the stage.
pub fn check_account_rotations(model: &StageModel, findings: &mut crate::diagnostics::Findings) {
    for (account, token) in &model.passwords.account_rotation_tokens {
        let scram = model.service_accounts.iter().any(|a| {
            &a.name.value == account && a.authentication == crate::config::project::Authentication::Scram
        });
        if !scram {
            findings.push(
                Finding::error(
                    "KP111",
                    &token.location,
                    format!("account_rotation_tokens names `{account}`, which is no SCRAM service account of stage {}", model.stage),
                )
                .hint("name a service account with `authentication: scram` that exists in this stage; mTLS accounts renew certificates instead"),
            );
        }
    }
}
/// Default coverage bounds of `cidr_policy` (prefix lengths): client CIDRs, public CIDRs.
const DEFAULT_CLIENT_PREFIX: (u8, u8) = (8, 32);
const DEFAULT_PUBLIC_PREFIX: (u8, u8) = (16, 48);
/// The loosest bound a `cidr_policy` may declare, per family (IPv4, IPv6).
const LOOSEST_PREFIX: (u8, u8) = (8, 32);

/// Log retention values CloudWatch accepts.
const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/// Builds the infrastructure part of the model (no projects yet), checking every cluster rule.
pub fn resolve_infrastructure(
    stage: StageName,
    s: &StageSettings,
    r: &mut Required<'_>,
) -> Option<StageModel> {
    let production_like = stage.production_like();
    let naming = s.naming.clone().unwrap_or_default();
    let network = s.network.clone().unwrap_or_default();
    let cluster = s.cluster.clone().unwrap_or_default();
    let controllers = cluster.controllers.clone().unwrap_or_default();
    let storage = cluster.storage.clone().unwrap_or_default();
    let image = cluster.image.clone().unwrap_or_default();
    let auth = cluster.authentication.clone().unwrap_or_default();
    let policy = s.topic_policy.clone().unwrap_or_default();

    let account_id = r.get(s.account_id.as_ref(), "account_id");
    let region = r.get(s.region.as_ref(), "region");
    let prefix = r.get(naming.resource_prefix.as_ref(), "naming.resource_prefix");
    let topic_pattern = r.get(naming.topic_pattern.as_ref(), "naming.topic_pattern");
    let account_pattern = r.get(naming.service_account_pattern.as_ref(), "naming.service_account_pattern");
    let project_pattern = naming
        .project_pattern
        .clone()
        .unwrap_or_else(|| Spanned::generated("^[a-z][a-z0-9-]{1,30}$".to_string()));
    let vpc_id = r.get(network.vpc_id.as_ref(), "network.vpc_id");
    let vpc_cidr = r.get(network.vpc_cidr.as_ref(), "network.vpc_cidr");
    let subnets = r.get(network.subnet_ids.as_ref(), "network.subnet_ids");
    let zones = r.get(network.availability_zones.as_ref(), "network.availability_zones");
    let brokers = r.get(cluster.brokers.as_ref(), "cluster.brokers");
    let instance_type = r.get(cluster.instance_type.as_ref(), "cluster.instance_type");
    let size_gib = r.get(storage.size_gib.as_ref(), "cluster.storage.size_gib");
    let repository = r.get(image.repository.as_ref(), "cluster.image.repository");
    let tag = r.get(image.tag.as_ref(), "cluster.image.tag");
    let zone = r.get(s.dns.as_ref().and_then(|d| d.zone_name.as_ref()), "dns.zone_name");
    let ca = s.certificate_authority.clone().unwrap_or_default();
    let ca_mode = r.get(ca.mode.as_ref(), "certificate_authority.mode");

    // Account, region, names.
    if let Some(id) = &account_id
        && !(id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()))
    {
        r.push(
            Finding::error("KP101", &id.location, format!("account id `{}` is not 12 digits", id.value))
                .hint("quote it in YAML (\"012345678901\") so leading zeros survive"),
        );
    }
    if let Some(region) = &region
        && !Regex::new(r"^[a-z]{2}(-gov)?-[a-z]+-\d$").unwrap().is_match(region)
    {
        r.push(
            Finding::error("KP101", &region.location, format!("`{}` is not an AWS region", region.value))
                .hint("e.g. eu-west-1"),
        );
    }
    if let Some(prefix) = &prefix
        && !Regex::new(r"^[a-z][a-z0-9-]{1,15}$").unwrap().is_match(prefix)
    {
        r.push(Finding::error("KP101", &prefix.location, format!("resource prefix `{}` is not valid", prefix.value))
            .hint("2 to 16 lowercase letters, digits or '-', starting with a letter (it goes into bucket and stack names)"));
    }
    for pattern in [&topic_pattern, &account_pattern, &Some(project_pattern.clone())].into_iter().flatten() {
        if let Err(err) = Regex::new(&pattern.replace("{project}", "project")) {
            // The regex crate draws a multi-line caret diagram; its last line is the reason.
            let text = err.to_string();
            let reason = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
            r.push(Finding::error(
                "KP101",
                &pattern.location,
                format!("naming pattern is not a valid regular expression: {reason}"),
            ));
        }
    }

    // Network.
    if let Some(vpc) = &vpc_id
        && !Regex::new(r"^vpc-[0-9a-f]{8,17}$").unwrap().is_match(vpc)
    {
        r.push(
            Finding::error("KP102", &vpc.location, format!("`{}` is not a VPC id", vpc.value))
                .hint("vpc- followed by 8 or 17 hex digits"),
        );
    }
    let vpc_net = vpc_cidr.as_ref().and_then(|c| check_cidr(c, r));
    if let Some(subnets) = &subnets {
        check_subnets(subnets, production_like, r);
        if let Some(zones) = &zones {
            if zones.value.len() != subnets.value.len() {
                r.push(
                    Finding::error(
                        "KP102",
                        &zones.location,
                        format!(
                            "{} availability zones for {} subnets",
                            zones.value.len(),
                            subnets.value.len()
                        ),
                    )
                    .hint("name the availability zone of every subnet, in the same order"),
                );
            }
            let distinct: BTreeSet<&str> = zones.value.iter().map(|z| z.value.as_str()).collect();
            if distinct.len() != zones.value.len() {
                r.push(
                    Finding::error("KP102", &zones.location, "two subnets in the same availability zone")
                        .hint("one subnet per availability zone"),
                );
            }
            if let Some(region) = &region {
                for zone in &zones.value {
                    if !zone.value.starts_with(region.value.as_str())
                        || zone.value.len() != region.value.len() + 1
                    {
                        r.push(Finding::error(
                            "KP102",
                            &zone.location,
                            format!("`{}` is not an availability zone of {}", zone.value, region.value),
                        ));
                    }
                }
            }
        }
    }
    let client_cidrs = network.client_cidrs.clone().map(|c| c.value).unwrap_or_default();
    let client_nets: Vec<(IpNet, &Spanned<String>)> =
        client_cidrs.iter().filter_map(|cidr| check_cidr(cidr, r).map(|net| (net, cidr))).collect();
    let cidr_policy = s.cidr_policy.clone().unwrap_or_default();
    let client_bounds = (
        coverage_bound(cidr_policy.client_ipv4_prefix.as_ref(), DEFAULT_CLIENT_PREFIX.0, false, r),
        coverage_bound(cidr_policy.client_ipv6_prefix.as_ref(), DEFAULT_CLIENT_PREFIX.1, true, r),
    );
    let public_bounds = (
        coverage_bound(cidr_policy.public_ipv4_prefix.as_ref(), DEFAULT_PUBLIC_PREFIX.0, false, r),
        coverage_bound(cidr_policy.public_ipv6_prefix.as_ref(), DEFAULT_PUBLIC_PREFIX.1, true, r),
    );
    if let Some(list) = &network.client_cidrs {
        check_coverage(&client_nets, client_bounds, "network.client_cidrs", &list.location, r);
    }
    let nat = network.nat.as_ref().is_some_and(|n| n.value);
    let vpc_endpoints = resolve_vpc_endpoints(&network, r);

    // Brokers and controllers.
    let subnet_count = subnets.as_ref().map_or(1, |s| s.len().max(1));
    if let Some(n) = &brokers {
        let min = if production_like { 3 } else { 1 };
        if n.value < min || n.value > MAX_BROKERS {
            r.push(
                Finding::error(
                    "KP103",
                    &n.location,
                    format!("{} brokers; {stage} needs {min} to {MAX_BROKERS}", n.value),
                )
                .hint("acc and prod need at least 3 brokers, one per availability zone"),
            );
        }
        if production_like && (n.value as usize) < subnet_count {
            r.push(Finding::error(
                "KP103",
                &n.location,
                format!("{} brokers for {subnet_count} subnets leaves an AZ without a broker", n.value),
            ));
        }
    }
    // Only dev may run combined nodes (KP104), so that is the only stage where it is the default.
    let mode = controllers.mode.clone().unwrap_or_else(|| {
        Spanned::generated(if stage == StageName::Dev {
            ControllerMode::Combined
        } else {
            ControllerMode::Dedicated
        })
    });
    let controller_count = controllers.count.clone().unwrap_or_else(|| Spanned::generated(3));
    match mode.value {
        ControllerMode::Combined if stage != StageName::Dev => {
            r.push(
                Finding::error("KP104", &mode.location, format!("combined controllers in {stage}")).hint(
                    "only dev may run brokers as controllers; use `mode: dedicated` with 3 controllers",
                ),
            );
        }
        ControllerMode::Dedicated if ![3, 5].contains(&controller_count.value) => {
            r.push(
                Finding::error(
                    "KP104",
                    &controller_count.location,
                    format!("{} controllers", controller_count.value),
                )
                .hint("a KRaft quorum needs 3 (tolerates 1 failure) or 5 (tolerates 2) controllers"),
            );
        }
        _ => {}
    }
    if mode.value == ControllerMode::Combined
        && let Some(n) = &brokers
        && n.value % 2 == 0
    {
        r.push(
            Finding::warning(
                "KP104",
                &n.location,
                format!("{} combined broker-controllers form an even quorum", n.value),
            )
            .hint("an even quorum tolerates no more failures than one node fewer"),
        );
    }
    if let Some(instance) = &instance_type
        && !Regex::new(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$").unwrap().is_match(instance)
    {
        r.push(Finding::error(
            "KP103",
            &instance.location,
            format!("`{}` is not an EC2 instance type", instance.value),
        ));
    }

    // Storage.
    let volume_type = storage.volume_type.clone().map(|v| v.value).unwrap_or(VolumeType::Gp3);
    if let Some(size) = &size_gib
        && !(10..=16384).contains(&size.value)
    {
        r.push(
            Finding::error("KP108", &size.location, format!("{} GiB data volume", size.value))
                .hint("10 to 16384 GiB"),
        );
    }
    if let Some(tp) = &storage.throughput_mibps {
        if volume_type != VolumeType::Gp3 {
            r.push(Finding::error("KP108", &tp.location, "throughput is only configurable for gp3"));
        } else if !(125..=1000).contains(&tp.value) {
            r.push(
                Finding::error("KP108", &tp.location, format!("gp3 throughput {} MiB/s", tp.value))
                    .hint("125 to 1000 MiB/s"),
            );
        }
    }
    if let Some(iops) = &storage.iops {
        let range = if volume_type == VolumeType::Io2 { 100..=256_000 } else { 3000..=16_000 };
        if volume_type == VolumeType::St1 || !range.contains(&iops.value) {
            r.push(
                Finding::error(
                    "KP108",
                    &iops.location,
                    format!("{} IOPS for {}", iops.value, volume_type.as_str()),
                )
                .hint("gp3: 3000..=16000, io2: 100..=256000, st1: not configurable"),
            );
        }
    }

    // Images and memory.
    let pinned_tag = Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").unwrap();
    for t in [Some(&tag), s.schema_registry.as_ref().and_then(|sr| sr.image.as_ref()).map(|i| &i.tag)]
        .into_iter()
        .flatten()
        .flatten()
    {
        if t.value.is_empty() || t.value == "latest" || !pinned_tag.is_match(t) {
            r.push(
                Finding::error("KP107", &t.location, format!("image tag `{}` is not pinned", t.value))
                    .hint("pin an exact version such as 7.9.1, never latest"),
            );
        }
    }
    for repo in [
        repository.as_ref(),
        s.schema_registry.as_ref().and_then(|sr| sr.image.as_ref()).and_then(|i| i.repository.as_ref()),
    ]
    .into_iter()
    .flatten()
    {
        if !is_image_repository(repo) {
            r.push(
                Finding::error(
                    "KP107",
                    &repo.location,
                    format!("`{}` is not an image repository", repo.value),
                )
                .hint("e.g. confluentinc/cp-kafka or 123456789012.dkr.ecr.eu-west-1.amazonaws.com/cp-kafka (no tag, no spaces)"),
            );
        }
    }
    let heap = cluster.broker_heap_mib.clone().map(|h| h.value).unwrap_or(1024);
    let memory = cluster.broker_memory_mib.clone().map(|m| m.value).unwrap_or(heap.saturating_mul(2));
    let heap_location =
        cluster.broker_heap_mib.as_ref().map(|h| h.location.clone()).unwrap_or_else(|| r.file_location());
    // Checked in this order so that one huge value gives one finding, and no sum overflows.
    let heap_ok = if heap > MAX_HEAP_MIB {
        r.push(
            Finding::error("KP109", &heap_location, format!("broker heap {heap} MiB"))
                .hint(format!("at most {MAX_HEAP_MIB} MiB: larger heaps lose compressed object pointers")),
        );
        false
    } else if memory > MAX_MEMORY_MIB {
        let loc =
            cluster.broker_memory_mib.as_ref().map(|m| m.location.clone()).unwrap_or(heap_location.clone());
        r.push(
            Finding::error("KP109", &loc, format!("broker container memory {memory} MiB"))
                .hint(format!("at most {MAX_MEMORY_MIB} MiB")),
        );
        false
    } else {
        true
    };
    if let Some(controller_heap) = &controllers.heap_mib
        && !(256..=MAX_HEAP_MIB).contains(&controller_heap.value)
    {
        r.push(
            Finding::error(
                "KP109",
                &controller_heap.location,
                format!("controller heap {} MiB", controller_heap.value),
            )
            .hint(format!("256 to {MAX_HEAP_MIB} MiB")),
        );
    }
    if heap_ok && (heap < 256 || heap >= memory) {
        let loc =
            cluster.broker_heap_mib.as_ref().map(|h| h.location.clone()).unwrap_or_else(|| r.file_location());
        r.push(
            Finding::error(
                "KP109",
                &loc,
                format!("broker heap {heap} MiB with {memory} MiB container memory"),
            )
            .hint(
                "the heap must be at least 256 MiB and leave room below broker_memory_mib for the page cache",
            ),
        );
    }

    // Public endpoint, PrivateLink, DNS.
    let public_endpoint =
        s.public_endpoint.clone().filter(|p| p.enabled.as_ref().is_some_and(|e| e.value)).map(|p| {
            let cidrs = p.allowed_cidrs.clone().map(|c| c.value).unwrap_or_default();
            if cidrs.is_empty() {
                let loc = p.enabled.as_ref().map(|e| e.location.clone()).unwrap_or_default();
                r.push(
                    Finding::error("KP105", &loc, "public endpoint without allowed_cidrs")
                        .hint("list the source CIDRs that may connect"),
                );
            }
            let nets: Vec<(IpNet, &Spanned<String>)> =
                cidrs.iter().filter_map(|cidr| check_cidr(cidr, r).map(|net| (net, cidr))).collect();
            if let Some(list) = &p.allowed_cidrs {
                check_coverage(&nets, public_bounds, "public_endpoint.allowed_cidrs", &list.location, r);
            }
            let subnet_ids = p.subnet_ids.clone().map(|s| s.value).unwrap_or_default();
            if subnet_ids.is_empty() {
                let loc = p.enabled.as_ref().map(|e| e.location.clone()).unwrap_or_default();
                r.push(
                    Finding::error("KP100", &loc, "missing required setting `public_endpoint.subnet_ids`")
                        .hint("public subnets for the NLB, one per AZ"),
                );
            }
            let first_port = p.first_port.clone().unwrap_or_else(|| Spanned::generated(9100));
            let broker_count = brokers.as_ref().map_or(1, |b| b.value);
            // In u64: a declared port near u32::MAX plus the brokers must not overflow.
            if first_port.value < 1024 || u64::from(first_port.value) + u64::from(broker_count) + 1 > 65535 {
                r.push(
                    Finding::error(
                        "KP106",
                        &first_port.location,
                        format!("first public port {}", first_port.value),
                    )
                    .hint("use a port from 1024 with room for one port per broker plus the bootstrap port"),
                );
            }
            if let Some(name) = &p.dns_name
                && !is_dns_name(name)
            {
                r.push(
                    Finding::error("KP116", &name.location, format!("`{}` is not a DNS name", name.value))
                        .hint("a lowercase host name such as kafka.example.com: no port, path or scheme"),
                );
            }
            check_public_zone(&p, r);
            PublicEndpoint {
                subnet_ids: subnet_ids.into_iter().map(|s| s.value).collect(),
                allowed_cidrs: cidrs.into_iter().map(|c| c.value).collect(),
                dns_name: p.dns_name.map(|d| d.value),
                first_port: first_port.value,
                hosted_zone_id: p.hosted_zone_id.map(|z| z.value),
            }
        });
    let private_link =
        s.private_link.clone().filter(|p| p.enabled.as_ref().is_some_and(|e| e.value)).map(|p| {
            let principals = p.allowed_principals.clone().map(|c| c.value).unwrap_or_default();
            let arn = Regex::new(r"^arn:aws[a-z-]*:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)$")
                .unwrap();
            for principal in &principals {
                if !arn.is_match(principal) {
                    r.push(
                        Finding::error(
                            "KP115",
                            &principal.location,
                            format!("`{}` is not an IAM principal ARN", principal.value),
                        )
                        .hint("e.g. arn:aws:iam::123456789012:root; `*` is not allowed"),
                    );
                }
            }
            // The internal NLB evaluates PrivateLink traffic by the consumer's own address, so
            // the consumers' networks must be declared to be admitted (docs/architecture.md).
            let consumers = p.consumer_cidrs.clone().map(|c| c.value).unwrap_or_default();
            if consumers.is_empty() {
                let loc = p.enabled.as_ref().map(|e| e.location.clone()).unwrap_or_default();
                r.push(Finding::error("KP115", &loc, "PrivateLink without consumer_cidrs").hint(
                    "list the consumers' VPC CIDRs; the NLB admits PrivateLink clients by their own address",
                ));
            }
            let consumer_nets: Vec<(IpNet, &Spanned<String>)> =
                consumers.iter().filter_map(|cidr| check_cidr(cidr, r).map(|net| (net, cidr))).collect();
            if let Some(list) = &p.consumer_cidrs {
                check_coverage(
                    &consumer_nets,
                    client_bounds,
                    "private_link.consumer_cidrs",
                    &list.location,
                    r,
                );
            }
            PrivateLink {
                allowed_principals: principals.into_iter().map(|p| p.value).collect(),
                acceptance_required: p.acceptance_required.map(|a| a.value).unwrap_or(true),
                consumer_cidrs: consumers.into_iter().map(|c| c.value).collect(),
            }
        });
    if let Some(zone) = &zone
        && !is_dns_name(zone)
    {
        r.push(Finding::error("KP116", &zone.location, format!("`{}` is not a DNS zone name", zone.value)));
    }

    // CA, certificates, passwords, logs.
    let ca_model = match ca_mode.as_ref().map(|m| m.value) {
        Some(CaMode::Existing) => {
            let arn = r.get(ca.arn.as_ref(), "certificate_authority.arn");
            if let Some(arn) = &arn
                && !Regex::new(
                    r"^arn:aws[a-z-]*:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority/[0-9a-f-]{36}$",
                )
                .unwrap()
                .is_match(arn)
            {
                r.push(Finding::error(
                    "KP110",
                    &arn.location,
                    format!("`{}` is not an ACM Private CA ARN", arn.value),
                ));
            }
            arn.map(|a| CertificateAuthority::Existing { arn: a.value })
        }
        Some(CaMode::Create) => {
            let years = ca.validity_years.clone().map(|y| y.value).unwrap_or(10);
            if !(1..=30).contains(&years) {
                let loc = ca.validity_years.as_ref().map(|y| y.location.clone()).unwrap_or_default();
                r.push(
                    Finding::error("KP110", &loc, format!("CA validity {years} years")).hint("1 to 30 years"),
                );
            }
            Some(CertificateAuthority::Create {
                key_algorithm: ca
                    .key_algorithm
                    .clone()
                    .map(|k| k.value)
                    .unwrap_or(CaKeyAlgorithm::EcPrime256v1),
                validity_years: years,
                common_name: ca
                    .common_name
                    .clone()
                    .map(|c| c.value)
                    .unwrap_or_else(|| format!("Kafka {stage} CA")),
                organization: ca
                    .organization
                    .clone()
                    .map(|o| o.value)
                    .unwrap_or_else(|| "Kafka Platform".into()),
            })
        }
        None => None,
    };
    let certs = s.certificates.clone().unwrap_or_default();
    let validity_days = certs.validity_days.clone().map(|d| d.value).unwrap_or(365);
    if !(1..=825).contains(&validity_days) {
        let loc = certs.validity_days.as_ref().map(|d| d.location.clone()).unwrap_or_default();
        r.push(
            Finding::error("KP110", &loc, format!("certificate validity {validity_days} days"))
                .hint("1 to 825 days"),
        );
    }
    let renew_before_days = match &certs.renew_before_days {
        Some(d) if d.value < 2 || u64::from(d.value) * 2 > u64::from(validity_days) => {
            r.push(
                Finding::error("KP110", &d.location, format!("renewal window {} days", d.value))
                    .hint(format!("2 to half the validity ({} days)", validity_days / 2)),
            );
            2
        }
        Some(d) => d.value,
        None => 30.min(validity_days / 2).max(1),
    };
    let passwords = s.passwords.clone().unwrap_or_default();
    let length = passwords.length.clone().map(|l| l.value).unwrap_or(32);
    if !(16..=128).contains(&length) {
        let loc = passwords.length.as_ref().map(|l| l.location.clone()).unwrap_or_default();
        r.push(
            Finding::error("KP111", &loc, format!("password length {length}")).hint("16 to 128 characters"),
        );
    }
    if let Some(exclude) = &passwords.exclude_characters {
        let alphabet = (b'!'..=b'~').filter(|c| !exclude.value.as_bytes().contains(c)).count();
        if alphabet < MIN_PASSWORD_ALPHABET {
            r.push(
                Finding::error(
                    "KP111",
                    &exclude.location,
                    format!("exclude_characters leaves {alphabet} characters to draw passwords from"),
                )
                .hint(format!(
                    "at least {MIN_PASSWORD_ALPHABET} of the 94 printable ASCII characters must remain"
                )),
            );
        }
    }
    let overlap = passwords.rotation_overlap_hours.clone();
    let overlap_hours = overlap.as_ref().map(|o| o.value).unwrap_or(DEFAULT_ROTATION_OVERLAP_HOURS);
    if !ROTATION_OVERLAP_HOURS.contains(&overlap_hours) {
        let loc = overlap.as_ref().map(|o| o.location.clone()).unwrap_or_default();
        r.push(
            Finding::error("KP111", &loc, format!("rotation overlap of {overlap_hours} hours"))
                .hint("1 to 720 hours (30 days): long enough for every client to re-read its credential"),
        );
    }
    if let Some(sr) = s.schema_registry.as_ref().filter(|sr| sr.enabled.as_ref().is_some_and(|e| e.value))
        && let Some(instances) = &sr.instances
    {
        let min = if production_like { 2 } else { 1 };
        if !(min..=MAX_SCHEMA_REGISTRY_INSTANCES).contains(&instances.value) {
            r.push(
                Finding::error(
                    "KP117",
                    &instances.location,
                    format!("{} Schema Registry instances; {stage} needs {min} to {MAX_SCHEMA_REGISTRY_INSTANCES}", instances.value),
                )
                .hint("acc and prod run at least 2 so that one can fail; or set `enabled: false`"),
            );
        }
    }
    // The nodes put the admin password into `kafka-storage format --add-scram`, which splits on ','.
    if let Some(exclude) = &passwords.exclude_characters
        && !exclude.value.contains(',')
    {
        r.push(Finding::error("KP111", &exclude.location, "passwords may contain ','").hint(
            "add ',' to exclude_characters: kafka-storage format cannot take it in the admin password",
        ));
    }
    let retention = s.logs.as_ref().and_then(|l| l.retention_days.clone());
    let retention_days = retention.as_ref().map(|d| d.value).unwrap_or(30);
    if !LOG_RETENTION_DAYS.contains(&retention_days) {
        let loc = retention.as_ref().map(|d| d.location.clone()).unwrap_or_default();
        r.push(Finding::error("KP112", &loc, format!("log retention of {retention_days} days")).hint(
            format!(
                "CloudWatch accepts {}",
                LOG_RETENTION_DAYS.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
            ),
        ));
    }

    check_egress(stage, nat, vpc_endpoints.is_some(), [repository.as_ref(), sr_repository(s).as_ref()], r);

    let monitoring = crate::validate::monitoring::resolve(s.monitoring.as_ref(), r);

    // Topic policy.
    let policy_model = resolve_topic_policy(&policy, brokers.as_ref().map(|b| b.value), r);

    // Everything required must be there to build a model.
    let (Some(account_id), Some(region), Some(prefix), Some(topic_pattern), Some(account_pattern)) =
        (account_id, region, prefix, topic_pattern, account_pattern)
    else {
        return None;
    };
    let (Some(vpc_id), Some(vpc_cidr), Some(subnets), Some(brokers), Some(instance_type), Some(size_gib)) =
        (vpc_id, vpc_cidr, subnets, brokers, instance_type, size_gib)
    else {
        return None;
    };
    let zones = zones?;
    let (Some(repository), Some(tag), Some(zone), Some(ca_model), Some(policy_model)) =
        (repository, tag, zone, ca_model, policy_model)
    else {
        return None;
    };
    let _ = vpc_net;

    let subnet_ids: Vec<String> = subnets.value.iter().map(|s| s.value.clone()).collect();
    let node = |prefix: &str, id: u32, index: u32| Node {
        node_id: id,
        name: format!("{prefix}{index}"),
        subnet_index: index as usize % subnet_ids.len().max(1),
        dns_name: format!("{prefix}{index}.{}", zone.value),
    };
    // Node ids are stable: brokers 1.., dedicated controllers 1000.. so that adding brokers never
    // renumbers a controller (a renumbered node would lose its KRaft identity).
    // Counts out of bounds were reported above; the nodes are built within the bounds so that the
    // project rules still run, and nothing is allocated from a hostile count.
    let broker_count = brokers.value.clamp(1, MAX_BROKERS);
    let broker_nodes: Vec<Node> = (0..broker_count).map(|i| node("b", i + 1, i)).collect();
    let dedicated = if [3, 5].contains(&controller_count.value) { controller_count.value } else { 3 };
    let controller_nodes: Vec<Node> = match mode.value {
        ControllerMode::Combined => Vec::new(),
        ControllerMode::Dedicated => (0..dedicated).map(|i| node("c", 1000 + i, i)).collect(),
    };
    let schema_registry =
        s.schema_registry.clone().filter(|sr| sr.enabled.as_ref().is_some_and(|e| e.value)).map(|sr| {
            let image = sr.image.unwrap_or_default();
            SchemaRegistry {
                instances: sr.instances.map(|i| i.value).unwrap_or(2).min(MAX_SCHEMA_REGISTRY_INSTANCES),
                image: Image {
                    repository: image
                        .repository
                        .map(|r| r.value)
                        .unwrap_or_else(|| "confluentinc/cp-schema-registry".into()),
                    tag: image.tag.map(|t| t.value).unwrap_or_else(|| tag.value.clone()),
                },
                compatibility: sr
                    .compatibility
                    .map(|c| c.value)
                    .unwrap_or(crate::config::project::Compatibility::BackwardTransitive),
                // Filled from the projects (validate::subjects).
                subjects: Vec::new(),
            }
        });

    Some(StageModel {
        stage,
        account_id: account_id.value,
        region: region.value,
        resource_prefix: prefix.value,
        network: Network {
            vpc_id: vpc_id.value,
            vpc_cidr: vpc_cidr.value,
            subnet_ids,
            availability_zones: zones.value.into_iter().map(|z| z.value).collect(),
            client_cidrs: client_cidrs.into_iter().map(|c| c.value).collect(),
            nat,
            vpc_endpoints,
        },
        cluster: Cluster {
            brokers: broker_nodes,
            controllers: controller_nodes,
            instance_type: instance_type.value,
            storage: Storage {
                size_gib: size_gib.value,
                volume_type,
                throughput_mibps: storage.throughput_mibps.map(|t| t.value),
                iops: storage.iops.map(|i| i.value),
            },
            image: Image { repository: repository.value, tag: tag.value },
            broker_heap_mib: heap,
            broker_memory_mib: memory,
            controller_heap_mib: controllers.heap_mib.map(|h| h.value).unwrap_or(512),
            scram: auth.scram.map(|a| a.value).unwrap_or(true),
            mtls: auth.mtls.map(|a| a.value).unwrap_or(true),
        },
        schema_registry,
        dns_zone: zone.value,
        public_endpoint,
        private_link,
        ca: ca_model,
        certificates: CertificatePolicy {
            key_algorithm: certs.key_algorithm.map(|k| k.value).unwrap_or(LeafKeyAlgorithm::EcPrime256v1),
            validity_days,
            renewal_token: certs.renewal_token.map(|t| t.value).unwrap_or_else(|| "1".into()),
            renew_before_days,
        },
        passwords: PasswordPolicy {
            length,
            exclude_characters: passwords
                .exclude_characters
                .map(|e| e.value)
                .unwrap_or_else(|| "\"'`\\/@$ ;:,".into()),
            rotation_token: passwords.rotation_token.map(|t| t.value).unwrap_or_else(|| "1".into()),
            account_rotation_tokens: passwords.account_rotation_tokens.unwrap_or_default(),
            rotation_overlap_hours: overlap_hours,
        },
        log_retention_days: retention_days,
        topic_policy: policy_model,
        naming: Naming { topic_pattern, service_account_pattern: account_pattern, project_pattern },
        allow_delete: s.reconciler.as_ref().and_then(|rc| rc.allow_delete.clone()).is_some_and(|a| a.value),
        monitoring,
        tags: plain_tags(&s.tags),
        projects: Vec::new(),
        topics: Vec::new(),
        service_accounts: Vec::new(),
        acls: Vec::new(),
    })
}

/// `network.vpc_endpoints`: the S3 gateway endpoint needs the private subnets' route tables.
fn resolve_vpc_endpoints(network: &NetworkSettings, r: &mut Required<'_>) -> Option<VpcEndpoints> {
    let settings = network.vpc_endpoints.clone()?;
    let enabled = settings.enabled.as_ref().filter(|e| e.value)?;
    let tables = settings.route_table_ids.clone().map(|t| t.value).unwrap_or_default();
    if tables.is_empty() {
        r.push(
            Finding::error(
                "KP100",
                &enabled.location,
                "missing required setting `network.vpc_endpoints.route_table_ids`",
            )
            .hint("the route tables of the private subnets, for the S3 gateway endpoint"),
        );
    }
    let pattern = Regex::new(r"^rtb-[0-9a-f]{8,17}$").unwrap();
    for table in &tables {
        if !pattern.is_match(table) {
            r.push(Finding::error(
                "KP102",
                &table.location,
                format!("`{}` is not a route table id", table.value),
            ));
        }
    }
    Some(VpcEndpoints { route_table_ids: tables.into_iter().map(|t| t.value).collect() })
}

/// KP121: a public hosted zone is a Route 53 zone id, and the records need `dns_name`.
fn check_public_zone(p: &PublicEndpointSettings, r: &mut Required<'_>) {
    let Some(zone) = &p.hosted_zone_id else { return };
    if !Regex::new(r"^Z[A-Z0-9]{1,31}$").unwrap().is_match(zone) {
        r.push(
            Finding::error("KP121", &zone.location, format!("`{}` is not a hosted zone id", zone.value))
                .hint("the id of the public Route 53 zone, e.g. Z0123456789ABCDEFGHIJ"),
        );
    }
    if p.dns_name.is_none() {
        r.push(
            Finding::error("KP121", &zone.location, "a public hosted zone without `dns_name`")
                .hint("set `public_endpoint.dns_name` to the bootstrap name inside that zone"),
        );
    }
}

/// The Schema Registry's image repository, when it runs and names one.
fn sr_repository(s: &StageSettings) -> Option<Spanned<String>> {
    let sr = s.schema_registry.as_ref().filter(|sr| sr.enabled.as_ref().is_some_and(|e| e.value))?;
    sr.image.as_ref().and_then(|i| i.repository.clone())
}

/// What the private subnets must reach when there is no NAT (docs/operators-guide.md).
pub const REQUIRED_SERVICES: &str = "ECR (api, dkr) and S3 for images, CloudWatch Logs, SSM, ECS (ecs, ecs-agent, ecs-telemetry), EC2 (volume attach at boot) and STS, and S3 for the desired state and the CloudFormation response URL";

/// KP120: the private subnets must reach what the nodes and the reconciler call, through NAT or
/// VPC endpoints; endpoints reach no public registry, so images outside ECR need NAT.
fn check_egress(
    stage: StageName,
    nat: bool,
    endpoints: bool,
    repositories: [Option<&Spanned<String>>; 2],
    r: &mut Required<'_>,
) {
    if nat {
        return;
    }
    if !endpoints {
        let location = r.file_location();
        r.push(
            Finding::warning("KP120", &location, format!("{stage} declares neither NAT nor VPC endpoints"))
                .hint(format!(
                    "the private subnets must reach {REQUIRED_SERVICES}; declare `network.nat: true` (your NAT gateway) or `network.vpc_endpoints`"
                )),
        );
        return;
    }
    let ecr = Regex::new(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/").unwrap();
    for repository in repositories.into_iter().flatten() {
        if !ecr.is_match(repository) {
            r.push(
                Finding::warning(
                    "KP120",
                    &repository.location,
                    format!("image `{}` is outside ECR and the stage has no NAT", repository.value),
                )
                .hint(
                    "VPC endpoints reach ECR only: mirror the image into ECR, or declare `network.nat: true`",
                ),
            );
        }
    }
}

fn check_subnets(subnets: &Spanned<Vec<Spanned<String>>>, production_like: bool, r: &mut Required<'_>) {
    let pattern = Regex::new(r"^subnet-[0-9a-f]{8,17}$").unwrap();
    let mut seen = BTreeSet::new();
    for subnet in &subnets.value {
        if !pattern.is_match(subnet) {
            r.push(Finding::error(
                "KP102",
                &subnet.location,
                format!("`{}` is not a subnet id", subnet.value),
            ));
        }
        if !seen.insert(subnet.value.clone()) {
            r.push(Finding::error(
                "KP102",
                &subnet.location,
                format!("subnet `{}` listed twice", subnet.value),
            ));
        }
    }
    if production_like && subnets.value.len() != 3 {
        r.push(Finding::error(
            "KP102",
            &subnets.location,
            format!("{} subnets; acc and prod need 3, one per availability zone", subnets.value.len()),
        ));
    }
    if subnets.value.is_empty() {
        r.push(
            Finding::error("KP102", &subnets.location, "no subnets")
                .hint("list one private subnet per availability zone"),
        );
    }
}

/// A lowercase DNS name: labels of letters, digits and inner '-', at most 253 characters.
fn is_dns_name(name: &str) -> bool {
    name.len() <= 253
        && Regex::new(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$").unwrap().is_match(name)
}

/// An image repository as Docker references spell it: an optional registry host (with port),
/// then lowercase path components; no tag, digest, spaces or scheme.
fn is_image_repository(repo: &str) -> bool {
    let component = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    let host = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?";
    let pattern = format!("^(?:{host}/)?{component}(?:/{component})*$");
    repo.len() <= 255 && Regex::new(&pattern).unwrap().is_match(repo)
}

/// The declared coverage bound (a prefix length) of one family, checked against the loosest
/// allowed, or the default.
fn coverage_bound(declared: Option<&Spanned<u8>>, default: u8, ipv6: bool, r: &mut Required<'_>) -> u8 {
    let Some(declared) = declared else { return default };
    let (loosest, bits) = if ipv6 { (LOOSEST_PREFIX.1, 128) } else { (LOOSEST_PREFIX.0, 32) };
    if !(loosest..=bits).contains(&declared.value) {
        r.push(
            Finding::error("KP105", &declared.location, format!("coverage bound /{}", declared.value))
                .hint(format!("a prefix length from {loosest} to {bits}")),
        );
        return default;
    }
    declared.value
}

/// Number of addresses of a network (saturating: an IPv6 /0 has 2^128).
fn addresses(net: &IpNet) -> u128 {
    let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
    1u128.checked_shl(host_bits).unwrap_or(u128::MAX)
}

/// KP105: the union of `nets` covers no more addresses per family than one network of the bound's
/// prefix length; overlapping CIDRs count once. A CIDR that alone is too wide is reported at
/// itself, a set that is too wide together at the list.
fn check_coverage(
    nets: &[(IpNet, &Spanned<String>)],
    (ipv4_prefix, ipv6_prefix): (u8, u8),
    key: &str,
    location: &crate::span::Location,
    r: &mut Required<'_>,
) {
    for (ipv6, prefix, bits) in [(false, ipv4_prefix, 32u32), (true, ipv6_prefix, 128u32)] {
        let family: Vec<&(IpNet, &Spanned<String>)> =
            nets.iter().filter(|(n, _)| matches!(n, IpNet::V6(_)) == ipv6).collect();
        let bound = 1u128.checked_shl(bits - u32::from(prefix)).unwrap_or(u128::MAX);
        let hint = format!("list narrower CIDRs; cidr_policy bounds {key} to the addresses of one /{prefix}");
        let mut alone = false;
        for (net, cidr) in &family {
            if addresses(net) > bound {
                alone = true;
                let message = if net.prefix_len() == 0 {
                    "the whole internet may not reach the brokers".to_string()
                } else {
                    format!("`{}` covers more addresses than one /{prefix}", cidr.value)
                };
                r.push(Finding::error("KP105", &cidr.location, message).hint(hint.clone()));
            }
        }
        let union = IpNet::aggregate(&family.iter().map(|(n, _)| n.trunc()).collect());
        let covered = union.iter().map(addresses).fold(0u128, u128::saturating_add);
        if !alone && covered > bound {
            let name = if ipv6 { "IPv6" } else { "IPv4" };
            r.push(
                Finding::error(
                    "KP105",
                    location,
                    format!("{key} together cover {covered} {name} addresses, more than one /{prefix}"),
                )
                .hint(hint),
            );
        }
    }
}

/// Checks that a CIDR parses and has no host bits (its coverage is checked with its list).
fn check_cidr(cidr: &Spanned<String>, r: &mut Required<'_>) -> Option<IpNet> {
    match cidr.value.parse::<IpNet>() {
        Ok(net) => {
            if net.trunc() != net {
                r.push(
                    Finding::error("KP105", &cidr.location, format!("`{}` has host bits set", cidr.value))
                        .hint(format!("did you mean {}?", net.trunc())),
                );
            }
            Some(net)
        }
        Err(_) => {
            r.push(
                Finding::error("KP105", &cidr.location, format!("`{}` is not a CIDR", cidr.value))
                    .hint("e.g. 10.20.0.0/16"),
            );
            None
        }
    }
}

fn resolve_topic_policy(
    p: &TopicPolicySettings,
    brokers: Option<u32>,
    r: &mut Required<'_>,
) -> Option<TopicPolicy> {
    let default_rf =
        r.get(p.default_replication_factor.as_ref(), "topic_policy.default_replication_factor")?;
    let min_rf = r.get(p.min_replication_factor.as_ref(), "topic_policy.min_replication_factor")?;
    let min_isr = r.get(p.min_insync_replicas.as_ref(), "topic_policy.min_insync_replicas")?;
    let max_retention = r.get(p.max_retention_ms.as_ref(), "topic_policy.max_retention_ms")?;
    let allowed = r.get(p.allowed_config_keys.as_ref(), "topic_policy.allowed_config_keys")?;
    let default_partitions = p.default_partitions.clone().unwrap_or_else(|| Spanned::generated(3));
    let max_partitions = p.max_partitions.clone().unwrap_or_else(|| Spanned::generated(1000));
    if min_rf.value < 1 || min_rf.value > default_rf.value {
        r.push(Finding::error(
            "KP113",
            &min_rf.location,
            format!("minimum replication factor {} above the default {}", min_rf.value, default_rf.value),
        ));
    }
    if let Some(brokers) = brokers
        && default_rf.value > brokers
    {
        r.push(Finding::error(
            "KP113",
            &default_rf.location,
            format!("default replication factor {} with {brokers} brokers", default_rf.value),
        ));
    }
    if min_isr.value < 1 || (min_isr.value >= default_rf.value && default_rf.value > 1) {
        r.push(Finding::error("KP113", &min_isr.location, format!("min.insync.replicas {} with default replication factor {}", min_isr.value, default_rf.value))
            .hint("min.insync.replicas must be below the replication factor, or one broker down stops all producers"));
    }
    if max_retention.value < 1 {
        r.push(
            Finding::error("KP113", &max_retention.location, "max_retention_ms must be positive")
                .hint("allow infinite retention with allow_infinite_retention: true"),
        );
    }
    for key in &allowed.value {
        if crate::validate::kafka_configs::spec(key).is_none() {
            r.push(Finding::error(
                "KP113",
                &key.location,
                format!("`{}` is not a topic config Kafka knows", key.value),
            ));
        }
    }
    Some(TopicPolicy {
        default_partitions,
        max_partitions,
        default_replication_factor: default_rf,
        min_replication_factor: min_rf,
        min_insync_replicas: min_isr,
        max_retention_ms: max_retention,
        allow_infinite_retention: p.allow_infinite_retention.as_ref().is_some_and(|a| a.value),
        allowed_config_keys: allowed.value.into_iter().map(|k| k.value).collect(),
    })
}

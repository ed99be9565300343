//! `network` (KP102, KP105, KP120): the existing VPC, its subnets and zones, the client CIDRs, and
//! how the private subnets reach AWS (NAT or VPC endpoints).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use super::Required;
use super::cidr_policy::{self, Bounds};
use crate::config::stage::{NetworkSettings, StageName};
use crate::diagnostics::Finding;
use crate::model::{Network, VpcEndpoints};
use crate::span::Spanned;

static VPC_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^vpc-[0-9a-f]{8,17}$").unwrap());
static SUBNET_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^subnet-[0-9a-f]{8,17}$").unwrap());
static ROUTE_TABLE_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^rtb-[0-9a-f]{8,17}$").unwrap());
static ECR_IMAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/").unwrap());

/// What the private subnets must reach when there is no NAT (docs/operators-guide.md).
pub const REQUIRED_SERVICES: &str = "ECR (api, dkr) and S3 for images, CloudWatch Logs, SSM, ECS (ecs, ecs-agent, ecs-telemetry), EC2 (volume attach at boot) and STS, and S3 for the desired state and the CloudFormation response URL";

/// Checks the network settings (zones against `region`, client CIDRs within `client_bounds`);
/// `None` when a required one is missing.
pub fn resolve(
    network: &NetworkSettings,
    region: Option<&Spanned<String>>,
    client_bounds: Bounds,
    production_like: bool,
    r: &mut Required<'_>,
) -> Option<Network> {
    let vpc_id = r.get(network.vpc_id.as_ref(), "network.vpc_id");
    let vpc_cidr = r.get(network.vpc_cidr.as_ref(), "network.vpc_cidr");
    let subnets = r.get(network.subnet_ids.as_ref(), "network.subnet_ids");
    let zones = r.get(network.availability_zones.as_ref(), "network.availability_zones");

    if let Some(vpc) = &vpc_id
        && !VPC_ID.is_match(vpc)
    {
        r.push(
            Finding::error("KP102", &vpc.location, format!("`{}` is not a VPC id", vpc.value))
                .hint("vpc- followed by 8 or 17 hex digits"),
        );
    }
    if let Some(cidr) = &vpc_cidr {
        cidr_policy::check_cidr(cidr, r);
    }
    if let Some(subnets) = &subnets {
        check_subnets(subnets, production_like, r);
        if let Some(zones) = &zones {
            check_zones(zones, subnets.value.len(), region, r);
        }
    }
    let client_cidrs = network.client_cidrs.clone().map(|c| c.value).unwrap_or_default();
    let client_nets = cidr_policy::check_cidrs(&client_cidrs, r);
    if let Some(list) = &network.client_cidrs {
        cidr_policy::check_coverage(&client_nets, client_bounds, "network.client_cidrs", &list.location, r);
    }
    let vpc_endpoints = resolve_vpc_endpoints(network, r);

    let (vpc_id, vpc_cidr, subnets, zones) = (vpc_id?, vpc_cidr?, subnets?, zones?);
    Some(Network {
        vpc_id: vpc_id.value,
        vpc_cidr: vpc_cidr.value,
        subnet_ids: subnets.value.into_iter().map(|s| s.value).collect(),
        availability_zones: zones.value.into_iter().map(|z| z.value).collect(),
        client_cidrs: client_cidrs.into_iter().map(|c| c.value).collect(),
        nat: nat(network),
        vpc_endpoints,
    })
}

/// Whether the private subnets route through the operator's NAT gateway.
fn nat(network: &NetworkSettings) -> bool {
    network.nat.as_ref().is_some_and(|n| n.value)
}

/// One zone per subnet, distinct, each in `region`.
fn check_zones(
    zones: &Spanned<Vec<Spanned<String>>>,
    subnet_count: usize,
    region: Option<&Spanned<String>>,
    r: &mut Required<'_>,
) {
    if zones.value.len() != subnet_count {
        r.push(
            Finding::error(
                "KP102",
                &zones.location,
                format!("{} availability zones for {} subnets", zones.value.len(), subnet_count),
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
    if let Some(region) = region {
        for zone in &zones.value {
            if !zone.value.starts_with(region.value.as_str()) || zone.value.len() != region.value.len() + 1 {
                r.push(Finding::error(
                    "KP102",
                    &zone.location,
                    format!("`{}` is not an availability zone of {}", zone.value, region.value),
                ));
            }
        }
    }
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
    for table in &tables {
        if !ROUTE_TABLE_ID.is_match(table) {
            r.push(Finding::error(
                "KP102",
                &table.location,
                format!("`{}` is not a route table id", table.value),
            ));
        }
    }
    Some(VpcEndpoints { route_table_ids: tables.into_iter().map(|t| t.value).collect() })
}

/// KP120: the private subnets must reach what the nodes and the reconciler call, through NAT or
/// VPC endpoints; endpoints reach no public registry, so images outside ECR need NAT.
pub fn check_egress(
    stage: StageName,
    network: &NetworkSettings,
    repositories: [Option<&Spanned<String>>; 3],
    r: &mut Required<'_>,
) {
    if nat(network) {
        return;
    }
    let endpoints = network.vpc_endpoints.as_ref().and_then(|e| e.enabled.as_ref()).is_some_and(|e| e.value);
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
    for repository in repositories.into_iter().flatten() {
        if !ECR_IMAGE.is_match(repository) {
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
    let mut seen = BTreeSet::new();
    for subnet in &subnets.value {
        if !SUBNET_ID.is_match(subnet) {
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

//! `cluster` (KP103, KP104, KP107, KP108, KP109): brokers, controllers, hosts, storage, image and
//! memory, and the nodes built from them.

use std::sync::LazyLock;

use regex::Regex;

use super::Required;
use crate::config::stage::{
    AuthenticationSettings, ClusterSettings, ControllerMode, ControllerSettings, StageName, StorageSettings,
    VolumeType,
};
use crate::diagnostics::Finding;
use crate::model::{Cluster, Image, Node, Storage};
use crate::span::Spanned;

/// Most brokers a stage may declare; nothing is built from a larger count.
pub const MAX_BROKERS: u32 = 30;
/// Largest JVM heap (MiB) of a broker or controller: above ~32 GiB the JVM loses compressed
/// object pointers, and the bound keeps the memory arithmetic far from overflowing.
pub const MAX_HEAP_MIB: u32 = 32_768;
/// Largest broker container memory (MiB).
pub const MAX_MEMORY_MIB: u32 = 262_144;

static INSTANCE_TYPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$").unwrap());
static PINNED_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").unwrap());
/// An image repository as Docker references spell it: an optional registry host (with port),
/// then lowercase path components; no tag, digest, spaces or scheme.
static IMAGE_REPOSITORY: LazyLock<Regex> = LazyLock::new(|| {
    let component = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    let host = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?";
    Regex::new(&format!("^(?:{host}/)?{component}(?:/{component})*$")).unwrap()
});

/// Checks the cluster settings (`subnet_count` is the number of declared subnets, at least 1) and
/// builds the cluster with its nodes in `zone`; `None` when a required setting is missing.
pub fn resolve(
    cluster: &ClusterSettings,
    stage: StageName,
    subnet_count: usize,
    zone: Option<&str>,
    r: &mut Required<'_>,
) -> Option<Cluster> {
    let production_like = stage.production_like();
    let controllers = cluster.controllers.clone().unwrap_or_default();
    let storage = cluster.storage.clone().unwrap_or_default();
    let image = cluster.image.clone().unwrap_or_default();
    let auth = cluster.authentication.clone().unwrap_or_default();
    let brokers = r.get(cluster.brokers.as_ref(), "cluster.brokers");
    let instance_type = r.get(cluster.instance_type.as_ref(), "cluster.instance_type");
    let size_gib = r.get(storage.size_gib.as_ref(), "cluster.storage.size_gib");
    let repository = r.get(image.repository.as_ref(), "cluster.image.repository");
    let tag = r.get(image.tag.as_ref(), "cluster.image.tag");

    // Brokers and controllers.
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
    let controller_count =
        controllers.count.clone().unwrap_or_else(|| Spanned::generated(ControllerSettings::DEFAULT_COUNT));
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
        && !INSTANCE_TYPE.is_match(instance)
    {
        r.push(Finding::error(
            "KP103",
            &instance.location,
            format!("`{}` is not an EC2 instance type", instance.value),
        ));
    }

    // Storage.
    let volume_type =
        storage.volume_type.clone().map(|v| v.value).unwrap_or(StorageSettings::DEFAULT_VOLUME_TYPE);
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

    // Image and memory.
    check_image(repository.as_ref(), tag.as_ref(), r);
    let (heap, memory) = check_memory(cluster, r);
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

    let (brokers, instance_type, size_gib, repository, tag, zone) =
        (brokers?, instance_type?, size_gib?, repository?, tag?, zone?);
    let node = |prefix: &str, id: u32, index: u32| Node {
        node_id: id,
        name: format!("{prefix}{index}"),
        subnet_index: index as usize % subnet_count.max(1),
        dns_name: format!("{prefix}{index}.{zone}"),
    };
    // Node ids are stable: brokers 1.., dedicated controllers 1000.. so that adding brokers never
    // renumbers a controller (a renumbered node would lose its KRaft identity).
    // Counts out of bounds were reported above; the nodes are built within the bounds so that the
    // project rules still run, and nothing is allocated from a hostile count.
    let broker_count = brokers.value.clamp(1, MAX_BROKERS);
    let dedicated = if [3, 5].contains(&controller_count.value) {
        controller_count.value
    } else {
        ControllerSettings::DEFAULT_COUNT
    };
    Some(Cluster {
        brokers: (0..broker_count).map(|i| node("b", i + 1, i)).collect(),
        controllers: match mode.value {
            ControllerMode::Combined => Vec::new(),
            ControllerMode::Dedicated => (0..dedicated).map(|i| node("c", 1000 + i, i)).collect(),
        },
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
        controller_heap_mib: controllers
            .heap_mib
            .map(|h| h.value)
            .unwrap_or(ControllerSettings::DEFAULT_HEAP_MIB),
        scram: auth.scram.map(|a| a.value).unwrap_or(AuthenticationSettings::DEFAULT_SCRAM),
        mtls: auth.mtls.map(|a| a.value).unwrap_or(AuthenticationSettings::DEFAULT_MTLS),
    })
}

/// KP109: the broker heap and container memory (the memory defaults to twice the heap).
fn check_memory(cluster: &ClusterSettings, r: &mut Required<'_>) -> (u32, u32) {
    let heap =
        cluster.broker_heap_mib.clone().map(|h| h.value).unwrap_or(ClusterSettings::DEFAULT_BROKER_HEAP_MIB);
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
    if heap_ok && (heap < 256 || heap >= memory) {
        r.push(
            Finding::error(
                "KP109",
                &heap_location,
                format!("broker heap {heap} MiB with {memory} MiB container memory"),
            )
            .hint(
                "the heap must be at least 256 MiB and leave room below broker_memory_mib for the page cache",
            ),
        );
    }
    (heap, memory)
}

/// KP107: an image names a repository (no tag in it) and a pinned tag (never `latest`).
pub(super) fn check_image(
    repository: Option<&Spanned<String>>,
    tag: Option<&Spanned<String>>,
    r: &mut Required<'_>,
) {
    if let Some(t) = tag
        && (t.value.is_empty() || t.value == "latest" || !PINNED_TAG.is_match(t))
    {
        r.push(
            Finding::error("KP107", &t.location, format!("image tag `{}` is not pinned", t.value))
                .hint("pin an exact version such as 7.9.1, never latest"),
        );
    }
    if let Some(repo) = repository
        && !(repo.len() <= 255 && IMAGE_REPOSITORY.is_match(repo))
    {
        r.push(
            Finding::error("KP107", &repo.location, format!("`{}` is not an image repository", repo.value))
                .hint("e.g. confluentinc/cp-kafka or 123456789012.dkr.ecr.eu-west-1.amazonaws.com/cp-kafka (no tag, no spaces)"),
        );
    }
}

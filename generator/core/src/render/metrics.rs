//! The metric contract of a stage, in one place: the CloudWatch namespaces and metric names that the
//! alarms and the dashboard read, the JMX exporter rules that produce the broker metrics, and the
//! names other parts publish to (reconciler, certificate renewal). docs/operators-guide.md
//! ("Monitoring and alarms") documents the contract for publishers.

/// Namespace of the metrics the platform's own code publishes (reconciler, certificate renewal).
pub const PLATFORM_NAMESPACE: &str = "KafkaPlatform";
/// Namespace of the broker (JMX exporter) and node metrics the CloudWatch agent sidecar publishes.
pub const KAFKA_NAMESPACE: &str = "KafkaPlatform/Kafka";

/// The one dimension of every platform metric: the stage name (`dev`, `test`, `acc`, `prod`).
pub const STAGE_DIMENSION: &str = "Stage";
/// Dimensions of the broker metrics: the cluster (`<prefix>-<stage>`) and the node (`b0`, `c1`, ...).
pub const CLUSTER_DIMENSION: &str = "ClusterName";
pub const NODE_DIMENSION: &str = "Node";

/// Pending changes the scheduled plan-only run found (0 = no drift). Published by the reconciler.
pub const DRIFT_PENDING_CHANGES: &str = "DriftPendingChanges";
/// 1 for a reconciler run (custom resource or schedule) that failed, 0 for one that succeeded.
pub const RECONCILER_FAILURES: &str = "ReconcilerFailures";
/// Days until the soonest-expiring node or client certificate of the stage expires. Published by
/// certificate renewal; one datapoint per certificate is fine: the alarm reads the minimum.
pub const CERTIFICATE_DAYS_LEFT: &str = "CertificateDaysLeft";

/// Port of the JMX exporter inside a node task (127.0.0.1 only: the agent sidecar shares the task's
/// network namespace; the security group opens nothing for it).
pub const EXPORTER_PORT: u32 = 9404;
/// The JMX exporter javaagent the nodes run (Maven Central `io.prometheus.jmx:jmx_prometheus_javaagent`).
pub const EXPORTER_VERSION: &str = "1.0.1";
/// SHA-256 of that jar, checked by the node's boot before the agent is used.
pub const EXPORTER_SHA256: &str = "7d61f737fd661610ccc14aea79764faa1ea94a340cbc8f0029b3d2edea3d80c1";

/// One broker metric: the name the exporter gives it (and CloudWatch keeps), the JMX pattern of the
/// exporter rule that produces it, and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerMetric {
    pub name: &'static str,
    pub object_name: &'static str,
    pub pattern: &'static str,
    pub help: &'static str,
    /// Which nodes expose it: brokers (ReplicaManager), controllers (quorum controller) or all (JVM).
    pub on: Role,
}

/// Which nodes expose a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Broker,
    Controller,
    Any,
}

pub const UNDER_REPLICATED: &str = "kafka_under_replicated_partitions";
pub const UNDER_MIN_ISR: &str = "kafka_under_min_isr_partitions";
pub const OFFLINE_PARTITIONS: &str = "kafka_offline_partitions";
pub const ACTIVE_CONTROLLERS: &str = "kafka_active_controller_count";
pub const CPU_LOAD: &str = "node_cpu_load";
pub const HEAP_USED: &str = "jvm_heap_used_bytes";
pub const HEAP_MAX: &str = "jvm_heap_max_bytes";

/// Every broker metric the alarms and the dashboard read. tests/tests/kafka_metrics.rs scrapes the
/// test cluster's exporters (same rules, same jar) and finds each of them.
pub const BROKER_METRICS: &[BrokerMetric] = &[
    BrokerMetric {
        name: UNDER_REPLICATED,
        object_name: "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions",
        pattern: "kafka.server<type=ReplicaManager, name=UnderReplicatedPartitions><>Value",
        help: "Partitions led by this broker with fewer in-sync replicas than replicas",
        on: Role::Broker,
    },
    BrokerMetric {
        name: UNDER_MIN_ISR,
        object_name: "kafka.server:type=ReplicaManager,name=UnderMinIsrPartitionCount",
        pattern: "kafka.server<type=ReplicaManager, name=UnderMinIsrPartitionCount><>Value",
        help: "Partitions led by this broker with fewer in-sync replicas than min.insync.replicas",
        on: Role::Broker,
    },
    BrokerMetric {
        name: OFFLINE_PARTITIONS,
        object_name: "kafka.controller:type=KafkaController,name=OfflinePartitionsCount",
        pattern: "kafka.controller<type=KafkaController, name=OfflinePartitionsCount><>Value",
        help: "Partitions without a leader (reported by the active controller)",
        on: Role::Controller,
    },
    BrokerMetric {
        name: ACTIVE_CONTROLLERS,
        object_name: "kafka.controller:type=KafkaController,name=ActiveControllerCount",
        pattern: "kafka.controller<type=KafkaController, name=ActiveControllerCount><>Value",
        help: "1 on the active KRaft controller, 0 on the others",
        on: Role::Controller,
    },
    BrokerMetric {
        name: CPU_LOAD,
        object_name: "java.lang:type=OperatingSystem",
        pattern: "java.lang<type=OperatingSystem><>CpuLoad",
        help: "CPU load of the node's container (0 to 1) as the JVM sees it through its cgroup",
        on: Role::Any,
    },
    BrokerMetric {
        name: HEAP_USED,
        object_name: "java.lang:type=Memory",
        pattern: "java.lang<type=Memory><HeapMemoryUsage>used",
        help: "JVM heap in use",
        on: Role::Any,
    },
    BrokerMetric {
        name: HEAP_MAX,
        object_name: "java.lang:type=Memory",
        pattern: "java.lang<type=Memory><HeapMemoryUsage>max",
        help: "JVM heap limit",
        on: Role::Any,
    },
];

/// Percent in use of the file system under a broker's fullest log directory (its data volume),
/// as the broker itself reports it (DescribeLogDirs v4, KIP-827). Published by the scheduled drift
/// check per broker under [`PLATFORM_NAMESPACE`], dimensions [`STAGE_DIMENSION`] and
/// [`BROKER_DIMENSION`]: no JMX MBean carries a log directory's size or free space, and the
/// broker's own view needs no agent to see the volume.
pub const LOG_DIR_USED_PERCENT: &str = "LogDirUsedPercent";
/// The broker's node id (`node.id`), the second dimension of [`LOG_DIR_USED_PERCENT`].
pub const BROKER_DIMENSION: &str = "BrokerId";

/// Container Insights (namespace `ECS/ContainerInsights`, dimensions ClusterName and ServiceName =
/// node name): tasks running, and memory in use and reserved (MiB).
pub const CONTAINER_INSIGHTS_NAMESPACE: &str = "ECS/ContainerInsights";
pub const RUNNING_TASKS: &str = "RunningTaskCount";
pub const MEMORY_UTILIZED: &str = "MemoryUtilized";
pub const MEMORY_RESERVED: &str = "MemoryReserved";

/// The JMX exporter configuration: only the MBeans above are read (a scrape stays cheap with
/// thousands of partitions), each under an explicit name.
pub fn exporter_config() -> String {
    let mut object_names: Vec<&str> = BROKER_METRICS.iter().map(|m| m.object_name).collect();
    object_names.dedup();
    let mut out = String::from("# Rendered by gen (render::metrics); the test cluster runs the same file.\n");
    out.push_str("lowercaseOutputName: false\nincludeObjectNames:\n");
    for name in object_names {
        out.push_str(&format!("  - \"{name}\"\n"));
    }
    out.push_str("rules:\n");
    for m in BROKER_METRICS {
        out.push_str(&format!(
            "  - pattern: \"{}\"\n    name: {}\n    type: GAUGE\n    help: \"{}\"\n",
            m.pattern, m.name, m.help
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_are_unique_and_prometheus_safe() {
        let mut names: Vec<&str> = BROKER_METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BROKER_METRICS.len());
        for name in names {
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
        }
    }

    #[test]
    fn the_exporter_reads_every_object_name_once() {
        let config = exporter_config();
        assert_eq!(config.matches("java.lang:type=Memory\"").count(), 1);
        for m in BROKER_METRICS {
            assert!(config.contains(&format!("name: {}\n", m.name)));
        }
    }
}

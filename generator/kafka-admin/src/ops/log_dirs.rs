//! How full each broker's log directories are: DescribeLogDirs v4+ (KIP-827, Kafka 3.3) reports
//! the size and free space of the file system under each log directory, as the broker itself sees
//! it. Asked with an empty topic list, so the answer carries no partitions and stays small with
//! thousands of them.

use kafka_protocol::messages::DescribeLogDirsRequest;

use crate::client::{AdminClient, Target};
use crate::error::{Error, Result};

/// The first DescribeLogDirs version with `TotalBytes` and `UsableBytes`.
const MIN_VERSION: i16 = 4;

/// One log directory of one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDirUsage {
    /// The directory (`log.dirs` entry).
    pub log_dir: String,
    /// Size of the file system that holds it, in bytes.
    pub total_bytes: u64,
    /// Bytes still free for Kafka on that file system.
    pub usable_bytes: u64,
}

impl LogDirUsage {
    /// Percentage of the file system in use (0 for a file system of size 0).
    pub fn used_percent(&self) -> f64 {
        if self.total_bytes == 0 {
            return 0.0;
        }
        let used = self.total_bytes.saturating_sub(self.usable_bytes);
        100.0 * used as f64 / self.total_bytes as f64
    }
}

impl AdminClient {
    /// The log directories of broker `node` with their file system's size and free space. A broker
    /// too old for v4, or a directory that is offline, is an error naming the broker.
    pub async fn describe_log_dirs(&self, node: i32) -> Result<Vec<LogDirUsage>> {
        self.retrying(async || {
            let too_old = std::cell::Cell::new(None);
            let response = self
                .send(Target::Node(node), |version| {
                    if version < MIN_VERSION {
                        too_old.set(Some(version));
                    }
                    DescribeLogDirsRequest::default().with_topics(Some(Vec::new()))
                })
                .await?;
            if let Some(version) = too_old.get() {
                return Err(Error::Config(format!(
                    "broker {node} speaks DescribeLogDirs v{version}; the disk sizes need v{MIN_VERSION} (Kafka 3.3+)"
                )));
            }
            Error::check("DescribeLogDirs", Some(format!("broker {node}")), response.error_code, None)?;
            response
                .results
                .into_iter()
                .map(|dir| {
                    let log_dir = dir.log_dir.to_string();
                    Error::check("DescribeLogDirs", Some(log_dir.clone()), dir.error_code, None)?;
                    // -1 means "unknown" in the protocol; an online directory always has both.
                    let bytes = |v: i64| {
                        u64::try_from(v).map_err(|_| Error::Protocol {
                            broker: node.to_string(),
                            api: "DescribeLogDirs",
                            reason: format!("{log_dir}: no size reported ({v})"),
                        })
                    };
                    Ok(LogDirUsage {
                        total_bytes: bytes(dir.total_bytes)?,
                        usable_bytes: bytes(dir.usable_bytes)?,
                        log_dir: log_dir.clone(),
                    })
                })
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_percent_is_the_share_not_free() {
        let dir =
            |total, usable| LogDirUsage { log_dir: "/d".into(), total_bytes: total, usable_bytes: usable };
        assert_eq!(dir(200, 50).used_percent(), 75.0);
        assert_eq!(dir(100, 100).used_percent(), 0.0);
        assert_eq!(dir(0, 0).used_percent(), 0.0);
        // Free space above the size (a racing resize) never makes the share negative.
        assert_eq!(dir(100, 150).used_percent(), 0.0);
    }
}

//! The I/O step of a roll: restart one node. ECS lives in `gen` (it needs the AWS SDK); the
//! script runner here drives any `SCRIPT stop-node ID` / `SCRIPT start-node ID` pair, such as the
//! test cluster's `tests/scripts/kafka.sh`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;

use super::RollNode;

/// What the runner knows about a node's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeStatus {
    /// Running, with the runner's detail (task ARN and definition, ...).
    Running(String),
    /// Being replaced or started (a deployment under way).
    Starting(String),
    /// Not running.
    Stopped(String),
    /// The runner cannot tell.
    Unknown(String),
}

/// Restarts one node and reports on it. `restart` returns once the new process runs (not once it
/// has caught up: that is the health gate's job).
pub trait NodeRunner {
    /// Stops the node and starts it again (or replaces its task), waiting until it runs.
    fn restart(&self, node: &RollNode) -> impl Future<Output = Result<(), String>> + Send;
    /// The node's process as the runner sees it.
    fn status(&self, node: &RollNode) -> impl Future<Output = Result<NodeStatus, String>> + Send;
}

/// A runner that calls `SCRIPT stop-node NAME` then `SCRIPT start-node NAME`; each must exit 0
/// only once the node has stopped or started. It knows only what it did itself.
#[derive(Debug)]
pub struct ScriptRunner {
    script: PathBuf,
    stopped: Mutex<Vec<String>>,
}

impl ScriptRunner {
    /// A runner for `script`.
    pub fn new(script: impl Into<PathBuf>) -> Self {
        ScriptRunner { script: script.into(), stopped: Mutex::new(Vec::new()) }
    }

    async fn run(&self, verb: &str, node: &str) -> Result<(), String> {
        let out = tokio::process::Command::new(&self.script)
            .args([verb, node])
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", self.script.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            Err(format!(
                "`{} {verb} {node}` failed ({}): {}",
                self.script.display(),
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ))
        }
    }
}

impl NodeRunner for ScriptRunner {
    async fn restart(&self, node: &RollNode) -> Result<(), String> {
        self.run("stop-node", &node.name).await?;
        self.stopped.lock().expect("runner lock").push(node.name.clone());
        self.run("start-node", &node.name).await?;
        self.stopped.lock().expect("runner lock").retain(|n| n != &node.name);
        Ok(())
    }

    async fn status(&self, node: &RollNode) -> Result<NodeStatus, String> {
        Ok(if self.stopped.lock().expect("runner lock").contains(&node.name) {
            NodeStatus::Stopped("stopped by this roll; its start failed".into())
        } else {
            NodeStatus::Unknown("a script runner only knows the nodes it stopped".into())
        })
    }
}

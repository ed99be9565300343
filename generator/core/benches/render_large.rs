//! Benchmark: load, validate and render a generated stage with 2,000 topics, 6,000 ACL bindings
//! and 9 brokers. Prints the time of each phase (best and median of several runs) and the peak
//! resident memory of the process (VmHWM).
//!
//! Run: `cargo bench -p kafka-platform-core --bench render_large`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kafka_platform_core::render::{limits, render_stage};
use kafka_platform_core::{StageName, load_and_resolve};

#[path = "support/large_stage.rs"]
mod large_stage;

use large_stage::{peak_rss_kib, write_environments};

const TOPICS: usize = 2_000;
const RUNS: usize = 5;

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{name:<28} best {:>8.1} ms   median {:>8.1} ms",
        times[0].as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3
    );
}

fn main() {
    let root: PathBuf = std::env::temp_dir().join(format!("kp-bench-render-large-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    write_environments(&root, TOPICS);

    let (mut load, mut limit, mut render, mut total) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut report = String::new();
    for run in 0..RUNS {
        let start = Instant::now();
        let (models, findings) = load_and_resolve(&root, &[StageName::Prod]);
        let loaded = Instant::now();
        let model = models.get(&StageName::Prod).unwrap_or_else(|| {
            panic!(
                "the generated stage has errors:\n{}",
                findings.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n")
            )
        });
        let rendered = render_stage(model);
        let rendered_at = Instant::now();
        let limit_findings = limits::check_rendered(model, &rendered);
        let done = Instant::now();
        load.push(loaded - start);
        render.push(rendered_at - loaded);
        limit.push(done - rendered_at);
        total.push(done - start);
        if run == 0 {
            assert!(
                findings.iter().chain(&limit_findings).all(|f| !f.is_error()),
                "{findings:?} {limit_findings:?}"
            );
            let bytes: usize = rendered.files.values().map(String::len).sum();
            writeln!(
                report,
                "stage: {} topics, {} ACL bindings, {} service accounts, {} brokers + {} controllers; {} warnings",
                model.topics.len(),
                model.acls.len(),
                model.service_accounts.len(),
                model.cluster.brokers.len(),
                model.cluster.controllers.len(),
                findings.len() + limit_findings.len()
            )
            .unwrap();
            for (file, content) in &rendered.files {
                writeln!(report, "  {file:<20} {:>9} bytes", content.len()).unwrap();
            }
            writeln!(report, "  {:<20} {bytes:>9} bytes", "total").unwrap();
        }
    }
    print!("{report}");
    println!("{RUNS} runs:");
    summary("load + validate", load);
    summary("CloudFormation limits", limit);
    summary("render", render);
    summary("total", total);
    match peak_rss_kib() {
        Some(kib) => println!("peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
        None => println!("peak memory: /proc/self/status not available"),
    }
    let _ = std::fs::remove_dir_all(&root);
}

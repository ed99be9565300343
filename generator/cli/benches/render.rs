//! Benchmark: `gen render` of a generated prod stage (9 brokers, 20 projects, 100 service accounts,
//! 3 ACL bindings per topic) at 2,000, 4,000, 8,000 and 16,000 topics, beside a baseline that does only what any
//! generator must: parse the same declaration files with the same YAML crate, serialise the outputs
//! `gen` rendered (held as parsed values) and write them the same way (a staging directory, one
//! syncfs, a rename). Prints best-of-three wall time, peak RSS and the ratio; asserts nothing.
//!
//! Run: `cargo bench -p kafka-gen --bench render` (release-profile `gen`);
//! `KP_BENCH_TOPICS=2000` limits the sizes.

#[path = "../../core/benches/support/large_stage.rs"]
#[allow(dead_code)] // shared with the core bench, which uses all of it
mod large_stage;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use large_stage::write_environments;
use serde_json::Value;

const RUNS: usize = 3;
/// Set in the re-executed bench process that runs the baseline.
const BASELINE_ENV: &str = "KP_BENCH_BASELINE";

fn main() {
    if let Ok(args) = std::env::var(BASELINE_ENV) {
        let paths: Vec<&str> = args.split('\n').collect();
        baseline(Path::new(paths[0]), Path::new(paths[1]), Path::new(paths[2]));
        return;
    }
    let sizes: Vec<usize> = match std::env::var("KP_BENCH_TOPICS") {
        Ok(list) => list.split(',').map(|n| n.trim().parse().expect("KP_BENCH_TOPICS: numbers")).collect(),
        Err(_) => vec![2_000, 4_000, 8_000, 16_000],
    };
    let root = std::env::temp_dir().join(format!("kp-bench-render-{}", std::process::id()));
    println!("best of {RUNS}; gen timed as a process, the baseline's work timed inside its process");
    println!(
        "{:>7} {:>12} {:>10} {:>13} {:>10} {:>7} {:>11}",
        "topics", "gen ms", "gen MiB", "baseline ms", "base MiB", "ratio", "gen us/top"
    );
    for topics in sizes {
        let _ = fs::remove_dir_all(&root);
        let environments = root.join("environments");
        write_environments(&environments, topics);
        let rendered = root.join("templates");
        let (gen_time, gen_rss) = best(|| run_gen(&environments, &rendered));
        let baseline_out = root.join("baseline");
        let (base_time, base_rss) =
            best(|| run_baseline(&environments, &rendered.join("prod"), &baseline_out));
        let same = same_files(&rendered.join("prod"), &baseline_out.join("prod"));
        println!(
            "{topics:>7} {:>12.1} {:>10.1} {:>13.1} {:>10.1} {:>6.2}x {:>11.1}{}",
            ms(gen_time),
            gen_rss as f64 / 1024.0,
            ms(base_time),
            base_rss as f64 / 1024.0,
            gen_time.as_secs_f64() / base_time.as_secs_f64(),
            gen_time.as_secs_f64() * 1e6 / topics as f64,
            if same { "" } else { "  (baseline output differs from gen's!)" }
        );
    }
    let _ = fs::remove_dir_all(&root);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The fastest of `RUNS` runs and the largest peak RSS (KiB) seen.
fn best(mut run: impl FnMut() -> (Duration, u64)) -> (Duration, u64) {
    let runs: Vec<(Duration, u64)> = (0..RUNS).map(|_| run()).collect();
    (runs.iter().map(|r| r.0).min().expect("runs"), runs.iter().map(|r| r.1).max().expect("runs"))
}

/// Runs `cmd` under /usr/bin/time for its peak RSS; returns its wall time and peak RSS in KiB.
fn timed(cmd: Command, what: &str) -> (Duration, u64, String) {
    let rss_file = std::env::temp_dir().join(format!("kp-bench-rss-{}", std::process::id()));
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped.args(["-f", "%M", "-o"]).arg(&rss_file).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            wrapped.env(k, v);
        }
    }
    let start = Instant::now();
    let output = wrapped.output().unwrap_or_else(|e| panic!("{what}: /usr/bin/time: {e}"));
    let elapsed = start.elapsed();
    assert!(output.status.success(), "{what} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let rss = fs::read_to_string(&rss_file).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    let _ = fs::remove_file(rss_file);
    (elapsed, rss, String::from_utf8_lossy(&output.stdout).into_owned())
}

fn run_gen(environments: &Path, out: &Path) -> (Duration, u64) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gen"));
    cmd.arg("--environments").arg(environments).args(["render", "prod", "--out"]).arg(out);
    let (elapsed, rss, _) = timed(cmd, "gen render");
    (elapsed, rss)
}

/// Re-runs this bench binary as the baseline; its own report gives the time of its work.
fn run_baseline(environments: &Path, rendered: &Path, out: &Path) -> (Duration, u64) {
    let mut cmd = Command::new(std::env::current_exe().expect("bench binary"));
    let paths = [environments, rendered, out].map(|p| p.display().to_string()).join("\n");
    cmd.env(BASELINE_ENV, paths);
    let (_, rss, stdout) = timed(cmd, "baseline");
    let micros: u64 = stdout.trim().parse().expect("the baseline prints its time in microseconds");
    (Duration::from_micros(micros), rss)
}

/// The baseline's process: load the outputs `gen` rendered as values (not timed), then parse every
/// declaration file, serialise the outputs and write them into `out/prod` (timed).
fn baseline(environments: &Path, rendered: &Path, out: &Path) {
    let outputs: BTreeMap<String, Value> = files(rendered)
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).expect("rendered file");
            let value = if path.extension().is_some_and(|e| e == "json") {
                serde_json::from_str(&text).expect("rendered JSON")
            } else {
                serde_saphyr::from_str(&text).expect("rendered YAML")
            };
            (path.file_name().expect("file").to_string_lossy().into_owned(), value)
        })
        .collect();
    let start = Instant::now();
    let mut declarations = Vec::new();
    for dir in [environments.to_path_buf(), environments.join("stages"), environments.join("projects")] {
        for path in files(&dir) {
            let text = fs::read_to_string(&path).expect("declaration");
            declarations.push(serde_saphyr::from_str::<Value>(&text).expect("declaration parses"));
        }
    }
    fs::create_dir_all(out).expect("out");
    let staging = out.join(".prod.tmp");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).expect("staging");
    for (name, value) in &outputs {
        let text = if name.ends_with(".json") {
            let mut text = serde_json::to_string_pretty(value).expect("JSON");
            text.push('\n');
            text
        } else {
            serde_saphyr::to_string(value).expect("YAML")
        };
        fs::write(staging.join(name), text).expect("write");
    }
    // The same syncs as `gen render`: the filesystem once, then the directory.
    rustix::fs::syncfs(fs::File::open(&staging).expect("staging")).expect("syncfs");
    fs::File::open(&staging).and_then(|d| d.sync_all()).expect("sync");
    let target = out.join("prod");
    let _ = fs::remove_dir_all(&target);
    fs::rename(&staging, &target).expect("rename");
    let elapsed = start.elapsed();
    std::hint::black_box(&declarations);
    println!("{}", elapsed.as_micros());
}

/// Regular files directly in `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn same_files(a: &Path, b: &Path) -> bool {
    let read = |dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        files(dir).into_iter().map(|p| (p.file_name().unwrap().into(), fs::read(&p).unwrap())).collect()
    };
    read(a) == read(b)
}

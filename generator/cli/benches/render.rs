//! Benchmark: `gen render` of a generated prod stage (9 brokers, 20 projects, 100 service accounts,
//! 3 ACL bindings per topic) at 2,000, 4,000, 8,000 and 16,000 topics, beside a baseline that does only what any
//! generator must: parse the same declaration files with the same YAML crate, serialise the outputs
//! `gen` rendered (held as parsed values) into the same bytes and write them the same way (a staging
//! directory, one syncfs, a rename). Both are timed as processes (the baseline's untimed loading of
//! gen's outputs, measured inside it, is subtracted). Prints best-of-three wall time, CPU time (user
//! plus system of the reaped child, in microseconds), peak RSS and the ratios; asserts nothing, but
//! stops when the baseline's files differ from gen's.
//!
//! Run: `cargo bench -p kafka-gen --bench render` (release-profile `gen`);
//! `KP_BENCH_TOPICS=2000` limits the sizes. `KP_BENCH_KEEP=1` keeps the generated declarations and
//! outputs (the directory is printed) for profiling `gen` on them.

#[path = "../../core/benches/support/large_stage.rs"]
#[allow(dead_code)] // shared with the core bench, which uses all of it
mod large_stage;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kafka_platform_core::desired::DesiredState;
use kafka_platform_core::render::DESIRED_STATE_FILE;
use large_stage::write_environments;
use nix::sys::resource::{UsageWho, getrusage};
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
    println!(
        "best of {RUNS}; both timed as processes (the baseline's loading of gen's outputs subtracted); \
         CPU = user + system (microseconds), the figure to trust on a loaded machine"
    );
    println!(" topics   gen ms  gen CPU  gen MiB   base ms  base CPU  base MiB   ratio  CPU rt gen us/top");
    for topics in sizes {
        let _ = fs::remove_dir_all(&root);
        let environments = root.join("environments");
        write_environments(&environments, topics);
        let rendered = root.join("templates");
        let gen_run = best(|| run_gen(&environments, &rendered));
        let baseline_out = root.join("baseline");
        let base = best(|| run_baseline(&environments, &rendered.join("prod"), &baseline_out));
        let differ = differing_files(&rendered.join("prod"), &baseline_out.join("prod"));
        assert!(differ.is_empty(), "the baseline's files differ from gen's: {differ:?}");
        println!(
            "{topics:>7} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>6.2}x {:>6.2}x {:>10.1}",
            ms(gen_run.wall),
            ms(gen_run.cpu),
            gen_run.rss_kib as f64 / 1024.0,
            ms(base.wall),
            ms(base.cpu),
            base.rss_kib as f64 / 1024.0,
            gen_run.wall.as_secs_f64() / base.wall.as_secs_f64(),
            gen_run.cpu.as_secs_f64() / base.cpu.as_secs_f64().max(1e-3),
            gen_run.wall.as_secs_f64() * 1e6 / topics as f64,
        );
    }
    if std::env::var_os("KP_BENCH_KEEP").is_some() {
        println!("kept: {} (the last size)", root.display());
    } else {
        let _ = fs::remove_dir_all(&root);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What one run of a process cost.
#[derive(Clone, Copy)]
struct Run {
    wall: Duration,
    /// User plus system CPU time.
    cpu: Duration,
    /// Peak resident set size in KiB.
    rss_kib: u64,
}

/// The fastest wall and CPU time of `RUNS` runs and the largest peak RSS seen.
fn best(mut run: impl FnMut() -> Run) -> Run {
    let runs: Vec<Run> = (0..RUNS).map(|_| run()).collect();
    Run {
        wall: runs.iter().map(|r| r.wall).min().expect("runs"),
        cpu: runs.iter().map(|r| r.cpu).min().expect("runs"),
        rss_kib: runs.iter().map(|r| r.rss_kib).max().expect("runs"),
    }
}

/// Runs `cmd` under /usr/bin/time for its peak RSS; returns that, its wall time, its CPU time and
/// its standard output. The CPU time is what getrusage adds up for reaped children across the run
/// (microseconds; /usr/bin/time prints only hundredths), so it includes /usr/bin/time's own start,
/// well under a millisecond and the same for both sides.
fn timed(cmd: Command, what: &str) -> (Run, String) {
    let stats_file = std::env::temp_dir().join(format!("kp-bench-time-{}", std::process::id()));
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped.args(["-f", "%M", "-o"]).arg(&stats_file).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            wrapped.env(k, v);
        }
    }
    let cpu_before = children_cpu();
    let start = Instant::now();
    let output = wrapped.output().unwrap_or_else(|e| panic!("{what}: /usr/bin/time: {e}"));
    let wall = start.elapsed();
    let cpu = children_cpu().saturating_sub(cpu_before);
    assert!(output.status.success(), "{what} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let stats = fs::read_to_string(&stats_file).unwrap_or_default();
    let _ = fs::remove_file(stats_file);
    let rss_kib: u64 =
        stats.trim().parse().unwrap_or_else(|_| panic!("{what}: /usr/bin/time wrote {stats:?}"));
    let run = Run { wall, cpu, rss_kib };
    (run, String::from_utf8_lossy(&output.stdout).into_owned())
}

/// User plus system CPU time of every child this process has reaped so far.
fn children_cpu() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let micros = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    Duration::from_micros(micros(usage.user_time()) + micros(usage.system_time()))
}

fn run_gen(environments: &Path, out: &Path) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gen"));
    cmd.arg("--environments").arg(environments).args(["render", "prod", "--out"]).arg(out);
    timed(cmd, "gen render").0
}

/// Re-runs this bench binary as the baseline, timed as a process like `gen`, less the wall and
/// CPU time it reports for loading gen's outputs (which is not the work measured).
fn run_baseline(environments: &Path, rendered: &Path, out: &Path) -> Run {
    let mut cmd = Command::new(std::env::current_exe().expect("bench binary"));
    let paths = [environments, rendered, out].map(|p| p.display().to_string()).join("\n");
    cmd.env(BASELINE_ENV, paths);
    let (run, stdout) = timed(cmd, "baseline");
    let loading: Vec<u64> = stdout.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    let [wall_us, cpu_ns] = loading[..] else { panic!("the baseline prints its loading time: {stdout:?}") };
    Run {
        wall: run.wall.saturating_sub(Duration::from_micros(wall_us)),
        cpu: run.cpu.saturating_sub(Duration::from_nanos(cpu_ns)),
        rss_kib: run.rss_kib,
    }
}

/// One output as the baseline holds it: the desired state as its own type (its keys are in field
/// order, not sorted), every other file as a JSON value (sorted keys, as `gen` writes them).
enum Output {
    Desired(DesiredState),
    Json(Value),
    Yaml(Value),
}

/// The baseline's process: load the outputs `gen` rendered as values (reported, then subtracted),
/// then parse every declaration file, serialise the outputs and write them into `out/prod`.
fn baseline(environments: &Path, rendered: &Path, out: &Path) {
    let loading = Instant::now();
    let loading_cpu = cpu_time_ns();
    let outputs: BTreeMap<String, Output> = files(rendered)
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).expect("rendered file");
            let name = path.file_name().expect("file").to_string_lossy().into_owned();
            let output = if name == DESIRED_STATE_FILE {
                Output::Desired(serde_json::from_str(&text).expect("rendered desired state"))
            } else if name.ends_with(".json") {
                Output::Json(serde_json::from_str(&text).expect("rendered JSON"))
            } else {
                Output::Yaml(serde_saphyr::from_str(&text).expect("rendered YAML"))
            };
            (name, output)
        })
        .collect();
    let (loaded, loaded_cpu) = (loading.elapsed(), cpu_time_ns() - loading_cpu);
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
    for (name, output) in &outputs {
        let text = match output {
            Output::Desired(state) => pretty_json(state),
            Output::Json(value) => pretty_json(value),
            Output::Yaml(value) => serde_saphyr::to_string(value).expect("YAML"),
        };
        fs::write(staging.join(name), text).expect("write");
    }
    // The same syncs as `gen render`: the filesystem once, then the directory.
    rustix::fs::syncfs(fs::File::open(&staging).expect("staging")).expect("syncfs");
    fs::File::open(&staging).and_then(|d| d.sync_all()).expect("sync");
    let target = out.join("prod");
    let _ = fs::remove_dir_all(&target);
    fs::rename(&staging, &target).expect("rename");
    std::hint::black_box(&declarations);
    println!("{} {loaded_cpu}", loaded.as_micros());
}

/// CPU time of this (single-threaded) process in nanoseconds, from /proc/self/schedstat (Linux).
fn cpu_time_ns() -> u64 {
    let stat = fs::read_to_string("/proc/self/schedstat").expect("/proc/self/schedstat");
    stat.split_whitespace().next().and_then(|f| f.parse().ok()).expect("schedstat: run time")
}

/// Pretty JSON with a final newline, as `gen` writes its JSON files.
fn pretty_json(value: &impl serde::Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON");
    text.push('\n');
    text
}

/// Regular files directly in `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Names of the files that are not byte-identical in `a` and `b` (or are in only one of them).
fn differing_files(a: &Path, b: &Path) -> Vec<String> {
    let read = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        files(dir)
            .into_iter()
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap()))
            .collect()
    };
    let (a, b) = (read(a), read(b));
    let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names.into_iter().filter(|name| a.get(*name) != b.get(*name)).cloned().collect()
}

//! The `gen` binary against careless and hostile declarations: a seeded corpus of mutations of
//! the committed environments (deleted lines, duplicate keys, swapped types, huge numbers,
//! unicode, invalid UTF-8, deep nesting, long strings, symlinks, FIFOs, empty and large files,
//! alias bombs, unknown tags). For every case: no panic or signal, no hang, every error located
//! (a file of the tree, with line and column), no byte of a refused file echoed, and nothing
//! written by a `render` that fails.
//!
//! The corpus is deterministic (a fixed seed and a small xorshift generator); a failure names the
//! case number and its mutation, and `GEN_CORPUS_CASE=N` reruns one case.

mod common;
use common::{TempDir, copy_dir};

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Number of cases; the issue asks for at least 300.
const CASES: u64 = 320;
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
/// A case that runs this long is a hang (a failure, not a timing assertion: a normal case takes
/// milliseconds).
const HANG: Duration = Duration::from_secs(60);
/// A value a symlinked /proc/self/environ would reveal if it were ever read.
const CANARY: &str = "GEN_CORPUS_CANARY=do-not-echo-7f3a";

/// xorshift64*: small, deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn committed_environments() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments")
}

/// Every entry under `dir` (files with their bytes, folders and links by name), without
/// following links or opening FIFOs.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let kind = fs::symlink_metadata(&path).unwrap().file_type();
            let key = path.strip_prefix(dir).unwrap().to_path_buf();
            if kind.is_dir() {
                out.insert(key, b"<dir>".to_vec());
                stack.push(path);
            } else if kind.is_file() {
                out.insert(key, fs::read(&path).unwrap());
            } else {
                out.insert(key, b"<special>".to_vec());
            }
        }
    }
    out
}

fn is_regular(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// The YAML declaration files of a tree that are still regular files (relative paths); folders
/// already replaced by a symlink are not entered (the corpus never writes outside its tree).
fn yaml_files(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        [PathBuf::from("defaults.yaml")].into_iter().filter(|p| is_regular(&root.join(p))).collect();
    for dir in ["stages", "projects"] {
        if !fs::symlink_metadata(root.join(dir)).is_ok_and(|m| m.file_type().is_dir()) {
            continue;
        }
        let mut names: Vec<PathBuf> = fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml") && is_regular(p))
            .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
            .collect();
        names.sort();
        out.extend(names);
    }
    out
}

/// One mutation: a description and what it does to the tree.
fn mutate(rng: &mut Rng, root: &Path) -> String {
    let files = yaml_files(root);
    if files.is_empty() {
        return "no regular file left to mutate".into();
    }
    let file = rng.pick(&files).clone();
    let path = root.join(&file);
    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let line = rng.below(lines.len());
    let with_lines = |new: Vec<String>| new.join("\n") + "\n";
    let kind = rng.below(20);
    let what = match kind {
        0 => {
            let mut new: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            new.remove(line);
            fs::write(&path, with_lines(new)).unwrap();
            format!("deleted line {}", line + 1)
        }
        1 => {
            // A duplicate key: the line again right after itself.
            let mut new: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            new.insert(line, lines[line].to_string());
            fs::write(&path, with_lines(new)).unwrap();
            format!("duplicated line {}", line + 1)
        }
        2 | 3 => {
            // Swap a value's type.
            let replacement =
                *rng.pick(&["[1, 2]", "{a: b}", "true", "\"text\"", "-1", "null", "~", "3.5", "[]"]);
            let new: Vec<String> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| match l.find(": ") {
                    Some(at) if i == line => format!("{}: {replacement}", &l[..at]),
                    _ => l.to_string(),
                })
                .collect();
            fs::write(&path, with_lines(new)).unwrap();
            format!("value of line {} set to {replacement}", line + 1)
        }
        4 | 5 => {
            // Huge and edge numbers in place of the first number of a line.
            let number = *rng.pick(&[
                "4294967295",
                "4294967296",
                "4000000000",
                "18446744073709551616",
                "-9223372036854775809",
                "9223372036854775807",
                "1e400",
                "0",
                "-0",
                "0x7fffffff",
                ".nan",
            ]);
            let digits = regex_free_number(&text, rng);
            let new = match digits {
                Some((start, end)) => format!("{}{number}{}", &text[..start], &text[end..]),
                None => text.replace(": ", &format!(": {number} #")),
            };
            fs::write(&path, new).unwrap();
            format!("a number set to {number}")
        }
        6 => {
            let inserted =
                *rng.pick(&["é", "\u{202e}", "名前", "🦀", "\u{200b}", "\u{0}", "\u{1b}[31m", "\r"]);
            let at = char_boundary(&text, rng.below(text.len()));
            fs::write(&path, format!("{}{inserted}{}", &text[..at], &text[at..])).unwrap();
            format!("inserted {inserted:?} at byte {at}")
        }
        7 => {
            let mut bytes = text.into_bytes();
            let at = rng.below(bytes.len());
            bytes.splice(at..at, [0xff, 0xfe, 0xc3]);
            fs::write(&path, bytes).unwrap();
            format!("invalid UTF-8 at byte {at}")
        }
        8 => {
            let depth = *rng.pick(&[40usize, 300, 5000]);
            let nested = if rng.below(2) == 0 {
                format!("{}x{}", "[".repeat(depth), "]".repeat(depth))
            } else {
                (0..depth.min(400))
                    .map(|i| format!("{}k{i}:", " ".repeat(i * 2)))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            fs::write(&path, format!("{text}deep: {nested}\n")).unwrap();
            format!("nesting of depth {depth}")
        }
        9 => {
            let len = *rng.pick(&[10_000usize, 500_000, 1_100_000]);
            let new: Vec<String> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| match l.find(": ") {
                    Some(at) if i == line => format!("{}: {}", &l[..at], "y".repeat(len)),
                    _ => l.to_string(),
                })
                .collect();
            fs::write(&path, with_lines(new)).unwrap();
            format!("a {len}-character value on line {}", line + 1)
        }
        10 => {
            let target =
                *rng.pick(&["/proc/self/environ", "/dev/zero", "/etc/passwd", "missing.yaml", "../stages"]);
            fs::remove_file(&path).unwrap();
            std::os::unix::fs::symlink(target, &path).unwrap();
            format!("replaced by a symlink to {target}")
        }
        11 => {
            fs::remove_file(&path).unwrap();
            let status = Command::new("mkfifo").arg(&path).status().unwrap();
            assert!(status.success(), "mkfifo");
            "replaced by a FIFO".to_string()
        }
        12 => {
            fs::write(&path, "").unwrap();
            "emptied".to_string()
        }
        13 => {
            let size = *rng.pick(&[900_000usize, 2 * 1024 * 1024]);
            let mut big = text.clone();
            while big.len() < size {
                big.push_str("# padding padding padding padding padding padding padding\n");
            }
            fs::write(&path, big).unwrap();
            format!("grown to {size} bytes")
        }
        14 => {
            let mut bomb = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
            for i in 1..10 {
                let p = i - 1;
                bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{p}"); 9].join(", ")));
            }
            fs::write(&path, format!("{bomb}{text}")).unwrap();
            "alias bomb".to_string()
        }
        15 => {
            let tag =
                *rng.pick(&["!!python/object:os.system", "!include /etc/passwd", "!custom", "!!binary"]);
            let new: Vec<String> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| match l.find(": ") {
                    Some(at) if i == line => format!("{}: {tag} {}", &l[..at], &l[at + 2..]),
                    _ => l.to_string(),
                })
                .collect();
            fs::write(&path, with_lines(new)).unwrap();
            format!("tag {tag} on line {}", line + 1)
        }
        16 => {
            // Targeted numbers that once crashed.
            let (key, value) = *rng.pick(&[
                ("first_port", "4294967295"),
                ("brokers", "4000000000"),
                ("count", "4000000000"),
                ("broker_heap_mib", "4294967295"),
                ("broker_memory_mib", "4294967295"),
                ("instances", "4294967295"),
                ("partitions", "4294967295"),
                ("replication_factor", "4294967295"),
                ("size_gib", "4294967295"),
                ("length", "4294967295"),
            ]);
            let mut changed = false;
            let new: Vec<String> = lines
                .iter()
                .map(|l| match l.find(&format!("{key}: ")) {
                    Some(at) if !changed => {
                        changed = true;
                        format!("{}{key}: {value}", &l[..at])
                    }
                    _ => l.to_string(),
                })
                .collect();
            fs::write(&path, with_lines(new)).unwrap();
            format!("{key}: {value} (changed: {changed})")
        }
        17 => {
            fs::remove_file(&path).unwrap();
            fs::create_dir(&path).unwrap();
            "replaced by a folder".to_string()
        }
        18 => {
            let (dir, target) = *rng.pick(&[("projects", "/etc"), ("stages", "/proc/self")]);
            let real = root.join(format!("{dir}-real"));
            fs::rename(root.join(dir), &real).unwrap();
            std::os::unix::fs::symlink(target, root.join(dir)).unwrap();
            format!("{dir}/ replaced by a symlink to {target}")
        }
        _ => {
            let doc =
                *rng.pick(&["---\n", "--- !!map\n", "...\n---\n", "%YAML 1.1\n---\n", "\u{feff}", "\t"]);
            fs::write(&path, format!("{doc}{text}")).unwrap();
            format!("prefixed with {doc:?}")
        }
    };
    format!("{}: {what}", file.display())
}

/// The byte range of some run of ASCII digits in `text`.
fn regex_free_number(text: &str, rng: &mut Rng) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    (!runs.is_empty()).then(|| *rng.pick(&runs))
}

fn char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Runs the binary with a hang guard; None when it had to be killed.
fn run(args: &[&str]) -> Option<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gen"))
        .args(args)
        .env(CANARY.split('=').next().unwrap(), CANARY.split('=').nth(1).unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gen runs");
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Checks one finished run; returns what is wrong with it.
fn problems(output: &Output, root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0 | 1) => {}
        Some(code) => out.push(format!("exit code {code}")),
        None => out.push("killed by a signal".into()),
    }
    if stderr.contains("panicked") {
        out.push("panicked".into());
    }
    if stdout.contains(CANARY) || stderr.contains(CANARY) || stderr.contains("root:x:0:0") {
        out.push("echoed the content of a refused file".into());
    }
    // Every error names a place in the tree: `  --> <root>/...:line:column` or a whole file/folder.
    let root_text = root.display().to_string();
    let mut lines = stderr.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("error[") {
            match lines.peek() {
                Some(at) if at.trim_start().starts_with("--> ") => {
                    let place = at.trim_start().trim_start_matches("--> ");
                    let located = place.starts_with(&root_text)
                        && place.rsplitn(3, ':').take(2).all(|n| n.parse::<u64>().is_ok_and(|n| n > 0));
                    if !located {
                        out.push(format!("unlocated: {line} at {place}"));
                    }
                }
                _ => out.push(format!("no location: {line}")),
            }
        }
    }
    if output.status.code() == Some(1) && !stderr.contains("error[") {
        out.push("exit 1 without a finding".into());
    }
    out
}

/// Runs one case; Ok(true) when `validate` found errors (the corpus must mostly hit them).
fn one_case(case: u64) -> Result<bool, String> {
    let mut rng = Rng(SEED ^ case.wrapping_mul(0x100_0000_01B3));
    let tmp = TempDir::new("kp-gen-corpus");
    let root = tmp.0.join("environments");
    copy_dir(&committed_environments(), &root);
    let mut what = vec![mutate(&mut rng, &root)];
    if rng.below(4) == 0 {
        what.push(mutate(&mut rng, &root));
    }
    let what = what.join("; ");
    let out = tmp.0.join("templates");
    fs::create_dir_all(out.join("dev")).unwrap();
    fs::write(out.join("dev/manifest.json"), "previous").unwrap();
    fs::write(out.join("keep.txt"), "untouched").unwrap();
    let before = snapshot(&out);
    let root_text = root.display().to_string();
    let out_text = out.display().to_string();

    let mut problems_found = Vec::new();
    let mut refused = false;
    for args in [
        vec!["--environments", &root_text, "validate"],
        vec!["--environments", &root_text, "render", "--all", "--out", &out_text],
    ] {
        match run(&args) {
            None => problems_found.push(format!("`{}` did not finish within {HANG:?}", args[2])),
            Some(output) => {
                refused |= args[2] == "validate" && output.status.code() == Some(1);
                for p in problems(&output, &root) {
                    problems_found.push(format!("`{}`: {p}", args[2]));
                }
                if args[2] == "render" && output.status.code() != Some(0) && snapshot(&out) != before {
                    problems_found.push("a failed render changed the output directory".into());
                }
            }
        }
    }
    if problems_found.is_empty() {
        Ok(refused)
    } else {
        Err(format!("case {case} ({what}):\n    {}", problems_found.join("\n    ")))
    }
}

#[test]
fn a_seeded_corpus_of_hostile_mutations_never_crashes_hangs_leaks_or_writes() {
    let cases: Vec<u64> = match std::env::var("GEN_CORPUS_CASE") {
        Ok(n) => vec![n.parse().expect("GEN_CORPUS_CASE is a case number")],
        Err(_) => (0..CASES).collect(),
    };
    // Two workers: the machine is shared; each case is a few short processes.
    let next = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    let refused = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { break };
                    match one_case(*case) {
                        Ok(true) => {
                            refused.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(false) => {}
                        Err(failure) => failures.lock().unwrap().push(failure),
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // The mutations must mostly break something, or the checks above prove little.
    let refused = refused.into_inner();
    assert!(
        cases.len() == 1 || refused * 2 > cases.len(),
        "only {refused} of {} cases were refused",
        cases.len()
    );
    eprintln!("{refused} of {} mutated trees refused with located errors, the others valid", cases.len());
}

#[test]
fn the_corpus_covers_every_kind_of_mutation() {
    // The generator itself: 320 seeded cases reach all 20 mutation kinds.
    let mut seen = std::collections::BTreeSet::new();
    for case in 0..CASES {
        let mut rng = Rng(SEED ^ case.wrapping_mul(0x100_0000_01B3));
        // mutate() draws a file, a line, then the kind: replay those draws.
        let _ = rng.next();
        let _ = rng.next();
        seen.insert(rng.below(20));
    }
    assert_eq!(seen.len(), 20, "{seen:?}");
}

//! `gen package`: builds the Lambda functions as `bootstrap` zips for the `provided.al2023`
//! runtime and records their content hashes in `manifest.json`.
//!
//! provided.al2023 runs the binary on glibc 2.34. Two ways to get there:
//! - `--toolchain native` (default): the host's cargo and linker. Rust's std needs nothing
//!   newer than 2.17, but linking on a newer glibc binds symbols to the newest version the host
//!   has, so every binary is checked: a `GLIBC_2.x` requirement above 2.34 fails the command.
//! - `--toolchain zig`: `cargo zigbuild --target x86_64-unknown-linux-gnu.2.34` links against
//!   glibc 2.34 symbol tables whatever the host has (tests/scripts/zigbuild.sh installs the
//!   pinned tools from PyPI and prints the PATH to use).
//!
//! Zips are deterministic: one entry `bootstrap`, mode 0755, a fixed 1980-01-01 timestamp,
//! deflate. The S3 key carries the zip's SHA-256, so templates that take the key as a
//! parameter change exactly when the code does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use kafka_platform_core::digest::sha256_hex;
use kafka_platform_core::manifest::{LAMBDAS, Lambda, LambdaPackage, PackageManifest};
use kafka_platform_core::render::node_metrics::EXPORTER_PACKAGE;
use serde::Serialize;

use crate::output::{OutputFormat, print_json};
use crate::package_exporter;

/// The highest glibc that provided.al2023 has.
const MAX_GLIBC: (u32, u32) = (2, 34);
/// The target that cargo-zigbuild links against glibc 2.34.
const ZIG_TARGET: &str = "x86_64-unknown-linux-gnu.2.34";
/// Name of the manifest in the output directory.
pub const MANIFEST: &str = "manifest.json";

/// How to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Toolchain {
    /// Host cargo; binaries are checked for glibc <= 2.34.
    Native,
    /// cargo-zigbuild targeting x86_64-unknown-linux-gnu.2.34.
    Zig,
}

/// Arguments of `gen package`.
#[derive(Debug, clap::Args)]
pub struct PackageArgs {
    /// Directory for the zips and manifest.json.
    #[arg(long, default_value = "target/lambda")]
    pub out: PathBuf,
    /// Build with the release profile (speed-optimised, as `gen` is) instead of `lambda`.
    #[arg(long, conflicts_with = "profile")]
    pub release: bool,
    /// Cargo profile to build with instead of `lambda` (the workspace's size-optimised release
    /// profile), e.g. `dev` for a quick check.
    #[arg(long)]
    pub profile: Option<String>,
    /// Package only these (secure-password, private-certificate, reconciler, and metrics-exporter:
    /// the nodes' JMX exporter jar, fetched from the Maven repository). Default: all of them.
    #[arg(long = "function", value_name = "NAME")]
    pub functions: Vec<String>,
    /// How to reach glibc 2.34.
    #[arg(long, value_enum, default_value = "native")]
    pub toolchain: Toolchain,
    /// Package the binaries already built for the profile (e.g. by a separate
    /// `cargo build --profile lambda`) instead of running cargo.
    #[arg(long)]
    pub no_build: bool,
    /// Maven repository to fetch the pinned JMX exporter jar from (checked against its SHA-256).
    #[arg(long, env = "GEN_MAVEN_REPOSITORY", default_value = package_exporter::MAVEN_CENTRAL)]
    pub maven_repository: String,
    /// `json`: one document on stdout with each artifact's file, S3 key, digest and size.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

/// What `gen package --format json` prints.
#[derive(Debug, Serialize)]
struct PackageReport<'a> {
    command: &'static str,
    ok: bool,
    manifest: String,
    /// The functions packaged by this run (the manifest keeps the others' entries).
    artifacts: Vec<Artifact<'a>>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Artifact<'a> {
    function: &'a str,
    file: String,
    #[serde(flatten)]
    entry: &'a LambdaPackage,
}

/// Everything that can go wrong while packaging.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// An unknown function name was asked for.
    #[error(
        "unknown function `{0}`; known: secure-password, private-certificate, reconciler, metrics-exporter"
    )]
    UnknownFunction(String),
    /// cargo could not be run or failed.
    #[error("{0}")]
    Build(String),
    /// A binary needs a newer glibc than provided.al2023 has.
    #[error(
        "{binary} needs glibc {found} but provided.al2023 has 2.34; build with \
         `--toolchain zig` (see tests/scripts/zigbuild.sh)"
    )]
    Glibc {
        /// The binary.
        binary: String,
        /// The highest version it requires.
        found: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing the zip failed.
    #[error("writing {path}: {message}")]
    Zip {
        /// The zip.
        path: String,
        /// The cause.
        message: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PackageError + '_ {
    move |source| PackageError::Io { path: path.display().to_string(), source }
}

/// Runs `gen package`; prints one line per function, or the JSON report.
pub fn run(args: &PackageArgs) -> ExitCode {
    let result = package(args);
    let manifest = args.out.join(MANIFEST).display().to_string();
    if args.format == OutputFormat::Json {
        let (artifacts, error) = match &result {
            Ok(written) => (
                written
                    .iter()
                    .map(|(name, entry)| Artifact {
                        function: name,
                        file: args.out.join(&entry.zip).display().to_string(),
                        entry,
                    })
                    .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        print_json(&PackageReport {
            command: "package",
            ok: result.is_ok(),
            manifest: manifest.clone(),
            artifacts,
            error,
        });
    }
    match result {
        Ok(written) => {
            if args.format == OutputFormat::Text {
                for (name, e) in &written {
                    println!(
                        "{name:<20} {:>10} bytes  sha256 {}  s3://<artifact-bucket>/{}",
                        e.size, e.sha256, e.s3_key
                    );
                }
                println!("manifest: {manifest}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Builds, checks and zips the selected functions; returns the entries written.
pub fn package(args: &PackageArgs) -> Result<PackageManifest, PackageError> {
    let (functions, exporter) = select(&args.functions)?;
    let profile = match (&args.profile, args.release) {
        (Some(p), _) => p.clone(),
        (None, true) => "release".to_string(),
        (None, false) => "lambda".to_string(),
    };
    let binaries = if functions.is_empty() {
        Vec::new()
    } else {
        build(&functions, &profile, args.toolchain, args.no_build)?
    };
    std::fs::create_dir_all(&args.out).map_err(io(&args.out))?;
    let mut written = PackageManifest::new();
    for (function, binary) in functions.iter().zip(&binaries) {
        let bytes = std::fs::read(binary).map_err(io(binary))?;
        if let Some(found) = too_new_glibc(&bytes) {
            return Err(PackageError::Glibc { binary: binary.display().to_string(), found });
        }
        let zip_path = args.out.join(format!("{}.zip", function.name));
        let zip = bootstrap_zip(&bytes)
            .map_err(|message| PackageError::Zip { path: zip_path.display().to_string(), message })?;
        write_atomically(&zip_path, &zip)?;
        written.insert(function.name.to_string(), entry(function.name, &zip));
    }
    if exporter {
        let (name, entry) = package_exporter::fetch(&args.out, &args.maven_repository)?;
        written.insert(name, entry);
    }
    // Keep entries of functions not built this time, so that `--function` updates one entry.
    let manifest_path = args.out.join(MANIFEST);
    let mut manifest: PackageManifest =
        std::fs::read(&manifest_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    manifest.retain(|name, _| LAMBDAS.iter().any(|f| f.name == name) || name == EXPORTER_PACKAGE);
    manifest.extend(written.clone());
    let mut text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
    text.push('\n');
    write_atomically(&manifest_path, text.as_bytes())?;
    Ok(written)
}

/// The Lambdas named, and whether the exporter jar is (everything when nothing is named).
fn select(names: &[String]) -> Result<(Vec<Lambda>, bool), PackageError> {
    if names.is_empty() {
        return Ok((LAMBDAS.to_vec(), true));
    }
    let exporter = names.iter().any(|n| n == EXPORTER_PACKAGE);
    let lambdas = names
        .iter()
        .filter(|n| *n != EXPORTER_PACKAGE)
        .map(|n| {
            LAMBDAS
                .iter()
                .find(|f| f.name == n || f.package == n)
                .copied()
                .ok_or_else(|| PackageError::UnknownFunction(n.clone()))
        })
        .collect::<Result<_, _>>()?;
    Ok((lambdas, exporter))
}

/// Builds the functions in one cargo run and returns their binaries' paths.
fn build(
    functions: &[Lambda],
    profile: &str,
    toolchain: Toolchain,
    no_build: bool,
) -> Result<Vec<PathBuf>, PackageError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let target_dir = target_directory(&cargo)?;
    // cargo names the output directory of the dev profile `debug`.
    let profile_dir = if profile == "dev" { "debug" } else { profile };
    let dir = match toolchain {
        Toolchain::Native => target_dir.join(profile_dir),
        // cargo-zigbuild strips the glibc suffix from the directory name.
        Toolchain::Zig => target_dir.join("x86_64-unknown-linux-gnu").join(profile_dir),
    };
    let binaries: Vec<PathBuf> = functions.iter().map(|f| dir.join(f.package)).collect();
    if no_build {
        if let Some(missing) = binaries.iter().find(|b| !b.is_file()) {
            return Err(PackageError::Build(format!(
                "{} does not exist; build it first or drop --no-build",
                missing.display()
            )));
        }
        return Ok(binaries);
    }
    let mut cmd = Command::new(&cargo);
    match toolchain {
        Toolchain::Native => cmd.arg("build"),
        Toolchain::Zig => cmd.args(["zigbuild", "--target", ZIG_TARGET]),
    };
    cmd.args(["--profile", profile, "--locked"]);
    for f in functions {
        cmd.args(["-p", f.package]);
    }
    // Anything cargo prints goes to stderr: stdout holds only this command's report.
    cmd.stdout(std::io::stderr());
    let status = cmd.status().map_err(|e| PackageError::Build(format!("cannot run {cargo}: {e}")))?;
    if !status.success() {
        let hint = if toolchain == Toolchain::Zig {
            " (is cargo-zigbuild on PATH? see tests/scripts/zigbuild.sh)"
        } else {
            ""
        };
        return Err(PackageError::Build(format!("cargo build failed ({status}){hint}")));
    }
    Ok(binaries)
}

fn target_directory(cargo: &str) -> Result<PathBuf, PackageError> {
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| PackageError::Build(format!("cannot run {cargo} metadata: {e}")))?;
    if !out.status.success() {
        return Err(PackageError::Build(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| PackageError::Build(format!("cargo metadata output: {e}")))?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| PackageError::Build("cargo metadata has no target_directory".into()))
}

/// The highest `GLIBC_2.x` version a binary requires when it is above 2.34.
///
/// Version requirements are stored as strings in the dynamic string table, so a scan of the
/// bytes finds every one of them (and possibly a few more, which only errs on the safe side).
pub fn too_new_glibc(binary: &[u8]) -> Option<String> {
    const NEEDLE: &[u8] = b"GLIBC_2.";
    let mut highest: Option<(u32, u32)> = None;
    let mut i = 0;
    while let Some(pos) = find(&binary[i..], NEEDLE) {
        let start = i + pos + NEEDLE.len();
        let digits = |from: usize| {
            let end =
                binary[from..].iter().position(|b| !b.is_ascii_digit()).map_or(binary.len(), |p| from + p);
            (std::str::from_utf8(&binary[from..end]).ok().and_then(|s| s.parse::<u32>().ok()), end)
        };
        if let (Some(minor), _) = digits(start) {
            let version = (2, minor);
            highest = Some(highest.map_or(version, |h| h.max(version)));
        }
        i = start;
    }
    highest.filter(|h| *h > MAX_GLIBC).map(|(major, minor)| format!("{major}.{minor}"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A zip with one executable entry `bootstrap`, byte-for-byte the same for the same binary.
pub fn bootstrap_zip(binary: &[u8]) -> Result<Vec<u8>, String> {
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    writer.start_file("bootstrap", options).map_err(|e| e.to_string())?;
    writer.write_all(binary).map_err(|e| e.to_string())?;
    let cursor = writer.finish().map_err(|e| e.to_string())?;
    Ok(cursor.into_inner())
}

/// The manifest entry of a zip.
pub fn entry(name: &str, zip: &[u8]) -> LambdaPackage {
    let sha256 = sha256_hex(zip);
    LambdaPackage {
        zip: format!("{name}.zip"),
        s3_key: format!("lambdas/{name}-{sha256}.zip"),
        sha256,
        size: zip.len() as u64,
    }
}

/// Writes through a temporary file and a rename, so that a reader never sees half a file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PackageError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn zips_are_deterministic_and_hold_an_executable_bootstrap() {
        let binary = b"\x7fELF fake binary for the test".repeat(100);
        let a = bootstrap_zip(&binary).unwrap();
        let b = bootstrap_zip(&binary).unwrap();
        assert_eq!(a, b, "same input, same bytes");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&a)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut file = archive.by_name("bootstrap").unwrap();
        assert_eq!(file.unix_mode().map(|m| m & 0o777), Some(0o755));
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        assert_eq!(content, binary);
        assert_ne!(bootstrap_zip(b"other").unwrap(), a);
    }

    #[test]
    fn entries_carry_the_hash_in_the_s3_key() {
        let e = entry("secure-password", b"zip bytes");
        assert_eq!(e.sha256.len(), 64);
        assert_eq!(e.s3_key, format!("lambdas/secure-password-{}.zip", e.sha256));
        assert_eq!((e.zip.as_str(), e.size), ("secure-password.zip", 9));
    }

    #[test]
    fn glibc_above_2_34_is_found() {
        assert_eq!(too_new_glibc(b"..GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_2.17\0"), None);
        assert_eq!(too_new_glibc(b"GLIBC_2.34\0GLIBC_2.38\0GLIBC_2.35"), Some("2.38".into()));
        assert_eq!(too_new_glibc(b"no libc at all"), None);
    }

    #[test]
    fn functions_are_selected_by_name_or_package() {
        let (all, exporter) = select(&[]).unwrap();
        assert_eq!((all.len(), exporter), (LAMBDAS.len(), true));
        let (one, exporter) = select(&["private-certificate-lambda".to_string()]).unwrap();
        assert_eq!((one[0].name, exporter), ("private-certificate", false));
        let (none, exporter) = select(&[EXPORTER_PACKAGE.to_string()]).unwrap();
        assert!(none.is_empty() && exporter);
        let err = select(&["nope".to_string()]).unwrap_err().to_string();
        assert!(err.starts_with("unknown function `nope`"), "{err}");
    }
}

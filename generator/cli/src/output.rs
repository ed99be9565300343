//! `--format text|json` of the commands that change things (`render`, `apply`, `deploy`,
//! `package`): text for people, or one JSON document on stdout that says what was done. Progress,
//! prompts and findings stay on stderr either way, so stdout holds nothing but the document.

/// How a command reports what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
}

/// Prints a command's report as one JSON document on stdout.
pub fn print_json(report: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(report).expect("reports serialise"));
}

//! Terminal output of a deploy: plain lines on stdout (on stderr when stdout carries the JSON
//! report), a live progress line and prompts on stderr, and every line passed through the
//! redactor first.

use std::io::{IsTerminal, Write};

use super::redact::Redactor;

/// Where the deploy talks to the person (or pipeline) running it.
pub struct Ui {
    /// Masks secret values in everything printed.
    pub redactor: Redactor,
    progress: bool,
    shown: bool,
    /// Lines go to stderr: stdout is kept for the `--format json` report.
    lines_to_stderr: bool,
}

impl Ui {
    /// Output with a live progress line when stderr is a terminal.
    pub fn new() -> Self {
        Ui {
            redactor: Redactor::default(),
            progress: std::io::stderr().is_terminal(),
            shown: false,
            lines_to_stderr: false,
        }
    }

    /// Like [`Ui::new`], with the lines on stderr.
    pub fn on_stderr() -> Self {
        Ui { lines_to_stderr: true, ..Ui::new() }
    }

    /// True when a person can answer a prompt.
    pub fn interactive(&self) -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    /// Prints text (one or more lines) on stdout (or stderr, see [`Ui::on_stderr`]).
    pub fn say(&mut self, text: &str) {
        self.clear_progress();
        let text = self.redactor.redact(text.trim_end_matches('\n'));
        // A closed stdout (a pipe to `head`) must not abort a deploy half-way.
        if self.lines_to_stderr {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{text}");
            let _ = err.flush();
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }

    /// Replaces the live progress line (only on a terminal).
    pub fn progress(&mut self, text: &str) {
        if self.progress {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{}", self.redactor.redact(text));
            let _ = err.flush();
            self.shown = true;
        }
    }

    /// Removes the progress line so that the next output starts on a clean line.
    pub fn clear_progress(&mut self) {
        if self.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.shown = false;
        }
    }

    /// Asks a question on the terminal and returns the answer (empty on end of input).
    pub async fn ask(&mut self, question: &str) -> std::io::Result<String> {
        self.clear_progress();
        eprint!("{question}");
        std::io::stderr().flush()?;
        tokio::task::spawn_blocking(|| {
            let mut answer = String::new();
            std::io::stdin().read_line(&mut answer).map(|_| answer)
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

impl Default for Ui {
    fn default() -> Self {
        Ui::new()
    }
}

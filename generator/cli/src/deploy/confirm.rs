//! When a deploy may execute a change set without asking.

/// What to do before executing a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Execute without asking (`--yes`).
    Proceed,
    /// Ask on the terminal; the answer must equal `expected` (case-insensitive).
    Ask {
        /// The answer that confirms.
        expected: String,
    },
    /// Cannot ask and may not proceed: stop with this explanation.
    Refuse(String),
}

/// Decides how to confirm: `--yes` proceeds; otherwise a terminal is asked ("yes" for a
/// normal stage, the stage name for a protected one so that prod is never confirmed by
/// reflex); without a terminal nothing executes, because silence is not consent.
pub fn confirmation(yes: bool, interactive: bool, protected: bool, stage: &str) -> Confirmation {
    if yes {
        return Confirmation::Proceed;
    }
    if interactive {
        return Confirmation::Ask { expected: if protected { stage.to_string() } else { "yes".to_string() } };
    }
    Confirmation::Refuse(format!(
        "refusing to execute change sets for stage {stage} without confirmation: no terminal to ask on\n  hint: review with --dry-run, then pass --yes (for pipelines)"
    ))
}

/// True when the answer typed on the terminal confirms.
pub fn confirms(answer: &str, expected: &str) -> bool {
    let answer = answer.trim();
    answer.eq_ignore_ascii_case(expected) || (expected == "yes" && answer.eq_ignore_ascii_case("y"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_proceeds_for_every_stage() {
        assert_eq!(confirmation(true, false, true, "prod"), Confirmation::Proceed);
        assert_eq!(confirmation(true, true, false, "dev"), Confirmation::Proceed);
    }

    #[test]
    fn a_terminal_is_asked_and_prod_must_type_its_name() {
        assert_eq!(confirmation(false, true, false, "dev"), Confirmation::Ask { expected: "yes".into() });
        assert_eq!(confirmation(false, true, true, "prod"), Confirmation::Ask { expected: "prod".into() });
    }

    #[test]
    fn without_a_terminal_or_yes_nothing_executes() {
        for (protected, stage) in [(false, "dev"), (true, "prod")] {
            match confirmation(false, false, protected, stage) {
                Confirmation::Refuse(msg) => assert!(msg.contains("--yes"), "{msg}"),
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
    }

    #[test]
    fn answers_are_matched_strictly() {
        assert!(confirms("y\n", "yes"));
        assert!(confirms(" YES ", "yes"));
        assert!(!confirms("", "yes"));
        assert!(!confirms("yes", "prod"));
        assert!(!confirms("y", "prod"));
        assert!(confirms("prod\n", "prod"));
    }
}

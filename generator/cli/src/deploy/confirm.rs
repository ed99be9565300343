//! When `gen deploy` may execute a change set and `gen apply` may change a cluster: one policy for
//! both. The prompt goes to stderr; a production-like stage is confirmed by typing its name; a
//! change that replaces or removes a stateful resource needs `--allow-replace-stateful` even with
//! `--yes`, and the stage name when asked.

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
        "refusing to change stage {stage} without confirmation: no terminal to ask on\n  hint: review with `gen plan` or `gen deploy --dry-run`, then pass --yes (for pipelines)"
    ))
}

/// Tightens a decision for a change that replaces or removes a stateful resource (CA, broker
/// volumes, KMS key): `--yes` alone does not destroy data, and a person types the stage name.
pub fn guard_stateful(
    decision: Confirmation,
    destroys_stateful: bool,
    allowed: bool,
    stage: &str,
) -> Confirmation {
    if !destroys_stateful || allowed {
        return decision;
    }
    match decision {
        Confirmation::Proceed => Confirmation::Refuse(format!(
            "refusing to replace or remove stateful resources of stage {stage} with --yes alone\n  hint: review the change set (WARNING lines above); pass --allow-replace-stateful to let their data go"
        )),
        Confirmation::Ask { .. } => Confirmation::Ask { expected: stage.to_string() },
        refused => refused,
    }
}

/// Asks `question` on stderr and reads one line from stdin (empty on end of input).
pub fn ask_blocking(question: &str) -> std::io::Result<String> {
    use std::io::Write;
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer)
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
    fn yes_alone_never_replaces_or_removes_a_stateful_resource() {
        let refused = guard_stateful(confirmation(true, false, false, "dev"), true, false, "dev");
        match refused {
            Confirmation::Refuse(msg) => assert!(msg.contains("--allow-replace-stateful"), "{msg}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        let allowed = guard_stateful(confirmation(true, false, true, "prod"), true, true, "prod");
        assert_eq!(allowed, Confirmation::Proceed);
        // Nothing stateful at stake: --yes is enough.
        assert_eq!(
            guard_stateful(confirmation(true, false, true, "prod"), false, false, "prod"),
            Confirmation::Proceed
        );
    }

    #[test]
    fn a_person_types_the_stage_name_before_stateful_data_goes() {
        let ask = guard_stateful(confirmation(false, true, false, "dev"), true, false, "dev");
        assert_eq!(ask, Confirmation::Ask { expected: "dev".into() });
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

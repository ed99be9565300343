//! Keeps secrets out of everything the deploy prints.

/// Replaces known secret values (the values of NoEcho parameters) in text that comes back
/// from AWS, such as event reasons and error messages, which may quote property values.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
}

/// What a redacted value is shown as.
pub const MASK: &str = "****";

impl Redactor {
    /// Adds secret values; empty values are ignored (they would match everywhere).
    pub fn add(&mut self, secrets: impl IntoIterator<Item = String>) {
        self.secrets.extend(secrets.into_iter().filter(|s| !s.is_empty()));
        // Longest first, so that a secret containing another is masked whole.
        self.secrets.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        self.secrets.dedup();
    }

    /// The text with every secret masked.
    pub fn redact(&self, text: &str) -> String {
        self.secrets.iter().fold(text.to_string(), |acc, secret| acc.replace(secret.as_str(), MASK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_wherever_they_appear() {
        let mut r = Redactor::default();
        r.add(["hunter2".to_string(), String::new(), "hunter2-extended".to_string()]);
        assert_eq!(r.redact("value hunter2-extended rejected; hunter2 too"), "value **** rejected; **** too");
        assert_eq!(r.redact("nothing to hide"), "nothing to hide");
    }
}

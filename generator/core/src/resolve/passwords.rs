//! `passwords` (KP111): generated passwords, their alphabet and rotation.

use std::ops::RangeInclusive;

use super::Required;
use crate::config::project::Authentication;
use crate::config::stage::PasswordSettings;
use crate::diagnostics::{Finding, Findings};
use crate::model::{PasswordPolicy, StageModel};

/// Fewest printable characters the password generator must have left after `exclude_characters`.
pub const MIN_PASSWORD_ALPHABET: usize = 32;
/// Hours a rotated SCRAM account's previous password may keep working.
const ROTATION_OVERLAP_HOURS: RangeInclusive<u32> = 1..=720;

/// The password policy; out-of-range values are reported.
pub fn resolve(passwords: Option<&PasswordSettings>, r: &mut Required<'_>) -> PasswordPolicy {
    let passwords = passwords.cloned().unwrap_or_default();
    let length = passwords.length.as_ref().map(|l| l.value).unwrap_or(PasswordSettings::DEFAULT_LENGTH);
    if !(16..=128).contains(&length) {
        let loc = passwords.length.as_ref().map(|l| l.location.clone()).unwrap_or_default();
        r.push(
            Finding::error("KP111", &loc, format!("password length {length}")).hint("16 to 128 characters"),
        );
    }
    if let Some(exclude) = &passwords.exclude_characters {
        let alphabet = (b'!'..=b'~').filter(|c| !exclude.value.as_bytes().contains(c)).count();
        if alphabet < MIN_PASSWORD_ALPHABET {
            r.push(
                Finding::error(
                    "KP111",
                    &exclude.location,
                    format!("exclude_characters leaves {alphabet} characters to draw passwords from"),
                )
                .hint(format!(
                    "at least {MIN_PASSWORD_ALPHABET} of the 94 printable ASCII characters must remain"
                )),
            );
        }
        // The nodes put the admin password into `kafka-storage format --add-scram`, which splits on ','.
        if !exclude.value.contains(',') {
            r.push(Finding::error("KP111", &exclude.location, "passwords may contain ','").hint(
                "add ',' to exclude_characters: kafka-storage format cannot take it in the admin password",
            ));
        }
    }
    let overlap = passwords.rotation_overlap_hours.as_ref();
    let overlap_hours = overlap.map(|o| o.value).unwrap_or(PasswordSettings::DEFAULT_ROTATION_OVERLAP_HOURS);
    if !ROTATION_OVERLAP_HOURS.contains(&overlap_hours) {
        let loc = overlap.map(|o| o.location.clone()).unwrap_or_default();
        r.push(
            Finding::error("KP111", &loc, format!("rotation overlap of {overlap_hours} hours"))
                .hint("1 to 720 hours (30 days): long enough for every client to re-read its credential"),
        );
    }
    PasswordPolicy {
        length,
        exclude_characters: passwords
            .exclude_characters
            .map(|e| e.value)
            .unwrap_or_else(|| PasswordSettings::DEFAULT_EXCLUDE_CHARACTERS.into()),
        rotation_token: passwords
            .rotation_token
            .map(|t| t.value)
            .unwrap_or_else(|| PasswordSettings::DEFAULT_ROTATION_TOKEN.into()),
        account_rotation_tokens: passwords.account_rotation_tokens.unwrap_or_default(),
        rotation_overlap_hours: overlap_hours,
    }
}

/// KP111: every per-account rotation token names a SCRAM service account of the stage (checked
/// once the projects are resolved).
pub fn check_account_rotations(model: &StageModel, findings: &mut Findings) {
    for (account, token) in &model.passwords.account_rotation_tokens {
        let scram = model
            .service_accounts
            .iter()
            .any(|a| &a.name.value == account && a.authentication == Authentication::Scram);
        if !scram {
            findings.push(
                Finding::error(
                    "KP111",
                    &token.location,
                    format!("account_rotation_tokens names `{account}`, which is no SCRAM service account of stage {}", model.stage),
                )
                .hint("name a service account with `authentication: scram` that exists in this stage; mTLS accounts renew certificates instead"),
            );
        }
    }
}

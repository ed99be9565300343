//! The value of a SCRAM account's SSM parameter, which the password Lambda writes and the
//! reconciler reads and promotes (docs/operators-guide.md, "Credential rotation").
//!
//! ```json
//! {"username": "orders-app.alt", "password": "...", "generation": 2, "rotated_at": 1764490000}
//! ```
//!
//! Each account has two Kafka users (slots): generation 1, 3, 5, ... logs in as `<name>`, 2, 4,
//! ... as `<name>.alt`. A rotation writes the next generation as `pending` (clients never read
//! it); the reconciler writes it into Kafka, then promotes it, so the value clients read always
//! logs in. The previous slot keeps its credential for the stage's overlap, then is deleted.

use serde::{Deserialize, Serialize};

/// The SCRAM iteration count of a generation. Kafka shows a credential's mechanism and iteration
/// count, never its password; writing each generation with its own count lets the reconciler see
/// which generation a Kafka user holds. Generation 1 uses Kafka's usual 8192, so credentials
/// written before rotation existed count as generation 1.
pub fn scram_iterations(generation: u64) -> i32 {
    let offset = generation.saturating_sub(1) % 4096;
    8192 + i32::try_from(offset).expect("below 4096")
}

/// Which of an account's two users (`0`: `<name>`, `1`: `<name>.alt`) a generation logs in as.
pub fn slot(generation: u64) -> usize {
    usize::from(generation.saturating_sub(1) % 2 == 1)
}

/// The parameter's value. Passwords never show in `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredCredential {
    /// The Kafka user to log in as.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Counts rotations, from 1.
    pub generation: u64,
    /// When this generation became the one clients read (Unix seconds); absent for the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<u64>,
    /// The next generation, written by a rotation and not yet in Kafka; clients ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingCredential>,
}

/// A generation waiting to be written into Kafka and promoted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingCredential {
    /// The Kafka user it will log in as (the slot the current generation does not use).
    pub username: String,
    /// Its password.
    pub password: String,
    /// The current generation plus one.
    pub generation: u64,
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential")
            .field("username", &self.username)
            .field("generation", &self.generation)
            .field("rotated_at", &self.rotated_at)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PendingCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingCredential")
            .field("username", &self.username)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl StoredCredential {
    /// The first generation, as `username`.
    pub fn first(username: &str, password: String) -> Self {
        StoredCredential {
            username: username.into(),
            password,
            generation: 1,
            rotated_at: None,
            pending: None,
        }
    }

    /// Reads a parameter value. A value that is not this JSON object is a password written before
    /// rotation existed: generation 1 of the account's first user. Errors never quote the value.
    pub fn parse(value: &str, account: &str) -> Result<Self, String> {
        if !value.trim_start().starts_with('{') {
            return Ok(StoredCredential::first(account, value.to_string()));
        }
        match serde_json::from_str::<StoredCredential>(value) {
            Ok(c) if c.generation == 0 => {
                Err(format!("the credential of account {account} has generation 0"))
            }
            Ok(c) => Ok(c),
            // A plain password may start with `{` too; real JSON of ours always has `"username"`.
            Err(_) if !value.contains("\"username\"") => {
                Ok(StoredCredential::first(account, value.to_string()))
            }
            Err(_) => Err(format!(
                "the credential of account {account} is not the expected JSON (username, password, \
                 generation, rotated_at, pending)"
            )),
        }
    }

    /// The JSON text stored in SSM.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("credentials serialise")
    }

    /// A rotation: `password` becomes the pending next generation, in the slot of `users` the
    /// current generation does not use. A rotation while one is pending replaces the pending
    /// password (it never reached a client).
    pub fn rotate(&self, users: &[String; 2], password: String) -> Self {
        let generation = self.generation + 1;
        let username = users[slot(generation)].clone();
        StoredCredential {
            pending: Some(PendingCredential { username, password, generation }),
            ..self.clone()
        }
    }

    /// The pending generation made current at `now` (Unix seconds); `None` when none is pending.
    pub fn promote(&self, now: u64) -> Option<Self> {
        let p = self.pending.as_ref()?;
        Some(StoredCredential {
            username: p.username.clone(),
            password: p.password.clone(),
            generation: p.generation,
            rotated_at: Some(now),
            pending: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> [String; 2] {
        ["orders-app".to_string(), "orders-app.alt".to_string()]
    }

    #[test]
    fn generations_alternate_slots_and_differ_in_iterations() {
        assert_eq!((slot(1), slot(2), slot(3), slot(4)), (0, 1, 0, 1));
        assert_eq!(scram_iterations(1), kafka_default_iterations());
        assert_ne!(scram_iterations(1), scram_iterations(3), "the same slot two generations apart");
        assert!((4096..=16384).contains(&scram_iterations(u64::MAX)));
    }

    fn kafka_default_iterations() -> i32 {
        8192
    }

    #[test]
    fn rotate_then_promote_moves_to_the_other_user() {
        let c = StoredCredential::first("orders-app", "one".into());
        let r = c.rotate(&users(), "two".into());
        assert_eq!((r.username.as_str(), r.password.as_str(), r.generation), ("orders-app", "one", 1));
        let p = r.pending.clone().unwrap();
        assert_eq!((p.username.as_str(), p.generation), ("orders-app.alt", 2));
        let promoted = r.promote(1000).unwrap();
        assert_eq!(promoted.username, "orders-app.alt");
        assert_eq!(
            (promoted.generation, promoted.rotated_at, promoted.pending.is_none()),
            (2, Some(1000), true)
        );
        let back = promoted.rotate(&users(), "three".into()).promote(2000).unwrap();
        assert_eq!((back.username.as_str(), back.generation), ("orders-app", 3));
        assert!(back.promote(3000).is_none(), "nothing pending");
        // Rotating again while pending replaces the pending password, same generation.
        let twice = promoted.rotate(&users(), "x".into()).rotate(&users(), "y".into());
        assert_eq!(twice.pending.as_ref().map(|p| (p.password.as_str(), p.generation)), Some(("y", 3)));
    }

    #[test]
    fn json_round_trips_and_plain_values_are_generation_one() {
        let c = StoredCredential::first("a", "p{w".into()).rotate(&["a".into(), "a.alt".into()], "q".into());
        assert_eq!(StoredCredential::parse(&c.to_json(), "a").unwrap(), c);
        let legacy = StoredCredential::parse("{plain-password", "a").unwrap();
        assert_eq!(
            (legacy.username.as_str(), legacy.password.as_str(), legacy.generation),
            ("a", "{plain-password", 1)
        );
        let e = StoredCredential::parse(r#"{"username": "a", "password": "hunter2"}"#, "a").unwrap_err();
        assert!(e.contains("not the expected JSON") && !e.contains("hunter2"), "{e}");
        let debug = format!("{c:?}");
        assert!(!debug.contains("p{w") && !debug.contains("\"q\""), "{debug}");
    }
}

//! Password hashing (argon2id at the OWASP parameters, on the blocking pool) and the
//! password policy.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP Password Storage Cheat Sheet minimum for argon2id.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

fn hasher() -> Argon2<'static> {
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody has, verified when the e-mail is unknown so that a wrong
/// e-mail costs the same work as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("a password that no account has"));

/// Hashes on the current thread; async code calls [`hash`] instead.
pub fn hash_blocking(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system provides randomness");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password")
        .to_string()
}

/// Hashes a password on the blocking pool.
pub async fn hash(password: String) -> anyhow::Result<String> {
    Ok(tokio::task::spawn_blocking(move || hash_blocking(&password)).await?)
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Right, but the hash uses weaker parameters than today's and should be replaced.
    YesButRehash,
}

/// How many times the dummy hash was verified; lets tests see that unknown e-mails do the
/// same work as known ones.
pub static DUMMY_VERIFICATIONS: AtomicU64 = AtomicU64::new(0);

/// Verifies on the blocking pool; with no stored hash a dummy one is verified instead.
pub async fn verify(password: String, stored: Option<String>) -> anyhow::Result<Verified> {
    Ok(tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        if !known {
            DUMMY_VERIFICATIONS.fetch_add(1, Ordering::Relaxed);
        }
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return Verified::No;
        };
        if hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_err()
            || !known
        {
            return Verified::No;
        }
        if is_current(&parsed) {
            Verified::Yes
        } else {
            Verified::YesButRehash
        }
    })
    .await?)
}

fn is_current(hash: &PasswordHash<'_>) -> bool {
    let Ok(params) = Params::try_from(hash) else {
        return false;
    };
    hash.algorithm.as_str() == "argon2id"
        && hash.version == Some(Version::V0x13.into())
        && params.m_cost() >= MEMORY_KIB
        && params.t_cost() >= ITERATIONS
}

/// Checks a new password against the policy: long enough, not absurdly long, not a common
/// password. No composition rules.
pub fn check_policy(password: &str) -> Result<(), &'static str> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err("Use at least 12 characters.");
    }
    if length > MAX_LENGTH {
        return Err("Use at most 256 characters.");
    }
    let lowered = password.to_lowercase();
    if COMMON_PASSWORDS.iter().any(|common| *common == lowered)
        || lowered
            .chars()
            .all(|c| c == lowered.chars().next().unwrap_or(' '))
    {
        return Err("This password is too common; choose another.");
    }
    Ok(())
}

/// Common passwords of twelve characters or more, from public breach lists.
const COMMON_PASSWORDS: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789123",
    "1234567891011",
    "password1234",
    "password12345",
    "password123456",
    "passwordpassword",
    "password123!",
    "qwertyuiopas",
    "qwertyuiop123",
    "qwerty123456",
    "qwertyuiopasdfgh",
    "1qaz2wsx3edc",
    "1q2w3e4r5t6y",
    "q1w2e3r4t5y6",
    "zaq12wsxcde3",
    "iloveyou1234",
    "abcdefghijkl",
    "abc123456789",
    "abcd12345678",
    "111111111111",
    "000000000000",
    "123123123123",
    "987654321098",
    "welcome12345",
    "welcome123456",
    "letmein12345",
    "changeme1234",
    "administrator",
    "administrator1",
    "adminadmin123",
    "trustno1trustno1",
    "football1234",
    "baseball1234",
    "superman1234",
    "princess1234",
    "sunshine1234",
    "starwars1234",
    "monkey123456",
    "dragon123456",
    "michael12345",
    "computer1234",
    "internet1234",
    "corvette1234",
    "mercedes1234",
    "whatever1234",
    "1234qwerasdf",
    "qwerasdfzxcv",
    "asdfghjkl123",
    "zxcvbnm12345",
    "passw0rd1234",
    "p@ssw0rd1234",
    "p@ssword1234",
    "summer2024!!",
    "winter2024!!",
    "spring2025!!",
    "autumn2025!!",
    "password2024",
    "password2025",
    "password2026",
    "trellis12345",
    "trellispassword",
    "correcthorsebatterystaple",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_uses_argon2id_at_the_owasp_parameters_and_verifies() {
        let stored = hash("a long enough passphrase".into()).await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert_eq!(
            verify("a long enough passphrase".into(), Some(stored.clone()))
                .await
                .unwrap(),
            Verified::Yes
        );
        assert_eq!(
            verify("another passphrase".into(), Some(stored))
                .await
                .unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn a_weaker_hash_verifies_but_asks_to_be_replaced() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let stored = weak
            .hash_password(b"a long enough passphrase", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            verify("a long enough passphrase".into(), Some(stored))
                .await
                .unwrap(),
            Verified::YesButRehash
        );
    }

    #[tokio::test]
    async fn without_a_stored_hash_nothing_verifies() {
        assert_eq!(
            verify("a password that no account has".into(), None)
                .await
                .unwrap(),
            Verified::No
        );
    }

    #[test]
    fn the_policy_wants_twelve_characters_and_no_common_password() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("Password1234").is_err());
        assert!(check_policy("aaaaaaaaaaaaaaa").is_err());
        assert!(check_policy(&"x".repeat(300)).is_err());
        assert!(check_policy("tulip meadow lantern").is_ok());
        assert!(check_policy("ÄÖÜäöüßéèêëì").is_ok());
    }
}

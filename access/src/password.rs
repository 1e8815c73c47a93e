//! Password hashing: Argon2id (RFC 9106) with the `argon2` crate's defaults (OWASP
//! Password Storage: m = 19 MiB, t = 2, p = 1), stored as PHC strings, and the rules a new
//! password must meet.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

/// Shortest password accepted, characters (NIST SP 800-63B §5.1.1.2: at least 8).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, characters (hashing cost must stay bounded).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Why a new password is refused (the message is shown to the user, in Russian).
pub fn password_problem(login: &str, password: &str) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        Some(format!("пароль короче {MIN_PASSWORD_CHARS} символов"))
    } else if n > MAX_PASSWORD_CHARS {
        Some(format!("пароль длиннее {MAX_PASSWORD_CHARS} символов"))
    } else if password.trim().to_lowercase() == login.trim().to_lowercase() {
        Some("пароль совпадает с логином".into())
    } else {
        None
    }
}

/// Hashes `password` with a fresh random 16-byte salt into a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$…$…`). Errors: the hasher's message (not expected).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `phc` (parameters are read from the string,
/// so hashes made with older settings still verify). A malformed `phc` never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A PHC string of a random password, verified against when the login does not exist, so
/// a wrong login takes as long to refuse as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut pw = [0u8; 24];
        rand::rng().fill_bytes(&mut pw);
        hash_password(&format!("{pw:?}")).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hash_verifies_and_is_salted_phc() {
        let a = hash_password("Секретный пароль 1").unwrap();
        let b = hash_password("Секретный пароль 1").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify_password("Секретный пароль 1", &a));
        assert!(!verify_password("Секретный пароль 2", &a));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn password_rules() {
        assert!(password_problem("ivanov", "1234567").is_some());
        assert!(password_problem("ivanov", "12345678").is_none());
        assert!(password_problem("ivanov12", "IVANOV12").is_some());
        assert!(password_problem("a", &"x".repeat(257)).is_some());
    }
}

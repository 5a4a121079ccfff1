//! Argon2id password hashing. Verification of an unknown user still runs a full hash against a
//! fixed dummy, so the time of a failed login does not say whether the user exists.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};

static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash("not a real password, only for timing"));

/// A PHC string: `$argon2id$v=19$m=19456,t=2,p=1$...`.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters cannot fail")
        .to_string()
}

/// Checks `password` against `stored`, or against the dummy when there is no account.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let (phc, real) = match stored {
        Some(phc) => (phc, true),
        None => (DUMMY_HASH.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && real
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify_and_unknown_users_never_do() {
        let phc = super::hash("correct horse battery");
        assert!(phc.starts_with("$argon2id$"));
        assert!(super::verify("correct horse battery", Some(&phc)));
        assert!(!super::verify("wrong horse battery", Some(&phc)));
        assert!(!super::verify("not a real password, only for timing", None));
    }
}

//! Staff roles and the rules for usernames and passwords. No I/O.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Pre-reviews the photographed documents.
    Reviewer,
    /// Receives the couriered originals and checks them against the photos.
    Reception,
    /// Records the department's decision.
    Approver,
    /// Manages staff accounts and reads the audit log.
    Admin,
    /// Files for residents at a village service point; holds no other role.
    Agent,
}

pub const ALL_ROLES: [Role; 5] = [
    Role::Reviewer,
    Role::Reception,
    Role::Approver,
    Role::Admin,
    Role::Agent,
];

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reviewer => "reviewer",
            Self::Reception => "reception",
            Self::Approver => "approver",
            Self::Admin => "admin",
            Self::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ALL_ROLES.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `a,b` as stored, to roles; unknown names are dropped.
pub fn parse_roles(stored: &str) -> Vec<Role> {
    let mut roles: Vec<Role> = stored.split(',').filter_map(Role::parse).collect();
    roles.sort();
    roles.dedup();
    roles
}

/// `a,b` as stored (a member's departments), to a list.
pub fn split_list(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn join_roles(roles: &[Role]) -> String {
    let mut names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    names.sort();
    names.dedup();
    names.join(",")
}

/// Usernames: 3-64 lower-case letters, digits, `.`, `_` or `-`; compared lower-cased.
pub fn normalize_username(input: &str) -> Result<String, &'static str> {
    let name = input.trim().to_lowercase();
    let valid = (3..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(name)
    } else {
        Err("must be 3-64 letters, digits, '.', '_' or '-'")
    }
}

/// Passwords: at least 12 characters and not all one kind of character.
pub fn check_password(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < 12 {
        return Err("must be at least 12 characters");
    }
    if password.chars().count() > 256 {
        return Err("must be at most 256 characters");
    }
    let first = password.chars().next().unwrap_or(' ');
    if password.chars().all(|c| c == first) {
        return Err("must not repeat one character");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_unknown_names_drop() {
        assert_eq!(
            parse_roles("admin,reviewer,bogus,admin"),
            [Role::Reviewer, Role::Admin]
        );
        assert_eq!(join_roles(&[Role::Admin, Role::Reviewer]), "admin,reviewer");
    }

    #[test]
    fn usernames_and_passwords_follow_the_rules() {
        assert_eq!(normalize_username(" Li.Ming ").unwrap(), "li.ming");
        assert!(normalize_username("a b").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("aaaaaaaaaaaaaa").is_err());
        assert!(check_password("correct horse battery").is_ok());
    }
}

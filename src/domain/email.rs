//! An email address a notification can go to. Parsed by lettre, so anything accepted here is
//! also something the mailer can address.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        if raw.len() > 254 {
            return Err("must be at most 254 characters");
        }
        raw.parse::<lettre::Address>()
            .map(|a| Self(a.to_string()))
            .map_err(|_| "must be an email address such as name@example.com")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `zhang.san@example.com` -> `z***@example.com`, for anyone but its owner.
    pub fn masked(stored: &str) -> String {
        match stored.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".into(),
        }
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_plain_address_and_masks_it() {
        let email = EmailAddress::parse(" zhang.san@example.com ").unwrap();
        assert_eq!(email.as_str(), "zhang.san@example.com");
        assert_eq!(EmailAddress::masked(email.as_str()), "z***@example.com");
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in ["", "no-at-sign", "a@", "@example.com", "a b@example.com"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }
}

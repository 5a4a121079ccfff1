//! A mainland China mobile number: 11 digits starting 13–19. `+86`/`86` prefixes, spaces and
//! hyphens are accepted on input and dropped.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let digits: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let digits = digits
            .strip_prefix("+86")
            .or_else(|| digits.strip_prefix("0086"))
            .unwrap_or(&digits);
        let valid = digits.len() == 11
            && digits.bytes().all(|b| b.is_ascii_digit())
            && digits.starts_with('1')
            && (b'3'..=b'9').contains(&digits.as_bytes()[1]);
        if valid {
            Ok(Self(digits.to_string()))
        } else {
            Err("must be an 11-digit mainland mobile number, e.g. 13800138000")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****8000`, for places that show a number to someone other than its owner.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

// Never print the number itself: it would end up in logs.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::PhoneNumber;

    #[test]
    fn accepts_mainland_mobiles_with_common_decorations() {
        for ok in [
            "13800138000",
            "+86 138-0013-8000",
            "0086 19912345678",
            "15012345678",
        ] {
            assert!(PhoneNumber::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            PhoneNumber::parse("+8613800138000").unwrap().as_str(),
            "13800138000"
        );
    }

    #[test]
    fn refuses_landlines_short_numbers_and_letters() {
        for bad in [
            "",
            "12800138000",
            "1380013800",
            "138001380000",
            "010-12345678",
            "1380013800a",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_output_is_masked() {
        let p = PhoneNumber::parse("13800138000").unwrap();
        assert_eq!(format!("{p:?}"), "PhoneNumber(138****8000)");
    }
}

//! The 18-digit resident identity number (居民身份证号, GB 11643-1999): a 6-digit region code, a
//! birth date, a 3-digit sequence and an ISO 7064 MOD 11-2 check character (0-9 or X).

use std::fmt;

use chrono::NaiveDate;

#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

impl IdNumber {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let value = input.trim().to_ascii_uppercase();
        let bytes = value.as_bytes();
        if bytes.len() != 18
            || !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        {
            return Err("must be 18 characters: 17 digits and a check digit or X");
        }
        if !(b'1'..=b'8').contains(&bytes[0]) {
            return Err("does not start with a valid region code");
        }
        let birth = NaiveDate::parse_from_str(&value[6..14], "%Y%m%d")
            .map_err(|_| "does not contain a valid birth date")?;
        if birth.year_ce().1 < 1900 || birth > chrono::Utc::now().date_naive() {
            return Err("does not contain a valid birth date");
        }
        let sum: u32 = bytes[..17]
            .iter()
            .zip(WEIGHTS)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        if CHECK[(sum % 11) as usize] != bytes[17] {
            return Err("check digit does not match");
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `110105********123X`: region and last four, for anyone but the owner.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }
}

use chrono::Datelike;

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::IdNumber;

    #[test]
    fn accepts_numbers_with_a_correct_check_digit() {
        // The standard's own example, and one ending in X.
        assert!(IdNumber::parse("11010519491231002X").is_ok());
        assert!(
            IdNumber::parse("440524188001010014").is_err(),
            "born before 1900"
        );
        assert!(
            IdNumber::parse("110105194912310021").is_err(),
            "wrong check digit"
        );
        assert_eq!(
            IdNumber::parse("11010519491231002x").unwrap().as_str(),
            "11010519491231002X"
        );
    }

    #[test]
    fn refuses_bad_dates_lengths_and_regions() {
        for bad in [
            "",
            "1101051949123100",
            "110105194913310020",
            "010105194912310021",
            "11010519491231002Y",
        ] {
            assert!(IdNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn masks_all_but_region_and_last_four() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.masked(), "110105********002X");
        assert!(!format!("{id:?}").contains("19491231"));
    }
}

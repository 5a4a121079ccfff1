//! Filing by an agent at a village service point: how a resident authorizes the agent, when an
//! authorization counts, and the short confirmation codes. No I/O.

use chrono::{DateTime, Utc};
use rand::Rng;

/// The material that holds the signed form of an agent-filed case: the catalogue's own
/// (optional for a relative filing in person), required for such a case, or added to an item
/// without one.
pub const FORM_CODE: &str = "power-of-attorney";
pub const FORM_NAME: &str = "授权委托书";

/// How the resident authorizes the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The resident confirms in the mini-program with a short code the agent shows.
    MiniProgram,
    /// A photographed, signed authorization form, which pre-review must accept.
    SignedForm,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MiniProgram => "mini_program",
            Self::SignedForm => "signed_form",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::MiniProgram, Self::SignedForm]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// Where an authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Waiting for the resident's confirmation (a code) or for pre-review to accept the form.
    Pending,
    Granted,
    Revoked,
    Expired,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Granted => "granted",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }

    /// The standing at `now` of an authorization granted at `granted`, expiring at `expires`
    /// and revoked at `revoked`.
    pub fn of(
        granted: Option<DateTime<Utc>>,
        expires: Option<DateTime<Utc>>,
        revoked: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        if revoked.is_some() {
            Self::Revoked
        } else if expires.is_some_and(|e| e <= now) {
            Self::Expired
        } else if granted.is_some() {
            Self::Granted
        } else {
            Self::Pending
        }
    }

    /// Whether a case may be submitted under it: a granted one; for a signed form, a pending
    /// one too, since pre-review is where the form is accepted.
    pub fn lets_submit(self, method: Method) -> bool {
        match self {
            Self::Granted => true,
            Self::Pending => method == Method::SignedForm,
            Self::Revoked | Self::Expired => false,
        }
    }
}

/// Letters and digits a resident can read off a screen and type without confusing them
/// (Crockford's base 32: no I, L, O or U).
const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const CODE_LEN: usize = 8;

/// A fresh confirmation code: 8 symbols, 40 bits.
pub fn new_code() -> String {
    let mut rng = rand::thread_rng();
    (0..CODE_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A code as a resident typed it (any case, with spaces or dashes, `O` for `0`, `I`/`L` for
/// `1`), in the form it was issued; `None` when it cannot be one.
pub fn normalize_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn codes_are_eight_readable_symbols_and_typing_slips_are_forgiven() {
        let code = new_code();
        assert_eq!(code.len(), CODE_LEN);
        assert_eq!(normalize_code(&code).as_deref(), Some(code.as_str()));
        assert_eq!(normalize_code("abcd-ef0o").as_deref(), Some("ABCDEF00"));
        assert_eq!(normalize_code("1l1i 2345").as_deref(), Some("11112345"));
        assert_eq!(normalize_code("ABCDEFG"), None);
        assert_eq!(normalize_code("ABCDEFGU"), None);
    }

    #[test]
    fn standing_follows_revocation_then_expiry_then_grant() {
        let now = Utc::now();
        let later = now + Duration::days(1);
        let earlier = now - Duration::days(1);
        assert_eq!(Standing::of(None, None, None, now), Standing::Pending);
        assert_eq!(
            Standing::of(Some(earlier), Some(later), None, now),
            Standing::Granted
        );
        assert_eq!(
            Standing::of(Some(earlier), Some(earlier), None, now),
            Standing::Expired
        );
        assert_eq!(
            Standing::of(Some(earlier), Some(later), Some(now), now),
            Standing::Revoked
        );
        assert!(Standing::Pending.lets_submit(Method::SignedForm));
        assert!(!Standing::Pending.lets_submit(Method::MiniProgram));
        assert!(!Standing::Expired.lets_submit(Method::SignedForm));
    }
}

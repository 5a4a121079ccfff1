//! Drop codes: what a citizen writes on (or prints for) the envelope of originals left in the
//! centre's 24-hour box, and reception types or scans when it empties the box. Eight characters
//! of Crockford's Base32 (no I, L, O or U), shown as `XXXX-XXXX`; what reception types is read
//! forgivingly (case, spaces, dashes, and O, I, L for 0, 1, 1).

use rand::Rng as _;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const LEN: usize = 8;

/// A new random drop code, as stored (no dash).
pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    (0..LEN)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// The code a typed or scanned text stands for, as stored; `None` when it cannot be one.
pub fn normalize(typed: &str) -> Option<String> {
    let mut code = String::with_capacity(LEN);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' | '\t' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        code.push(c);
    }
    (code.len() == LEN).then_some(code)
}

/// How a code is shown and printed: `XXXX-XXXX`.
pub fn display(code: &str) -> String {
    match code.split_at_checked(LEN / 2) {
        Some((a, b)) => format!("{a}-{b}"),
        None => code.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_back_however_it_is_typed() {
        for _ in 0..100 {
            let code = generate();
            assert_eq!(code.len(), LEN);
            assert_eq!(normalize(&code).as_deref(), Some(code.as_str()));
            assert_eq!(normalize(&display(&code)).as_deref(), Some(code.as_str()));
            assert_eq!(
                normalize(&display(&code).to_lowercase()).as_deref(),
                Some(code.as_str())
            );
        }
        assert_eq!(normalize("k7m2 9qxo").as_deref(), Some("K7M29QX0"));
        assert_eq!(normalize("iL00-ABCD").as_deref(), Some("1100ABCD"));
        assert_eq!(display("K7M29QX0"), "K7M2-9QX0");
    }

    #[test]
    fn what_cannot_be_a_code_is_refused() {
        for typed in [
            "",
            "K7M2-9QX",
            "K7M2-9QX01",
            "K7M2-9QXU",
            "K7M2-9QX!",
            "K7M2-9Q文0",
        ] {
            assert_eq!(normalize(typed), None, "{typed}");
        }
    }
}

//! The clock-time settings' formats: a UTC offset (`+08:00`), a local time (`09:30`) and a
//! window (`09:00-12:00`). Validation and the schedules that read them parse the same way.

/// `+08:00` -> UTC+8.
pub fn parse_utc_offset(text: &str) -> Option<chrono::FixedOffset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 14 || m > 59 || h < 0 || m < 0 {
        return None;
    }
    chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// `09:30` -> 09:30.
pub fn parse_local_time(text: &str) -> Option<chrono::NaiveTime> {
    chrono::NaiveTime::parse_from_str(text, "%H:%M").ok()
}

/// `09:00-12:00` -> (09:00, 12:00), the end after the start.
pub fn parse_slot(text: &str) -> Option<(chrono::NaiveTime, chrono::NaiveTime)> {
    let (from, until) = text.split_once('-')?;
    let (from, until) = (
        parse_local_time(from.trim())?,
        parse_local_time(until.trim())?,
    );
    (from < until).then_some((from, until))
}

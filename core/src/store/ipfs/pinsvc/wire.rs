//! The API's JSON objects and their checks, and RFC 3339 times (for paging by `before`).

use std::collections::HashMap;

use serde::Deserialize;

use super::exchange::Answer;
use super::{
    PinServiceError, PinServiceResult, PinState, PinningService, RemotePin, check_request_id,
};
use crate::block::Cid;

#[derive(Deserialize)]
pub(super) struct WirePin {
    pub(super) cid: String,
    #[serde(default)]
    pub(super) name: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WirePinStatus {
    pub(super) requestid: String,
    pub(super) status: String,
    pub(super) created: String,
    pub(super) pin: WirePin,
    #[serde(default)]
    pub(super) delegates: Option<Vec<String>>,
    #[serde(default)]
    pub(super) info: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
pub(super) struct WirePinResults {
    #[serde(default)]
    pub(super) results: Option<Vec<WirePinStatus>>,
}

#[derive(Deserialize)]
pub(super) struct WireFailure {
    pub(super) error: WireFailureBody,
}

#[derive(Deserialize)]
pub(super) struct WireFailureBody {
    pub(super) reason: String,
    #[serde(default)]
    pub(super) details: Option<String>,
}

impl PinningService {
    pub(super) fn decode_pin(&self, answer: &Answer, what: &str) -> PinServiceResult<RemotePin> {
        let w: WirePinStatus = serde_json::from_slice(&answer.body).map_err(|e| {
            PinServiceError::Malformed(format!("{what}: {}", self.clean(&e.to_string())))
        })?;
        self.convert(w, what)
    }

    pub(super) fn convert(&self, w: WirePinStatus, what: &str) -> PinServiceResult<RemotePin> {
        let state = PinState::parse(&w.status).ok_or_else(|| {
            PinServiceError::Malformed(format!(
                "{what}: unknown status {:?}",
                self.clean(&w.status)
            ))
        })?;
        let cid = Cid::try_from(w.pin.cid.as_str()).map_err(|_| {
            PinServiceError::Malformed(format!(
                "{what}: unreadable CID {:?}",
                self.clean(&w.pin.cid)
            ))
        })?;
        check_request_id(&w.requestid)
            .map_err(|_| PinServiceError::Malformed(format!("{what}: bad requestid")))?;
        let mut info: Vec<(String, String)> = w
            .info
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (self.clean(&k), self.clean(&v)))
            .collect();
        info.sort();
        Ok(RemotePin {
            request_id: w.requestid,
            state,
            created: w.created,
            cid,
            name: w.pin.name.filter(|n| !n.is_empty()),
            delegates: w.delegates.unwrap_or_default(),
            info,
        })
    }
}

/// An instant as (seconds since 1970, nanoseconds), comparable.
pub(super) type Timestamp = (i64, u32);

/// Parses an RFC 3339 time (`2024-01-02T03:04:05.123456789Z`, or with an offset `+02:00`).
pub(super) fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let m = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' { m } else { -m }
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hour * 3600 + min * 60 + sec - offset, nanos))
}

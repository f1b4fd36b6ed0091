//! What the index stores per key: a value (or a tombstone) stamped with a hybrid logical clock
//! time and the id of the writer that made the change.

use std::cmp::Ordering;
use std::fmt;

/// A hybrid logical clock time (Kulkarni et al., 2014): 48 bits of wall-clock milliseconds since
/// the Unix epoch, then a 16-bit logical counter, packed into one `u64` so that the integer
/// order is the clock order.
///
/// The clock never reads the system time itself (wasm32 has none): callers pass `now_ms`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hlc(u64);

const WALL_MAX: u64 = (1 << 48) - 1;

impl Hlc {
    /// The smallest time.
    pub const ZERO: Hlc = Hlc(0);
    /// The greatest time.
    pub const MAX: Hlc = Hlc(u64::MAX);

    /// A time of `wall_ms` milliseconds (saturated to 48 bits) and logical `counter`.
    pub fn new(wall_ms: u64, counter: u16) -> Self {
        Hlc((wall_ms.min(WALL_MAX) << 16) | u64::from(counter))
    }

    /// The packed form, as stored in index nodes.
    pub fn from_u64(packed: u64) -> Self {
        Hlc(packed)
    }

    /// The packed form, as stored in index nodes.
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The wall-clock part, in milliseconds since the Unix epoch.
    pub fn wall_ms(self) -> u64 {
        self.0 >> 16
    }

    /// The logical counter.
    pub fn counter(self) -> u16 {
        (self.0 & 0xffff) as u16
    }

    /// The time of a local event after `self`, given the wall clock `now_ms`: always greater
    /// than `self`, and at least `now_ms` when the clock moved forward.
    #[must_use]
    pub fn tick(self, now_ms: u64) -> Hlc {
        let now = now_ms.min(WALL_MAX);
        if now > self.wall_ms() {
            Hlc::new(now, 0)
        } else {
            self.bump()
        }
    }

    /// The time of receiving a message stamped `remote`, given the wall clock `now_ms`: greater
    /// than both `self` and `remote`.
    #[must_use]
    pub fn observe(self, remote: Hlc, now_ms: u64) -> Hlc {
        let now = now_ms.min(WALL_MAX);
        let top = self.max(remote);
        if now > top.wall_ms() {
            Hlc::new(now, 0)
        } else {
            top.bump()
        }
    }

    /// The next time: counter plus one, carrying into the wall-clock part on overflow.
    fn bump(self) -> Hlc {
        Hlc(self.0.saturating_add(1))
    }
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hlc({}ms+{})", self.wall_ms(), self.counter())
    }
}

/// The id of a writer (a device): 16 bytes, e.g. the first half of the BLAKE3 hash of its
/// signing key. Ties between equal times are broken by comparing writer ids.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct WriterId(pub [u8; 16]);

impl fmt::Debug for WriterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WriterId(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// The value stored under a key: opaque bytes that the vault layer fills (an object manifest's
/// CID, a version record) or a tombstone, stamped with the time and writer of the change.
///
/// Entries are totally ordered by (time, writer, tombstone, value): a merge keeps the greatest,
/// so concurrent changes resolve the same way on every device. A delete at the same time and
/// writer as a put wins (the tombstone compares greater), which only happens with a buggy writer.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// When the change was made.
    pub time: Hlc,
    /// Who made it.
    pub writer: WriterId,
    /// The value, or `None` for a tombstone (the key was deleted).
    pub value: Option<Vec<u8>>,
}

impl Entry {
    /// A live entry holding `value`.
    pub fn live(value: impl Into<Vec<u8>>, time: Hlc, writer: WriterId) -> Self {
        Entry {
            time,
            writer,
            value: Some(value.into()),
        }
    }

    /// A tombstone: the key was deleted at `time` by `writer`.
    pub fn tombstone(time: Hlc, writer: WriterId) -> Self {
        Entry {
            time,
            writer,
            value: None,
        }
    }

    /// Whether this entry records a delete.
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// The value bytes, or `None` for a tombstone.
    pub fn value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.writer)
            .cmp(&(other.time, other.writer))
            .then_with(|| match (&self.value, &other.value) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Entry {
    // Values are user data: show their length, not their bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Entry");
        d.field("time", &self.time).field("writer", &self.writer);
        match &self.value {
            Some(v) => d.field("value_len", &v.len()),
            None => d.field("tombstone", &true),
        };
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hlc_ticks_forward_and_observes() {
        let t0 = Hlc::new(1000, 0);
        let t1 = t0.tick(900); // wall clock went backwards
        assert!(t1 > t0);
        assert_eq!(t1.wall_ms(), 1000);
        assert_eq!(t1.counter(), 1);
        let t2 = t1.tick(2000);
        assert_eq!((t2.wall_ms(), t2.counter()), (2000, 0));
        let remote = Hlc::new(5000, 7);
        let t3 = t2.observe(remote, 3000);
        assert!(t3 > remote && t3 > t2);
        assert_eq!((t3.wall_ms(), t3.counter()), (5000, 8));
        assert_eq!(Hlc::new(1, u16::MAX).tick(0), Hlc::new(2, 0));
    }

    #[test]
    fn entry_order_is_time_writer_then_tombstone() {
        let w1 = WriterId([1; 16]);
        let w2 = WriterId([2; 16]);
        let t = Hlc::new(10, 0);
        assert!(Entry::live("a", t, w2) > Entry::live("z", t, w1));
        assert!(Entry::live("a", t.tick(0), w1) > Entry::live("z", t, w2));
        assert!(Entry::tombstone(t, w1) > Entry::live("z", t, w1));
        assert!(!format!("{:?}", Entry::live("secret", t, w1)).contains("secret"));
    }
}

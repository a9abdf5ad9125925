//! The bytes the load generator sends, deterministic per (connection, message index), so
//! that every echoed byte can be checked.
//!
//! Messages are windows into one pseudo-random pool, at an offset hashed from the connection
//! and the message index: making a message costs nothing, checking one is a `memcmp`, and
//! bytes that come back on the wrong connection, out of order, or from an earlier message
//! differ from the expected ones.

/// The largest message a [`Pattern`] serves.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// How many distinct offsets a message may start at.
const OFFSETS: usize = 1 << 20;

/// The source of every message's bytes.
#[derive(Debug)]
pub struct Pattern {
    pool: Vec<u8>,
}

impl Pattern {
    /// Builds the pool (1 MiB and a bit, from a fixed seed: the same on every run).
    pub fn new() -> Pattern {
        let mut state = 0x5eed_u64;
        let mut pool = Vec::with_capacity(OFFSETS + MAX_MESSAGE);
        while pool.len() < OFFSETS + MAX_MESSAGE {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            pool.extend_from_slice(&mix(state).to_le_bytes());
        }
        Pattern { pool }
    }

    /// The `len` bytes of message `index` on connection `connection`.
    ///
    /// # Panics
    ///
    /// If `len` is over [`MAX_MESSAGE`].
    pub fn message(&self, connection: u64, index: u64, len: usize) -> &[u8] {
        assert!(len <= MAX_MESSAGE, "messages are at most {MAX_MESSAGE} bytes");
        let hash = mix(connection.rotate_left(32) ^ index ^ 0xa076_1d64_78bd_642f);
        let offset = (hash % OFFSETS as u64) as usize;
        &self.pool[offset..offset + len]
    }
}

impl Default for Pattern {
    fn default() -> Pattern {
        Pattern::new()
    }
}

/// SplitMix64's finaliser: a cheap, well-mixing bijection on `u64`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Where `received` first differs from `expected`, if it does (compared up to the shorter).
pub fn first_difference(received: &[u8], expected: &[u8]) -> Option<usize> {
    if received == &expected[..received.len().min(expected.len())] {
        return None;
    }
    received.iter().zip(expected).position(|(a, b)| a != b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_deterministic_and_distinct() {
        let (a, b) = (Pattern::new(), Pattern::new());
        assert_eq!(a.message(3, 7, 64), b.message(3, 7, 64));
        assert_ne!(a.message(3, 7, 64), a.message(3, 8, 64));
        assert_ne!(a.message(3, 7, 64), a.message(4, 7, 64));
        assert_eq!(a.message(0, 0, MAX_MESSAGE).len(), MAX_MESSAGE);
    }

    #[test]
    fn first_difference_finds_the_byte() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abx", b"abc"), Some(2));
    }
}

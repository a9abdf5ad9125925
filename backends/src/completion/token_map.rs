//! `TokenMap`: a hash map keyed by [`Token`], for the operations and sockets a completion
//! driver or runtime keeps by token. Tokens are small integers chosen by the caller, not
//! input from a peer, so the standard library's DoS-resistant SipHash (which cost more
//! than a whole echo round trip's own work on `uring`) buys nothing here.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::Token;

/// A map keyed by [`Token`] with [`TokenHasher`].
pub type TokenMap<V> = HashMap<Token, V, BuildHasherDefault<TokenHasher>>;

/// A hasher for integer keys: one multiply by an odd constant (Fx hashing), which spreads
/// the low bits that tokens differ in over the high bits the map's probing looks at.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokenHasher(u64);

/// The Fx hash's multiplier (the golden ratio's 64-bit odd neighbour).
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(SEED);
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_tokens_spread_over_the_high_bits() {
        let hash = |token: usize| {
            let mut hasher = TokenHasher::default();
            hasher.write_usize(token);
            hasher.finish() >> 57
        };
        let distinct: std::collections::HashSet<u64> = (0..64).map(hash).collect();
        assert!(distinct.len() > 32, "{distinct:?}");
    }

    #[test]
    fn a_map_finds_what_it_holds() {
        let mut map = TokenMap::default();
        for token in (0..10_000).map(Token) {
            map.insert(token, token.0 * 2);
        }
        assert!((0..10_000).all(|index| map[&Token(index)] == index * 2));
    }
}

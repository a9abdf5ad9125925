//! `InFlightTable`: the ring's operations in flight, by token.
//!
//! Every operation is looked up twice (started, reaped), so the lookup is on the path of
//! every message. The runtime's tokens are the indices of its operation slots, small and
//! reused, so they index a vector directly; the others (the readiness adapter's, whose
//! tokens have the top bits set, or a third party's) go to a hash map.

use crate::Token;
use crate::completion::TokenMap;

use super::in_flight::InFlight;

/// Tokens below this index the vector; at 8 bytes a slot, its largest is half a MiB.
const DENSE_TOKENS: usize = 1 << 16;

/// The boxes of the operations in flight, by token.
#[derive(Default)]
pub(super) struct InFlightTable {
    /// `dense[token]` for tokens below [`DENSE_TOKENS`]; grown to the largest seen.
    #[allow(clippy::vec_box)]
    dense: Vec<Option<Box<InFlight>>>,
    sparse: TokenMap<Box<InFlight>>,
    len: usize,
}

impl InFlightTable {
    pub(super) fn contains(&self, token: Token) -> bool {
        self.get(token).is_some()
    }

    pub(super) fn get(&self, token: Token) -> Option<&InFlight> {
        match self.dense.get(token.0) {
            Some(slot) => slot.as_deref(),
            None if token.0 < DENSE_TOKENS => None,
            None => self.sparse.get(&token).map(|boxed| &**boxed),
        }
    }

    /// Holds `boxed` under `token`, which must not be in the table.
    pub(super) fn insert(&mut self, token: Token, boxed: Box<InFlight>) {
        if token.0 < DENSE_TOKENS {
            if self.dense.len() <= token.0 {
                self.dense.resize_with(token.0 + 1, || None);
            }
            let previous = self.dense[token.0].replace(boxed);
            debug_assert!(previous.is_none(), "token {token:?} was in flight already");
        } else {
            let previous = self.sparse.insert(token, boxed);
            debug_assert!(previous.is_none(), "token {token:?} was in flight already");
        }
        self.len += 1;
    }

    pub(super) fn remove(&mut self, token: Token) -> Option<Box<InFlight>> {
        let removed = match self.dense.get_mut(token.0) {
            Some(slot) => slot.take(),
            None if token.0 < DENSE_TOKENS => None,
            None => self.sparse.remove(&token),
        };
        self.len -= usize::from(removed.is_some());
        removed
    }

    /// Keeps only the operations for which `keep` says so.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&InFlight) -> bool) {
        for slot in &mut self.dense {
            if slot.as_deref().is_some_and(|held| !keep(held)) {
                *slot = None;
                self.len -= 1;
            }
        }
        let before = self.sparse.len();
        self.sparse.retain(|_, held| keep(held));
        self.len -= before - self.sparse.len();
    }

    pub(super) fn tokens(&self) -> Vec<Token> {
        let dense = self.dense.iter().enumerate().filter(|(_, slot)| slot.is_some());
        dense.map(|(index, _)| Token(index)).chain(self.sparse.keys().copied()).collect()
    }

    /// Takes every box out.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = Box<InFlight>> + '_ {
        self.len = 0;
        self.dense.drain(..).flatten().chain(self.sparse.drain().map(|(_, boxed)| boxed))
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_tokens_are_found_counted_and_removed() {
        let mut table = InFlightTable::default();
        let tokens = [
            Token(0),
            Token(3),
            Token(DENSE_TOKENS - 1),
            Token(DENSE_TOKENS),
            Token(usize::MAX >> 1),
        ];
        for token in tokens {
            assert!(!table.contains(token));
            table.insert(token, InFlight::new());
            assert!(table.contains(token));
        }
        assert_eq!(table.len(), tokens.len());
        assert!(!table.contains(Token(1)));
        assert!(table.remove(Token(1)).is_none());
        let mut listed = table.tokens();
        listed.sort_by_key(|token| token.0);
        assert_eq!(listed, tokens);
        assert!(table.remove(Token(3)).is_some());
        assert!(table.remove(Token(3)).is_none());
        assert!(table.remove(Token(DENSE_TOKENS)).is_some());
        assert_eq!(table.len(), tokens.len() - 2);
        let mut seen = 0;
        table.retain(|_| {
            seen += 1;
            seen != 1
        });
        assert_eq!(table.len(), tokens.len() - 3);
        assert_eq!(table.drain().count(), tokens.len() - 3);
        assert!(table.is_empty());
    }
}

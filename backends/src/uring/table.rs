//! `InFlightTable`: the ring's operations in flight, by token.
//!
//! Every operation is looked up twice (started, reaped), so the lookup is on the path of
//! every message. The runtime's tokens are the indices of its operation slots, small and
//! reused, so they index a vector directly; the others (the readiness adapter's, whose
//! tokens have the top bits set, or a third party's) go to a hash map.
//!
//! `SpareBoxes`: finished boxes kept for the next operations, so that a steady loop
//! allocates nothing.

use crate::Token;
use crate::completion::TokenMap;

use super::in_flight::InFlight;

/// Tokens below this index the vector; at 8 bytes a slot, its largest is half a MiB.
const DENSE_TOKENS: usize = 1 << 16;

/// Boxes kept at most; beyond, a finished operation's box is freed.
const SPARE_BOXES: usize = 4096;

/// Finished boxes, in two piles: those that carry address memory and those that do not.
///
/// A connection's receives and sends take plain boxes, so that the address memory an
/// accept left in its box (a few hundred bytes) is not carried by the receive every idle
/// connection of a completion-driven server keeps in flight; accepts, connects and
/// datagrams take the addressed ones and make no new address memory.
#[derive(Default)]
pub(super) struct SpareBoxes {
    #[allow(clippy::vec_box)]
    plain: Vec<Box<InFlight>>,
    #[allow(clippy::vec_box)]
    addressed: Vec<Box<InFlight>>,
}

impl SpareBoxes {
    /// A box for an operation that needs address memory (`addressed`) or not: one of the
    /// right pile if there is one, else of the other, else a new one. A plain operation
    /// never gets address memory: taken from the other pile, the box lets go of it.
    pub(super) fn take(&mut self, addressed: bool) -> Box<InFlight> {
        if addressed {
            self.addressed.pop().or_else(|| self.plain.pop()).unwrap_or_else(InFlight::new)
        } else if let Some(plain) = self.plain.pop() {
            plain
        } else {
            self.addressed.pop().map_or_else(InFlight::new, InFlight::without_addressing)
        }
    }

    /// Keeps a finished box for later, unless enough are kept already.
    pub(super) fn keep(&mut self, boxed: Box<InFlight>) {
        let pile = if boxed.is_addressed() { &mut self.addressed } else { &mut self.plain };
        if pile.len() < SPARE_BOXES {
            pile.push(boxed);
        }
    }

    /// How many boxes are kept: (plain, addressed).
    #[cfg(test)]
    pub(super) fn counts(&self) -> (usize, usize) {
        (self.plain.len(), self.addressed.len())
    }
}

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
        assert_eq!(table.drain().count(), tokens.len() - 2);
        assert!(table.is_empty());
    }
}

//! The vocabulary a backend and the reactor above it share: tokens, interests, readiness and
//! the reusable event buffer.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// Identifies a registration in the events a backend reports.
///
/// The reactor chooses tokens; a backend hands them back unchanged. The value
/// [`Token::RESERVED`] (`usize::MAX`) belongs to backends for their own use (a waker's
/// registration, say): `register` refuses it and the reactor never uses it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub usize);

impl Token {
    /// The one token value a backend may use internally; never given to `register`.
    pub const RESERVED: Token = Token(usize::MAX);
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({:#x})", self.0)
    }
}

/// The directions a registration asks to be told about.
///
/// An empty interest is valid in [`reregister`](crate::Backend::reregister): the source stays
/// registered and nothing is reported for it until it is re-armed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interest(u8);

impl Interest {
    /// No direction: registered but silent.
    pub const NONE: Interest = Interest(0);
    /// The source has data to read, a connection to accept, or its read side closed.
    pub const READABLE: Interest = Interest(1);
    /// The source can take more data, a connect finished, or its write side closed.
    pub const WRITABLE: Interest = Interest(2);
    /// Both directions.
    pub const BOTH: Interest = Interest(3);

    /// Whether no direction is asked for.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether reading is asked for.
    pub const fn is_readable(self) -> bool {
        self.0 & Self::READABLE.0 != 0
    }

    /// Whether writing is asked for.
    pub const fn is_writable(self) -> bool {
        self.0 & Self::WRITABLE.0 != 0
    }

    /// Whether every direction of `other` is in `self`.
    pub const fn contains(self, other: Interest) -> bool {
        self.0 & other.0 == other.0
    }

    /// The directions of `self` that are not in `other`.
    pub const fn without(self, other: Interest) -> Interest {
        Interest(self.0 & !other.0)
    }
}

impl BitOr for Interest {
    type Output = Interest;
    fn bitor(self, rhs: Interest) -> Interest {
        Interest(self.0 | rhs.0)
    }
}

impl BitOrAssign for Interest {
    fn bitor_assign(&mut self, rhs: Interest) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (false, false) => f.write_str("NONE"),
            (true, false) => f.write_str("READABLE"),
            (false, true) => f.write_str("WRITABLE"),
            (true, true) => f.write_str("READABLE | WRITABLE"),
        }
    }
}

/// What a backend observed about a source: a set of readiness flags.
///
/// Readiness is a hint, never a promise: the operation that follows decides (it may still
/// return `WouldBlock`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ready(u8);

impl Ready {
    /// Nothing observed.
    pub const EMPTY: Ready = Ready(0);
    /// A read (or accept) may make progress.
    pub const READABLE: Ready = Ready(1);
    /// A write (or the end of a connect) may make progress.
    pub const WRITABLE: Ready = Ready(1 << 1);
    /// The peer will send nothing more (EOF, `EPOLLRDHUP`, `POLLHUP`, `EV_EOF` on read).
    /// Reads return what is buffered, then 0 or an error. It says nothing of the write side.
    pub const READ_CLOSED: Ready = Ready(1 << 2);
    /// Writing can no longer succeed (the connection is gone); a write reports why.
    pub const WRITE_CLOSED: Ready = Ready(1 << 3);
    /// The source has a pending error (`POLLERR`, `EPOLLERR`, an exceptional condition of
    /// winsock `select`, a failed connect); the next operation reports it.
    pub const ERROR: Ready = Ready(1 << 4);
    /// TCP urgent data (`MSG_OOB`) is pending (`EPOLLPRI`). A stream read stops short at the
    /// urgent mark even when ordinary bytes are queued behind it, so a short read says
    /// nothing of whether the socket was emptied. Concerns readers.
    pub const PRIORITY: Ready = Ready(1 << 5);
    /// Every flag.
    pub const ALL: Ready = Ready(0b11_1111);

    /// Builds a set from its raw bits; bits outside [`Ready::ALL`] are dropped.
    pub const fn from_bits(bits: u8) -> Ready {
        Ready(bits & Self::ALL.0)
    }

    /// The raw bits of the set.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether nothing is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set in `self`.
    pub const fn intersects(self, other: Ready) -> bool {
        self.0 & other.0 != 0
    }

    /// The flags of `self` that are not in `other`.
    pub const fn without(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }

    /// The flags set in both `self` and `other`.
    pub const fn intersection(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }

    /// The flags that concern a waiter for the given direction: a reader cares about
    /// `READABLE`, `READ_CLOSED`, `PRIORITY` and `ERROR`; a writer about `WRITABLE`,
    /// `WRITE_CLOSED` and `ERROR`.
    pub const fn for_interest(interest: Interest) -> Ready {
        let mut bits = 0;
        if interest.is_readable() {
            bits |= Self::READABLE.0 | Self::READ_CLOSED.0 | Self::PRIORITY.0 | Self::ERROR.0;
        }
        if interest.is_writable() {
            bits |= Self::WRITABLE.0 | Self::WRITE_CLOSED.0 | Self::ERROR.0;
        }
        Ready(bits)
    }

    /// The directions whose waiters this readiness concerns.
    pub const fn interest(self) -> Interest {
        let read = Self::for_interest(Interest::READABLE).0;
        let write = Self::for_interest(Interest::WRITABLE).0;
        let mut bits = 0;
        if self.0 & read != 0 {
            bits |= Interest::READABLE.0;
        }
        if self.0 & write != 0 {
            bits |= Interest::WRITABLE.0;
        }
        Interest(bits)
    }
}

impl BitOr for Ready {
    type Output = Ready;
    fn bitor(self, rhs: Ready) -> Ready {
        Ready(self.0 | rhs.0)
    }
}

impl BitOrAssign for Ready {
    fn bitor_assign(&mut self, rhs: Ready) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(Ready, &str); 6] = [
            (Ready::READABLE, "READABLE"),
            (Ready::WRITABLE, "WRITABLE"),
            (Ready::READ_CLOSED, "READ_CLOSED"),
            (Ready::WRITE_CLOSED, "WRITE_CLOSED"),
            (Ready::ERROR, "ERROR"),
            (Ready::PRIORITY, "PRIORITY"),
        ];
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("EMPTY")?;
        }
        Ok(())
    }
}

/// One report from a backend: this token's source showed this readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The token the source was registered with.
    pub token: Token,
    /// What was observed.
    pub ready: Ready,
}

/// A reusable buffer a backend fills during [`poll`](crate::Backend::poll).
///
/// Its capacity is fixed when it is made; a backend stops adding at capacity and reports the
/// rest on a later poll (a readiness that was not reported is not lost). Pushing never
/// allocates.
#[derive(Debug)]
pub struct Events {
    events: Vec<Event>,
}

impl Events {
    /// A buffer that holds up to `capacity` events (at least one).
    pub fn with_capacity(capacity: usize) -> Events {
        Events { events: Vec::with_capacity(capacity.max(1)) }
    }

    /// How many events the buffer holds at most.
    pub fn capacity(&self) -> usize {
        self.events.capacity()
    }

    /// How many events it holds now.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Whether no more events fit.
    pub fn is_full(&self) -> bool {
        self.events.len() == self.events.capacity()
    }

    /// Adds an event; returns `false` (and adds nothing) when the buffer is full.
    pub fn push(&mut self, event: Event) -> bool {
        if self.is_full() {
            return false;
        }
        self.events.push(event);
        true
    }

    /// Removes every event, keeping the capacity.
    pub fn clear(&mut self) {
        self.events.clear();
    }

    /// The events in the order they were added.
    pub fn iter(&self) -> std::slice::Iter<'_, Event> {
        self.events.iter()
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = &'a Event;
    type IntoIter = std::slice::Iter<'a, Event>;
    fn into_iter(self) -> Self::IntoIter {
        self.events.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_maps_to_the_directions_it_concerns() {
        assert_eq!(Ready::READ_CLOSED.interest(), Interest::READABLE);
        assert_eq!(Ready::WRITE_CLOSED.interest(), Interest::WRITABLE);
        assert_eq!(Ready::ERROR.interest(), Interest::BOTH);
        assert_eq!(Ready::PRIORITY.interest(), Interest::READABLE);
        assert_eq!(Ready::EMPTY.interest(), Interest::NONE);
    }

    #[test]
    fn events_stop_at_capacity() {
        let mut events = Events::with_capacity(2);
        let event = Event { token: Token(1), ready: Ready::READABLE };
        assert!(events.push(event));
        assert!(events.push(event));
        assert!(!events.push(event));
        assert_eq!(events.len(), 2);
        events.clear();
        assert!(events.is_empty());
        assert_eq!(events.capacity(), 2);
    }
}

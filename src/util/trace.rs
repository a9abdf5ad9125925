//! Events for the `tracing` feature, written once so that every call site stays one line:
//! [`event!`](crate::util::trace::event) emits a `tracing` event where the feature is on and
//! expands to nothing where it is off, arguments included, so that code built without the
//! feature pays for no check, no clock reading and no formatting on its hot paths.
//!
//! With the feature on and no subscriber, an event costs `tracing`'s callsite check (a load
//! and a comparison once its interest is cached) and allocates nothing.
//!
//! Levels: `info` for the backend a runtime chose, `debug` for errors on I/O paths and
//! backends refused, `trace` for registrations and the runtime's turns. Every event has the
//! target `plexio`.

/// Emits a `tracing` event at `$level` (`trace`, `debug`, `info`, `warn`, `error`) with
/// target `plexio`, in `tracing`'s own field syntax; nothing at all without the feature.
macro_rules! event {
    ($level:ident, $($field:tt)+) => {
        #[cfg(feature = "tracing")]
        ::tracing::$level!(target: "plexio", $($field)+);
    };
}

/// Emits a `debug` event for the error that `$result` (an `&io::Result<_>`) holds, if any,
/// saying where it happened; nothing at all without the feature.
macro_rules! io_error {
    ($result:expr, $place:literal) => {
        #[cfg(feature = "tracing")]
        if let Err(error) = $result {
            ::tracing::debug!(target: "plexio", %error, kind = ?error.kind(), $place);
        }
    };
}

pub(crate) use {event, io_error};

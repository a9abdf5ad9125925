//! plexio's own failures, as one enum; on I/O paths they travel inside a `std::io::Error`.

use std::io;

use crate::RawSource;

/// A failure of plexio itself, rather than of the operating system.
///
/// Where one happens on an I/O path (registering a socket, say), it reaches the caller as a
/// [`std::io::Error`] with a fitting [`kind`](io::Error::kind) and this error as its
/// [`source`](std::error::Error::source); [`Error::from_io`] gets it back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A backend name that plexio does not know.
    #[error("unknown backend `{name}`; available backends: {}", list(available))]
    UnknownBackend {
        /// The name that was asked for.
        name: String,
        /// The backends compiled in and usable on this OS.
        available: Vec<&'static str>,
    },
    /// A known backend whose cargo feature was not enabled.
    #[error(
        "backend `{name}` is not compiled in (enable the cargo feature `{name}` of plexio); \
         available backends: {}",
        list(available)
    )]
    BackendNotCompiled {
        /// The backend that was asked for.
        name: &'static str,
        /// The backends compiled in and usable on this OS.
        available: Vec<&'static str>,
    },
    /// A known backend that does not run on this operating system.
    #[error("backend `{name}` is not supported on {os}; available backends: {}", list(available))]
    BackendUnsupported {
        /// The backend that was asked for.
        name: &'static str,
        /// The operating system, as `std::env::consts::OS` names it.
        os: &'static str,
        /// The backends compiled in and usable on this OS.
        available: Vec<&'static str>,
    },
    /// No backend is compiled in at all.
    #[error(
        "no backend is compiled in for {os}: enable one of the cargo features \
         `select`, `poll`, `mio`, `polling` of plexio"
    )]
    NoBackend {
        /// The operating system, as `std::env::consts::OS` names it.
        os: &'static str,
    },
    /// A descriptor the backend's set cannot hold (`select` on Unix: `fd >= FD_SETSIZE`).
    #[error(
        "descriptor {descriptor} is out of range for the `{backend}` backend, which holds \
         descriptors below {limit} (FD_SETSIZE); use the `poll`, `mio` or `polling` backend \
         for more sockets"
    )]
    DescriptorOutOfRange {
        /// The descriptor that was refused.
        descriptor: i64,
        /// The first descriptor number the backend cannot hold.
        limit: usize,
        /// The backend that refused it.
        backend: &'static str,
    },
    /// The backend already holds as many sources as it can (`select` on Windows).
    #[error(
        "the `{backend}` backend already holds its limit of {limit} sockets; use the `poll`, \
         `mio` or `polling` backend for more sockets"
    )]
    TooManySources {
        /// How many sources the backend holds at most.
        limit: usize,
        /// The backend that refused a new one.
        backend: &'static str,
    },
    /// A source handed to `Backend::reregister` or `Backend::deregister` that the backend
    /// does not hold: one never registered, one deregistered already, or a number that is
    /// no open socket at all (-1, `INVALID_SOCKET`, a closed descriptor).
    #[error("source {descriptor} is not registered with the `{backend}` backend")]
    NotRegistered {
        /// The descriptor (a `SOCKET` on Windows) that was asked for.
        descriptor: RawSource,
        /// The backend that does not hold it.
        backend: &'static str,
    },
    /// A source handed to `Backend::register` that the backend holds already; the first
    /// registration stands.
    #[error("source {descriptor} is registered with the `{backend}` backend already")]
    AlreadyRegistered {
        /// The descriptor (a `SOCKET` on Windows) that was refused.
        descriptor: RawSource,
        /// The backend that holds it.
        backend: &'static str,
    },
    /// The operating system refused to create the backend (out of descriptors, say).
    #[error("backend `{name}` could not be created: {source}")]
    BackendCreation {
        /// The backend that failed.
        name: &'static str,
        /// Why the operating system refused.
        #[source]
        source: io::Error,
    },
    /// An I/O object was used after the runtime it is registered with was dropped: the
    /// operations it was waiting on then, and every later one that waits for readiness,
    /// fail with this error. The socket itself stays open (a listener's connections still
    /// queue in the kernel) until the object is dropped.
    ///
    /// Timers never report it: a timer whose runtime is gone starts again on the runtime
    /// that polls it next, and panics if polled outside of any.
    #[error("the plexio runtime this object belongs to has shut down")]
    RuntimeShutdown,
    /// An I/O object was created (bound, connected, or wrapped with `from_std`) on a thread
    /// where no plexio runtime is running.
    ///
    /// Only I/O objects report it: a timer polled outside of a runtime, and `spawn` called
    /// outside of one, panic instead.
    #[error(
        "no plexio runtime is running on this thread; use it inside `plexio::block_on` or \
         `Runtime::block_on`"
    )]
    NoRuntime,
    /// An I/O object was used on a thread that runs another plexio runtime than the one it
    /// was created on. A socket is registered with its runtime's backend, whose thread alone
    /// drives it; waiting on it elsewhere could hang.
    #[error(
        "this socket belongs to another plexio runtime than the one running on this thread;          hand it over with `into_std` on its runtime and `from_std` on this one"
    )]
    OtherRuntime,
    /// A completion driver's name given where only a readiness backend will do
    /// (`plexio::backend::open`, to wrap one in a backend of one's own).
    #[error(
        "`{name}` is a completion driver, not a readiness backend; open it with \
         `registry::open_driver`, or choose it with `Runtime::builder().backend(\"{name}\")`"
    )]
    NotReadiness {
        /// The driver that was asked for.
        name: &'static str,
    },
    /// An operation of a completion driver was cancelled before it did anything: what its
    /// completion carries after a [`cancel`](crate::completion::CompletionDriver::cancel)
    /// that came first.
    #[error("the operation was cancelled")]
    Cancelled,
    /// A backend that is compiled in and runs on this operating system, but that this
    /// system refuses now: io_uring disabled by a setting, refused by a seccomp profile, or
    /// missing an operation plexio needs. `reason` says which, and what to change.
    #[error("backend `{name}` cannot run here: {reason}; available backends: {}", list(available))]
    BackendRefused {
        /// The backend that was asked for.
        name: &'static str,
        /// Why the system refuses it, and what would change that.
        reason: String,
        /// The error the system reported, if it reported one.
        #[source]
        source: Option<io::Error>,
        /// The backends compiled in and usable here.
        available: Vec<&'static str>,
    },
}

fn list(names: &[&'static str]) -> String {
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

impl Error {
    /// The [`io::ErrorKind`] this error takes when it travels as an [`io::Error`].
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::UnknownBackend { .. } | Error::DescriptorOutOfRange { .. } => {
                io::ErrorKind::InvalidInput
            }
            Error::BackendNotCompiled { .. }
            | Error::BackendUnsupported { .. }
            | Error::NoBackend { .. } => io::ErrorKind::Unsupported,
            Error::TooManySources { .. } => io::ErrorKind::QuotaExceeded,
            Error::NotRegistered { .. } => io::ErrorKind::NotFound,
            Error::AlreadyRegistered { .. } => io::ErrorKind::AlreadyExists,
            Error::BackendCreation { source, .. } => source.kind(),
            Error::BackendRefused { .. } | Error::NotReadiness { .. } => io::ErrorKind::Unsupported,
            Error::RuntimeShutdown | Error::NoRuntime | Error::OtherRuntime | Error::Cancelled => {
                io::ErrorKind::Other
            }
        }
    }

    /// The plexio error carried inside `error`, if it carries one.
    pub fn from_io(error: &io::Error) -> Option<&Error> {
        error.get_ref()?.downcast_ref::<Error>()
    }
}

impl From<Error> for io::Error {
    fn from(error: Error) -> io::Error {
        io::Error::new(error.io_kind(), error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn travels_inside_io_error_and_comes_back() {
        let error =
            Error::DescriptorOutOfRange { descriptor: 1030, limit: 1024, backend: "select" };
        let io: io::Error = error.into();
        assert_eq!(io.kind(), io::ErrorKind::InvalidInput);
        assert!(matches!(
            Error::from_io(&io),
            Some(Error::DescriptorOutOfRange { descriptor: 1030, limit: 1024, .. })
        ));
        assert!(io.to_string().contains("1030"));
    }

    #[test]
    fn registration_misuse_has_the_kinds_the_contract_names() {
        let missing: io::Error = Error::NotRegistered { descriptor: 7, backend: "mio" }.into();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert!(matches!(
            Error::from_io(&missing),
            Some(Error::NotRegistered { descriptor: 7, .. })
        ));
        let twice: io::Error = Error::AlreadyRegistered { descriptor: 7, backend: "mio" }.into();
        assert_eq!(twice.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn lists_what_is_available() {
        let error = Error::UnknownBackend { name: "kqeue".into(), available: vec!["mio", "poll"] };
        assert_eq!(error.to_string(), "unknown backend `kqeue`; available backends: mio, poll");
    }
}

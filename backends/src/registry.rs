//! Which backends exist, in which order of preference, and how to open one by name.
//!
//! This is the one place that decides it: the table below lists plexio's backends from the
//! most to the least preferred, each with whether its cargo feature is on, whether it is
//! built for this operating system, and how to open it. A backend is either a readiness
//! [`Backend`] or a [`CompletionDriver`]; [`Driver`] holds either.

use std::sync::{Arc, OnceLock};

use crate::completion::CompletionDriver;
use crate::{Backend, Error};

/// An opened backend, of either model.
#[derive(Debug, Clone)]
pub enum Driver {
    /// A readiness backend (the reactor model).
    Readiness(Arc<dyn Backend>),
    /// A completion driver (the proactor model).
    Completion(Arc<dyn CompletionDriver>),
}

impl Driver {
    /// The backend's name.
    pub fn name(&self) -> &'static str {
        match self {
            Driver::Readiness(backend) => backend.name(),
            Driver::Completion(driver) => driver.name(),
        }
    }
}

/// Why a backend that is built for this system cannot run here now.
type Refusal = (String, Option<std::io::Error>);

type Opener = fn() -> Result<Driver, Refusal>;

/// One row of the table: a backend's name, whether its feature is on, and how to open it
/// where it is built for this operating system.
struct Row {
    name: &'static str,
    compiled: bool,
    open: Option<Opener>,
    /// Whether the automatic choice may pick it; a backend that is not is used only when
    /// asked for by name.
    automatic: bool,
}

#[cfg(any(feature = "mio", feature = "polling", feature = "poll", feature = "select"))]
fn readiness<B: Backend + 'static>(opened: std::io::Result<B>) -> Result<Driver, Refusal> {
    match opened {
        Ok(backend) => Ok(Driver::Readiness(Arc::new(backend))),
        Err(error) => Err((String::new(), Some(error))),
    }
}

/// plexio's backends, most preferred first: io_uring where the system allows it (its probe
/// decides at run time), then the O(ready) mechanisms, then `poll` (O(n), no descriptor
/// limit), then `select` (O(highest descriptor), FD_SETSIZE). `iocp` is listed with the
/// completion drivers but left out of the automatic choice, which stays `mio` on Windows:
/// it has run under wine only, not yet on Windows itself.
const TABLE: [Row; 6] = [
    Row {
        name: "uring",
        compiled: cfg!(feature = "uring"),
        #[cfg(all(feature = "uring", target_os = "linux"))]
        open: Some(|| match crate::uring::UringDriver::new() {
            Ok(driver) => Ok(Driver::Completion(Arc::new(driver))),
            Err(refusal) => Err((refusal.reason, refusal.source)),
        }),
        #[cfg(not(all(feature = "uring", target_os = "linux")))]
        open: None,
        automatic: true,
    },
    Row {
        name: "iocp",
        compiled: cfg!(feature = "iocp"),
        #[cfg(all(feature = "iocp", windows))]
        open: Some(|| match crate::iocp::IocpDriver::new() {
            Ok(driver) => Ok(Driver::Completion(Arc::new(driver))),
            Err(refusal) => Err((refusal.reason, refusal.source)),
        }),
        #[cfg(not(all(feature = "iocp", windows)))]
        open: None,
        automatic: false,
    },
    Row {
        name: "mio",
        compiled: cfg!(feature = "mio"),
        #[cfg(all(feature = "mio", any(unix, windows)))]
        open: Some(|| readiness(crate::mio::MioBackend::new())),
        #[cfg(not(all(feature = "mio", any(unix, windows))))]
        open: None,
        automatic: true,
    },
    Row {
        name: "polling",
        compiled: cfg!(feature = "polling"),
        #[cfg(all(feature = "polling", any(unix, windows)))]
        open: Some(|| readiness(crate::polling::PollingBackend::new())),
        #[cfg(not(all(feature = "polling", any(unix, windows))))]
        open: None,
        automatic: true,
    },
    Row {
        name: "poll",
        compiled: cfg!(feature = "poll"),
        #[cfg(all(feature = "poll", any(unix, windows)))]
        open: Some(|| readiness(crate::poll::PollBackend::new())),
        #[cfg(not(all(feature = "poll", any(unix, windows))))]
        open: None,
        automatic: true,
    },
    Row {
        name: "select",
        compiled: cfg!(feature = "select"),
        #[cfg(all(feature = "select", any(unix, windows)))]
        open: Some(|| readiness(crate::select::SelectBackend::new())),
        #[cfg(not(all(feature = "select", any(unix, windows))))]
        open: None,
        automatic: true,
    },
];

/// Every backend name plexio knows, most preferred first, compiled in or not.
pub const KNOWN: [&str; 6] = ["uring", "iocp", "mio", "polling", "poll", "select"];

/// Why the system refused a backend, as its probe found it: the reason, and the system's
/// error code if it gave one.
type ProbeRefusal = (String, Option<i32>);

/// Backends whose use the system may refuse at run time, and the answer of their probe,
/// asked once per process: `None` where usable, else why not.
fn refusal_of(name: &'static str) -> Option<&'static ProbeRefusal> {
    static URING: OnceLock<Option<ProbeRefusal>> = OnceLock::new();
    static IOCP: OnceLock<Option<ProbeRefusal>> = OnceLock::new();
    let answer = match name {
        "uring" => &URING,
        "iocp" => &IOCP,
        _ => return None,
    };
    answer
        .get_or_init(|| match open_row(row(name)?) {
            Ok(_) => None,
            Err(Error::BackendRefused { reason, source, .. }) => {
                Some((reason, source.and_then(|error| error.raw_os_error())))
            }
            Err(other) => Some((other.to_string(), None)),
        })
        .as_ref()
}

fn row(name: &str) -> Option<&'static Row> {
    TABLE.iter().find(|row| row.name == name)
}

/// The backends compiled in and usable on this system, most preferred first: a backend
/// the system refuses (io_uring disabled, say) is left out.
pub fn available() -> Vec<&'static str> {
    TABLE
        .iter()
        .filter(|row| row.open.is_some() && refusal_of(row.name).is_none())
        .map(|row| row.name)
        .collect()
}

/// The name of the backend that `requested` selects: the backend of that name, or, with
/// `None`, the most preferred available one. Fails with a clear [`Error`] for an unknown
/// name, a backend whose feature is off, one that does not run on this OS, or one this
/// system refuses (saying why).
pub fn resolve(requested: Option<&str>) -> Result<&'static str, Error> {
    let os = std::env::consts::OS;
    let Some(requested) = requested else {
        let automatic = |name: &&str| row(name).is_some_and(|row| row.automatic);
        return available().into_iter().find(automatic).ok_or(Error::NoBackend { os });
    };
    let wanted = requested.trim();
    let Some(row) = TABLE.iter().find(|row| row.name.eq_ignore_ascii_case(wanted)) else {
        return Err(Error::UnknownBackend { name: requested.to_owned(), available: available() });
    };
    match (row.compiled, row.open) {
        (_, Some(_)) => match refusal_of(row.name) {
            None => Ok(row.name),
            Some((reason, code)) => Err(Error::BackendRefused {
                name: row.name,
                reason: reason.clone(),
                source: code.map(std::io::Error::from_raw_os_error),
                available: available(),
            }),
        },
        (false, None) => Err(Error::BackendNotCompiled { name: row.name, available: available() }),
        (true, None) => {
            Err(Error::BackendUnsupported { name: row.name, os, available: available() })
        }
    }
}

fn open_row(row: &Row) -> Result<Driver, Error> {
    let open = row.open.expect("only rows built for this system are opened");
    open().map_err(|(reason, source)| match source {
        Some(source) if reason.is_empty() => Error::BackendCreation { name: row.name, source },
        source => Error::BackendRefused {
            name: row.name,
            reason,
            source,
            available: TABLE
                .iter()
                .filter(|other| other.open.is_some() && other.name != row.name)
                .map(|other| other.name)
                .collect(),
        },
    })
}

/// Opens the backend that `requested` selects (see [`resolve`]), of either model.
pub fn open_driver(requested: Option<&str>) -> Result<Driver, Error> {
    let name = resolve(requested)?;
    open_row(row(name).expect("resolve returns a table name"))
}

/// Opens the readiness backend that `requested` selects (see [`resolve`]); a completion
/// driver's name is refused with [`Error::BackendUnsupported`]-like advice to use
/// [`open_driver`].
pub fn open(requested: Option<&str>) -> Result<Arc<dyn Backend>, Error> {
    match open_driver(requested)? {
        Driver::Readiness(backend) => Ok(backend),
        Driver::Completion(driver) => Err(Error::NotReadiness { name: driver.name() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_list_what_is_available() {
        let error = resolve(Some("kqueue")).unwrap_err();
        assert!(matches!(error, Error::UnknownBackend { ref name, .. } if name == "kqueue"));
    }

    #[test]
    fn every_available_backend_opens_under_its_own_name() {
        for name in available() {
            let driver = open_driver(Some(name)).unwrap();
            assert_eq!(driver.name(), name);
        }
    }

    #[test]
    fn names_are_matched_without_regard_to_case_or_spaces() {
        for name in available() {
            assert_eq!(resolve(Some(&format!(" {} ", name.to_uppercase()))).unwrap(), name);
        }
    }

    #[test]
    fn a_backend_left_out_says_which_feature_brings_it() {
        for row in TABLE.iter().filter(|row| !row.compiled) {
            let error = resolve(Some(row.name)).unwrap_err();
            assert!(error.to_string().contains("cargo feature"), "{error}");
        }
    }

    #[test]
    fn the_table_and_the_list_of_names_agree() {
        assert_eq!(TABLE.map(|row| row.name), KNOWN);
    }
}

//! Which backends exist, in which order of preference, and how to open one by name.
//!
//! This is the one place that decides it: the table below lists plexio's backends from the
//! most to the least preferred, each with whether its cargo feature is on and whether it is
//! built for this operating system.

use std::sync::Arc;

use crate::{Backend, Error};

type Opener = fn() -> std::io::Result<Arc<dyn Backend>>;

/// One row of the table: a backend's name, whether its feature is on, and how to open it
/// where it is built for this operating system.
struct Row {
    name: &'static str,
    compiled: bool,
    open: Option<Opener>,
}

/// plexio's backends, most preferred first: the O(ready) mechanisms, then `poll` (O(n), no
/// descriptor limit), then `select` (O(highest descriptor), FD_SETSIZE).
const TABLE: [Row; 4] = [
    Row {
        name: "mio",
        compiled: cfg!(feature = "mio"),
        #[cfg(all(feature = "mio", any(unix, windows)))]
        open: Some(|| Ok(Arc::new(crate::mio::MioBackend::new()?))),
        #[cfg(not(all(feature = "mio", any(unix, windows))))]
        open: None,
    },
    Row {
        name: "polling",
        compiled: cfg!(feature = "polling"),
        #[cfg(all(feature = "polling", any(unix, windows)))]
        open: Some(|| Ok(Arc::new(crate::polling::PollingBackend::new()?))),
        #[cfg(not(all(feature = "polling", any(unix, windows))))]
        open: None,
    },
    Row {
        name: "poll",
        compiled: cfg!(feature = "poll"),
        #[cfg(all(feature = "poll", any(unix, windows)))]
        open: Some(|| Ok(Arc::new(crate::poll::PollBackend::new()?))),
        #[cfg(not(all(feature = "poll", any(unix, windows))))]
        open: None,
    },
    Row {
        name: "select",
        compiled: cfg!(feature = "select"),
        #[cfg(all(feature = "select", any(unix, windows)))]
        open: Some(|| Ok(Arc::new(crate::select::SelectBackend::new()?))),
        #[cfg(not(all(feature = "select", any(unix, windows))))]
        open: None,
    },
];

/// Every backend name plexio knows, most preferred first, compiled in or not.
pub const KNOWN: [&str; 4] = ["mio", "polling", "poll", "select"];

/// The backends compiled in and usable on this operating system, most preferred first.
pub fn available() -> Vec<&'static str> {
    TABLE.iter().filter(|row| row.open.is_some()).map(|row| row.name).collect()
}

/// The name of the backend that `requested` selects: the backend of that name, or, with
/// `None`, the most preferred available one. Fails with a clear [`Error`] for an unknown
/// name, a backend whose feature is off, or one that does not run on this OS.
pub fn resolve(requested: Option<&str>) -> Result<&'static str, Error> {
    let os = std::env::consts::OS;
    let Some(requested) = requested else {
        return available().first().copied().ok_or(Error::NoBackend { os });
    };
    let wanted = requested.trim();
    let Some(row) = TABLE.iter().find(|row| row.name.eq_ignore_ascii_case(wanted)) else {
        return Err(Error::UnknownBackend { name: requested.to_owned(), available: available() });
    };
    match (row.compiled, row.open) {
        (_, Some(_)) => Ok(row.name),
        (false, None) => Err(Error::BackendNotCompiled { name: row.name, available: available() }),
        (true, None) => {
            Err(Error::BackendUnsupported { name: row.name, os, available: available() })
        }
    }
}

/// Opens the backend that `requested` selects (see [`resolve`]).
pub fn open(requested: Option<&str>) -> Result<Arc<dyn Backend>, Error> {
    let name = resolve(requested)?;
    let row = TABLE.iter().find(|row| row.name == name).expect("resolve returns a table name");
    let open = row.open.expect("resolve returns an available backend");
    open().map_err(|source| Error::BackendCreation { name, source })
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
            let backend = open(Some(name)).unwrap();
            assert_eq!(backend.name(), name);
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
}

//! `Builder`: choosing a runtime's backend.

use std::fmt;
use std::sync::Arc;

use plexio_backends::registry::{self, Driver};
use plexio_backends::{Backend, Error};

use super::Runtime;

/// The environment variable that names the backend when the builder does not.
pub const BACKEND_ENV: &str = "PLEXIO_BACKEND";

/// Configures and builds a [`Runtime`].
///
/// The backend is chosen in this order: the one given to [`backend`](Builder::backend) or
/// [`custom_backend`](Builder::custom_backend), else the one named by the `PLEXIO_BACKEND`
/// environment variable, else the most preferred backend compiled in and usable here
/// (`uring` > `mio` > `polling` > `poll` > `select`; `uring` only where the system allows
/// io_uring).
///
/// ```
/// # fn main() -> Result<(), plexio::Error> {
/// let name = plexio::backends()[0];
/// let runtime = plexio::Runtime::builder().backend(name).build()?;
/// assert_eq!(runtime.backend_name(), name);
/// # Ok(())
/// # }
/// ```
#[derive(Default)]
pub struct Builder {
    choice: Choice,
}

#[derive(Default)]
enum Choice {
    #[default]
    Default,
    Named(String),
    Custom(Arc<dyn Backend>),
    Driver(Driver),
}

impl Builder {
    /// A builder with the default choice of backend.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Runs the runtime on the backend of this name: `"uring"`, `"mio"`, `"polling"`,
    /// `"poll"` or `"select"` (case does not matter). [`build`](Builder::build) fails with a
    /// clear error listing the available backends if the name is unknown, its cargo feature
    /// is off, it does not run on this operating system, or the system refuses it now
    /// ([`Error::BackendRefused`], with the reason).
    pub fn backend(mut self, name: impl Into<String>) -> Builder {
        self.choice = Choice::Named(name.into());
        self
    }

    /// Runs the runtime on a backend of your own: any type that implements [`Backend`] and
    /// keeps its contract.
    pub fn custom_backend(mut self, backend: impl Backend + 'static) -> Builder {
        self.choice = Choice::Custom(Arc::new(backend));
        self
    }

    /// Runs the runtime on a completion driver of your own: any type that implements
    /// [`CompletionDriver`](plexio_backends::completion::CompletionDriver) and keeps its
    /// contract.
    pub fn custom_completion_driver(
        mut self,
        driver: impl plexio_backends::completion::CompletionDriver + 'static,
    ) -> Builder {
        self.choice = Choice::Driver(Driver::Completion(Arc::new(driver)));
        self
    }

    /// Runs the runtime on a backend opened already, of either model (see
    /// [`backend::open_driver`](crate::backend::open_driver)).
    pub fn driver(mut self, driver: Driver) -> Builder {
        self.choice = Choice::Driver(driver);
        self
    }

    /// Builds the runtime.
    pub fn build(self) -> Result<Runtime, Error> {
        let (chosen, how) = match self.choice {
            Choice::Custom(backend) => (Ok(Driver::Readiness(backend)), Why::Given),
            Choice::Driver(driver) => (Ok(driver), Why::Given),
            Choice::Named(name) => (registry::open_driver(Some(&name)), Why::Named),
            Choice::Default => {
                match std::env::var(BACKEND_ENV).ok().filter(|name| !name.trim().is_empty()) {
                    Some(name) => (registry::open_driver(Some(&name)), Why::Environment),
                    None => (registry::open_driver(None), Why::Preferred),
                }
            }
        };
        trace_choice(&chosen, how);
        Ok(Runtime::with_driver(chosen?))
    }
}

/// How a backend came to be chosen, for the `tracing` feature's event.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
enum Why {
    /// Given to the builder as a value (`custom_backend`, `driver`).
    Given,
    /// Named on the builder (`backend`).
    Named,
    /// Named by `PLEXIO_BACKEND`.
    Environment,
    /// The most preferred backend compiled in and usable here.
    Preferred,
}

/// With the `tracing` feature: which backend was chosen and how (info), or why the one
/// asked for was refused (debug); for an automatic choice, also each more preferred backend
/// passed over and why (not compiled in, refused by this system). Nothing without it; it
/// runs once per runtime, off every hot path.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn trace_choice(chosen: &Result<Driver, Error>, how: Why) {
    #[cfg(feature = "tracing")]
    match chosen {
        Ok(driver) => {
            if let Why::Preferred = how {
                let preferred = registry::KNOWN.iter().take_while(|name| **name != driver.name());
                for name in preferred {
                    if let Err(reason) = registry::resolve(Some(name)) {
                        tracing::debug!(target: "plexio", backend = name, %reason, "backend passed over");
                    }
                }
            }
            tracing::info!(target: "plexio", backend = driver.name(), how = ?how, "backend chosen");
        }
        Err(error) => tracing::debug!(target: "plexio", how = ?how, %error, "backend refused"),
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let choice = match &self.choice {
            Choice::Default => "default".to_owned(),
            Choice::Named(name) => format!("{name:?}"),
            Choice::Custom(backend) => format!("custom {:?}", backend.name()),
            Choice::Driver(driver) => format!("driver {:?}", driver.name()),
        };
        f.debug_struct("Builder").field("backend", &choice).finish()
    }
}

//! `Builder`: choosing a runtime's backend and its number of worker threads.

use std::fmt;
use std::io;
use std::sync::Arc;

use plexio_backends::registry::{self, Driver};
use plexio_backends::{Backend, Error};

use super::Runtime;
use super::accept_spread::AcceptSpread;
use super::workers::{Pool, Workers};

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
    /// `None`: a runtime of one thread.
    worker_threads: Option<usize>,
    accept_spread: AcceptSpread,
}

#[derive(Default)]
enum Choice {
    #[default]
    Default,
    Named(String),
    Custom(Arc<dyn Backend>),
    Driver(Driver),
    Factory(Box<dyn FnMut() -> Result<Driver, Error>>),
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

    /// Runs the runtime on drivers that `open` makes: one for the runtime's own thread,
    /// and one per worker thread of a multi-worker runtime. The way to run a backend or a
    /// completion driver of your own (or one of plexio's, wrapped) with worker threads,
    /// since one instance serves one thread.
    ///
    /// ```
    /// # fn main() -> Result<(), plexio::Error> {
    /// let name = plexio::backends()[0];
    /// let runtime = plexio::Runtime::builder()
    ///     .driver_factory(move || plexio::backend::open_driver(name))
    ///     .worker_threads(2)
    ///     .build()?;
    /// assert_eq!(runtime.worker_threads(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn driver_factory(
        mut self,
        open: impl FnMut() -> Result<Driver, Error> + 'static,
    ) -> Builder {
        self.choice = Choice::Factory(Box::new(open));
        self
    }

    /// Builds a multi-worker runtime of `count` worker threads, each with its own driver
    /// (its own instance of the chosen backend, or its own io_uring ring), executor and
    /// timers. [`spawn`](crate::spawn) places `Send` tasks on the workers, where they run
    /// all the time, not only inside `block_on`; [`spawn_local`](crate::task::spawn_local)
    /// keeps a task on the thread that calls it. The thread that builds the runtime keeps an
    /// executor of its own for `block_on` and its `spawn_local` tasks.
    ///
    /// A backend given as a value ([`custom_backend`](Builder::custom_backend),
    /// [`custom_completion_driver`](Builder::custom_completion_driver),
    /// [`driver`](Builder::driver)) is one instance, which serves one thread only: such a
    /// builder fails to build with more than that thread (see [`build`](Builder::build)).
    /// Choose the backend by name, or give a [`driver_factory`](Builder::driver_factory).
    ///
    /// # How the work is shared, and why
    ///
    /// - **Tasks.** A `Send` task is placed when spawned on the worker with the fewest tasks
    ///   queued (an idle one first; ties go round-robin), and its wake-ups go to the worker
    ///   it runs on: its sockets' events and its timers then mostly come from that worker,
    ///   with no hand-off between threads. A worker that runs out of tasks (and of events of
    ///   its own) steals half of the tasks queued on the busiest worker before it sleeps,
    ///   and a worker with tasks waiting behind the ones it runs wakes a sleeping one to
    ///   steal them; a stolen task stays with its thief. So one busy worker does not leave
    ///   the others idle, while workers that all keep up never touch each other's queues.
    ///   `spawn_local` tasks are never stolen, and a lone task queued between two turns of
    ///   its worker is left to it.
    ///   [`RuntimeStats::stolen_tasks`](crate::RuntimeStats::stolen_tasks) counts the steals.
    /// - **Sockets.** A socket registers with the driver of the worker that creates it (on
    ///   the thread of `block_on`, with worker 0's: that thread's own driver runs only inside
    ///   `block_on`). Moved inside a task to another worker it works there at once: every
    ///   worker polls its driver for as long as the runtime lives, a backend accepts
    ///   re-arming and deregistration from any thread, and an io_uring operation submitted
    ///   from another worker notifies the ring's thread, which hands it to the kernel at once;
    ///   its events reach its task by a cross-thread wake. An owned stream that keeps being
    ///   polled from the new worker (4 polls in a row) is then re-registered with that
    ///   worker's driver, once it is idle: no other task waiting on it (the halves of
    ///   `into_split` share it and never move it), and on io_uring nothing in flight in the
    ///   old ring. Readiness is never lost (the new registration takes both directions as
    ///   possibly ready), and buffers stay with the ring until their completions are reaped.
    ///   [`RuntimeStats::moved_registrations`](crate::RuntimeStats::moved_registrations)
    ///   counts the moves.
    /// - **Accepting.** One listener, one accept loop. Where the kernel balances them (Linux,
    ///   Android, FreeBSD, DragonFly BSD) the listener is one `SO_REUSEPORT` socket per
    ///   worker, each registered with its worker's driver, and each connection is registered
    ///   with the driver of the worker whose socket the kernel chose; elsewhere (macOS,
    ///   Windows, OpenBSD, NetBSD), or with [`accept_spread`](Builder::accept_spread)`(`
    ///   [`AcceptSpread::LiveLoad`]`)`, one socket, each connection going to the driver of the
    ///   worker with the fewest sockets. The task spawned for a connection goes to the worker
    ///   with the fewest tasks queued.
    /// - **Idle.** A worker with nothing to run sleeps in its driver's wait; work from another
    ///   thread notifies that driver.
    /// - **Drop.** Dropping the runtime stops every worker; each cancels its tasks and closes
    ///   its registrations on its own thread.
    ///
    /// # Panics
    ///
    /// If `count` is 0.
    ///
    /// ```
    /// let runtime = plexio::Runtime::builder().worker_threads(2).build()?;
    /// let sum = runtime.block_on(async {
    ///     let tasks: Vec<_> = (0..8u64).map(|n| plexio::spawn(async move { n * n })).collect();
    ///     let mut sum = 0;
    ///     for task in tasks {
    ///         sum += task.await.unwrap();
    ///     }
    ///     sum
    /// });
    /// assert_eq!(sum, 140);
    /// # Ok::<(), plexio::Error>(())
    /// ```
    pub fn worker_threads(mut self, count: usize) -> Builder {
        assert!(count > 0, "a multi-worker runtime needs at least one worker thread");
        self.worker_threads = Some(count);
        self
    }

    /// [`worker_threads`](Builder::worker_threads) with one worker per CPU this process
    /// may run on (`std::thread::available_parallelism`; 1 if the system cannot say).
    pub fn worker_thread_per_cpu(self) -> Builder {
        let count = std::thread::available_parallelism().map_or(1, usize::from);
        self.worker_threads(count)
    }

    /// How a multi-worker runtime spreads the connections its
    /// [`TcpListener`](crate::net::TcpListener)s accept over the workers: one
    /// `SO_REUSEPORT` socket per worker where the kernel balances them (the default,
    /// [`AcceptSpread::ReusePort`]), or one socket whose connections go to the least
    /// loaded worker ([`AcceptSpread::LiveLoad`]). See [`AcceptSpread`] for which runs
    /// where. No effect on a runtime of one thread.
    ///
    /// ```
    /// use plexio::AcceptSpread;
    ///
    /// let runtime = plexio::Runtime::builder()
    ///     .worker_threads(2)
    ///     .accept_spread(AcceptSpread::LiveLoad)
    ///     .build()?;
    /// let sockets = runtime.block_on(async {
    ///     let _listener = plexio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     runtime.stats().registrations
    /// });
    /// assert_eq!(sockets, 1);
    /// # Ok::<(), plexio::Error>(())
    /// ```
    pub fn accept_spread(mut self, spread: AcceptSpread) -> Builder {
        self.accept_spread = spread;
        self
    }

    /// Builds the runtime.
    ///
    /// Fails if the backend cannot be opened (see [`backend`](Builder::backend)), and with
    /// [`Error::BackendCreation`] when [`worker_threads`](Builder::worker_threads) is asked
    /// of a backend given as one value, or when a worker thread cannot be started.
    pub fn build(self) -> Result<Runtime, Error> {
        let worker_threads = self.worker_threads;
        let (first, open, how) = match self.choice {
            Choice::Custom(backend) => (Ok(Driver::Readiness(backend)), None, Why::Given),
            Choice::Driver(driver) => (Ok(driver), None, Why::Given),
            Choice::Factory(mut open) => (open(), Some(open), Why::Given),
            Choice::Named(name) => opener(registry::resolve(Some(&name)), Why::Named),
            Choice::Default => {
                let from_env =
                    std::env::var(BACKEND_ENV).ok().filter(|name| !name.trim().is_empty());
                let how = if from_env.is_some() { Why::Environment } else { Why::Preferred };
                opener(registry::resolve(from_env.as_deref()), how)
            }
        };
        trace_choice(&first, how);
        let first = first?;
        let Some(mut open) = open else { return single(first, worker_threads) };
        let Some(count) = worker_threads else {
            return Ok(Runtime::with_executor(super::executor(first, 0), None));
        };
        let group = Pool::new_group();
        // The thread that builds the runtime keeps the first driver, for `block_on`.
        let name = first.name();
        let drivers = (0..count).map(|_| open()).collect::<Result<Vec<_>, _>>()?;
        let workers = Workers::start(drivers, group, self.accept_spread)
            .map_err(|source| Error::BackendCreation { name, source })?;
        Ok(Runtime::with_executor(super::executor(first, group), Some(workers)))
    }
}

/// Opens drivers of the backend `name` resolved to, the first one now: what a runtime
/// whose backend is chosen by name opens, once per thread.
type Opener = Box<dyn FnMut() -> Result<Driver, Error>>;

fn opener(
    name: Result<&'static str, Error>,
    how: Why,
) -> (Result<Driver, Error>, Option<Opener>, Why) {
    match name {
        Ok(name) => {
            let mut open: Opener = Box::new(move || registry::open_driver(Some(name)));
            (open(), Some(open), how)
        }
        Err(error) => (Err(error), None, how),
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

/// A runtime on the one driver given as a value: one thread only.
fn single(driver: Driver, worker_threads: Option<usize>) -> Result<Runtime, Error> {
    if worker_threads.is_some() {
        return Err(Error::BackendCreation {
            name: driver.name(),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "a backend given as a value serves one thread, so it cannot run worker \
                     threads; choose the backend by name (Builder::backend) for a \
                     multi-worker runtime",
            ),
        });
    }
    Ok(Runtime::with_executor(super::executor(driver, 0), None))
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let choice = match &self.choice {
            Choice::Default => "default".to_owned(),
            Choice::Named(name) => format!("{name:?}"),
            Choice::Custom(backend) => format!("custom {:?}", backend.name()),
            Choice::Driver(driver) => format!("driver {:?}", driver.name()),
            Choice::Factory(_) => "driver factory".to_owned(),
        };
        f.debug_struct("Builder")
            .field("backend", &choice)
            .field("worker_threads", &self.worker_threads)
            .field("accept_spread", &self.accept_spread)
            .finish()
    }
}

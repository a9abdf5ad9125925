//! Cooperative budgeting: a task that finds every socket ready still yields now and then.
//!
//! The executor gives each task a budget before polling it; every I/O operation spends one
//! unit. Once it is spent, operations return `Pending` after waking their own task, which
//! puts the task at the back of the run queue, so that other tasks and the reactor run.
//!
//! A leaf: the executor (in the runtime) sets the budget and the drivers spend it, so it
//! lives below both.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations a task may do per poll before it must yield.
const BUDGET: u32 = 128;

thread_local! {
    /// `None` outside of a task poll: code that runs outside the executor is not budgeted.
    static REMAINING: Cell<Option<u32>> = const { Cell::new(None) };
}

/// Runs `f` (one poll of a task) with a fresh budget.
pub(crate) fn budgeted<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u32>);
    impl Drop for Restore {
        fn drop(&mut self) {
            REMAINING.with(|cell| cell.set(self.0));
        }
    }
    let _restore = Restore(REMAINING.with(|cell| cell.replace(Some(BUDGET))));
    f()
}

/// Spends one unit of the budget, or, when it is spent, wakes the task and says `Pending`.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    REMAINING.with(|cell| match cell.get() {
        None => Poll::Ready(()),
        Some(0) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(left) => {
            cell.set(Some(left - 1));
            Poll::Ready(())
        }
    })
}

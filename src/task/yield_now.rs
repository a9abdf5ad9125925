//! `yield_now`: giving the other tasks of the runtime a turn.

use std::task::Poll;

/// Yields to the other tasks of the runtime once, then resumes.
///
/// ```
/// plexio::block_on(async {
///     for _ in 0..3 {
///         plexio::task::yield_now().await;
///     }
/// });
/// ```
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

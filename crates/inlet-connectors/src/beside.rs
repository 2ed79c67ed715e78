//! Work a stream does beside its reading (a HubSpot archive pass, the place Stripe's events
//! feed is followed from), in a task of its own that sends what it finds as it goes.
//!
//! The work goes on whatever the stream is doing: a request future the stream kept but left
//! unpolled could hold the rate limiter's (fair) lock, and every other request of the sync
//! would wait for it. The stream takes each piece when it is ready for it. Dropping the
//! handle stops the work.

use std::future::Future;

use inlet_core::{ErrorKind, SourceError};
use tokio::sync::mpsc;

pub struct Beside<T> {
    found: mpsc::Receiver<Result<T, SourceError>>,
    task: tokio::task::JoinHandle<()>,
}

impl<T: Send + 'static> Beside<T> {
    /// Runs `work`, which sends its pieces to the sender it is given; at most one piece
    /// waits for the stream, so a pass holds a page or two in memory, not all of it.
    pub fn start<F, W>(work: F) -> Beside<T>
    where
        F: FnOnce(mpsc::Sender<Result<T, SourceError>>) -> W,
        W: Future<Output = ()> + Send + 'static,
    {
        let (send, found) = mpsc::channel(1);
        Beside {
            found,
            task: tokio::spawn(work(send)),
        }
    }

    /// The next piece; an error if the work ended without saying it was done.
    pub async fn next(&mut self) -> Result<T, SourceError> {
        self.found.recv().await.unwrap_or_else(|| Err(stopped()))
    }

    /// The next piece if it has come, without waiting.
    pub fn ready(&mut self) -> Option<Result<T, SourceError>> {
        match self.found.try_recv() {
            Ok(piece) => Some(piece),
            Err(mpsc::error::TryRecvError::Empty) => None,
            Err(mpsc::error::TryRecvError::Disconnected) => Some(Err(stopped())),
        }
    }
}

impl<T> Drop for Beside<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn stopped() -> SourceError {
    SourceError::new(
        ErrorKind::Internal,
        "work beside a stream's reading stopped before it was done",
    )
}

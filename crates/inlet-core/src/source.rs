//! The contract every connector implements.

use std::future::Future;
use std::pin::Pin;

use futures_core::Stream;

use crate::batch::{Batch, Checkpoint};
use crate::error::SourceError;
use crate::stream::StreamSpec;

/// Batches in source order. The engine reads a few batches ahead of the writer and no more,
/// so memory stays bounded whatever the account size.
pub type BatchStream<'a> = Pin<Box<dyn Stream<Item = Result<Batch, SourceError>> + Send + 'a>>;

/// The streams a source offers, found out when asked: a network call for sources whose
/// fields are the account's own (HubSpot's properties, Salesforce's describe), so it can
/// fail like any call.
pub type Discovery<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<StreamSpec>, SourceError>> + Send + 'a>>;

pub trait Source: Send + Sync {
    /// The streams this source can sync.
    fn discover(&self) -> Discovery<'_>;

    /// Reads `stream` from `from` (`None`: from the beginning, a backfill). A stream that
    /// reaches the present keeps going: it yields batches as changes arrive.
    ///
    /// A backfill may be read in partitions ([`crate::read_partitions`]); the stream is
    /// still one sequence of batches, and what it promises is the same:
    ///
    /// * each batch's checkpoint says where *every* partition stands once that batch is
    ///   written (the [`crate::Partitions`] set the driver yields with the page), never a
    ///   position a written batch has not reached;
    /// * the change feed's position is taken before any partition is read, and kept in every
    ///   backfill checkpoint, so changes made while any partition is read are applied after;
    /// * the batch that completes the last partition carries the sweep (if any) and is the
    ///   last [`Phase::Backfill`](crate::Phase) batch; live batches come only after it;
    /// * a failed page ends the read with its error; the engine resumes from the last
    ///   committed checkpoint, every partition at its own place.
    fn read<'a>(&'a self, stream: &'a StreamSpec, from: Option<&'a Checkpoint>) -> BatchStream<'a>;

    /// A verified webhook said something changed: read the change feed now instead of at
    /// the next poll. `body` is what the delivery said: a hint of what to look at again,
    /// never data to write (that is read from the API). Sources without webhooks ignore it.
    fn nudge(&self, body: &[u8]) {
        let _ = body;
    }

    /// A second source for a rebuild's or a rename's copy, read beside this one: positions,
    /// caches and hints of its own, the same request budgets. An API whose limits are the
    /// account's (HubSpot's search, 5 requests a second) is otherwise asked twice as often
    /// while a copy runs, and answers 429s. `None`: the caller builds a source of its own.
    fn beside(&self) -> Option<std::sync::Arc<dyn Source>> {
        None
    }

    /// A copy's live sync has stopped and the switch waits for the copy to read past it:
    /// read now what would be read next (a poll, a table read again whole) instead of when
    /// it is due. Sources whose streams all follow a change feed need nothing here.
    fn catch_up(&self) {}
}

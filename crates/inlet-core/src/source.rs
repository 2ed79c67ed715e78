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
    fn read<'a>(&'a self, stream: &'a StreamSpec, from: Option<&'a Checkpoint>) -> BatchStream<'a>;

    /// A verified webhook said something changed: read the change feed now instead of at
    /// the next poll. Sources without webhooks ignore it.
    fn nudge(&self) {}
}

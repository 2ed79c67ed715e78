//! The contract every connector implements.

use std::pin::Pin;

use futures_core::Stream;

use crate::batch::{Batch, Checkpoint};
use crate::error::SourceError;
use crate::stream::StreamSpec;

/// Batches in source order. The engine reads a few batches ahead of the writer and no more,
/// so memory stays bounded whatever the account size.
pub type BatchStream<'a> = Pin<Box<dyn Stream<Item = Result<Batch, SourceError>> + Send + 'a>>;

pub trait Source: Send + Sync {
    /// The streams this source can sync.
    fn streams(&self) -> Vec<StreamSpec>;

    /// Reads `stream` from `from` (`None`: from the beginning, a backfill). A stream that
    /// reaches the present keeps going: it yields batches as changes arrive.
    fn read<'a>(&'a self, stream: &'a StreamSpec, from: Option<&'a Checkpoint>) -> BatchStream<'a>;
}

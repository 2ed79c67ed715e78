//! inlet's sync contract, shared by every source and the writer.
//!
//! A [`Source`] describes its streams ([`StreamSpec`]) and reads one stream from a
//! [`Checkpoint`] as a stream of [`Batch`]es. Each batch carries its records and the
//! checkpoint that becomes true once those records are written: the writer stores both in
//! one transaction, so a crash anywhere means "resume from the last committed checkpoint",
//! and replaying a batch changes nothing.
//!
//! Every record carries a source [`Version`]. The writer never lets an older version
//! overwrite a newer one, and on a tie the later-applied change wins, so a tie never loses
//! the later change.

mod batch;
mod engine;
mod error;
mod naming;
mod record;
mod retry;
mod source;
mod stream;

pub use batch::{Batch, Checkpoint, Phase};
pub use engine::{run_stream, run_sync, EngineError, Outcome, Sink, StreamState};
pub use error::{Action, ErrorKind, SourceError};
pub use naming::{column_name, MAX_IDENTIFIER_BYTES};
pub use record::{Change, Record, Version};
pub use retry::{
    retry_in_place, Curve, ServerWord, DESTINATION, IN_PLACE, IN_PLACE_ATTEMPTS, MAX_IN_PLACE_WAIT,
    MAX_SERVER_WAIT, STREAM,
};
pub use source::{BatchStream, Discovery, Source};
pub use stream::{Column, ColumnType, Stage, StreamSpec};

//! `inlet sync ...`: what is synced where, and how it is going.

mod add;
mod list;
mod rebuild;
mod rename;
mod status;

pub use add::{add, AddArgs};
pub use list::list;
pub use rebuild::rebuild;
pub use rename::rename_schema;
pub use status::status;

pub use inlet_runtime::sources::{configured, source_problem};

//! One module per command group; each returns the exit code.

mod destination;

use crate::cli::{Command, DestinationCommand};
use crate::exit::Code;

pub async fn run(command: Command) -> Code {
    match command {
        Command::Destination(DestinationCommand::Check { connection, json }) => {
            destination::check(&connection, json).await
        }
    }
}

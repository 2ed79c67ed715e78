//! One module per command group; each returns the exit code.

mod destination;
mod tunnel;

use crate::cli::{Command, DestinationCommand, TunnelCommand};
use crate::exit::Code;
use crate::paths::Paths;

pub async fn run(command: Command, paths: &Paths) -> Code {
    match command {
        Command::Destination(DestinationCommand::Check { connection, json }) => {
            destination::check(&connection, paths, json).await
        }
        Command::Tunnel(TunnelCommand::Keygen {
            key_type,
            force,
            json,
        }) => tunnel::keygen(paths, key_type, force, json),
        Command::Tunnel(TunnelCommand::Show { key_type, json }) => {
            tunnel::show(paths, key_type, json)
        }
    }
}

//! One module per command group; each returns the exit code.

mod demo;
mod destination;
mod run;
mod sync;
mod tunnel;

use crate::cli::{Command, DestinationCommand, SyncCommand, TunnelCommand};
use crate::exit::Code;
use crate::paths::Paths;

pub async fn run(command: Command, paths: &Paths) -> Code {
    match command {
        Command::Destination(d) => run_destination(d, paths).await,
        Command::Tunnel(TunnelCommand::Keygen {
            key_type,
            force,
            json,
        }) => tunnel::keygen(paths, key_type, force, json),
        Command::Tunnel(TunnelCommand::Show { key_type, json }) => {
            tunnel::show(paths, key_type, json)
        }
        Command::Sync(s) => run_sync_command(s, paths).await,
        Command::Run { listen, only, .. } => run::run(paths, listen, &only).await,
        Command::Demo { customers, keep } => demo::demo(customers, keep).await,
    }
}

async fn run_sync_command(command: SyncCommand, paths: &Paths) -> Code {
    match command {
        SyncCommand::Add {
            name,
            source,
            destination,
            schema,
            api_key_env,
            api_base,
            set,
            streams,
            deletes,
            no_verify,
            force,
        } => {
            let args = sync::AddArgs {
                name,
                source,
                destination,
                schema,
                api_key_env,
                api_base,
                options: crate::cli::source_options(set),
                streams,
                soft_deletes: deletes.as_deref() == Some("soft"),
                verify: !no_verify,
                force,
            };
            sync::add(paths, args).await
        }
        SyncCommand::List { json } => sync::list(paths, json),
        SyncCommand::Status { name, json } => sync::status(paths, name.as_deref(), json).await,
        SyncCommand::RenameSchema { name, new, json } => {
            sync::rename_schema(paths, &name, &new, json).await
        }
        SyncCommand::Rebuild { name, json } => sync::rebuild(paths, &name, json).await,
    }
}

async fn run_destination(command: DestinationCommand, paths: &Paths) -> Code {
    use DestinationCommand as D;
    match command {
        D::Check { connection, json } => destination::check(&connection, paths, json).await,
        D::Add {
            name,
            connection,
            read_role,
            force,
        } => destination::add(paths, &name, &connection, read_role, force).await,
        D::Setup {
            name,
            auto,
            manual: _,
            admin_user,
            sync_user,
            read_role,
            grant_to,
            json,
        } => {
            // `--grant-to ""` means nobody (and asks nothing).
            let grant_to = grant_to.map(|v| v.into_iter().filter(|r| !r.is_empty()).collect());
            let args = destination::SetupArgs {
                name,
                admin_user,
                sync_user,
                read_role,
                grant_to,
                json,
            };
            if auto {
                destination::setup_auto(paths, &args).await
            } else {
                destination::setup_manual(paths, &args).await
            }
        }
        D::Verify { name, schema, json } => {
            destination::verify(paths, &name, schema.as_deref(), json).await
        }
        D::Grant { name, role, json } => destination::grant(paths, &name, &role, json).await,
        D::Revoke { name, role, json } => destination::revoke(paths, &name, &role, json).await,
        D::Password { name } => destination::store_password(paths, &name),
    }
}

//! `inlet destination check`: one connection, and what was negotiated or what is wrong.

use inlet_postgres::{ConnectOptions, Environment};

use super::{connect_prompting, no_terminal};
use crate::connection_args::{prompt_password, ConnectionArgs};
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;

/// `inlet destination check`: connect once, report what was negotiated or what is wrong.
pub async fn check(args: &ConnectionArgs, paths: &Paths, json: bool) -> Code {
    let env = Environment::current();
    let with_ssh = |mut o: ConnectOptions| {
        o.ssh = args.ssh_options(&env, paths)?;
        o.finish()
    };
    let mut opts = match args.options(&env).and_then(with_ssh) {
        Ok(o) => o,
        Err(p) => return output::problem(&p, None, json),
    };
    if args.url_has_password() && !json {
        eprintln!(
            "note: the URL contains a password, which other users of this machine can see in \
             the process list; prefer PGPASSWORD or -W"
        );
    }
    if args.prompt_password {
        match prompt_password(&opts.user) {
            Ok(pw) => opts.password = Some(pw),
            Err(e) => return output::problem(&no_terminal(e), Some(&opts), json),
        }
    }
    match connect_prompting(&mut opts).await {
        Ok(session) => output::connected(&opts, &session.info, json),
        Err(p) => output::problem(&p, Some(&opts), json),
    }
}

//! `inlet destination add NAME ...`: record a destination in `inlet.toml`.

use inlet_postgres::{ConnectOptions, Environment, Problem, ProblemKind};

use crate::config::{self, Destination};
use crate::connection_args::{prompt_password, ConnectionArgs};
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;
use crate::secrets;

pub async fn add(
    paths: &Paths,
    name: &str,
    args: &ConnectionArgs,
    read_role: Option<String>,
    force: bool,
) -> Code {
    match run(paths, name, args, read_role, force) {
        Ok(dest) => {
            eprintln!("added destination \"{name}\" to {}", paths.config.display());
            match &dest.user {
                Some(_) => eprintln!("next: inlet destination verify {name}"),
                None => eprintln!(
                    "next: inlet destination setup {name} --auto --admin-user ADMIN  (creates the \
                     sync user and read role; the admin password is used once, never stored)\n\
                     \x20  or: inlet destination setup {name} --manual  (prints the SQL to run yourself)"
                ),
            }
            Code::Ok
        }
        Err(p) => output::problem(&p, None, false),
    }
}

fn run(
    paths: &Paths,
    name: &str,
    args: &ConnectionArgs,
    read_role: Option<String>,
    force: bool,
) -> Result<Destination, Problem> {
    config::check_name("destination", name)?;
    let existing = config::load(&paths.config)?;
    if existing.destinations.contains_key(name) && !force {
        return Err(Problem::new(
            ProblemKind::InvalidOption,
            format!(
                "destination \"{name}\" already exists in {}",
                paths.config.display()
            ),
            "pass --force to replace it, or choose another name",
        ));
    }
    let mut opts = args.options(&Environment::current())?;
    if opts.dbname.is_empty() {
        return Err(Problem::new(
            ProblemKind::InvalidOption,
            "no database name given",
            "pass --dbname NAME (or put it in the URL: postgresql://HOST/NAME)",
        ));
    }
    let env = Environment::current();
    opts.ssh = args.ssh_options(&env, paths)?;
    opts.check_tunnel()?;
    let mut dest = Destination::from_options(&opts);
    if let (Some(b), None) = (&mut dest.ssh, &args.ssh_key) {
        b.key = None; // the default key, wherever inlet's directory is
    }
    // The user is the sync user: recorded only when given explicitly (setup creates one).
    if explicit_user(args) {
        dest.user = Some(opts.user.clone());
    }
    dest.read_role = read_role;
    if args.prompt_password {
        opts.password = Some(prompt_password(&opts.user).map_err(|e| {
            Problem::new(
                ProblemKind::PasswordRequired,
                format!("cannot ask for the password: {e}"),
                "",
            )
        })?);
    }
    if let (Some(_), Some(pw)) = (&dest.user, &opts.password) {
        secrets::set_destination_password(&paths.secrets(), name, pw)?;
    }
    config::save_entry(&paths.config, "destinations", name, &dest)?;
    Ok(dest)
}

fn explicit_user(args: &ConnectionArgs) -> bool {
    let in_url = args.url.as_deref().is_some_and(|u| {
        let mut o = ConnectOptions {
            user: String::new(),
            ..ConnectOptions::default()
        };
        o.apply_url(u).is_ok() && !o.user.is_empty()
    });
    args.user.is_some() || in_url || std::env::var_os("PGUSER").is_some()
}

//! `inlet tunnel ...`: the key pair inlet logs in to SSH bastions with.

use inlet_postgres::ssh::keys::{self, KeyType};
use inlet_postgres::{Problem, ProblemKind};

use crate::exit::Code;
use crate::output;
use crate::paths::Paths;

/// `inlet tunnel keygen`: make the key pair (never replacing one without `--force`).
pub fn keygen(paths: &Paths, key_type: KeyType, force: bool, json: bool) -> Code {
    match keys::generate(&paths.ssh_dir(), key_type, force) {
        Ok((key, replaced)) => output::ssh_key(&key, true, replaced.as_ref(), json),
        Err(p) => output::problem(&p, None, json),
    }
}

/// `inlet tunnel show`: print the public key and the install steps again.
pub fn show(paths: &Paths, key_type: Option<KeyType>, json: bool) -> Code {
    let dir = paths.ssh_dir();
    let path = match key_type {
        Some(t) => dir.join(t.file_name()),
        None => keys::default_key(&dir),
    };
    if !path.exists() {
        let p = Problem::new(
            ProblemKind::SshKey,
            format!(
                "inlet has no SSH key yet ({} does not exist)",
                path.display()
            ),
            "create one with `inlet tunnel keygen` (add --config if inlet's directory is \
             elsewhere)",
        );
        return output::problem(&p, None, json);
    }
    match keys::describe(&path) {
        Ok(key) => output::ssh_key(&key, false, None, json),
        Err(p) => output::problem(&p, None, json),
    }
}

//! inlet's SSH key pair: made by `inlet tunnel keygen`, kept in inlet's `ssh/` directory,
//! and installed by a person in the bastion's `~/.ssh/authorized_keys`.
//!
//! The private key is written in OpenSSH format with mode 0600 and never replaced unless the
//! caller says so; loading refuses a key that others can read, as OpenSSH does.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData, RsaKeypair};
use russh::keys::ssh_key::LineEnding;
use russh::keys::{HashAlg, PrivateKey};
use serde::Serialize;

use crate::problem::{Problem, ProblemKind};

/// The key types `inlet tunnel keygen` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// The default: small, fast, supported by OpenSSH 6.5 (2014) and later.
    Ed25519,
    /// 3072-bit RSA, for bastions too old for Ed25519.
    Rsa,
}

/// RSA modulus size, OpenSSH's default.
const RSA_BITS: usize = 3072;

impl KeyType {
    pub const ALL: [KeyType; 2] = [KeyType::Ed25519, KeyType::Rsa];

    /// The private key's file name in inlet's `ssh/` directory (OpenSSH's names).
    pub fn file_name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "id_ed25519",
            KeyType::Rsa => "id_rsa",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa => "rsa",
        }
    }
}

/// A key pair on disk, as people see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// `ssh-ed25519` or `ssh-rsa`.
    pub algorithm: String,
    pub private_key_file: PathBuf,
    pub public_key_file: PathBuf,
    /// The line for `authorized_keys`: `ssh-ed25519 AAAA... inlet@host`.
    pub public_key: String,
    /// `SHA256:...`
    pub fingerprint: String,
}

/// The key to use when none is named: `id_ed25519` if it exists, else `id_rsa` if that
/// exists, else (to be reported missing) `id_ed25519`.
pub fn default_key(ssh_dir: &Path) -> PathBuf {
    KeyType::ALL
        .iter()
        .map(|t| ssh_dir.join(t.file_name()))
        .find(|p| p.exists())
        .unwrap_or_else(|| ssh_dir.join(KeyType::Ed25519.file_name()))
}

/// Makes a key pair of `kind` in `ssh_dir` (created 0700). An existing key is an error
/// unless `replace`, in which case it is replaced atomically and returned.
pub fn generate(
    ssh_dir: &Path,
    kind: KeyType,
    replace: bool,
) -> Result<(KeyInfo, Option<KeyInfo>), Problem> {
    let path = ssh_dir.join(kind.file_name());
    let previous = if path.exists() {
        let old = describe(&path)?;
        if !replace {
            return Err(Problem::new(
                ProblemKind::SshKey,
                format!(
                    "an SSH key already exists at {} ({}); inlet never replaces a key silently",
                    path.display(),
                    old.fingerprint
                ),
                "`inlet tunnel show` prints its public key. To replace it, run `inlet tunnel \
                 keygen --force`, then install the new public key on the bastion: the old one \
                 stops working",
            ));
        }
        Some(old)
    } else {
        None
    };
    let key = new_key(kind).map_err(|e| file_problem(&path, "generate", &e))?;
    let pem = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| file_problem(&path, "encode", &e))?;
    let public = public_line(&key).map_err(|e| file_problem(&path, "encode", &e))?;
    write_pair(ssh_dir, &path, pem.as_bytes(), &public)
        .map_err(|e| file_problem(&path, "write", &e))?;
    Ok((describe(&path)?, previous))
}

/// The key pair whose private key is `path`.
pub fn describe(path: &Path) -> Result<KeyInfo, Problem> {
    let key = load(path)?;
    let public_key = public_line(&key).map_err(|e| file_problem(path, "encode", &e))?;
    Ok(KeyInfo {
        algorithm: key.algorithm().as_str().to_string(),
        private_key_file: path.to_path_buf(),
        public_key_file: public_path(path),
        fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
        public_key,
    })
}

/// Reads a private key for authentication: it must exist, be readable by its owner only,
/// and have no passphrase (inlet runs unattended).
pub fn load(path: &Path) -> Result<PrivateKey, Problem> {
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Problem::new(
            ProblemKind::SshKey,
            format!("there is no SSH private key at {}", path.display()),
            "create one with `inlet tunnel keygen` and install its public key on the bastion \
             (the command prints the steps), or pass --ssh-key with an existing key",
        ),
        _ => file_problem(path, "read", &e),
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(Problem::new(
            ProblemKind::SshKey,
            format!(
                "the SSH private key {} can be read by other users of this machine (mode {:o})",
                path.display(),
                meta.permissions().mode() & 0o777
            ),
            format!("restrict it to its owner: chmod 600 {}", path.display()),
        ));
    }
    let text = fs::read_to_string(path).map_err(|e| file_problem(path, "read", &e))?;
    let encrypted = text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED");
    match russh::keys::decode_secret_key(&text, None) {
        Ok(key) if !key.is_encrypted() && !encrypted => Ok(key),
        Err(russh::keys::Error::KeyIsEncrypted) | Ok(_) => Err(Problem::new(
            ProblemKind::SshKey,
            format!(
                "the SSH private key {} is protected by a passphrase",
                path.display()
            ),
            "inlet runs unattended and cannot type a passphrase: use a key without one \
             (`inlet tunnel keygen` makes one), or remove it with `ssh-keygen -p -N '' -f KEY`",
        )),
        Err(_) if encrypted => Err(Problem::new(
            ProblemKind::SshKey,
            format!(
                "the SSH private key {} is protected by a passphrase",
                path.display()
            ),
            "use a key without a passphrase (`inlet tunnel keygen` makes one)",
        )),
        Err(e) => Err(Problem::new(
            ProblemKind::SshKey,
            format!(
                "{} is not an SSH private key inlet can read: {e}",
                path.display()
            ),
            "pass --ssh-key with an OpenSSH private key (the file ssh-keygen writes, not the \
             .pub one), or make one with `inlet tunnel keygen`",
        )),
    }
}

/// `ssh-ed25519 AAAA... comment`: the line for `authorized_keys`.
pub fn public_line(key: &PrivateKey) -> Result<String, russh::keys::ssh_key::Error> {
    key.public_key().to_openssh()
}

/// The shell commands that install `public_key` for the current user on the bastion.
pub fn install_steps(public_key: &str) -> String {
    let quoted = public_key.replace('\'', r"'\''");
    format!(
        "mkdir -p ~/.ssh && chmod 700 ~/.ssh\n\
         echo '{quoted}' >> ~/.ssh/authorized_keys\n\
         chmod 600 ~/.ssh/authorized_keys"
    )
}

fn public_path(private: &Path) -> PathBuf {
    let mut name = private.file_name().unwrap_or_default().to_os_string();
    name.push(".pub");
    private.with_file_name(name)
}

fn new_key(kind: KeyType) -> Result<PrivateKey, russh::keys::ssh_key::Error> {
    let mut rng = rand::rng();
    let data = match kind {
        KeyType::Ed25519 => KeypairData::from(Ed25519Keypair::random(&mut rng)),
        KeyType::Rsa => KeypairData::from(RsaKeypair::random(&mut rng, RSA_BITS)?),
    };
    PrivateKey::new(data, format!("inlet@{}", hostname()))
}

/// Writes the private key (0600) and public key (0644) through temporary files renamed into
/// place, so a reader never sees half a key and a crash never leaves one.
fn write_pair(dir: &Path, private: &Path, pem: &[u8], public: &str) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let write = |path: &Path, bytes: &[u8], mode: u32| -> io::Result<()> {
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write(private, pem, 0o600)?;
    write(
        &public_path(private),
        format!("{public}\n").as_bytes(),
        0o644,
    )
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn file_problem(path: &Path, verb: &str, e: &dyn std::fmt::Display) -> Problem {
    Problem::new(
        ProblemKind::SshKey,
        format!("cannot {verb} the SSH key {}: {e}", path.display()),
        "check that inlet's directory exists and is writable by the user inlet runs as",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_private_and_never_replaced_silently() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ssh = dir.path().join("ssh");
        let (info, replaced) = generate(&ssh, KeyType::Ed25519, false).expect("keygen");
        assert!(replaced.is_none());
        assert_eq!(info.algorithm, "ssh-ed25519");
        assert!(info.public_key.starts_with("ssh-ed25519 AAAA"), "{info:?}");
        assert!(info.public_key.contains(" inlet@"), "{info:?}");
        assert!(info.fingerprint.starts_with("SHA256:"));
        let mode = |p: &Path| fs::metadata(p).map(|m| m.permissions().mode() & 0o777).ok();
        assert_eq!(mode(&info.private_key_file), Some(0o600));
        assert_eq!(mode(&ssh), Some(0o700));
        let on_disk = fs::read_to_string(&info.public_key_file).expect("pub file");
        assert_eq!(on_disk.trim_end(), info.public_key);
        assert_eq!(default_key(&ssh), info.private_key_file);

        let refused = generate(&ssh, KeyType::Ed25519, false).expect_err("must refuse");
        assert_eq!(refused.kind, ProblemKind::SshKey);
        assert!(refused.message.contains(&info.fingerprint), "{refused:?}");
        assert_eq!(describe(&info.private_key_file), Ok(info.clone()));

        let (new, old) = generate(&ssh, KeyType::Ed25519, true).expect("forced keygen");
        assert_eq!(old, Some(info.clone()));
        assert_ne!(new.fingerprint, info.fingerprint);
    }

    #[test]
    fn keys_readable_by_others_or_missing_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = load(&dir.path().join("nope")).expect_err("missing");
        assert!(missing.fix.contains("inlet tunnel keygen"), "{missing:?}");
        let (info, _) = generate(dir.path(), KeyType::Ed25519, false).expect("keygen");
        fs::set_permissions(&info.private_key_file, fs::Permissions::from_mode(0o644))
            .expect("chmod");
        let open = load(&info.private_key_file).expect_err("0644 refused");
        assert_eq!(open.kind, ProblemKind::SshKey);
        assert!(open.fix.contains("chmod 600"), "{open:?}");
        let not_a_key = dir.path().join("garbage");
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&not_a_key)
            .and_then(|mut f| f.write_all(b"hello"))
            .expect("write");
        assert_eq!(
            load(&not_a_key).map_err(|p| p.kind),
            Err(ProblemKind::SshKey)
        );
    }

    #[test]
    fn install_steps_quote_the_key_for_the_shell() {
        let steps = install_steps("ssh-ed25519 AAAA it's-me");
        assert!(steps.contains(r"echo 'ssh-ed25519 AAAA it'\''s-me' >> ~/.ssh/authorized_keys"));
        assert!(steps.contains("chmod 600 ~/.ssh/authorized_keys"));
    }
}

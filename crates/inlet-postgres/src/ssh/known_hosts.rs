//! OpenSSH `known_hosts` files, read and appended in OpenSSH's own format so people can read
//! and edit them with the usual tools (`ssh-keygen -F`, `ssh-keygen -R`).
//!
//! Supported, as sshd(8) describes them: comma-separated host patterns with `*` and `?`
//! wildcards and `!` negation, `[host]:port` for ports other than 22, hashed entries
//! (`|1|salt|hash`, from `HashKnownHosts yes` or `ssh-keygen -H`), comments, and the
//! `@revoked` marker. `@cert-authority` lines are skipped: inlet does not accept host
//! certificates. A malformed line is skipped, as OpenSSH skips it; it never stops the others
//! from being read.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use russh::keys::PublicKey;

/// One usable line.
#[derive(Clone, Debug)]
pub struct Entry {
    /// 1-based line number, for messages.
    pub line: usize,
    pub revoked: bool,
    patterns: String,
    pub key: PublicKey,
}

/// What a file says about the key a host presented.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// The key is listed for the host.
    Matched { line: usize },
    /// The key is listed as `@revoked`.
    Revoked { line: usize },
    /// The host is listed, with other keys only.
    Changed { recorded: Vec<Entry> },
    /// The host is not listed.
    NotListed,
}

/// How OpenSSH names a host in known_hosts: `host` on port 22, else `[host]:port`.
pub fn host_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Every usable line of `text`.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| parse_line(i + 1, line))
        .collect()
}

fn parse_line(number: usize, line: &str) -> Option<Entry> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace().peekable();
    let mut revoked = false;
    if let Some(marker) = fields.next_if(|f| f.starts_with('@')) {
        match marker {
            "@revoked" => revoked = true,
            _ => return None, // @cert-authority, or a marker we do not know
        }
    }
    let patterns = fields.next()?.to_string();
    let key_type = fields.next()?;
    let blob = fields.next()?;
    let key = PublicKey::from_openssh(&format!("{key_type} {blob}")).ok()?;
    Some(Entry {
        line: number,
        revoked,
        patterns,
        key,
    })
}

/// Reads a file; a missing file is an empty one.
pub fn read(path: &Path) -> io::Result<Vec<Entry>> {
    match fs::read(path) {
        Ok(bytes) => Ok(parse(&String::from_utf8_lossy(&bytes))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The entries (revoked ones included) whose patterns match `host` on `port`.
pub fn entries_for<'a>(entries: &'a [Entry], host: &str, port: u16) -> Vec<&'a Entry> {
    let name = host_name(&host.to_ascii_lowercase(), port);
    entries
        .iter()
        .filter(|e| patterns_match(&e.patterns, &name))
        .collect()
}

/// What `entries` say about `key` presented by `host` on `port`.
pub fn lookup(entries: &[Entry], host: &str, port: u16, key: &PublicKey) -> Lookup {
    let listed = entries_for(entries, host, port);
    let same = |e: &Entry| e.key.key_data() == key.key_data();
    if let Some(e) = listed.iter().find(|e| e.revoked && same(e)) {
        return Lookup::Revoked { line: e.line };
    }
    let valid: Vec<&Entry> = listed.into_iter().filter(|e| !e.revoked).collect();
    if let Some(e) = valid.iter().find(|e| same(e)) {
        return Lookup::Matched { line: e.line };
    }
    if valid.is_empty() {
        Lookup::NotListed
    } else {
        Lookup::Changed {
            recorded: valid.into_iter().cloned().collect(),
        }
    }
}

/// Appends `host`'s key as one plain (unhashed) line, creating the file (and its directory,
/// mode 0700) when needed.
pub fn append(path: &Path, host: &str, port: u16, key: &PublicKey) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let openssh = key
        .to_openssh()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    // Type and key only: a comment from the server is not ours to record.
    let key_part: Vec<&str> = openssh.split_whitespace().take(2).collect();
    let mut line = format!("{} {}\n", host_name(host, port), key_part.join(" "));
    let ends_cleanly = fs::read(path).map_or(true, |b| b.is_empty() || b.ends_with(b"\n"));
    if !ends_cleanly {
        line.insert(0, '\n');
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(path)?;
    file.write_all(line.as_bytes())
}

/// OpenSSH's `match_hostname`: a negated pattern that matches wins (no match); otherwise any
/// positive match. Host names compare case-insensitively.
fn patterns_match(patterns: &str, name: &str) -> bool {
    if let Some(hashed) = patterns.strip_prefix("|1|") {
        return hashed_matches(hashed, name);
    }
    let mut matched = false;
    for pattern in patterns.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pattern),
        };
        if glob(&pattern.to_ascii_lowercase(), name) {
            if negated {
                return false;
            }
            matched = true;
        }
    }
    matched
}

/// `salt|hash`, both base64: HMAC-SHA1 of the host name keyed with the salt.
fn hashed_matches(salt_and_hash: &str, name: &str) -> bool {
    let mut parts = salt_and_hash.splitn(2, '|');
    let decode = |s: Option<&str>| s.and_then(|s| data_encoding::BASE64.decode(s.as_bytes()).ok());
    let (Some(salt), Some(hash)) = (decode(parts.next()), decode(parts.next())) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, name.as_bytes(), &hash).is_ok()
}

/// Shell-style glob with `*` (any run) and `?` (one character).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                backtrack = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match backtrack {
                Some((star, at)) => {
                    pi = star + 1;
                    ti = at + 1;
                    backtrack = Some((star, at + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG3XOEkz+v5zMvO2uF9H+Ubkyceq/BW8lHk78JZy28Pb";
    const OTHER: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPmkBC5ZZi59liPS7iMz8/RFy1BMhOJ23v9fjUw8D160";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).expect("test key parses")
    }

    fn found(text: &str, host: &str, port: u16, k: &str) -> Lookup {
        lookup(&parse(text), host, port, &key(k))
    }

    #[test]
    fn plain_lists_and_bracketed_ports_match_as_openssh_does() {
        let text = format!("# comment\n\nbastion,10.0.0.1 {KEY}\n[db-jump]:2222 {KEY} a comment\n");
        assert!(matches!(
            found(&text, "bastion", 22, KEY),
            Lookup::Matched { line: 3 }
        ));
        assert!(matches!(
            found(&text, "BASTION", 22, KEY),
            Lookup::Matched { .. }
        ));
        assert!(matches!(
            found(&text, "10.0.0.1", 22, KEY),
            Lookup::Matched { .. }
        ));
        assert!(matches!(
            found(&text, "db-jump", 2222, KEY),
            Lookup::Matched { line: 4 }
        ));
        // The port is part of the name: the same host on another port is another host.
        assert!(matches!(
            found(&text, "bastion", 2222, KEY),
            Lookup::NotListed
        ));
        assert!(matches!(
            found(&text, "db-jump", 22, KEY),
            Lookup::NotListed
        ));
    }

    #[test]
    fn hashed_entries_written_by_ssh_keygen_match() {
        // `ssh-keygen -H` of "example.com" and "[bastion.example.com]:2222" with KEY.
        let text = format!(
            "|1|Wp92TKsyfoFfKmNyHWqo0fuhKPY=|5NXtNyfqN2yBPuklhVJneWtWyr4= {KEY}\n\
             |1|Ws3o4oTZU8dy/JBHvikWDrR9SP4=|0VXp/ygttirLxglNLdpVGK/+DSA= {KEY}\n"
        );
        assert!(matches!(
            found(&text, "example.com", 22, KEY),
            Lookup::Matched { line: 1 }
        ));
        assert!(matches!(
            found(&text, "bastion.example.com", 2222, KEY),
            Lookup::Matched { line: 2 }
        ));
        assert!(matches!(
            found(&text, "example.org", 22, KEY),
            Lookup::NotListed
        ));
        assert!(matches!(
            found(&text, "example.com", 22, OTHER),
            Lookup::Changed { .. }
        ));
    }

    #[test]
    fn wildcards_and_negation() {
        let text = format!("*.internal,!evil.internal {KEY}\n[jump?]:*  {KEY}\n");
        assert!(matches!(
            found(&text, "a.internal", 22, KEY),
            Lookup::Matched { .. }
        ));
        assert!(matches!(
            found(&text, "evil.internal", 22, KEY),
            Lookup::NotListed
        ));
        assert!(matches!(
            found(&text, "jump1", 2200, KEY),
            Lookup::Matched { .. }
        ));
        assert!(glob("a*b*c", "aXbYc") && glob("*", "") && !glob("a?", "a"));
    }

    #[test]
    fn another_key_for_a_listed_host_is_a_change_and_revoked_keys_are_refused() {
        let text = format!("bastion {OTHER}\n@revoked bastion {KEY}\n");
        assert!(matches!(
            found(&text, "bastion", 22, KEY),
            Lookup::Revoked { line: 2 }
        ));
        let text = format!("bastion {OTHER}\n");
        match found(&text, "bastion", 22, KEY) {
            Lookup::Changed { recorded } => assert_eq!(recorded[0].line, 1),
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[test]
    fn malformed_and_unsupported_lines_are_skipped_not_fatal() {
        let text = format!(
            "bastion\nbastion ssh-ed25519 !!notbase64!!\n@cert-authority * {OTHER}\n\
             bastion ssh-ed25519 AAAA\n\u{0}\u{1}garbage\nbastion {KEY}\n"
        );
        let entries = parse(&text);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].line, 6);
    }

    #[test]
    fn appended_pins_are_found_again_and_keep_the_file_well_formed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/known_hosts");
        append(&path, "bastion", 2222, &key(KEY)).expect("first pin");
        fs::write(
            &path,
            format!(
                "{}no-newline {OTHER}",
                fs::read_to_string(&path).unwrap_or_default()
            ),
        )
        .expect("rewrite");
        append(&path, "other", 22, &key(KEY)).expect("second pin");
        let text = fs::read_to_string(&path).expect("read back");
        assert!(
            text.starts_with(&format!("[bastion]:2222 {KEY}\n")),
            "{text}"
        );
        assert!(matches!(
            found(&text, "bastion", 2222, KEY),
            Lookup::Matched { line: 1 }
        ));
        assert!(matches!(
            found(&text, "no-newline", 22, OTHER),
            Lookup::Matched { line: 2 }
        ));
        assert!(matches!(
            found(&text, "other", 22, KEY),
            Lookup::Matched { line: 3 }
        ));
    }
}

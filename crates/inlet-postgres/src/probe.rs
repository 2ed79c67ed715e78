//! A startup probe: send `StartupMessage`, read the server's first answer, hang up.
//!
//! It never sends a password. Its answer tells the diagnosis two things the driver's error
//! cannot: whether `pg_hba.conf` admits a connection made another way (with or without TLS),
//! and whether the server asks for a password at all.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::transport::BoxIo;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeAnswer {
    /// `pg_hba.conf` matched; the server asked for this authentication step.
    Authenticate(AuthStep),
    /// The server refused before authentication, with this SQLSTATE and routine.
    Refused { code: String, routine: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthStep {
    /// No password needed (trust, or certificate authentication already passed).
    Done,
    /// Cleartext, MD5 or SCRAM: a password is needed.
    Password,
    /// GSSAPI, SSPI or anything else.
    Other,
}

/// Largest first message we accept; a real one is tens of bytes.
const MAX_MESSAGE: usize = 64 * 1024;

pub async fn probe(mut io: BoxIo, user: &str, dbname: &str) -> io::Result<ProbeAnswer> {
    io.write_all(&startup_message(user, dbname)).await?;
    io.flush().await?;
    let tag = io.read_u8().await?;
    let len = io.read_i32().await?;
    let body_len = usize::try_from(len)
        .ok()
        .and_then(|l| l.checked_sub(4))
        .filter(|l| *l <= MAX_MESSAGE)
        .ok_or_else(|| invalid("message length out of range"))?;
    let mut body = vec![0u8; body_len];
    io.read_exact(&mut body).await?;
    match tag {
        b'R' => {
            let code = body
                .get(..4)
                .ok_or_else(|| invalid("short authentication request"))?;
            let step = match i32::from_be_bytes([code[0], code[1], code[2], code[3]]) {
                0 => AuthStep::Done,
                3 | 5 | 10 => AuthStep::Password,
                _ => AuthStep::Other,
            };
            Ok(ProbeAnswer::Authenticate(step))
        }
        b'E' => {
            let fields = error_fields(&body);
            let get = |f: u8| {
                fields
                    .iter()
                    .find(|(k, _)| *k == f)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            Ok(ProbeAnswer::Refused {
                code: get(b'C'),
                routine: get(b'R'),
            })
        }
        _ => Err(invalid("unexpected first message")),
    }
}

fn startup_message(user: &str, dbname: &str) -> Vec<u8> {
    const PROTOCOL_3_0: i32 = 196608;
    let mut body = PROTOCOL_3_0.to_be_bytes().to_vec();
    for (k, v) in [
        ("user", user),
        ("database", dbname),
        ("application_name", "inlet-probe"),
    ] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    msg
}

/// ErrorResponse body: repeated (field type byte, NUL-terminated string), ended by a 0 byte.
fn error_fields(body: &[u8]) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some((&field, tail)) = rest.split_first() {
        if field == 0 {
            break;
        }
        let end = tail.iter().position(|b| *b == 0).unwrap_or(tail.len());
        out.push((field, String::from_utf8_lossy(&tail[..end]).into_owned()));
        rest = tail.get(end + 1..).unwrap_or(&[]);
    }
    out
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_message_is_length_prefixed_and_terminated() {
        let m = startup_message("u", "d");
        let len = i32::from_be_bytes([m[0], m[1], m[2], m[3]]) as usize;
        assert_eq!(len, m.len());
        assert_eq!(m.last(), Some(&0));
        assert!(m.windows(6).any(|w| w == b"user\0u"));
    }

    #[test]
    fn error_fields_survive_truncation() {
        let f = error_fields(b"C28000\0Rrt\0Mmsg");
        assert_eq!(f[0], (b'C', "28000".into()));
        assert_eq!(f[1], (b'R', "rt".into()));
        assert_eq!(f[2], (b'M', "msg".into()));
        assert!(error_fields(b"").is_empty());
    }
}

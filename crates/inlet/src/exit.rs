//! Exit codes: a documented contract for scripts (README, "Exit codes").

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Everything worked.
    Ok = 0,
    /// The check ran and found a problem (connection refused, bad password, ...).
    Problem = 1,
    /// The command line or a setting is invalid; nothing was attempted.
    Usage = 2,
    /// inlet itself failed (a bug, or the machine is out of resources).
    Internal = 3,
}

impl From<Code> for std::process::ExitCode {
    fn from(c: Code) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}

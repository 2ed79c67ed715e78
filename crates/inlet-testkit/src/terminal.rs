//! A command run on a real pseudo-terminal (through util-linux `script`), so tests can
//! answer the prompts a person would see: passwords read from /dev/tty, menus.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::wait_until;

#[derive(Debug)]
pub struct Terminal {
    child: Child,
    stdin: Option<ChildStdin>,
    seen: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Terminal {
    /// Runs `shell_command` (one `sh -c` line) on a pty, with exactly `env` as environment
    /// (plus PATH).
    pub fn spawn(shell_command: &str, env: &[(&str, &str)]) -> Terminal {
        let mut cmd = Command::new("script");
        cmd.args(["-qec", shell_command, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run script(1): {e}"));
        let mut stdout = child.stdout.take().expect("piped stdout");
        let seen = Arc::new(Mutex::new(String::new()));
        let sink = seen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&text);
            }
        });
        let stdin = child.stdin.take();
        Terminal {
            child,
            stdin,
            seen,
            reader: Some(reader),
        }
    }

    /// Everything the terminal showed so far.
    pub fn screen(&self) -> String {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits (30 s at most) until the screen shows `text`.
    pub fn wait_for(&self, text: &str) {
        wait_until(
            &format!("the terminal to show {text:?}"),
            Duration::from_secs(30),
            || self.screen().contains(text),
        );
    }

    /// Types a line, as a person would, Enter included.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("terminal input still open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("type into the terminal");
        stdin.flush().expect("flush terminal input");
    }

    /// Waits for the command to end; returns its status and the whole screen.
    pub fn finish(mut self) -> (ExitStatus, String) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for script(1)");
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status, self.screen())
    }
}

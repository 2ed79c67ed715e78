//! Starts server processes from one dedicated, never-ending thread, so that
//! they die with the test process, even when it is killed with SIGKILL.
//!
//! The parent-death signal is SIGQUIT, not SIGKILL: the postmaster's immediate
//! shutdown still ends it within moments, and unlike SIGKILL it lets the server
//! remove its shared memory (a SysV segment and /dev/shm files), which would
//! otherwise leak for every cluster alive at exit, such as the shared ones.
//!
//! Linux delivers the parent-death signal (`PR_SET_PDEATHSIG`) when the
//! *thread* that forked the child exits. Test threads end after each test, so
//! the fork must happen on a thread that lives as long as the process.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

use nix::sys::signal::Signal;
use nix::unistd::{getppid, Pid};

struct Request {
    command: Command,
    reply: Sender<io::Result<Child>>,
}

/// Spawns `command` on the spawner thread; the child gets SIGQUIT when this
/// process dies.
pub(crate) fn spawn(command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<Sender<Request>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = channel::<Request>();
        std::thread::Builder::new()
            .name("inlet-testkit-spawner".to_owned())
            .spawn(move || {
                // The sender lives in a static, so this loop runs until the process exits.
                for Request { mut command, reply } in incoming {
                    let _ = reply.send(spawn_with_pdeathsig(&mut command));
                }
            })
            .expect("cannot start the inlet-testkit spawner thread");
        Mutex::new(requests)
    });
    let (reply, answer) = channel();
    spawner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(Request { command, reply })
        .expect("the inlet-testkit spawner thread is gone");
    answer
        .recv()
        .expect("the inlet-testkit spawner thread dropped a request")
}

fn spawn_with_pdeathsig(command: &mut Command) -> io::Result<Child> {
    let parent = Pid::this();
    // SAFETY: the closure runs in the forked child before exec. It only makes
    // two system calls (prctl, getppid), which are async-signal-safe, and
    // allocates nothing. std runs it after setgid/setuid, which matters
    // because changing credentials clears the parent-death signal.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGQUIT)?;
            // The parent may have died before prctl took effect. (No allocation
            // here: another thread may have held the allocator lock at fork.)
            if getppid() != parent {
                return Err(io::Error::from(nix::errno::Errno::ESRCH));
            }
            Ok(())
        });
    }
    command.spawn()
}

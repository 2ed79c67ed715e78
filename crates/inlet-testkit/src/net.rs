//! TCP ports for network tests: free ones, ones where connect() hangs, and
//! ones where the server never speaks.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// A free TCP port on 127.0.0.1 (bound to port 0, read, closed). Another
/// process may take it before it is used; callers that bind it retry.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("cannot bind a TCP port on 127.0.0.1: {e}"))
        .port()
}

/// A port on 127.0.0.1 where `connect()` hangs, like behind a firewall that
/// drops SYNs. Everything that makes it so lives as long as this guard.
#[derive(Debug)]
pub struct BlackholePort {
    pub port: u16,
    _listener: Socket,
    _queued: Vec<Socket>,
}

/// Makes a [`BlackholePort`]: a listener with backlog 0 whose accept queue is
/// filled with connections that are never accepted. Linux drops further SYNs
/// while the accept queue is full, so new connects get no answer at all.
pub fn blackhole_port() -> BlackholePort {
    let listener = tcp_socket();
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    listener
        .bind(&any.into())
        .and_then(|()| listener.listen(0))
        .unwrap_or_else(|e| panic!("blackhole_port: cannot listen on 127.0.0.1: {e}"));
    let addr = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("blackhole_port: listener has no IPv4 address");
    let mut queued = Vec::new();
    // Backlog 0 still queues a connection or so; fill until a connect hangs.
    for _ in 0..64 {
        let socket = tcp_socket();
        match socket.connect_timeout(&addr.into(), Duration::from_millis(200)) {
            Ok(()) => queued.push(socket),
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                return BlackholePort {
                    port: addr.port(),
                    _listener: listener,
                    _queued: queued,
                };
            }
            Err(e) => panic!("blackhole_port: filling the accept queue of {addr}: {e}"),
        }
    }
    panic!("blackhole_port: {addr} still accepts connections after 64 queued ones");
}

fn tcp_socket() -> Socket {
    Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
        .unwrap_or_else(|e| panic!("cannot create a TCP socket: {e}"))
}

/// A port on 127.0.0.1 that accepts connections and never sends a byte (a
/// server that is not PostgreSQL, or a hung one). Stops when dropped.
#[derive(Debug)]
pub struct SilentPort {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Makes a [`SilentPort`]: a thread accepts connections and holds them open.
pub fn silent_port() -> SilentPort {
    let listener = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("silent_port: cannot listen on 127.0.0.1: {e}"));
    let port = listener
        .local_addr()
        .expect("silent_port: listener has no address")
        .port();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name(format!("silent-port-{port}"))
        .spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    held.push(stream);
                }
            }
        })
        .expect("silent_port: cannot start its thread");
    SilentPort {
        port,
        stop,
        thread: Some(thread),
    }
}

impl Drop for SilentPort {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

//! The loopback endpoints the port-probe cases probe, one per answer a probe
//! must tell apart:
//!
//! - `xmpp`: answers a server-to-server stream open with a `jabber:server`
//!   stream header, a stream id and features offering STARTTLS;
//! - `other`: a service that is not XMPP: it greets with an SSH banner;
//! - `silent`: accepts the connection and never sends a byte;
//! - `closed`: a port bound but not listening, so a connection is refused;
//! - `filtered`: a listener whose accept queue is full and never drained, so
//!   Linux drops every new SYN and a connect waits until it gives up — what a
//!   firewall that drops packets looks like from outside. The kit checks that
//!   a connect there really goes unanswered before it uses it.
//!
//! Each listener runs on its own thread until the [`Listeners`] are dropped.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

/// The domain the XMPP listener serves and the probes name in `to`.
pub(crate) const XMPP_DOMAIN: &str = "conformance.failback-kit.invalid";
/// The stream id the XMPP listener sends.
pub(crate) const STREAM_ID: &str = "failback-kit-stream";
/// What the listener that is not XMPP sends first.
pub(crate) const BANNER: &str = "SSH-2.0-failback-kit\r\n";

/// How long a connection handler waits for the peer before it gives up.
const PEER_WAIT: Duration = Duration::from_secs(5);
/// How often an accept loop looks for a new connection or the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(5);
/// How long a connect must go unanswered for a port to count as filtered.
const FILTER_CHECK: Duration = Duration::from_millis(150);
/// How many idle connections may fill the accept queue before the kit gives up.
const MAX_FILLERS: usize = 8;

/// Where each of the kit's endpoints is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub xmpp: SocketAddr,
    pub other: SocketAddr,
    pub silent: SocketAddr,
    pub closed: SocketAddr,
    pub filtered: SocketAddr,
}

impl Endpoints {
    /// Every endpoint, for a grant.
    #[must_use]
    pub fn all(&self) -> [SocketAddr; 5] {
        [
            self.xmpp,
            self.other,
            self.silent,
            self.closed,
            self.filtered,
        ]
    }
}

/// The running listeners; stopped when dropped.
#[derive(Debug)]
pub struct Listeners {
    endpoints: Endpoints,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Bound, not listening: keeps the closed port ours.
    _closed: Socket,
    /// The listener with the full accept queue, and the connections filling it.
    _filtered: (Socket, Vec<TcpStream>),
}

#[derive(Debug, Clone, Copy)]
enum Answer {
    Xmpp,
    Other,
    Silent,
}

impl Listeners {
    /// Start every listener on 127.0.0.1 (ports the system picks).
    pub fn start() -> Result<Self, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut serve = |answer: Answer| -> Result<SocketAddr, String> {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .map_err(|e| format!("cannot listen on loopback: {e}"))?;
            let address = local(&listener)?;
            listener
                .set_nonblocking(true)
                .map_err(|e| format!("cannot make the listener non-blocking: {e}"))?;
            let stop = Arc::clone(&stop);
            let thread = std::thread::Builder::new()
                .name(format!("failback-kit-{answer:?}").to_lowercase())
                .spawn(move || accept_loop(&listener, answer, &stop))
                .map_err(|e| format!("cannot start a listener thread: {e}"))?;
            threads.push(thread);
            Ok(address)
        };
        let xmpp = serve(Answer::Xmpp)?;
        let other = serve(Answer::Other)?;
        let silent = serve(Answer::Silent)?;
        let (closed_socket, closed) = closed_port()?;
        let (filtered_socket, fillers, filtered) = filtered_port()?;
        Ok(Self {
            endpoints: Endpoints {
                xmpp,
                other,
                silent,
                closed,
                filtered,
            },
            stop,
            threads,
            _closed: closed_socket,
            _filtered: (filtered_socket, fillers),
        })
    }

    #[must_use]
    pub fn endpoints(&self) -> Endpoints {
        self.endpoints
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn local(listener: &TcpListener) -> Result<SocketAddr, String> {
    listener
        .local_addr()
        .map_err(|e| format!("a bound listener has no address: {e}"))
}

fn accept_loop(listener: &TcpListener, answer: Answer, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                // Each connection on its own thread, which ends within PEER_WAIT.
                let _ = std::thread::Builder::new()
                    .name("failback-kit-peer".to_owned())
                    .spawn(move || serve_peer(stream, answer));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
            }
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
}

fn serve_peer(mut stream: TcpStream, answer: Answer) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(PEER_WAIT));
    match answer {
        Answer::Xmpp => {
            if read_stream_open(&mut stream) {
                let _ = stream.write_all(xmpp_answer().as_bytes());
                drain(&mut stream);
            }
        }
        Answer::Other => {
            let _ = stream.write_all(BANNER.as_bytes());
            drain(&mut stream);
        }
        Answer::Silent => drain(&mut stream),
    }
}

/// Read until the peer's stream open is complete (the `>` closing its
/// `<stream:stream …` tag); false when it closes or stays silent first.
fn read_stream_open(stream: &mut TcpStream) -> bool {
    let mut received = Vec::new();
    let mut buffer = [0u8; 512];
    let started = Instant::now();
    while started.elapsed() < PEER_WAIT && received.len() < 4096 {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return false,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
        }
        let text = String::from_utf8_lossy(&received);
        if let Some(open) = text.find("<stream:stream")
            && text[open..].contains('>')
        {
            return true;
        }
    }
    false
}

/// What an XMPP server sends back to a server-to-server stream open (RFC 6120
/// §4.2, §4.3.2): its stream header, then features offering STARTTLS.
fn xmpp_answer() -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
         xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' \
         id='{STREAM_ID}' from='{XMPP_DOMAIN}' version='1.0'>\
         <stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>\
         </stream:features>"
    )
}

/// Read and discard until the peer closes or PEER_WAIT passes.
fn drain(stream: &mut TcpStream) {
    let mut buffer = [0u8; 512];
    let started = Instant::now();
    while started.elapsed() < PEER_WAIT {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn socket() -> Result<Socket, String> {
    Socket::new(Domain::IPV4, Type::STREAM, None).map_err(|e| format!("cannot open a socket: {e}"))
}

fn bound() -> Result<(Socket, SocketAddr), String> {
    let socket = socket()?;
    socket
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .map_err(|e| format!("cannot bind a loopback port: {e}"))?;
    let address = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .ok_or("a bound socket has no address")?;
    Ok((socket, address))
}

/// A port bound but not listening: a connection to it is refused, and no
/// other process can take it while the socket is held.
fn closed_port() -> Result<(Socket, SocketAddr), String> {
    let (socket, address) = bound()?;
    match TcpStream::connect_timeout(&address, FILTER_CHECK) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok((socket, address)),
        Err(e) => Err(format!(
            "a connect to the closed port {address} was not refused: {e}"
        )),
        Ok(_) => Err(format!("the closed port {address} accepted a connection")),
    }
}

/// A listener with an accept backlog of 0 whose queue is filled with
/// connections nobody accepts: Linux then drops each new SYN, so a connect
/// gets no answer at all. Checked before it is used.
fn filtered_port() -> Result<(Socket, Vec<TcpStream>, SocketAddr), String> {
    let (socket, address) = bound()?;
    socket
        .listen(0)
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let mut fillers = Vec::new();
    while fillers.len() < MAX_FILLERS {
        match TcpStream::connect_timeout(&address, FILTER_CHECK) {
            // Accepted into the queue: one more filler, then try again.
            Ok(stream) => fillers.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Ok((socket, fillers, address));
            }
            Err(e) => return Err(format!("a connect to the filtered port {address}: {e}")),
        }
    }
    Err(format!(
        "{address} still answered after {MAX_FILLERS} connections filled its accept queue: \
         this system does not drop SYNs to a full queue"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn each_endpoint_answers_as_its_name_says() {
        let listeners = Listeners::start().unwrap();
        let e = listeners.endpoints();

        let mut xmpp = TcpStream::connect(e.xmpp).unwrap();
        xmpp.write_all(b"<?xml version='1.0'?><stream:stream to='x' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>").unwrap();
        let mut answer = vec![0u8; 4096];
        xmpp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let read = xmpp.read(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(answer.contains("xmlns='jabber:server'"), "{answer}");

        let mut other = TcpStream::connect(e.other).unwrap();
        let mut banner = [0u8; 64];
        let read = other.read(&mut banner).unwrap();
        assert!(banner[..read].starts_with(b"SSH-2.0-"));

        let refused = TcpStream::connect_timeout(&e.closed, Duration::from_secs(1)).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

        let started = Instant::now();
        let dropped =
            TcpStream::connect_timeout(&e.filtered, Duration::from_millis(300)).unwrap_err();
        assert_eq!(dropped.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}

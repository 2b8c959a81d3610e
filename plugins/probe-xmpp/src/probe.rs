//! One probe over a real socket: connect with a time-out, and for
//! `xmpp-server` send a stream open and read the answer until [`crate::stream`]
//! has a verdict, the peer closes, the answer reaches its bound, or the time is
//! up. Plain `std::net`, so it runs natively in the tests as it runs over WASI
//! sockets in the plugin.

use std::io::{self, Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::bindings::exports::failback::plugin::probe::{
    PluginError, PortState, ProbeKind, ProbeReport, ProbeRequest, XmppAnswer,
};

use crate::stream::{self, MAX_ANSWER_BYTES};

/// Carry out `request`.
pub fn run(request: &ProbeRequest) -> Result<ProbeReport, PluginError> {
    let ip: IpAddr = request.host.parse().map_err(|_| {
        PluginError::Invalid(format!(
            "`{}` is not an IP address; this probe resolves no names",
            request.host
        ))
    })?;
    if request.timeout_ms == 0 {
        return Err(PluginError::Invalid("`timeout-ms` is 0".to_owned()));
    }
    let address = SocketAddr::new(ip, request.port);
    let timeout = Duration::from_millis(u64::from(request.timeout_ms));
    let deadline = Instant::now() + timeout;
    let stream = match TcpStream::connect_timeout(&address, timeout) {
        Ok(stream) => stream,
        Err(error) => return not_connected(address, request, &error),
    };
    // Over WASI sockets a non-blocking connect to a closed port is now and then
    // reported as done (the socket error is lost on the way); the socket then
    // has no peer. Ask for it, so a closed port never reads as open.
    if let Err(error) = stream.peer_addr() {
        let error = match stream.take_error() {
            Ok(Some(socket_error)) => socket_error,
            _ if error.kind() == io::ErrorKind::NotConnected => {
                io::Error::from(io::ErrorKind::ConnectionRefused)
            }
            _ => error,
        };
        return not_connected(address, request, &error);
    }
    match request.kind {
        ProbeKind::Tcp => Ok(ProbeReport {
            state: PortState::Open,
            xmpp: None,
            detail: format!("`{address}` accepted the connection"),
        }),
        ProbeKind::XmppServer => {
            let to = request
                .stream_to
                .clone()
                .unwrap_or_else(|| request.host.clone());
            let (xmpp, detail) = xmpp(stream, address, &to, deadline, request.timeout_ms);
            Ok(ProbeReport {
                state: PortState::Open,
                xmpp: Some(xmpp),
                detail,
            })
        }
    }
}

/// The report, or the error, when the connect failed.
fn not_connected(
    address: SocketAddr,
    request: &ProbeRequest,
    error: &io::Error,
) -> Result<ProbeReport, PluginError> {
    let (state, detail) = match error.kind() {
        io::ErrorKind::ConnectionRefused => (
            PortState::Closed,
            format!("`{address}` refused the connection"),
        ),
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => (
            PortState::Closed,
            format!("`{address}` is unreachable: {error}"),
        ),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => (
            PortState::Filtered,
            format!(
                "`{address}` did not answer within {} ms",
                request.timeout_ms
            ),
        ),
        io::ErrorKind::PermissionDenied => {
            return Err(PluginError::Refused(format!(
                "connecting to `{address}` is not allowed: {error}"
            )));
        }
        _ => {
            return Err(PluginError::Failed(format!(
                "cannot probe `{address}`: {error}"
            )));
        }
    };
    Ok(ProbeReport {
        state,
        xmpp: None,
        detail,
    })
}

/// Open an XMPP server-to-server stream on `stream` and read the answer.
fn xmpp(
    mut stream: TcpStream,
    address: SocketAddr,
    to: &str,
    deadline: Instant,
    timeout_ms: u32,
) -> (XmppAnswer, String) {
    let _ = stream.set_nodelay(true);
    let mut received = Vec::new();
    let mut ended = None;
    let left = deadline.saturating_duration_since(Instant::now());
    let sent = stream
        .set_write_timeout(Some(left.max(Duration::from_millis(1))))
        .and_then(|()| stream.write_all(stream::stream_open(to).as_bytes()));
    if let Err(error) = sent {
        // A peer that closes at once may still have said something; read it.
        ended = Some(format!("the stream open could not be sent: {error}"));
    }
    let mut buffer = [0u8; 1024];
    let answer = loop {
        let answer = stream::parse(&received);
        if answer.complete {
            break answer;
        }
        if received.len() >= MAX_ANSWER_BYTES {
            ended = Some(format!("the answer passed {MAX_ANSWER_BYTES} bytes"));
            break answer;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            ended = Some(format!("no complete answer within {timeout_ms} ms"));
            break answer;
        }
        if let Err(error) = stream.set_read_timeout(Some(left)) {
            ended = Some(format!("cannot wait for the answer: {error}"));
            break answer;
        }
        let room = (MAX_ANSWER_BYTES - received.len()).min(buffer.len());
        match stream.read(&mut buffer[..room]) {
            Ok(0) => {
                ended.get_or_insert_with(|| "the peer closed the connection".to_owned());
                break answer;
            }
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                ended = Some(format!("no complete answer within {timeout_ms} ms"));
                break answer;
            }
            Err(error) => {
                ended = Some(format!("reading the answer failed: {error}"));
                break answer;
            }
        }
    };
    // Close politely when a stream was opened; the probe does not negotiate.
    if answer.stream_header || answer.other_namespace.is_some() {
        let _ = stream.write_all(b"</stream:stream>");
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);

    let not_xmpp = answer.not_xmpp;
    let xmpp = XmppAnswer {
        stream_header: answer.stream_header,
        stream_id: answer.stream_id.clone(),
        features: answer.features,
        starttls: answer.starttls,
        other: (not_xmpp || answer.other_namespace.is_some())
            .then(|| stream::first_bytes(&received)),
    };
    let detail = describe(address, &answer, not_xmpp, received.len(), ended.as_deref());
    (xmpp, detail)
}

/// One line for the operator.
fn describe(
    address: SocketAddr,
    answer: &stream::Answer,
    not_xmpp: bool,
    received: usize,
    ended: Option<&str>,
) -> String {
    let mut line = if not_xmpp {
        format!("`{address}` is open but did not answer with an XMPP stream")
    } else if let Some(namespace) = &answer.other_namespace {
        format!(
            "`{address}` answered with an XMPP stream in namespace `{namespace}`, not `jabber:server`"
        )
    } else if let Some(condition) = &answer.stream_error {
        format!("`{address}` answered with an XMPP stream error `{condition}`")
    } else if answer.stream_header && answer.features {
        let tls = if answer.starttls_required {
            "STARTTLS offered (required)"
        } else if answer.starttls {
            "STARTTLS offered"
        } else {
            "no STARTTLS"
        };
        format!("`{address}` answered an XMPP server stream with features, {tls}")
    } else if answer.stream_header {
        format!("`{address}` answered an XMPP server stream header without features")
    } else if received == 0 {
        format!("`{address}` is open but sent nothing")
    } else {
        format!("`{address}` is open but its answer is incomplete")
    };
    if let Some(ended) = ended
        && (!answer.complete || not_xmpp)
    {
        line.push_str(" (");
        line.push_str(ended);
        line.push(')');
    }
    line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use std::net::TcpListener;
    use std::thread;

    use super::*;

    fn request(address: SocketAddr, kind: ProbeKind) -> ProbeRequest {
        ProbeRequest {
            host: address.ip().to_string(),
            port: address.port(),
            kind,
            timeout_ms: 2_000,
            stream_to: Some("contoso.com".to_owned()),
        }
    }

    /// A listener that reads the stream open, then writes `chunks` one by one.
    fn peer(chunks: Vec<&'static [u8]>) -> (SocketAddr, thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut opened = vec![0u8; 4096];
            let read = socket.read(&mut opened).unwrap_or(0);
            opened.truncate(read);
            for chunk in chunks {
                socket.write_all(chunk).unwrap();
                socket.flush().unwrap();
                thread::sleep(Duration::from_millis(20));
            }
            // Hold the connection until the probe closes it.
            let mut rest = [0u8; 64];
            let _ = socket.read(&mut rest);
            opened
        });
        (address, handle)
    }

    fn free_closed_port() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        address
    }

    #[test]
    fn an_xmpp_server_in_pieces_is_open_with_header_features_and_starttls() {
        let (address, handle) = peer(vec![
            b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' id='s1' ver",
            b"sion='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
            b"</stream:features>",
        ]);
        let report = run(&request(address, ProbeKind::XmppServer)).unwrap();
        assert!(matches!(report.state, PortState::Open));
        let xmpp = report.xmpp.unwrap();
        assert!(xmpp.stream_header && xmpp.features && xmpp.starttls);
        assert_eq!(xmpp.stream_id.as_deref(), Some("s1"));
        assert!(xmpp.other.is_none());
        assert!(
            report.detail.contains("STARTTLS offered"),
            "{}",
            report.detail
        );
        let opened = String::from_utf8(handle.join().unwrap()).unwrap();
        assert!(opened.contains("xmlns='jabber:server'") && opened.contains("to='contoso.com'"));
    }

    #[test]
    fn an_http_listener_is_open_but_not_xmpp() {
        let (address, handle) = peer(vec![
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        ]);
        let report = run(&request(address, ProbeKind::XmppServer)).unwrap();
        assert!(matches!(report.state, PortState::Open));
        let xmpp = report.xmpp.unwrap();
        assert!(!xmpp.stream_header && !xmpp.features && !xmpp.starttls);
        assert!(xmpp.other.unwrap().starts_with("HTTP/1.1 400"));
        assert!(report.detail.contains("did not answer with an XMPP stream"));
        handle.join().unwrap();
    }

    #[test]
    fn a_silent_listener_is_open_and_says_nothing_within_the_time() {
        let (address, handle) = peer(vec![]);
        let mut request = request(address, ProbeKind::XmppServer);
        request.timeout_ms = 300;
        let report = run(&request).unwrap();
        assert!(matches!(report.state, PortState::Open));
        let xmpp = report.xmpp.unwrap();
        assert!(!xmpp.stream_header && xmpp.other.is_none());
        assert!(report.detail.contains("sent nothing"), "{}", report.detail);
        assert!(report.detail.contains("300 ms"), "{}", report.detail);
        handle.join().unwrap();
    }

    #[test]
    fn a_closed_port_is_closed() {
        let address = free_closed_port();
        let report = run(&request(address, ProbeKind::XmppServer)).unwrap();
        assert!(matches!(report.state, PortState::Closed));
        assert!(report.xmpp.is_none());
    }

    #[test]
    fn a_plain_tcp_probe_only_connects() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let report = run(&request(address, ProbeKind::Tcp)).unwrap();
        assert!(matches!(report.state, PortState::Open));
        assert!(report.xmpp.is_none());
    }

    #[test]
    fn a_time_out_is_filtered_and_a_denial_an_error() {
        let request = request(free_closed_port(), ProbeKind::Tcp);
        let timed_out = io::Error::from(io::ErrorKind::TimedOut);
        let report = not_connected(free_closed_port(), &request, &timed_out).unwrap();
        assert!(matches!(report.state, PortState::Filtered));
        assert!(report.detail.contains("2000 ms"));
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(matches!(
            not_connected(free_closed_port(), &request, &denied),
            Err(PluginError::Refused(_))
        ));
    }

    #[test]
    fn a_name_is_refused_since_no_name_is_resolved() {
        let mut request = request(free_closed_port(), ProbeKind::Tcp);
        request.host = "xmpp.contoso.com".to_owned();
        assert!(
            matches!(run(&request), Err(PluginError::Invalid(m)) if m.contains("`xmpp.contoso.com`"))
        );
    }
}

//! Every attack on a plugin's HTTP (`tests/guests/hostile-http`), each in its
//! own test, against real HTTP and HTTPS servers on loopback: the host refuses,
//! cuts or strips what it must, audits each request without its secret, and
//! afterwards the same plugin (a fresh instance) and a well-behaved plugin both
//! still answer.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use failback_core::observed::{DnsRecord, RecordData};
use failback_runtime::{CallError, DnsProvider, Environment, Outcome, PluginError};

use crate::common::{Fixture, good_component, stamped_manifest};
use crate::tls::{TestCa, TlsFront};

/// The API key the environment binds to `x-api-key`.
const SECRET: &str = "pdns-api-s3cret-key";
/// The hostile plugin's deadline (its manifest's `call-timeout-ms`).
const DEADLINE: Duration = Duration::from_millis(1_500);

/// One request a test server received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    api_key: Option<String>,
}

/// An HTTP/1.1 server on loopback answering by path: `/api/ok`,
/// `/api/redirect`, `/api/silent` (never answers), `/api/drip` (one byte
/// every 300 ms), `/api/huge` (says 1 GiB and streams it), `/api/endless`
/// (chunked, never ends); anything else is 404.
struct Server {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap())
    }

    fn start_on(address: SocketAddr) -> Self {
        let listener = TcpListener::bind(address).unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    let _ = answer(stream, &log);
                });
            }
        });
        Self { address, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn answer(stream: TcpStream, log: &Mutex<Vec<Received>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        // A connection that sent nothing (a TLS front's, whose client gave
        // up during the handshake) is no request.
        return Ok(());
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut api_key = None;
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "x-api-key" => api_key = Some(value.trim().to_owned()),
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    log.lock().unwrap().push(Received {
        method,
        path: path.clone(),
        api_key: api_key.clone(),
    });
    let mut out = stream;
    let seen = if api_key.as_deref() == Some(SECRET) {
        "yes"
    } else {
        "no"
    };
    match path.split('?').next().unwrap_or_default() {
        "/api/ok" => {
            // The server echoes the key back as a header: the host must not
            // let the guest read it.
            let echoed = api_key.unwrap_or_default();
            write!(
                out,
                "HTTP/1.1 200 OK\r\nx-api-key: {echoed}\r\nx-seen-key: {seen}\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"
            )
        }
        "/api/redirect" => write!(
            out,
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:9/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ),
        "/api/silent" => {
            std::thread::sleep(Duration::from_secs(10));
            Ok(())
        }
        "/api/drip" => {
            write!(out, "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")?;
            for _ in 0..100 {
                out.write_all(b"x")?;
                out.flush()?;
                std::thread::sleep(Duration::from_millis(300));
            }
            Ok(())
        }
        "/api/huge" => {
            write!(out, "HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n")?;
            let chunk = vec![0_u8; 64 << 10];
            for _ in 0..(1 << 14) {
                out.write_all(&chunk)?;
            }
            Ok(())
        }
        "/api/endless" => {
            write!(out, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")?;
            let chunk = vec![b'z'; 8 << 10];
            loop {
                write!(out, "{:x}\r\n", chunk.len())?;
                out.write_all(&chunk)?;
                out.write_all(b"\r\n")?;
            }
        }
        _ => write!(
            out,
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ),
    }
}

/// How the `api` capability is granted in one test.
struct Grant {
    origin: String,
    extra: String,
}

struct Hostile {
    fixture: Fixture,
    dns: DnsProvider,
    good: DnsProvider,
}

impl Hostile {
    /// The hostile plugin granted `grant`, with `files` written into the
    /// environment first (a CA).
    fn new(grant: &Grant, files: &[(&str, String)]) -> Self {
        let fixture = Fixture::new();
        fixture.write("secrets/api.key", format!("{SECRET}\n"));
        for (path, text) in files {
            fixture.write(path, text);
        }
        let path = failback_guests::paths::FAILBACK_TEST_HOSTILE_HTTP;
        let bytes = std::fs::read(path).unwrap();
        let manifest = stamped_manifest("hostile-http", &bytes);
        let mut table = fixture.install("hostile-http", path, &manifest, "dns-provider");
        table.push_str(&format!(
            "\n[plugins.dns-provider.grants.http.api]\n\
             origin = \"{}\"\n\
             path-prefix = \"/api\"\n\
             headers = {{ X-API-Key = {{ file = \"secrets/api.key\" }} }}\n\
             {}\n\
             [plugins.dns-provider.config]\n\
             secret = {{ file = \"secrets/api.key\" }}\n",
            grant.origin, grant.extra
        ));
        let env = fixture.environment(&table);
        let dns = fixture.load(&env).unwrap().dns_provider.unwrap();

        let good_manifest = stamped_manifest("good", &good_component());
        let good_table = fixture.install(
            "good",
            failback_guests::paths::FAILBACK_TEST_GOOD,
            &good_manifest,
            "dns-provider",
        );
        fixture.write(
            "good.toml",
            format!("[environment]\nname = \"good\"\nzone = \"contoso.com\"\n{good_table}"),
        );
        let good_env = Environment::load(&fixture.dir(), "good.toml").unwrap();
        let good = fixture.load(&good_env).unwrap().dns_provider.unwrap();
        Self { fixture, dns, good }
    }

    fn plain(server: &Server) -> Self {
        Self::new(
            &Grant {
                origin: format!("http://{}", server.address),
                extra: String::new(),
            },
            &[],
        )
    }

    fn call(&self, what: &str) -> Result<Vec<String>, CallError> {
        self.dns.list_records(what).map(|records| texts(&records))
    }

    /// The host keeps serving: the hostile plugin (a fresh instance) answers a
    /// harmless call, and so does a well-behaved plugin; and the secret is
    /// nowhere in the audit.
    fn assert_still_serving(&self) {
        assert_eq!(self.call("harmless").unwrap(), ["ok"]);
        assert_eq!(self.good.list_records("contoso.com").unwrap().len(), 1);
        let audit = format!(
            "{:?}{:?}{:?}",
            self.fixture.audit.records(),
            self.fixture.audit.lines(),
            self.fixture.audit.exchanges()
        );
        assert!(!audit.contains(SECRET), "the secret reached the audit");
    }

    /// The HTTP audit records so far, as `METHOD origin path → outcome`.
    fn exchanges(&self) -> Vec<failback_runtime::HttpExchange> {
        self.fixture.audit.exchanges()
    }
}

fn texts(records: &[DnsRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| match &r.data {
            RecordData::Txt(text) => text.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// The call was refused by the host's judge: a denial naming the request,
/// never the secret.
fn assert_denied(result: Result<Vec<String>, CallError>, reason: &str) {
    let error = result.unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(&error, CallError::Denied { denials, .. } if denials[0].use_ == "http request"),
        "{error:?}"
    );
    assert!(text.contains(reason), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

/// The guest's own error for a request that failed, with the host's code.
fn guest_refused(result: Result<Vec<String>, CallError>) -> String {
    match result {
        Err(CallError::Plugin {
            error: PluginError::Refused(message),
            ..
        }) => {
            assert!(!message.contains(SECRET), "{message}");
            message
        }
        other => panic!("expected the guest's refusal, got {other:?}"),
    }
}

#[test]
fn a_granted_request_carries_the_secret_header_the_guest_never_sees() {
    let server = Server::start();
    let hostile = Hostile::plain(&server);
    let url = format!("http://{}/api/ok", server.address);
    let answer = hostile.call(&format!("GET {url}")).unwrap();
    assert!(answer.contains(&"status=200".to_owned()), "{answer:?}");
    assert!(
        answer.contains(&"header:x-seen-key=yes".to_owned()),
        "{answer:?}"
    );
    assert!(answer.contains(&"body=hello".to_owned()), "{answer:?}");
    assert!(
        !answer.iter().any(|t| t.starts_with("header:x-api-key")),
        "the echoed key reached the guest: {answer:?}"
    );
    let received = server.received();
    assert_eq!(received[0].api_key.as_deref(), Some(SECRET));
    // The request line holds the path only, not the absolute URL.
    assert_eq!(
        (received[0].method.as_str(), received[0].path.as_str()),
        ("GET", "/api/ok")
    );
    let exchanges = hostile.exchanges();
    assert_eq!(exchanges.len(), 1);
    let exchange = &exchanges[0];
    assert_eq!(
        (
            exchange.method.as_str(),
            exchange.path.as_str(),
            exchange.status,
            exchange.bytes,
            &exchange.outcome
        ),
        ("GET", "/api/ok", Some(200), 5, &Outcome::Ok)
    );
    assert_eq!(exchange.capability.as_deref(), Some("api"));
    hostile.assert_still_serving();
}

#[test]
fn a_request_to_an_origin_not_granted_is_refused_before_it_is_sent() {
    let server = Server::start();
    let other = Server::start();
    let hostile = Hostile::plain(&server);
    assert_denied(
        hostile.call(&format!("GET http://{}/api/ok", other.address)),
        "is not granted",
    );
    assert!(other.received().is_empty());
    let exchanges = hostile.exchanges();
    assert!(
        matches!(&exchanges[0].outcome, Outcome::Denied(reason) if reason.contains("is not granted")),
        "{exchanges:?}"
    );
    hostile.assert_still_serving();
}

#[test]
fn a_granted_host_on_another_port_is_refused() {
    let server = Server::start();
    let other = Server::start();
    let hostile = Hostile::plain(&server);
    assert_denied(
        hostile.call(&format!(
            "GET http://127.0.0.1:{}/api/ok",
            other.address.port()
        )),
        "is not granted",
    );
    assert!(other.received().is_empty());
    hostile.assert_still_serving();
}

#[test]
fn plain_http_to_an_origin_granted_over_https_is_refused() {
    let server = Server::start();
    let ca = TestCa::new("failback test CA");
    let front = TlsFront::start(ca.server_config(&["localhost"]), server.address);
    let hostile = Hostile::new(
        &Grant {
            origin: format!("https://localhost:{}", front.address.port()),
            extra: "ca = \"certs/ca.pem\"".to_owned(),
        },
        &[("certs/ca.pem", ca.pem())],
    );
    assert_denied(
        hostile.call(&format!(
            "GET http://localhost:{}/api/ok",
            front.address.port()
        )),
        "is not granted",
    );
    assert!(server.received().is_empty());
    hostile.assert_still_serving();
}

#[test]
fn a_method_not_granted_is_refused() {
    let server = Server::start();
    let hostile = Hostile::plain(&server);
    assert_denied(
        hostile.call(&format!("DELETE http://{}/api/ok", server.address)),
        "method `DELETE` is not granted by `api`",
    );
    assert!(server.received().is_empty());
    hostile.assert_still_serving();
}

#[test]
fn a_path_outside_the_prefix_is_refused() {
    let server = Server::start();
    let hostile = Hostile::plain(&server);
    assert_denied(
        hostile.call(&format!("GET http://{}/admin", server.address)),
        "is outside `/api`",
    );
    assert_denied(
        hostile.call(&format!("GET http://{}/api/../admin", server.address)),
        "dot segment",
    );
    assert!(server.received().is_empty());
    hostile.assert_still_serving();
}

#[test]
fn a_redirect_is_not_followed() {
    let server = Server::start();
    let hostile = Hostile::plain(&server);
    let answer = hostile
        .call(&format!("GET http://{}/api/redirect", server.address))
        .unwrap();
    assert!(answer.contains(&"status=302".to_owned()), "{answer:?}");
    assert_eq!(server.received().len(), 1);
    hostile.assert_still_serving();
}

#[test]
fn a_guest_cannot_set_the_secret_header_itself() {
    let server = Server::start();
    let hostile = Hostile::plain(&server);
    let message = guest_refused(hostile.call(&format!(
        "set-header x-api-key http://{}/api/ok",
        server.address
    )));
    assert!(message.contains("x-api-key"), "{message}");
    assert!(server.received().is_empty());
    hostile.assert_still_serving();
}

#[test]
fn a_secret_in_the_query_is_refused_and_shown_nowhere() {
    let server = Server::start();
    let hostile = Hostile::plain(&server);
    assert_denied(
        hostile.call(&format!("secret-query http://{}/api/ok", server.address)),
        "the query carries a secret",
    );
    assert!(server.received().is_empty());
    hostile.assert_still_serving();
}

#[test]
fn pinned_addresses_win_over_what_the_name_resolves_to() {
    // `localhost` resolves to 127.0.0.1, where a decoy listens on the same
    // port; the grant pins 127.0.0.2, so the decoy never hears from the host.
    let real = Server::start_on("127.0.0.2:0".parse().unwrap());
    let decoy = Server::start_on(SocketAddr::from(([127, 0, 0, 1], real.address.port())));
    let hostile = Hostile::new(
        &Grant {
            origin: format!("http://localhost:{}", real.address.port()),
            extra: "addresses = [\"127.0.0.2\"]".to_owned(),
        },
        &[],
    );
    for _ in 0..2 {
        let answer = hostile
            .call(&format!(
                "GET http://localhost:{}/api/ok",
                real.address.port()
            ))
            .unwrap();
        assert!(answer.contains(&"status=200".to_owned()), "{answer:?}");
    }
    assert_eq!(real.received().len(), 2);
    assert!(decoy.received().is_empty(), "{:?}", decoy.received());
    hostile.assert_still_serving();
}

/// The call ends at the hostile plugin's deadline, whichever side notices
/// first: the host's timeout, or the guest told the read timed out.
fn assert_cut_at_the_deadline(hostile: &Hostile, what: &str) {
    let started = Instant::now();
    let result = hostile.call(what);
    let elapsed = started.elapsed();
    match result {
        Err(CallError::Timeout { .. }) => {}
        Err(CallError::Plugin {
            error: PluginError::Refused(message),
            ..
        }) => assert!(
            // `ConnectionReadTimeout` while the head is awaited, "connection
            // read timeout" while the body streams.
            message.to_ascii_lowercase().contains("timeout"),
            "{message}"
        ),
        other => panic!("{what}: expected a time-out, got {other:?}"),
    }
    assert!(elapsed < DEADLINE * 3, "{what} took {elapsed:?}");
}

#[test]
fn a_server_that_never_sends_its_first_byte_is_cut_at_the_call_deadline() {
    let server = Server::start();
    let hostile = Hostile::plain(&server);
    assert_cut_at_the_deadline(
        &hostile,
        &format!("GET http://{}/api/silent", server.address),
    );
    hostile.assert_still_serving();
}

#[test]
fn a_server_that_sends_a_byte_at_a_time_is_cut_at_the_call_deadline() {
    let server = Server::start();
    let hostile = Hostile::plain(&server);
    assert_cut_at_the_deadline(&hostile, &format!("GET http://{}/api/drip", server.address));
    hostile.assert_still_serving();
}

#[test]
fn a_response_of_a_gibibyte_is_refused_at_the_limit() {
    let server = Server::start();
    let hostile = Hostile::plain(&server);
    let message = guest_refused(hostile.call(&format!("GET http://{}/api/huge", server.address)));
    assert!(message.contains("HttpResponseBodySize"), "{message}");
    // Cut while the body streams: the guest's read fails with the host's
    // error.
    let message =
        guest_refused(hostile.call(&format!("GET http://{}/api/endless", server.address)));
    assert!(
        message.contains("body size exceeds limit: 65536 bytes"),
        "{message}"
    );
    // The endless body was read no further than the manifest's 64 KiB, plus
    // the frame that crossed it.
    let exchanges = hostile.exchanges();
    let endless = exchanges.iter().find(|e| e.path == "/api/endless").unwrap();
    assert!(endless.bytes <= 65_536 + (16 << 10), "{endless:?}");
    hostile.assert_still_serving();
}

#[test]
fn https_with_the_granted_ca_is_answered() {
    let server = Server::start();
    let ca = TestCa::new("failback test CA");
    let front = TlsFront::start(ca.server_config(&["localhost"]), server.address);
    let hostile = Hostile::new(
        &Grant {
            origin: format!("https://localhost:{}", front.address.port()),
            extra: "ca = \"certs/ca.pem\"".to_owned(),
        },
        &[("certs/ca.pem", ca.pem())],
    );
    let answer = hostile
        .call(&format!(
            "GET https://localhost:{}/api/ok",
            front.address.port()
        ))
        .unwrap();
    assert!(
        answer.contains(&"header:x-seen-key=yes".to_owned()),
        "{answer:?}"
    );
    hostile.assert_still_serving();
}

#[test]
fn an_https_server_whose_certificate_is_not_from_the_granted_ca_is_refused() {
    let server = Server::start();
    let granted = TestCa::new("failback test CA");
    let other = TestCa::new("someone else's CA");
    let front = TlsFront::start(other.server_config(&["localhost"]), server.address);
    let hostile = Hostile::new(
        &Grant {
            origin: format!("https://localhost:{}", front.address.port()),
            extra: "ca = \"certs/ca.pem\"".to_owned(),
        },
        &[("certs/ca.pem", granted.pem())],
    );
    let message = guest_refused(hostile.call(&format!(
        "GET https://localhost:{}/api/ok",
        front.address.port()
    )));
    assert!(message.contains("TlsCertificateError"), "{message}");
    assert!(server.received().is_empty());
    hostile.assert_still_serving();
}

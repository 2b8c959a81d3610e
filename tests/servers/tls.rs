//! TLS for the tests: a CA made per test ([`TestCa`]), server certificates it
//! signs, and a TLS front on loopback ([`TlsFront`]) that terminates TLS and
//! passes the bytes to a plain TCP backend — PowerDNS 4.7's webserver has no
//! TLS of its own, and the HTTP test servers are plain too.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority made for one test.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    /// The CA's certificate, PEM: what a grant's `ca` file holds.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server's TLS settings with a certificate for `names` (DNS names or
    /// addresses) signed by this CA.
    pub fn server_config(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        let key = KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        // ring, the provider built here, has no post-quantum key exchange, which
        // rustls marks by deprecating its constructor.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certificate.der().clone()], key)
            .unwrap();
        Arc::new(config)
    }
}

/// A TLS front on loopback: each connection's TLS is terminated here and its
/// bytes passed to `backend` and back; stopped on drop.
pub struct TlsFront {
    pub address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TlsFront {
    pub fn start(config: Arc<rustls::ServerConfig>, backend: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let config = Arc::clone(&config);
                            std::thread::spawn(move || {
                                let _ = relay(client, config, backend);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Self {
            address,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Terminate `client`'s TLS and pass its bytes to `backend` and back, until
/// either side closes.
fn relay(
    client: TcpStream,
    config: Arc<rustls::ServerConfig>,
    backend: SocketAddr,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    let connection = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, client);
    let mut upstream = TcpStream::connect(backend)?;
    upstream.set_read_timeout(Some(Duration::from_millis(10)))?;
    tls.sock.set_read_timeout(Some(Duration::from_millis(10)))?;
    let mut buffer = [0_u8; 16 << 10];
    loop {
        let mut idle = true;
        match tls.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                upstream.write_all(&buffer[..n])?;
                idle = false;
            }
            Err(e) if is_wait(&e) => {}
            Err(e) => return Err(e),
        }
        match upstream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                tls.write_all(&buffer[..n])?;
                tls.flush()?;
                idle = false;
            }
            Err(e) if is_wait(&e) => {}
            Err(e) => return Err(e),
        }
        if idle {
            std::thread::yield_now();
        }
    }
    tls.conn.send_close_notify();
    let _ = tls.flush();
    let _ = upstream.shutdown(Shutdown::Both);
    Ok(())
}

fn is_wait(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

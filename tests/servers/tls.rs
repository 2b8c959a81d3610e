//! TLS for the tests: a CA made per test ([`TestCa`]), server certificates it
//! signs, and a TLS front on loopback ([`TlsFront`]) that terminates TLS and
//! passes the bytes to a plain TCP backend — PowerDNS 4.7's webserver has no
//! TLS of its own, and the HTTP test servers are plain too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

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
/// bytes passed to `backend` and back as they come (tokio, one task per
/// connection, so the front adds no wait of its own to what it relays);
/// stopped on drop.
pub struct TlsFront {
    pub address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TlsFront {
    pub fn start(config: Arc<rustls::ServerConfig>, backend: SocketAddr) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                tokio::spawn(async move {
                    while let Ok((client, _)) = listener.accept().await {
                        tokio::spawn(relay(acceptor.clone(), client, backend));
                    }
                });
                // Dropping the runtime after this ends every connection.
                let _ = stopped.await;
            });
        });
        Self {
            address,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Terminate `client`'s TLS and pass its bytes to `backend` and back, until
/// either side closes.
async fn relay(
    acceptor: tokio_rustls::TlsAcceptor,
    client: tokio::net::TcpStream,
    backend: SocketAddr,
) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    let mut tls = acceptor.accept(client).await?;
    let mut upstream = tokio::net::TcpStream::connect(backend).await?;
    upstream.set_nodelay(true)?;
    tokio::io::copy_bidirectional(&mut tls, &mut upstream).await?;
    Ok(())
}

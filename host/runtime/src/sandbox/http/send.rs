//! The host's side of a plugin's `wasi:http` request: the hooks wasmtime's
//! `wasi:http` calls ([`HttpHooks`]) and the client that sends what [`judge`]
//! allows.
//!
//! The client is the host's own, not wasmtime's default (which trusts only the
//! web roots, resolves and connects wherever the guest's authority says, and
//! waits up to ten minutes): the addresses are the grant's pinned ones or
//! those the host resolves, the TLS roots are the grant's CA or the web roots,
//! one HTTP/1.1 connection per request, no redirect followed, every wait
//! (resolve, connect, TLS, first byte, between bytes) ended by the call's
//! deadline, and the response body cut at the capability's bound.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use cap_std::fs::Dir;
use http::{HeaderName, HeaderValue, Request, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, Error, ForbiddenHeaderFilter, RequestOptions, WasiBody,
    WasiHttpHooks,
};

use super::{Outgoing, Scheme, judge};
use crate::environment::Secret;
use crate::files::{MAX_TEXT_FILE_BYTES, read_bytes};
use crate::record::audit::{AuditSink, HttpExchange, Outcome};
use crate::sandbox::capability::{Denial, GrantedHttp, NetworkDenial, NetworkDenials};

/// What `use_` a refused HTTP request is recorded under.
pub(crate) const HTTP_REQUEST: &str = "http request";

/// Everything a plugin's HTTP requests are judged and sent with, built once
/// when the plugin loads.
pub(crate) struct HttpAccess {
    granted: Vec<GrantedHttp>,
    /// By grant, in the order of `granted`: the TLS settings of an `https`
    /// origin.
    tls: Vec<Option<Arc<rustls::ClientConfig>>>,
    /// By grant: the headers the host adds.
    headers: Vec<Vec<(HeaderName, HeaderValue)>>,
    /// Every header any grant adds: forbidden to the guest.
    secret_names: Arc<[HeaderName]>,
    /// Every secret of the plugin (its configuration's and its headers'):
    /// no query may carry one, and every text kept has them redacted.
    secrets: Vec<String>,
}

impl std::fmt::Debug for HttpAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAccess")
            .field(
                "granted",
                &self
                    .granted
                    .iter()
                    .map(|g| g.capability.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for HttpAccess {
    fn default() -> Self {
        Self {
            granted: Vec::new(),
            tls: Vec::new(),
            headers: Vec::new(),
            secret_names: Arc::from([]),
            secrets: Vec::new(),
        }
    }
}

impl HttpAccess {
    /// Build the access of `plugin` to `granted`: read each grant's CA
    /// through `dir`, and bind each header to its secret in `headers` (by
    /// grant, then header name). `config_secrets` are the configuration's
    /// secret values, which no query may carry either.
    pub(crate) fn resolve(
        plugin: &str,
        granted: &[GrantedHttp],
        headers: &BTreeMap<String, BTreeMap<String, Secret>>,
        config_secrets: &[String],
        dir: &Dir,
    ) -> Result<Self, crate::sandbox::capability::CapabilityError> {
        let mut denials = Vec::new();
        let mut access = Self {
            granted: granted.to_vec(),
            secrets: config_secrets.to_vec(),
            ..Self::default()
        };
        let mut names = Vec::new();
        for grant in granted {
            let unavailable = |reason: String| Denial::HttpUnavailable {
                capability: grant.capability.clone(),
                reason,
            };
            access.tls.push(match grant.grant.origin.scheme {
                Scheme::Http => None,
                Scheme::Https => match tls_config(grant, dir) {
                    Ok(config) => Some(config),
                    Err(reason) => {
                        denials.push(unavailable(reason));
                        None
                    }
                },
            });
            let mut added = Vec::new();
            for (name, secret) in headers.get(&grant.capability).into_iter().flatten() {
                let (Ok(header), Ok(mut value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(secret.expose()),
                ) else {
                    denials.push(unavailable(format!(
                        "the secret of header `{name}` is not a header value (one line of visible characters)"
                    )));
                    continue;
                };
                value.set_sensitive(true);
                if !secret.expose().is_empty() {
                    access.secrets.push(secret.expose().to_owned());
                }
                names.push(header.clone());
                added.push((header, value));
            }
            access.headers.push(added);
        }
        if !denials.is_empty() {
            return Err(crate::sandbox::capability::CapabilityError {
                plugin: plugin.to_owned(),
                denials,
            });
        }
        access.secret_names = names.into();
        access.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Ok(access)
    }

    /// The secret values of the headers the host adds, for the redactor.
    pub(crate) fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// `text` with every secret replaced.
    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), "<redacted>");
        }
        text
    }
}

/// The TLS settings of an `https` grant: its CA file's certificates as the only
/// roots, or the web roots; HTTP/1.1 only.
fn tls_config(grant: &GrantedHttp, dir: &Dir) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    match &grant.grant.ca {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let pem = read_bytes(dir, path, MAX_TEXT_FILE_BYTES).map_err(|e| e.to_string())?;
            for certificate in CertificateDer::pem_slice_iter(&pem) {
                let certificate = certificate
                    .map_err(|e| format!("CA file `{path}` is not PEM certificates: {e}"))?;
                roots
                    .add(certificate)
                    .map_err(|e| format!("CA file `{path}`: {e}"))?;
            }
            if roots.is_empty() {
                return Err(format!("CA file `{path}` holds no certificate"));
            }
        }
    }
    let provider = Arc::new(ring_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// rustls's ring provider: the one built here (aws-lc-rs needs a C toolchain
/// with cmake); it has no post-quantum key exchange, which rustls marks by
/// deprecating its constructor.
#[expect(
    deprecated,
    reason = "ring is the provider built here; see the doc comment"
)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The `wasi:http` hooks of one call.
pub(crate) struct HttpHooks {
    access: Arc<HttpAccess>,
    deadline: Instant,
    denials: NetworkDenials,
    audit: Arc<dyn AuditSink>,
    plugin: Arc<str>,
    function: &'static str,
}

impl HttpHooks {
    pub(crate) fn new(
        access: Arc<HttpAccess>,
        deadline: Instant,
        denials: NetworkDenials,
        audit: Arc<dyn AuditSink>,
        plugin: Arc<str>,
        function: &'static str,
    ) -> Self {
        Self {
            access,
            deadline,
            denials,
            audit,
            plugin,
            function,
        }
    }
}

/// What [`WasiHttpHooks::send_request`] returns.
type Sent = Box<
    dyn Future<
            Output = Result<
                (
                    Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for HttpHooks {
    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        let names = Arc::clone(&self.access.secret_names);
        Arc::new(move |name| DEFAULT_FORBIDDEN_HEADERS.contains(name) || names.contains(name))
    }

    fn send_request(
        &mut self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Sent {
        let uri = request.uri().clone();
        let outgoing = Outgoing {
            method: request.method().as_str(),
            scheme: uri.scheme_str().unwrap_or_default(),
            authority: uri.authority().map_or("", |a| a.as_str()),
            path_and_query: uri.path_and_query().map_or("/", |p| p.as_str()),
        };
        let secrets: Vec<&str> = self.access.secrets.iter().map(String::as_str).collect();
        let mut exchange = Exchange {
            record: Some(HttpExchange {
                at: SystemTime::now(),
                plugin: self.plugin.to_string(),
                function: self.function.to_owned(),
                capability: None,
                method: outgoing.method.to_owned(),
                origin: self.access.redact(&outgoing.origin()),
                path: self.access.redact(outgoing.path()),
                status: None,
                bytes: 0,
                duration: Duration::ZERO,
                outcome: Outcome::Ok,
            }),
            started: Instant::now(),
            audit: Arc::clone(&self.audit),
        };
        match judge(&self.access.granted, &outgoing, &secrets) {
            Err(refusal) => {
                let reason = self.access.redact(&refusal.to_string());
                self.denials.push(NetworkDenial {
                    use_: HTTP_REQUEST,
                    target: exchange.target(),
                    reason: Some(reason.clone()),
                });
                exchange.finish(Outcome::Denied(reason));
                Box::new(async { Err(Error::HttpRequestDenied) })
            }
            Ok(grant) => {
                let index = self
                    .access
                    .granted
                    .iter()
                    .position(|g| std::ptr::eq(g, grant))
                    .unwrap_or_default();
                if let Some(record) = exchange.record.as_mut() {
                    record.capability = Some(grant.capability.clone());
                }
                let access = Arc::clone(&self.access);
                let deadline = self.deadline;
                Box::new(async move {
                    match send(&access, index, request, options, deadline).await {
                        Ok((response, io, limit)) => {
                            let status = response.status().as_u16();
                            if let Some(record) = exchange.record.as_mut() {
                                record.status = Some(status);
                            }
                            let between = between_bytes(options);
                            Ok((
                                response.map(|body| {
                                    BoundedBody::new(body, limit, between, deadline, exchange)
                                        .boxed_unsync()
                                }),
                                io,
                            ))
                        }
                        Err(error) => {
                            exchange.finish(Outcome::Failed(access.redact(&error.to_string())));
                            Err(error)
                        }
                    }
                })
            }
        }
    }
}

/// The wait the guest asked for, or what is left until `deadline`, whichever
/// is shorter.
fn clamp(asked: Option<Duration>, deadline: Instant) -> Duration {
    let left = deadline.saturating_duration_since(Instant::now());
    asked.map_or(left, |asked| asked.min(left))
}

/// The wait between two frames of a response the guest asked for, if any.
fn between_bytes(options: Option<RequestOptions>) -> Option<Duration> {
    options.and_then(|o| o.between_bytes_timeout)
}

/// A response on its way to the guest, and the future that drives its
/// connection.
type Answer = (
    Response<hyper::body::Incoming>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
    u64,
);

/// Send `request` as the grant at `index` of `access` allows: connect to its
/// addresses, TLS with its roots, its headers added.
async fn send(
    access: &HttpAccess,
    index: usize,
    mut request: Request<WasiBody>,
    options: Option<RequestOptions>,
    deadline: Instant,
) -> Result<Answer, Error> {
    let grant = &access.granted[index];
    let origin = &grant.grant.origin;
    let connect_by = Instant::now() + clamp(options.and_then(|o| o.connect_timeout), deadline);
    let addresses = addresses(grant, connect_by).await?;
    let stream = connect(&addresses, connect_by).await?;
    // Only the path and query go on the request line.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    let headers = request.headers_mut();
    for name in access.secret_names.iter() {
        headers.remove(name);
    }
    for (name, value) in &access.headers[index] {
        headers.insert(name.clone(), value.clone());
    }
    let first_byte = clamp(options.and_then(|o| o.first_byte_timeout), deadline);
    let limit = grant.max_response_bytes;
    let (mut response, io) = match &access.tls[index] {
        None => exchange(stream, request, connect_by, first_byte).await?,
        Some(config) => {
            let name = match origin.ip() {
                Some(ip) => ServerName::IpAddress(ip.into()),
                None => ServerName::try_from(origin.host.clone())
                    .map_err(|_| Error::HttpRequestUriInvalid)?,
            };
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
            let tls = tokio::time::timeout_at(connect_by.into(), connector.connect(name, stream))
                .await
                .map_err(|_| Error::ConnectionTimeout)?
                .map_err(tls_error)?;
            exchange(tls, request, connect_by, first_byte).await?
        }
    };
    let headers = response.headers_mut();
    for name in access.secret_names.iter() {
        headers.remove(name);
    }
    let length = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|length| length > limit) {
        return Err(Error::HttpResponseBodySize(length));
    }
    Ok((response, io, limit))
}

/// The addresses to connect to: the pinned ones, the origin's own address,
/// or what the host's resolver answers by `by`.
async fn addresses(grant: &GrantedHttp, by: Instant) -> Result<Vec<SocketAddr>, Error> {
    let origin = &grant.grant.origin;
    if !grant.grant.addresses.is_empty() {
        return Ok(grant
            .grant
            .addresses
            .iter()
            .map(|ip| SocketAddr::new(*ip, origin.port))
            .collect());
    }
    if let Some(ip) = origin.ip() {
        return Ok(vec![SocketAddr::new(ip, origin.port)]);
    }
    let found = tokio::time::timeout_at(
        by.into(),
        tokio::net::lookup_host((origin.host.as_str(), origin.port)),
    )
    .await
    .map_err(|_| Error::DnsTimeout)?
    .map_err(|e| Error::DnsError {
        rcode: Some(e.to_string()),
        info_code: None,
    })?;
    let found: Vec<SocketAddr> = found.collect();
    if found.is_empty() {
        return Err(Error::DestinationNotFound);
    }
    Ok(found)
}

/// A TCP connection to the first of `addresses` that answers by `by`.
async fn connect(addresses: &[SocketAddr], by: Instant) -> Result<tokio::net::TcpStream, Error> {
    let mut last = Error::DestinationNotFound;
    for address in addresses {
        match tokio::time::timeout_at(by.into(), tokio::net::TcpStream::connect(address)).await {
            Err(_) => return Err(Error::ConnectionTimeout),
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = Error::ConnectionRefused;
            }
            Ok(Err(e)) => last = Error::Connect(e),
        }
    }
    Err(last)
}

fn tls_error(error: std::io::Error) -> Error {
    let certificate = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)));
    if certificate {
        Error::TlsCertificateError
    } else {
        Error::Tls(error)
    }
}

/// One HTTP/1.1 exchange over `stream`: the handshake by `connect_by`, the
/// response's head within `first_byte`.
async fn exchange<S>(
    stream: S,
    request: Request<WasiBody>,
    connect_by: Instant,
    first_byte: Duration,
) -> Result<
    (
        Response<hyper::body::Incoming>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = tokio::time::timeout_at(
        connect_by.into(),
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    // The connection is driven by its own task, aborted when its handle (held
    // with the response body) is dropped: it ends with the call.
    let io = wasmtime_wasi::runtime::spawn(connection);
    let response = tokio::time::timeout(first_byte, sender.send_request(request))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)??;
    Ok((
        response,
        Box::new(async move { io.await.map_err(Error::from) }),
    ))
}

/// The audit record of one request, written once: when the response body
/// ends, fails or is dropped, or when the request fails.
struct Exchange {
    record: Option<HttpExchange>,
    started: Instant,
    audit: Arc<dyn AuditSink>,
}

impl Exchange {
    fn target(&self) -> String {
        self.record
            .as_ref()
            .map(|r| format!("{} {}{}", r.method, r.origin, r.path))
            .unwrap_or_default()
    }

    fn add_bytes(&mut self, bytes: usize) -> u64 {
        self.record.as_mut().map_or(0, |record| {
            record.bytes = record.bytes.saturating_add(bytes as u64);
            record.bytes
        })
    }

    fn finish(&mut self, outcome: Outcome) {
        if let Some(mut record) = self.record.take() {
            record.duration = self.started.elapsed();
            record.outcome = outcome;
            self.audit.http(record);
        }
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.finish(Outcome::Failed(
            "the response was not read to its end (the guest dropped it, or the call ended)"
                .to_owned(),
        ));
    }
}

/// A response body as the guest reads it: at most `limit` bytes, each frame
/// within the between-bytes wait and all of it by the call's deadline.
struct BoundedBody {
    inner: hyper::body::Incoming,
    limit: u64,
    between: Option<Duration>,
    deadline: Instant,
    timer: Pin<Box<tokio::time::Sleep>>,
    exchange: Exchange,
    done: bool,
}

impl BoundedBody {
    fn new(
        inner: hyper::body::Incoming,
        limit: u64,
        between: Option<Duration>,
        deadline: Instant,
        exchange: Exchange,
    ) -> Self {
        let timer = Box::pin(tokio::time::sleep_until(
            next_wait(between, deadline).into(),
        ));
        Self {
            inner,
            limit,
            between,
            deadline,
            timer,
            exchange,
            done: false,
        }
    }

    fn fail(&mut self, error: Error) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.done = true;
        self.exchange.finish(Outcome::Failed(error.to_string()));
        Poll::Ready(Some(Err(error)))
    }
}

fn next_wait(between: Option<Duration>, deadline: Instant) -> Instant {
    between.map_or(deadline, |between| (Instant::now() + between).min(deadline))
}

impl Body for BoundedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.done = true;
                this.exchange.finish(Outcome::Ok);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => this.fail(Error::from(error)),
            Poll::Ready(Some(Ok(frame))) => {
                let read = this
                    .exchange
                    .add_bytes(frame.data_ref().map_or(0, Bytes::len));
                if read > this.limit {
                    return this.fail(Error::HttpResponseBodySize(Some(this.limit)));
                }
                let next = next_wait(this.between, this.deadline);
                this.timer.as_mut().reset(next.into());
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => this.fail(Error::ConnectionReadTimeout),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

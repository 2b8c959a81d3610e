//! HTTP requests through the host (`wasi:http/outgoing-handler`), one call
//! each, blocking until the whole response is read.
//!
//! The host decides where a request may go: the origin, methods and path
//! prefix the environment grants the plugin's HTTP capability. It adds the
//! secret headers itself (an API key): the plugin never sees them, cannot set
//! them, and never puts a secret in a URL. It follows no redirect: a `3xx`
//! comes back as it is. A refused request is an [`HttpError`] naming the
//! host's error code (`HTTP-request-denied`).
//!
//! ```no_run
//! use failback_plugin_http::{self as http, Method};
//!
//! let response = http::request(
//!     Method::Get,
//!     "https://dns.contoso.com:8443/api/v1/servers/localhost/zones/contoso.com.",
//!     &[("accept", "application/json")],
//!     None,
//! );
//! ```

use std::fmt;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method as WasiMethod, OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::StreamError;

/// The methods a plugin may ask for in its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

impl Method {
    fn wasi(self) -> WasiMethod {
        match self {
            Self::Get => WasiMethod::Get,
            Self::Head => WasiMethod::Head,
            Self::Post => WasiMethod::Post,
            Self::Put => WasiMethod::Put,
            Self::Patch => WasiMethod::Patch,
            Self::Delete => WasiMethod::Delete,
            Self::Options => WasiMethod::Options,
        }
    }
}

/// A response, read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The response's headers, as the host passes them (never one the host
    /// adds from a secret).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (lowercase), as text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// The body as text.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL is not `scheme://host:port/path`.
    Url(String),
    /// A header could not be set (the host forbids it, or it is malformed).
    Header(String),
    /// The host refused or failed the request: its error code.
    Code(String),
    /// The body could not be written or read.
    Body(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(url) => write!(f, "`{url}` is not an http or https URL"),
            Self::Header(name) => write!(f, "header `{name}` cannot be set"),
            Self::Code(code) => f.write_str(code),
            Self::Body(what) => write!(f, "body: {what}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// The host's error code in words.
fn code(error: &ErrorCode) -> HttpError {
    HttpError::Code(format!("{error:?}"))
}

/// Send one request and read its whole response.
pub fn request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, HttpError> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return Err(HttpError::Url(url.to_owned()));
    };
    let (authority, path) = rest
        .find('/')
        .map_or((rest, "/"), |at| (&rest[..at], &rest[at..]));
    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(name, value.as_bytes())
            .map_err(|_| HttpError::Header((*name).to_owned()))?;
    }
    if let Some(body) = body {
        fields
            .set("content-length", &[body.len().to_string().into_bytes()])
            .map_err(|_| HttpError::Header("content-length".to_owned()))?;
    }
    let request = OutgoingRequest::new(fields);
    let invalid = || HttpError::Url(url.to_owned());
    request.set_method(&method.wasi()).map_err(|()| invalid())?;
    request.set_scheme(Some(&scheme)).map_err(|()| invalid())?;
    request
        .set_authority(Some(authority))
        .map_err(|()| invalid())?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| invalid())?;
    let outgoing = request
        .body()
        .map_err(|()| HttpError::Body("taken twice".to_owned()))?;
    let future = outgoing_handler::handle(request, None).map_err(|e| code(&e))?;
    if let Some(body) = body {
        let stream = outgoing
            .write()
            .map_err(|()| HttpError::Body("not writable".to_owned()))?;
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| HttpError::Body(format!("{e:?}")))?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(|e| code(&e))?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(error))) => return Err(code(&error)),
        Some(Err(())) | None => return Err(HttpError::Code("no response".to_owned())),
    };
    let status = response.status();
    let headers = response.headers().entries();
    let incoming = response
        .consume()
        .map_err(|()| HttpError::Body("consumed twice".to_owned()))?;
    let stream = incoming
        .stream()
        .map_err(|()| HttpError::Body("not readable".to_owned()))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(error)) => {
                let detail = wasip2::http::types::http_error_code(&error)
                    .map_or_else(|| error.to_debug_string(), |e| format!("{e:?}"));
                return Err(HttpError::Body(detail));
            }
        }
    }
    drop(stream);
    drop(IncomingBody::finish(incoming));
    Ok(Response {
        status,
        headers,
        body,
    })
}

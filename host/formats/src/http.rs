//! The words of an HTTP grant: an origin (scheme, host, explicit port), the
//! methods a manifest may ask for, and the header names the host may add from
//! secrets. The manifest ([`crate::manifest`]) and the environment file
//! ([`crate::environment`]) read them; the runtime's `http` module judges and
//! sends each request a plugin makes with them.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The response body a request may read when its manifest names no smaller
/// bound (`max-response-bytes`); a manifest may only lower it.
pub const DEFAULT_RESPONSE_BYTES: u64 = 4 << 20;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// An exact origin: scheme, host and port, all three written out
/// (`https://dns.contoso.com:8443`). The host is kept in lowercase; an IPv6
/// address without its brackets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

/// Why an origin was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("`{0}` does not start with `https://` or `http://`")]
    Scheme(String),
    #[error("`{0}` names no port: write it out (`https://dns.contoso.com:443`)")]
    NoPort(String),
    #[error("`{0}` is not an origin: only scheme, host and port, no path, user, query or wildcard")]
    Shape(String),
}

impl Origin {
    /// The host as a URL writes it (an IPv6 address in brackets).
    #[must_use]
    pub fn url_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// The host as an address, when it is one.
    #[must_use]
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}:{}",
            self.scheme.name(),
            self.url_host(),
            self.port
        )
    }
}

impl FromStr for Origin {
    type Err = OriginError;

    fn from_str(text: &str) -> Result<Self, OriginError> {
        let (scheme, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(OriginError::Scheme(text.to_owned()));
        };
        // One trailing slash is how origins are often copied; nothing more.
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let shape = || OriginError::Shape(text.to_owned());
        let (host, port) = split_authority(rest).ok_or_else(shape)?;
        let port = port.ok_or_else(|| OriginError::NoPort(text.to_owned()))?;
        if port == 0 || !is_host(host) {
            return Err(shape());
        }
        Ok(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// `host[:port]` or `[v6][:port]` into the host (without brackets) and the
/// port; `None` when it is neither.
pub fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        host.parse::<std::net::Ipv6Addr>().ok()?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            Some(port.parse().ok()?)
        }
        Some(_) => return None,
    };
    Some((host, port))
}

/// A DNS name of letters, digits, `-` and `.`, or an address.
fn is_host(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
        || (!host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }))
}

/// A method a manifest may ask for. `CONNECT` and `TRACE` are not among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
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
    pub const ALL: [Self; 7] = [
        Self::Get,
        Self::Head,
        Self::Post,
        Self::Put,
        Self::Patch,
        Self::Delete,
        Self::Options,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = ();

    fn from_str(name: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|m| m.name() == name).ok_or(())
    }
}

/// Whether `name` may be a header the host adds: a valid lowercase header
/// name, none that frames or routes the request.
#[must_use]
pub fn is_secret_header_name(name: &str) -> bool {
    const RESERVED: [&str; 12] = [
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-connection",
        "expect",
        "http2-settings",
    ];
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !RESERVED.contains(&name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn an_origin_is_scheme_host_and_an_explicit_port() {
        let origin: Origin = "https://DNS.contoso.com:8443".parse().unwrap();
        assert_eq!(origin.to_string(), "https://dns.contoso.com:8443");
        let v6: Origin = "http://[::1]:8081/".parse().unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "http://[::1]:8081");
    }

    #[test]
    fn an_origin_without_port_or_with_more_is_refused() {
        assert!(matches!(
            "https://dns.contoso.com".parse::<Origin>(),
            Err(OriginError::NoPort(_))
        ));
        assert!(matches!(
            "ftp://dns.contoso.com:21".parse::<Origin>(),
            Err(OriginError::Scheme(_))
        ));
        for shape in [
            "https://*.contoso.com:443",
            "https://dns.contoso.com:443/api",
            "https://user@dns.contoso.com:443",
            "https://dns.contoso.com:443?x=1",
            "https://:443",
            "https://dns.contoso.com:0",
            "https://dns.contoso.com:99999",
        ] {
            assert!(
                matches!(shape.parse::<Origin>(), Err(OriginError::Shape(_))),
                "{shape}"
            );
        }
    }

    #[test]
    fn secret_headers_cannot_be_framing_headers() {
        assert!(is_secret_header_name("x-api-key"));
        assert!(is_secret_header_name("authorization"));
        assert!(!is_secret_header_name("X-API-Key"));
        assert!(!is_secret_header_name("host"));
        assert!(!is_secret_header_name("content-length"));
    }
}

//! The judge of one outgoing request: which granted capability allows it, or
//! why none does. Pure, and tested here.
//!
//! A request is allowed by a capability when all of these hold:
//! - its scheme, host and port are the grant's origin exactly (the port
//!   a URL leaves out is the scheme's: 80, 443);
//! - its authority names no user (`user@host`);
//! - its method is one the manifest asked for;
//! - its path is the grant's prefix or lies under it, segment by segment,
//!   and holds no dot segment (`.`, `..`), no encoded dot, slash or
//!   backslash, which a server could resolve out of the prefix;
//! - its query carries no secret: neither the value of one of the plugin's
//!   secrets nor a parameter named after a header the host adds
//!   (`api-key` or `x-api-key` for `X-API-Key`: PowerDNS reads `?api-key=`).

use std::fmt;

use super::{Scheme, split_authority};
use crate::sandbox::capability::GrantedHttp;

/// What the judge sees of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing<'a> {
    /// `PATCH`, as sent.
    pub method: &'a str,
    /// `https`, `http`, or whatever else the guest wrote.
    pub scheme: &'a str,
    /// `dns.contoso.com:8443`.
    pub authority: &'a str,
    /// `/api/v1/servers?x=1`.
    pub path_and_query: &'a str,
}

impl Outgoing<'_> {
    /// `scheme://authority`, as the guest wrote it.
    #[must_use]
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// The path without its query.
    #[must_use]
    pub fn path(&self) -> &str {
        let path = self
            .path_and_query
            .split_once('?')
            .map_or(self.path_and_query, |(path, _)| path);
        if path.is_empty() { "/" } else { path }
    }

    fn query(&self) -> Option<&str> {
        self.path_and_query.split_once('?').map(|(_, query)| query)
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpRefusal {
    /// No capability grants this scheme, host and port.
    Origin { origin: String },
    /// The authority names a user, or is not `host[:port]`.
    Authority { authority: String },
    /// The origin is granted, but not for this method.
    Method { capability: String, method: String },
    /// The origin is granted, but the path lies outside its prefix.
    Path {
        capability: String,
        path: String,
        prefix: String,
    },
    /// The path holds a dot segment or an encoded dot, slash or backslash.
    DotSegment { path: String },
    /// The query carries one of the plugin's secrets, or a parameter named
    /// after a header the host adds.
    SecretInQuery { capability: String },
}

impl fmt::Display for HttpRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Origin { origin } => write!(f, "origin `{origin}` is not granted"),
            Self::Authority { authority } => {
                write!(f, "authority `{authority}` is not a host and port")
            }
            Self::Method { capability, method } => {
                write!(f, "method `{method}` is not granted by `{capability}`")
            }
            Self::Path {
                capability,
                path,
                prefix,
            } => write!(
                f,
                "path `{path}` is outside `{prefix}`, the prefix `{capability}` grants"
            ),
            Self::DotSegment { path } => write!(
                f,
                "path `{path}` holds a dot segment or an encoded dot, slash or backslash"
            ),
            Self::SecretInQuery { capability } => write!(
                f,
                "the query carries a secret of `{capability}`: secrets go only in the headers the host adds"
            ),
        }
    }
}

/// Which of `granted` allows `request`, or why none does. `secrets` are the
/// values of every secret the plugin is given, which no query may carry.
pub fn judge<'g>(
    granted: &'g [GrantedHttp],
    request: &Outgoing<'_>,
    secrets: &[&str],
) -> Result<&'g GrantedHttp, HttpRefusal> {
    if request.authority.contains('@') {
        return Err(HttpRefusal::Authority {
            authority: request.authority.to_owned(),
        });
    }
    let Some((host, port)) = split_authority(request.authority) else {
        return Err(HttpRefusal::Authority {
            authority: request.authority.to_owned(),
        });
    };
    let scheme = match request.scheme {
        "https" => Some(Scheme::Https),
        "http" => Some(Scheme::Http),
        _ => None,
    };
    let port = port.or(match scheme {
        Some(Scheme::Https) => Some(443),
        Some(Scheme::Http) => Some(80),
        None => None,
    });
    let same_origin = |g: &&GrantedHttp| {
        Some(g.grant.origin.scheme) == scheme
            && g.grant.origin.host.eq_ignore_ascii_case(host)
            && Some(g.grant.origin.port) == port
    };
    let candidates: Vec<&GrantedHttp> = granted.iter().filter(same_origin).collect();
    let Some(first) = candidates.first() else {
        return Err(HttpRefusal::Origin {
            origin: request.origin(),
        });
    };
    let path = request.path();
    if has_dot_segment(path) {
        return Err(HttpRefusal::DotSegment {
            path: path.to_owned(),
        });
    }
    let mut refusal = None;
    for grant in &candidates {
        let allowed_method = grant.methods.iter().any(|m| m.name() == request.method);
        let result = if !allowed_method {
            Err(HttpRefusal::Method {
                capability: grant.capability.clone(),
                method: request.method.to_owned(),
            })
        } else if !under_prefix(path, &grant.grant.path_prefix) {
            Err(HttpRefusal::Path {
                capability: grant.capability.clone(),
                path: path.to_owned(),
                prefix: grant.grant.path_prefix.clone(),
            })
        } else {
            Ok(*grant)
        };
        match result {
            Ok(grant) => {
                return match request.query() {
                    Some(query) if carries_secret(query, granted, secrets) => {
                        Err(HttpRefusal::SecretInQuery {
                            capability: grant.capability.clone(),
                        })
                    }
                    _ => Ok(grant),
                };
            }
            Err(error) => {
                refusal.get_or_insert(error);
            }
        }
    }
    Err(refusal.unwrap_or_else(|| HttpRefusal::Origin {
        origin: format!("{}", first.grant.origin),
    }))
}

/// Whether `path` is `prefix` or lies under it, segment by segment
/// (`/api` covers `/api/v1` but not `/apix`).
fn under_prefix(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| prefix.ends_with('/') || rest.starts_with('/'))
}

/// Whether `path` holds `.` or `..` as a segment, or an encoded dot, slash
/// or backslash, or a backslash.
fn has_dot_segment(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.contains("%2e")
        || lower.contains("%2f")
        || lower.contains("%5c")
        || lower.contains('\\')
        || path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
}

/// Whether `query` carries a secret value (as written or percent-decoded) or a
/// parameter named after a header the host adds.
fn carries_secret(query: &str, granted: &[GrantedHttp], secrets: &[&str]) -> bool {
    let decoded = percent_decode(query);
    if secrets
        .iter()
        .filter(|s| !s.is_empty())
        .any(|secret| query.contains(secret) || decoded.contains(secret))
    {
        return true;
    }
    let header_names: Vec<&str> = granted
        .iter()
        .flat_map(|g| g.grant.headers.keys())
        .map(String::as_str)
        .collect();
    query.split('&').any(|parameter| {
        let name = parameter.split_once('=').map_or(parameter, |(n, _)| n);
        let name = percent_decode(name).replace('_', "-").to_ascii_lowercase();
        header_names
            .iter()
            .any(|header| name == *header || Some(name.as_str()) == header.strip_prefix("x-"))
    })
}

/// `%XX` sequences decoded (and `+` as a space), lossily.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit() =>
            {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                if let Ok(byte) = u8::from_str_radix(hex, 16) {
                    out.push(byte);
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::environment::{HttpGrant, SecretRef};
    use crate::files::RelativePath;
    use crate::sandbox::http::Method;

    fn granted(methods: &[Method]) -> Vec<GrantedHttp> {
        vec![GrantedHttp {
            capability: "powerdns-api".to_owned(),
            methods: methods.iter().copied().collect::<BTreeSet<_>>(),
            max_response_bytes: 1 << 20,
            grant: HttpGrant {
                origin: "https://dns.contoso.com:8443".parse().unwrap(),
                path_prefix: "/api/v1".to_owned(),
                addresses: Vec::new(),
                ca: None,
                headers: BTreeMap::from([(
                    "x-api-key".to_owned(),
                    SecretRef::File(RelativePath::new("secrets/pdns").unwrap()),
                )]),
            },
        }]
    }

    fn request<'a>(method: &'a str, url: &'a str) -> Outgoing<'a> {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (authority, path) = rest
            .find('/')
            .map_or((rest, ""), |at| (&rest[..at], &rest[at..]));
        Outgoing {
            method,
            scheme,
            authority,
            path_and_query: path,
        }
    }

    fn judged(method: &str, url: &str) -> Result<String, HttpRefusal> {
        let granted = granted(&[Method::Get, Method::Patch]);
        judge(&granted, &request(method, url), &["s3cret-key"]).map(|g| g.capability.clone())
    }

    #[test]
    fn a_granted_request_is_allowed() {
        assert_eq!(
            judged(
                "PATCH",
                "https://dns.contoso.com:8443/api/v1/servers/localhost/zones/contoso.com."
            ),
            Ok("powerdns-api".to_owned())
        );
        assert_eq!(
            judged("GET", "https://DNS.Contoso.com:8443/api/v1"),
            Ok("powerdns-api".to_owned())
        );
    }

    #[test]
    fn another_origin_another_port_or_plain_http_is_refused() {
        for url in [
            "https://evil.example:8443/api/v1/x",
            "https://dns.contoso.com:443/api/v1/x",
            "https://dns.contoso.com/api/v1/x",
            "http://dns.contoso.com:8443/api/v1/x",
            "ftp://dns.contoso.com:8443/api/v1/x",
        ] {
            assert!(
                matches!(judged("GET", url), Err(HttpRefusal::Origin { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn a_user_in_the_authority_is_refused() {
        assert!(matches!(
            judged(
                "GET",
                "https://dns.contoso.com:8443@evil.example:443/api/v1"
            ),
            Err(HttpRefusal::Authority { .. })
        ));
    }

    #[test]
    fn a_method_not_asked_for_is_refused() {
        assert_eq!(
            judged("DELETE", "https://dns.contoso.com:8443/api/v1/x"),
            Err(HttpRefusal::Method {
                capability: "powerdns-api".to_owned(),
                method: "DELETE".to_owned()
            })
        );
    }

    #[test]
    fn a_path_outside_the_prefix_is_refused_segment_by_segment() {
        for url in [
            "https://dns.contoso.com:8443/",
            "https://dns.contoso.com:8443/api/v1x",
            "https://dns.contoso.com:8443/metrics",
        ] {
            assert!(
                matches!(judged("GET", url), Err(HttpRefusal::Path { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn a_dot_segment_cannot_climb_out_of_the_prefix() {
        for url in [
            "https://dns.contoso.com:8443/api/v1/../../admin",
            "https://dns.contoso.com:8443/api/v1/%2e%2e/admin",
            "https://dns.contoso.com:8443/api/v1/..%2Fadmin",
            "https://dns.contoso.com:8443/api/v1/.\\admin",
        ] {
            assert!(
                matches!(judged("GET", url), Err(HttpRefusal::DotSegment { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn a_secret_in_the_query_is_refused() {
        for url in [
            "https://dns.contoso.com:8443/api/v1/zones?api-key=anything",
            "https://dns.contoso.com:8443/api/v1/zones?X-API-Key=anything",
            "https://dns.contoso.com:8443/api/v1/zones?api_key=anything",
            "https://dns.contoso.com:8443/api/v1/zones?q=s3cret-key",
            "https://dns.contoso.com:8443/api/v1/zones?q=s3cret%2Dkey",
        ] {
            assert!(
                matches!(judged("GET", url), Err(HttpRefusal::SecretInQuery { .. })),
                "{url}"
            );
        }
        assert!(
            judged(
                "GET",
                "https://dns.contoso.com:8443/api/v1/zones?rrsets=false"
            )
            .is_ok()
        );
    }

    #[test]
    fn refusals_read_as_sentences() {
        assert_eq!(
            judged("DELETE", "https://dns.contoso.com:8443/api/v1/x")
                .unwrap_err()
                .to_string(),
            "method `DELETE` is not granted by `powerdns-api`"
        );
        assert_eq!(
            judged("GET", "http://dns.contoso.com:8443/api/v1/x")
                .unwrap_err()
                .to_string(),
            "origin `http://dns.contoso.com:8443` is not granted"
        );
    }
}

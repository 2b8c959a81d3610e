//! A hostile HTTP plugin: a `dns-provider` whose `list-records(zone)` makes
//! the request `zone` names through `wasi:http`, and answers what it got as
//! TXT records. The runtime's HTTP tests (`host/runtime/tests/all/http.rs`)
//! call it once per attack and check that the host refuses, cuts or strips
//! what it must while it keeps serving.
//!
//! Calls (`zone` argument):
//! - `METHOD URL` (`GET https://…`): send it; answer `status=…`, one
//!   `header:NAME=VALUE` per response header and `body=…` (its first 200
//!   bytes) and `bytes=…` (its length);
//! - `set-header NAME URL`: send a GET with header NAME set by the guest (the
//!   host's secret header is forbidden to it);
//! - `secret-query URL`: send a GET whose query carries the `secret`
//!   configuration value;
//! - anything else: one record, success (the harmless call).
//!
//! A request that fails is a `refused` plugin-error carrying the host's error
//! code (`HttpRequestDenied`, `ConnectionReadTimeout`, …).

#![allow(
    unsafe_code,
    reason = "wit-bindgen's export macro expands to the canonical ABI glue, which is unsafe code"
)]

use failback_plugin_http::{self as http, HttpError, Method, Response};
use failback_plugin_sdk::config;
use failback_plugin_sdk::dns::{DnsRecord, Guest, PluginError, RecordData, RecordType};

struct HostileHttp;

fn txt(text: String) -> DnsRecord {
    DnsRecord {
        name: "http.contoso.com".to_owned(),
        ttl: 60,
        data: RecordData::Txt(text),
    }
}

fn refused(error: HttpError) -> PluginError {
    PluginError::Refused(error.to_string())
}

fn answer(response: &Response) -> Vec<DnsRecord> {
    let mut records = vec![txt(format!("status={}", response.status))];
    for (name, value) in &response.headers {
        records.push(txt(format!(
            "header:{name}={}",
            String::from_utf8_lossy(value)
        )));
    }
    let body = response.text();
    records.push(txt(format!(
        "body={}",
        body.chars().take(200).collect::<String>()
    )));
    records.push(txt(format!("bytes={}", response.body.len())));
    records
}

fn method(name: &str) -> Option<Method> {
    Some(match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        _ => return None,
    })
}

impl Guest for HostileHttp {
    fn list_records(zone: String) -> Result<Vec<DnsRecord>, PluginError> {
        let mut words = zone.splitn(3, ' ');
        let (first, second, third) = (words.next(), words.next(), words.next());
        let response = match (first, second, third) {
            (Some("set-header"), Some(name), Some(url)) => {
                http::request(Method::Get, url, &[(name, "guest-chosen-value")], None)
            }
            (Some("secret-query"), Some(url), None) => {
                let secret = config::get("secret").unwrap_or_default();
                http::request(Method::Get, &format!("{url}?api-key={secret}"), &[], None)
            }
            (Some(name), Some(url), None) => match method(name) {
                Some(method) => {
                    let body = (method == Method::Patch).then_some(&b"{\"rrsets\": []}"[..]);
                    http::request(method, url, &[("content-type", "application/json")], body)
                }
                None => return Err(PluginError::Invalid(format!("`{name}` is not a method"))),
            },
            _ => return Ok(vec![txt("ok".to_owned())]),
        };
        response.map(|r| answer(&r)).map_err(refused)
    }

    fn replace_rrset(
        _zone: String,
        _name: String,
        _rtype: RecordType,
        _ttl: u32,
        _data: Vec<RecordData>,
    ) -> Result<(), PluginError> {
        Ok(())
    }

    fn delete_rrset(_zone: String, _name: String, _rtype: RecordType) -> Result<(), PluginError> {
        Ok(())
    }
}

failback_plugin_sdk::export_dns_provider!(HostileHttp);

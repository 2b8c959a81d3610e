//! A `dns-provider` plugin for the PowerDNS Authoritative HTTP API (4.x,
//! `/api/v1`), over HTTPS through the host (`wasi:http`).
//!
//! - `list-records(zone)`: `GET …/servers/{server}/zones/{zone}.`, every
//!   enabled record of the types the failback touches.
//! - `replace-rrset`: one `PATCH` of the zone with the set's `changetype`
//!   `REPLACE`, its TTL and its records. PowerDNS applies it atomically and
//!   bumps the SOA serial itself; the plugin never edits the SOA.
//! - `delete-rrset`: one `PATCH` with `changetype` `DELETE`; an absent set is
//!   no error.
//!
//! Names are canonical with the final dot on the wire and without it in the
//! contract ([`records`]).
//!
//! The API key is not the plugin's: the environment binds the `X-API-Key`
//! header to a secret, and the host adds it to every request the grant
//! allows. The plugin cannot read it, set it, or put it in a URL.
//!
//! Configuration: `api` (the API's base URL, under the granted origin and
//! prefix: `https://pdns.contoso.com:8443/api/v1`), `server-id` (default
//! `localhost`).
//!
//! In the operator's `failback.toml`:
//!
//! ```toml
//! [plugins.dns-provider]
//! path = "plugins/dns-powerdns.wasm"
//! sha256 = "…"
//!
//! [plugins.dns-provider.config]
//! api = "https://pdns.contoso.com:8443/api/v1"
//!
//! [plugins.dns-provider.grants.http.powerdns-api]
//! origin = "https://pdns.contoso.com:8443"
//! path-prefix = "/api/v1"
//! ca = "certs/pdns-ca.pem"          # or nothing: the web roots
//! headers = { x-api-key = { file = "secrets/pdns-api-key" } }
//! ```
//!
//! Errors by status: 404 is `not-found` (the zone is not on the server), 422
//! is `invalid` with PowerDNS's message, 401 and 403 are `refused` (the key
//! was refused), 5xx and transport failures are `unavailable`, a request the
//! host refused is `refused`.

#![allow(
    unsafe_code,
    reason = "the SDK's export macro expands to the canonical ABI glue, which is unsafe code"
)]

mod records;

use failback_plugin_http::{self as http, HttpError, Method, Response};
use failback_plugin_sdk::dns::{DnsRecord, Guest, PluginError, RecordData, RecordType};
use failback_plugin_sdk::{config, log};
use serde_json::json;

/// The API's base URL and server, from the configuration.
struct Api {
    base: String,
    server: String,
}

impl Api {
    fn from_config() -> Result<Self, PluginError> {
        let base = config::require("api")?;
        if !base.starts_with("https://") && !base.starts_with("http://") {
            return Err(PluginError::Config(format!(
                "`api` = `{base}` is not an http or https URL"
            )));
        }
        let server = config::get_or("server-id", "localhost");
        if server.is_empty()
            || !server
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(PluginError::Config(format!(
                "`server-id` = `{server}` is not a server id"
            )));
        }
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            server,
        })
    }

    fn zone_url(&self, zone: &str) -> String {
        format!("{}/servers/{}/zones/{zone}", self.base, self.server)
    }

    /// One request; its answer when its status is 2xx, else the error its
    /// status names.
    fn call(
        &self,
        method: Method,
        zone: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, PluginError> {
        let text = body.map(serde_json::Value::to_string);
        let response = http::request(
            method,
            &self.zone_url(zone),
            &[
                ("accept", "application/json"),
                ("content-type", "application/json"),
            ],
            text.as_deref().map(str::as_bytes),
        )
        .map_err(transport)?;
        match response.status {
            200..=299 => Ok(response),
            404 => Err(PluginError::NotFound(format!(
                "zone `{}` is not on the server ({})",
                records::plain(zone),
                message(&response)
            ))),
            422 => Err(PluginError::Invalid(message(&response))),
            401 | 403 => Err(PluginError::Refused(format!(
                "the server refused the API key (HTTP {})",
                response.status
            ))),
            500..=599 => Err(PluginError::Unavailable(format!(
                "HTTP {}: {}",
                response.status,
                message(&response)
            ))),
            status => Err(PluginError::Failed(format!(
                "HTTP {status}: {}",
                message(&response)
            ))),
        }
    }
}

/// PowerDNS's `{"error": "…"}`, or the start of the body.
fn message(response: &Response) -> String {
    serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| response.text().chars().take(200).collect())
}

/// A request that got no response.
fn transport(error: HttpError) -> PluginError {
    match &error {
        HttpError::Code(code) if code.contains("HttpRequestDenied") => {
            PluginError::Refused(format!(
                "the host refused the request ({code}): check the `powerdns-api` grant and `api`"
            ))
        }
        HttpError::Url(_) | HttpError::Header(_) => PluginError::Config(error.to_string()),
        _ => PluginError::Unavailable(format!("the PowerDNS API did not answer: {error}")),
    }
}

/// Replace (`data` given) or delete the set (`name`, `rtype`) of `zone`.
fn patch(
    zone: &str,
    name: &str,
    rtype: RecordType,
    change: Option<(u32, &[RecordData])>,
) -> Result<(), PluginError> {
    let api = Api::from_config()?;
    let zone = records::canonical(zone)?;
    let owner = records::canonical(name)?;
    let set = match change {
        Some((ttl, data)) => {
            let contents = data
                .iter()
                .map(|item| {
                    records::content(rtype, item)
                        .map(|content| json!({ "content": content, "disabled": false }))
                })
                .collect::<Result<Vec<_>, _>>()?;
            json!({
                "name": owner,
                "type": records::type_name(rtype),
                "ttl": ttl,
                "changetype": "REPLACE",
                "records": contents,
            })
        }
        None => json!({
            "name": owner,
            "type": records::type_name(rtype),
            "changetype": "DELETE",
        }),
    };
    api.call(Method::Patch, &zone, Some(&json!({ "rrsets": [set] })))?;
    Ok(())
}

struct PowerDns;

impl Guest for PowerDns {
    fn list_records(zone: String) -> Result<Vec<DnsRecord>, PluginError> {
        let api = Api::from_config()?;
        let canonical = records::canonical(&zone)?;
        let response = api.call(Method::Get, &canonical, None)?;
        let parsed: records::Zone = serde_json::from_slice(&response.body).map_err(|e| {
            PluginError::Failed(format!(
                "the zone `{zone}` the server sent does not read: {e}"
            ))
        })?;
        let (records, unreadable) = records::from_zone(&parsed);
        if unreadable > 0 {
            log::warn(&format!(
                "zone `{zone}`: {unreadable} records whose content does not read were skipped"
            ));
        }
        log::debug(&format!(
            "zone `{zone}`: {} records of the types the failback touches",
            records.len()
        ));
        Ok(records)
    }

    fn replace_rrset(
        zone: String,
        name: String,
        rtype: RecordType,
        ttl: u32,
        data: Vec<RecordData>,
    ) -> Result<(), PluginError> {
        patch(&zone, &name, rtype, Some((ttl, &data)))?;
        log::info(&format!(
            "zone `{zone}`: replaced the {} set of `{name}` with {} record(s), ttl {ttl}",
            records::type_name(rtype),
            data.len()
        ));
        Ok(())
    }

    fn delete_rrset(zone: String, name: String, rtype: RecordType) -> Result<(), PluginError> {
        patch(&zone, &name, rtype, None)?;
        log::info(&format!(
            "zone `{zone}`: deleted the {} set of `{name}`",
            records::type_name(rtype)
        ));
        Ok(())
    }
}

failback_plugin_sdk::export_dns_provider!(PowerDns);

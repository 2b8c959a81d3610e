//! One PATCH of a record set against a local PowerDNS: through the
//! `dns-powerdns` plugin (the guest's JSON, `wasi:http`, the host's judge and
//! sender), and the same request made natively by the host's HTTP client
//! (hyper over tokio, rustls for HTTPS) in the same run — over plain HTTP and
//! behind a TLS front with a test CA — and the judge of one request alone (the
//! hook's own cost). Then whole-process `plan` and `apply` on
//! `examples/powerdns` beside the lab it is made from (group `example`).
//! Results and the command are in BENCHMARKS.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks fail by panicking"
)]

#[path = "../../../tests/servers/mod.rs"]
mod servers;
#[allow(dead_code, reason = "this benchmark uses part of the shared helpers")]
mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use failback_core::observed::{RecordData, RecordType};
use http_body_util::{BodyExt as _, Full};
use rustls::pki_types::ServerName;
use servers::powerdns::{PowerDns, ZONE, write_example_environment};
use servers::runtime::Harness;
use servers::tls::{TestCa, TlsFront};

/// The PATCH both sides send: the A set of `bench.contoso.com`, replaced.
fn body(n: u32) -> String {
    format!(
        "{{\"rrsets\":[{{\"name\":\"bench.contoso.com.\",\"type\":\"A\",\"ttl\":300,\"changetype\":\"REPLACE\",\"records\":[{{\"content\":\"192.0.2.{}\",\"disabled\":false}}]}}]}}",
        n % 250 + 1
    )
}

/// The host's HTTP client, natively: one connection and one PATCH, as the
/// host's sender makes them (TLS with the test CA when `tls` is given).
async fn native_patch(
    address: std::net::SocketAddr,
    host: &str,
    key: &str,
    tls: Option<&Arc<rustls::ClientConfig>>,
    n: u32,
) {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let request = http::Request::patch(format!("/api/v1/servers/localhost/zones/{ZONE}."))
        .header("host", format!("{host}:{}", address.port()))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body(n))))
        .unwrap();
    let status = match tls {
        None => send(stream, request).await,
        Some(config) => {
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
            let name = ServerName::try_from(host.to_owned()).unwrap();
            send(connector.connect(name, stream).await.unwrap(), request).await
        }
    };
    assert_eq!(status, 204);
}

async fn send<S>(stream: S, request: http::Request<Full<Bytes>>) -> u16
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_io::Io(stream))
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await.unwrap();
    drop(sender);
    let _ = driver.await;
    status
}

/// tokio's I/O as hyper's.
mod hyper_io {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub struct Io<T>(pub T);

    impl<T: tokio::io::AsyncRead + Unpin> hyper::rt::Read for Io<T> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            mut buf: hyper::rt::ReadBufCursor<'_>,
        ) -> Poll<std::io::Result<()>> {
            let mut scratch = vec![0_u8; buf.remaining()];
            let mut read = tokio::io::ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.0).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) => {
                    buf.put_slice(read.filled());
                    Poll::Ready(Ok(()))
                }
                other => other,
            }
        }
    }

    impl<T: tokio::io::AsyncWrite + Unpin> hyper::rt::Write for Io<T> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }

        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }
}

fn client_config(ca: &TestCa) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(ca.pem().as_bytes()) {
        roots.add(certificate.unwrap()).unwrap();
    }
    // ring, the provider built here, has no post-quantum key exchange, which
    // rustls marks by deprecating its constructor.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn benches(c: &mut Criterion) {
    let pdns = PowerDns::start().unwrap_or_else(|e| panic!("cannot start PowerDNS: {e}"));
    let ca = TestCa::new("failback bench CA");
    let front = TlsFront::start(ca.server_config(&["localhost"]), pdns.api);
    let tls = client_config(&ca);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let plain = Harness::new();
    let plain_dns = plain.powerdns(
        &pdns.api_url(),
        &format!("http://{}", pdns.api),
        &pdns.key,
        None,
    );
    let secure = Harness::new();
    let https = format!("https://localhost:{}", front.address.port());
    let secure_dns = secure.powerdns(
        &format!("{https}/api/v1"),
        &https,
        &pdns.key,
        Some(&ca.pem()),
    );

    let mut group = c.benchmark_group("powerdns-patch");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    let mut n = 0_u32;
    for (name, dns) in [("plugin/http", &plain_dns), ("plugin/https", &secure_dns)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                n = n.wrapping_add(1);
                dns.replace_rrset(
                    ZONE,
                    "bench.contoso.com",
                    RecordType::A,
                    300,
                    &[RecordData::A(format!("192.0.2.{}", n % 250 + 1))],
                )
                .unwrap();
            });
        });
    }
    for (name, address, config) in [
        ("native/http", pdns.api, None),
        ("native/https", front.address, Some(&tls)),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                n = n.wrapping_add(1);
                runtime.block_on(native_patch(address, "localhost", &pdns.key, config, n));
            });
        });
    }
    group.finish();

    let mut judge = c.benchmark_group("http-judge");
    let granted = vec![failback_runtime::capability::GrantedHttp {
        capability: "powerdns-api".to_owned(),
        methods: [
            failback_runtime::http::Method::Get,
            failback_runtime::http::Method::Patch,
        ]
        .into_iter()
        .collect(),
        max_response_bytes: failback_runtime::http::DEFAULT_RESPONSE_BYTES,
        grant: failback_runtime::environment::HttpGrant {
            origin: "https://pdns.contoso.com:8443".parse().unwrap(),
            path_prefix: "/api/v1".to_owned(),
            addresses: Vec::new(),
            ca: None,
            headers: [(
                "x-api-key".to_owned(),
                failback_runtime::environment::SecretRef::Env("PDNS_KEY".to_owned()),
            )]
            .into_iter()
            .collect(),
        },
    }];
    judge.bench_function("one-request", |b| {
        b.iter(|| {
            failback_runtime::http::judge(
                &granted,
                &failback_runtime::http::Outgoing {
                    method: "PATCH",
                    scheme: "https",
                    authority: "pdns.contoso.com:8443",
                    path_and_query: "/api/v1/servers/localhost/zones/contoso.com.",
                },
                &["pdns-api-s3cret-key"],
            )
            .unwrap()
            .capability
            .len()
        });
    });
    judge.finish();
}

/// Whole-process `plan` and `apply PLAN --yes` on `examples/powerdns` (the
/// zone in PowerDNS behind a TLS front, the API key held by the host) beside
/// the same on the lab it is made from (`edge-failover`, every plugin the
/// lab's), in the same run. Each apply gets a fresh copy of its directory
/// and, for PowerDNS, the zone loaded again (setup, not timed).
fn example_benches(c: &mut Criterion) {
    let (_, bin) = support::binaries().pop().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let command = || {
        let mut command = std::process::Command::new(&bin);
        command.env("FAILBACK_CACHE_DIR", cache.path());
        command
    };
    let templates = tempfile::tempdir().unwrap();
    let lab_dir = templates.path().join("lab");
    let example_dir = templates.path().join("powerdns");
    for dir in [&lab_dir, &example_dir] {
        let out = command()
            .args(["lab", "init", "--scenario", "edge-failover"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let zone_file = std::fs::read_to_string(example_dir.join("dns/contoso.com.zone")).unwrap();
    let pdns =
        PowerDns::start_zone(&zone_file).unwrap_or_else(|e| panic!("cannot start PowerDNS: {e}"));
    let ca = TestCa::new("contoso bench CA");
    let front = TlsFront::start(
        ca.server_config(&[servers::powerdns::EXAMPLE_API_HOST]),
        pdns.api,
    );
    write_example_environment(
        &example_dir,
        command,
        &pdns,
        &ca.pem(),
        front.address.port(),
    );

    let mut group = c.benchmark_group("example");
    group
        .sampling_mode(criterion::SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(15));
    for (name, template) in [("lab", &lab_dir), ("powerdns", &example_dir)] {
        let env = template.join("failback.toml");
        group.bench_function(format!("plan/{name}"), |b| {
            b.iter(|| {
                let out = command()
                    .args(["plan", "--format", "json", "--env"])
                    .arg(&env)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{out:?}");
            });
        });
    }
    for (name, template) in [("lab", &lab_dir), ("powerdns", &example_dir)] {
        group.bench_function(format!("apply/{name}"), |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let copy = std::process::Command::new("cp")
                        .arg("-a")
                        .arg(format!("{}/.", template.display()))
                        .arg(dir.path())
                        .status()
                        .unwrap();
                    assert!(copy.success());
                    pdns.reload_zone(&zone_file);
                    let env = dir.path().join("failback.toml");
                    let plan = dir.path().join("plan.json");
                    let out = command()
                        .args(["plan", "--format", "json", "--env"])
                        .arg(&env)
                        .arg("--out")
                        .arg(&plan)
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "{out:?}");
                    support::Lab::new(dir, env, plan)
                },
                |lab| support::apply(&bin, cache.path(), lab),
                criterion::BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(http_benches, benches, example_benches);
criterion_main!(http_benches);

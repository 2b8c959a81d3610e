//! `failback plugin pack`, `sign`, `verify` and `review`, and an environment
//! whose `[trust]` requires signatures.

use std::path::{Path, PathBuf};

use failback_guests::paths;
use failback_runtime::SigningKey;

use crate::support::{
    failback, fingerprint_of, lab, lab_digests, placeholders, redact, run, sha256_of,
};

/// Every plugin and policy module in the repository: name, component, manifest.
const CARRIED: &[(&str, &str, Option<&str>)] = &[
    (
        "lab-dns",
        paths::FAILBACK_LAB_DNS,
        Some(paths::FAILBACK_LAB_DNS_MANIFEST),
    ),
    (
        "lab-probe",
        paths::FAILBACK_LAB_PROBE,
        Some(paths::FAILBACK_LAB_PROBE_MANIFEST),
    ),
    (
        "lab-store",
        paths::FAILBACK_LAB_STORE,
        Some(paths::FAILBACK_LAB_STORE_MANIFEST),
    ),
    (
        "lab-servers",
        paths::FAILBACK_LAB_SERVERS,
        Some(paths::FAILBACK_LAB_SERVERS_MANIFEST),
    ),
    (
        "lab-pools",
        paths::FAILBACK_LAB_POOLS,
        Some(paths::FAILBACK_LAB_POOLS_MANIFEST),
    ),
    (
        "dns-rfc2136",
        paths::FAILBACK_DNS_RFC2136,
        Some(paths::FAILBACK_DNS_RFC2136_MANIFEST),
    ),
    (
        "dns-powerdns",
        paths::FAILBACK_DNS_POWERDNS,
        Some(paths::FAILBACK_DNS_POWERDNS_MANIFEST),
    ),
    (
        "probe-xmpp",
        paths::FAILBACK_PROBE_XMPP,
        Some(paths::FAILBACK_PROBE_XMPP_MANIFEST),
    ),
    ("policies", paths::FAILBACK_POLICIES, None),
];

/// Digests and sizes change with every build of a guest; a review's snapshot
/// holds what does not. Digests and key fingerprints are kept apart by
/// [`placeholders`] before the snapshot (the ones the test computes by name).
fn settings(dir: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&dir.display().to_string()), "[DIR]");
    settings.add_filter(r"\d+ bytes", "[SIZE] bytes");
    settings
}

/// The fingerprint of each test key of `dir` (`key(dir, n)`), named by its
/// comment.
fn known_keys(dir: &Path) -> Vec<(String, String)> {
    (1..=2)
        .filter_map(|n| {
            let public = dir.join(format!("id_ed25519_{n}.pub"));
            public
                .exists()
                .then(|| (fingerprint_of(&public), format!("key vendor-{n}")))
        })
        .collect()
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

/// `failback plugin pack COMPONENT --manifest MANIFEST --out OUT`.
fn pack(component: &str, manifest: &Path, out: &Path) {
    let (code, _, stderr) = run(failback()
        .args(["plugin", "pack", component, "--manifest"])
        .arg(manifest)
        .arg("--out")
        .arg(out));
    assert_eq!(code, 0, "pack: {stderr}");
}

fn key(dir: &Path, n: u8) -> (PathBuf, PathBuf) {
    let key = SigningKey::from_seed([n; 32], &format!("vendor-{n}@example.com"));
    let private = dir.join(format!("id_ed25519_{n}"));
    let public = dir.join(format!("id_ed25519_{n}.pub"));
    std::fs::write(&private, key.to_openssh().unwrap()).unwrap();
    std::fs::write(&public, key.public_line().unwrap()).unwrap();
    (private, public)
}

#[test]
fn review_of_every_plugin_and_policy_module_in_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    for (name, component, manifest) in CARRIED {
        let file = match manifest {
            Some(manifest) => {
                let packed = dir.path().join(format!("{name}.wasm"));
                pack(component, Path::new(manifest), &packed);
                packed
            }
            None => {
                let copy = dir.path().join(format!("{name}.wasm"));
                std::fs::copy(component, &copy).unwrap();
                copy
            }
        };
        let (code, stdout, stderr) = run(failback().args(["plugin", "review"]).arg(&file));
        assert_eq!(code, 0, "{name}: {stderr}");
        let known = [(sha256_of(&file), "sha256 of the reviewed file".to_owned())];
        let stdout = placeholders(&stdout, &known);
        settings(dir.path()).bind(|| {
            insta::assert_snapshot!(format!("review-{name}"), redact(&stdout, dir.path()));
        });
    }
}

/// A later build of one plugin: other code (it opens sockets now), a raised
/// limit, a new capability, a signer — each named in the `--since` report.
#[test]
fn review_since_an_earlier_build() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = |version: &str, extra: &str| {
        let path = dir.path().join(format!("plugin-{version}.toml"));
        std::fs::write(
            &path,
            format!(
                "name = \"contoso-dns\"\nversion = \"{version}\"\nvendor = \"Contoso Networks\"\n\
                 world = \"failback:plugin/dns-provider@0.1.0\"\n{extra}"
            ),
        )
        .unwrap();
        path
    };
    let old = dir.path().join("contoso-dns-0.1.0.wasm");
    pack(
        paths::FAILBACK_TEST_GOOD,
        &manifest(
            "0.1.0",
            "[limits]\nmemory-mib = 16\ncall-timeout-ms = 1000\n",
        ),
        &old,
    );
    let new = dir.path().join("contoso-dns-0.2.0.wasm");
    pack(
        paths::FAILBACK_TEST_HOSTILE,
        &manifest(
            "0.2.0",
            "[[capabilities.network]]\nname = \"dns-server\"\nprotocol = \"tcp\"\n\
             [limits]\nmemory-mib = 64\ncall-timeout-ms = 1000\n",
        ),
        &new,
    );
    let (private, _) = key(dir.path(), 1);
    let (code, _, stderr) = run(failback()
        .args(["plugin", "sign"])
        .arg(&new)
        .arg("--key")
        .arg(&private));
    assert_eq!(code, 0, "sign: {stderr}");

    let (code, stdout, stderr) = run(failback()
        .args(["plugin", "review", "--format", "markdown", "--since"])
        .arg(&old)
        .arg(&new));
    assert_eq!(code, 0, "{stderr}");
    let mut known = known_keys(dir.path());
    known.push((sha256_of(&old), "sha256 of 0.1.0".to_owned()));
    known.push((sha256_of(&new), "sha256 of 0.2.0".to_owned()));
    let stdout = placeholders(&stdout, &known);
    settings(dir.path()).bind(|| {
        insta::assert_snapshot!("review-since-markdown", redact(&stdout, dir.path()));
    });

    let (code, stdout, _) = run(failback()
        .args(["plugin", "review", "--format", "json", "--since"])
        .arg(&old)
        .arg(&new));
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["since"]["raised_limits"][0][0], "memory-mib");
    assert_eq!(json["since"]["new_capabilities"][0]["name"], "dns-server");
    assert!(
        json["since"]["new_imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["interface"] == "wasi:sockets/tcp"),
        "{stdout}"
    );
}

/// A new build of an HTTP plugin that asks for one more method of its API and
/// a second origin: `--since` names both, so the reviewer sees that the
/// environment must grant a new origin and that the plugin may now write.
#[test]
fn review_since_names_a_new_http_origin_and_a_new_method() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = |version: &str, capabilities: &str| {
        let path = dir.path().join(format!("dns-powerdns-{version}.toml"));
        std::fs::write(
            &path,
            format!(
                "name = \"dns-powerdns\"\nversion = \"{version}\"\n\
                 world = \"failback:plugin/dns-provider@0.3.0\"\n{capabilities}\
                 [limits]\nmemory-mib = 32\ncall-timeout-ms = 10000\n"
            ),
        )
        .unwrap();
        path
    };
    let old = dir.path().join("dns-powerdns-0.1.0.wasm");
    pack(
        paths::FAILBACK_DNS_POWERDNS,
        &manifest(
            "0.1.0",
            "[[capabilities.http]]\nname = \"powerdns-api\"\nmethods = [\"GET\"]\n",
        ),
        &old,
    );
    let new = dir.path().join("dns-powerdns-0.2.0.wasm");
    pack(
        paths::FAILBACK_DNS_POWERDNS,
        &manifest(
            "0.2.0",
            "[[capabilities.http]]\nname = \"powerdns-api\"\nmethods = [\"GET\", \"PATCH\"]\n\
             [[capabilities.http]]\nname = \"audit-webhook\"\nmethods = [\"POST\"]\n",
        ),
        &new,
    );
    let (code, stdout, stderr) = run(failback()
        .args(["plugin", "review", "--format", "json", "--since"])
        .arg(&old)
        .arg(&new));
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let since = &json["since"];
    assert_eq!(
        since["new_capabilities"].as_array().unwrap().len(),
        1,
        "{since}"
    );
    assert_eq!(since["new_capabilities"][0]["name"], "audit-webhook");
    assert_eq!(since["new_capabilities"][0]["kind"], "http");
    assert_eq!(
        since["changed_capabilities"][0][0], "powerdns-api",
        "{since}"
    );
    assert!(
        since["changed_capabilities"][0][1]
            .as_str()
            .unwrap()
            .starts_with("sends GET requests")
            && since["changed_capabilities"][0][2]
                .as_str()
                .unwrap()
                .starts_with("sends GET, PATCH requests"),
        "{since}"
    );

    let (code, stdout, stderr) = run(failback()
        .args(["plugin", "review", "--format", "markdown", "--since"])
        .arg(&old)
        .arg(&new));
    assert_eq!(code, 0, "{stderr}");
    let known = [
        (sha256_of(&old), "sha256 of 0.1.0".to_owned()),
        (sha256_of(&new), "sha256 of 0.2.0".to_owned()),
    ];
    let stdout = placeholders(&stdout, &known);
    settings(dir.path()).bind(|| {
        insta::assert_snapshot!("review-since-http-markdown", redact(&stdout, dir.path()));
    });
}

#[test]
fn sign_then_verify_embedded_and_detached() {
    let dir = tempfile::tempdir().unwrap();
    let packed = dir.path().join("lab-dns.wasm");
    pack(
        paths::FAILBACK_LAB_DNS,
        Path::new(paths::FAILBACK_LAB_DNS_MANIFEST),
        &packed,
    );
    let (private, public) = key(dir.path(), 1);
    let (_, other) = key(dir.path(), 2);
    let verify = |file: &Path, key: &Path| {
        let (code, stdout, stderr) = run(failback()
            .args(["plugin", "verify"])
            .arg(file)
            .arg("--key")
            .arg(key));
        (code, redact(&format!("{stdout}{stderr}"), dir.path()))
    };

    // Unsigned: nothing holds.
    let (code, unsigned) = verify(&packed, &public);
    assert_eq!(code, 1, "{unsigned}");

    // Detached: the component is left as it was, the signature beside it.
    let before = std::fs::read(&packed).unwrap();
    let (code, _, stderr) = run(failback()
        .args(["plugin", "sign", "--detached"])
        .arg(&packed)
        .arg("--key")
        .arg(&private));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read(&packed).unwrap(), before);
    let (code, detached) = verify(&packed, &public);
    assert_eq!(code, 0, "{detached}");
    std::fs::remove_file(dir.path().join("lab-dns.wasm.sig")).unwrap();

    // Embedded, in place.
    let (code, _, stderr) = run(failback()
        .args(["plugin", "sign"])
        .arg(&packed)
        .arg("--key")
        .arg(&private));
    assert_eq!(code, 0, "{stderr}");
    let (code, holds) = verify(&packed, &public);
    assert_eq!(code, 0, "{holds}");
    let (code, not_given) = verify(&packed, &other);
    assert_eq!(code, 1, "{not_given}");

    // One byte of the manifest inside changed: the signature no longer holds.
    let mut bytes = std::fs::read(&packed).unwrap();
    let at = bytes
        .windows(b"memory-mib = ".len())
        .position(|w| w == b"memory-mib = ")
        .unwrap();
    bytes[at + b"memory-mib = ".len()] = b'9';
    std::fs::write(&packed, &bytes).unwrap();
    let (code, broken) = verify(&packed, &public);
    assert_eq!(code, 1, "{broken}");

    let report = placeholders(
        &format!(
            "# unsigned\n{unsigned}\n# detached\n{detached}\n# embedded\n{holds}\n\
             # another key\n{not_given}\n# changed after signing\n{broken}"
        ),
        &known_keys(dir.path()),
    );
    settings(dir.path()).bind(|| {
        insta::assert_snapshot!("verify", report);
    });
}

/// A vendor's own key, as `ssh-keygen` makes it, protected by a passphrase:
/// it signs, and the fingerprint reported is the one `ssh-keygen -l` shows.
#[test]
fn a_passphrase_protected_key_made_by_ssh_keygen_signs() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_ed25519");
    let status = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "vendor passphrase",
            "-C",
            "vendor@example.com",
            "-f",
        ])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs (Debian's openssh-client; scripts/test installs it)");
    assert!(status.success());
    let fingerprint = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(dir.path().join("id_ed25519.pub"))
        .output()
        .unwrap();
    let fingerprint = String::from_utf8(fingerprint.stdout).unwrap();
    let fingerprint = fingerprint.split_whitespace().nth(1).unwrap().to_owned();

    let packed = dir.path().join("lab-dns.wasm");
    pack(
        paths::FAILBACK_LAB_DNS,
        Path::new(paths::FAILBACK_LAB_DNS_MANIFEST),
        &packed,
    );
    let (code, _, stderr) = run(failback()
        .args(["plugin", "sign"])
        .arg(&packed)
        .arg("--key")
        .arg(&key));
    assert_eq!(code, 1);
    assert!(stderr.contains("passphrase"), "{stderr}");
    let (code, stdout, stderr) = run(failback()
        .env("FAILBACK_KEY_PASSPHRASE", "vendor passphrase")
        .args(["plugin", "sign"])
        .arg(&packed)
        .arg("--key")
        .arg(&key));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("by {fingerprint} (vendor@example.com)")),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(failback()
        .args(["plugin", "verify"])
        .arg(&packed)
        .arg("--key")
        .arg(dir.path().join("id_ed25519.pub")));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("signed by  {fingerprint}: holds")),
        "{stdout}"
    );
}

/// The lab requires signatures: its carried plugins run as `built-in`; a
/// vendor's repacked copy runs once signed by a trusted key, and not before.
#[test]
fn a_lab_requiring_signatures_refuses_an_unsigned_plugin_and_runs_a_signed_one() {
    let lab = lab("edge-failover");
    let env = lab.path().join("failback.toml");
    let (code, _, stderr) = run(failback().args(["plan", "--env"]).arg(&env));
    assert_eq!(code, 0, "the built-in plugins run: {stderr}");

    // A vendor's build of the lab's DNS plugin: the same code, packed.
    let packed = lab.path().join("plugins/vendor-dns.wasm");
    pack(
        paths::FAILBACK_LAB_DNS,
        Path::new(paths::FAILBACK_LAB_DNS_MANIFEST),
        &packed,
    );
    // The lab's file, its dns-provider bound to the vendor's build instead.
    let original = std::fs::read_to_string(&env).unwrap();
    let bind = |bytes: &[u8], trust: &str| {
        // The table's first lines, up to its blank line: path, sha256, manifest, manifest-sha256.
        let start = original.find("[plugins.dns-provider]\n").unwrap();
        let end = original[start..].find("\n\n").unwrap() + start;
        let digest = failback_runtime::Digest::of(bytes);
        let text = format!(
            "{}[plugins.dns-provider]\npath = \"plugins/vendor-dns.wasm\"\nsha256 = \"{digest}\"{}",
            &original[..start],
            &original[end..]
        )
        .replace("[trust]\nrequire-signatures = true\n", trust);
        std::fs::write(&env, text).unwrap();
    };
    let (private, public) = key(lab.path(), 1);
    let line = std::fs::read_to_string(&public).unwrap();
    let trusted = format!(
        "[trust]\nrequire-signatures = true\nkeys = [{:?}]\n",
        line.trim()
    );
    bind(&std::fs::read(&packed).unwrap(), &trusted);
    let (code, _, unsigned) = run(failback().args(["plan", "--env"]).arg(&env));
    assert_eq!(code, 1, "{unsigned}");

    let (code, _, stderr) = run(failback()
        .args(["plugin", "sign"])
        .arg(&packed)
        .arg("--key")
        .arg(&private));
    assert_eq!(code, 0, "{stderr}");
    bind(&std::fs::read(&packed).unwrap(), &trusted);
    let (code, _, stderr) = run(failback().args(["plan", "--env"]).arg(&env));
    assert_eq!(code, 0, "signed by a trusted key: {stderr}");

    let mut known = known_keys(lab.path());
    known.extend(lab_digests(lab.path()));
    let unsigned = placeholders(&unsigned, &known);
    settings(lab.path()).bind(|| {
        insta::assert_snapshot!("plan-unsigned-plugin", redact(&unsigned, lab.path()));
    });
}

/// `failback plugin add`: a plugin exported into a lab is bound in one command,
/// its sha256 and its manifest's pinned, the environment file otherwise byte
/// for byte as it was (comments, layout, the binding's config and grants);
/// a binding pinned to another component is replaced only when told; a
/// component of another kind is refused; adding it again changes nothing.
#[test]
fn plugin_add_pins_a_binding_in_place_and_replaces_one_only_when_told() {
    let dir = lab("edge-failover");
    let root = dir.path();
    let env = root.join("failback.toml");
    let (code, _, stderr) =
        run(failback()
            .current_dir(root)
            .args(["plugin", "export", "probe-xmpp", "plugins"]));
    assert_eq!(code, 0, "{stderr}");
    let before = std::fs::read_to_string(&env).unwrap();
    let add = |args: &[&str]| {
        run(failback()
            .current_dir(root)
            .args(["plugin", "add", "plugins/probe-xmpp.wasm"])
            .args(args))
    };

    // Each digest the messages show, by the name of what the test hashed.
    let known: Vec<(String, String)> = [
        "plugins/lab-probe.wasm",
        "plugins/probe-xmpp.wasm",
        "plugins/probe-xmpp.plugin.toml",
    ]
    .iter()
    .map(|file| (sha256_of(&root.join(file)), format!("sha256 of {file}")))
    .collect();

    // Pinned to the lab's probe: refused, nothing changed.
    let (code, stdout, stderr) = add(&["--kind", "port-probe"]);
    let stderr = placeholders(&stderr, &known);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    settings(root).bind(|| insta::assert_snapshot!("plugin-add-pinned-to-another", stderr));
    assert_eq!(std::fs::read_to_string(&env).unwrap(), before);
    // Another kind than its manifest's: refused.
    let (code, _, stderr) = add(&["--kind", "dns-provider", "--replace"]);
    assert_eq!(code, 1);
    settings(root).bind(|| insta::assert_snapshot!("plugin-add-another-kind", stderr));
    assert_eq!(std::fs::read_to_string(&env).unwrap(), before);

    let (code, stdout, stderr) = add(&["--kind", "port-probe", "--replace"]);
    assert_eq!(code, 0, "{stderr}");
    let stdout = placeholders(&stdout, &known);
    settings(root).bind(|| insta::assert_snapshot!("plugin-add-replaced", stdout));
    let after = std::fs::read_to_string(&env).unwrap();
    let sha256 = |bytes: &[u8]| {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(bytes))
    };
    let component = sha256(&std::fs::read(root.join("plugins/probe-xmpp.wasm")).unwrap());
    let manifest = sha256(&std::fs::read(root.join("plugins/probe-xmpp.plugin.toml")).unwrap());
    // Exactly the four values of `[plugins.port-probe]` changed.
    let table: toml::Table = toml::from_str(&before).unwrap();
    let old = &table["plugins"]["port-probe"];
    let mut expected = before.clone();
    for (key, value) in [
        ("path", "plugins/probe-xmpp.wasm"),
        ("sha256", component.as_str()),
        ("manifest", "plugins/probe-xmpp.plugin.toml"),
        ("manifest-sha256", manifest.as_str()),
    ] {
        let line = format!("{key} = \"{}\"", old[key].as_str().unwrap());
        assert_eq!(expected.matches(&line).count(), 1, "{line}");
        expected = expected.replace(&line, &format!("{key} = \"{value}\""));
    }
    assert_eq!(after, expected);

    // Again: nothing to change.
    let (code, stdout, stderr) = add(&["--kind", "port-probe"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("already bound: `probe-xmpp`"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&env).unwrap(), after);
}

//! The crate a vendor depends on to write a failback plugin.
//!
//! It holds the bindings of every world of `failback:plugin@0.3.0` (one module
//! per world, all sharing the [`types`] and [`host`] interfaces), an export
//! macro per world, helpers for the host's imports: [`log`] and [`config`], and
//! [`files`] for plugins whose environment is a granted directory.
//!
//! A plugin picks its world, implements the world's `Guest` trait and exports
//! it:
//!
//! ```no_run
//! use failback_plugin_sdk::pools::{Guest, PluginError, PoolStatus};
//!
//! struct MyPools;
//!
//! impl Guest for MyPools {
//!     fn list_pools() -> Result<Vec<PoolStatus>, PluginError> {
//!         let endpoint = failback_plugin_sdk::config::require("endpoint")?;
//!         failback_plugin_sdk::log::info(&format!("listing pools at {endpoint}"));
//!         Ok(Vec::new())
//!     }
//!     fn pool_failback(pool_fqdn: String) -> Result<(), PluginError> {
//!         Err(PluginError::Failed(format!("cannot fail back `{pool_fqdn}` yet")))
//!     }
//! }
//!
//! failback_plugin_sdk::export_pool_control!(MyPools);
//! ```
//!
//! The crate is built for `wasm32-wasip2`; `cargo build --target wasm32-wasip2`
//! of a `cdylib` that uses it emits the component directly.

#![allow(
    unsafe_code,
    reason = "wit-bindgen's generated bindings convert between the canonical ABI and Rust with unsafe code"
)]

/// The shared interfaces (`types`, `host`), generated once and re-used by every world.
#[doc(hidden)]
pub mod base {
    wit_bindgen::generate!({
        inline: "
            package failback:sdk;
            world base { import failback:plugin/host@0.3.0; }
        ",
        path: "../../wit/plugin",
        world: "failback:sdk/base",
        generate_all,
    });
}

pub use base::failback::plugin::host;
pub use base::failback::plugin::types;
pub use types::{LogLevel, PluginError};

macro_rules! world_bindings {
    ($module:ident, $world:literal, $macro_name:literal, $bindings_module:literal) => {
        #[doc = concat!("Bindings of the `", $world, "` world.")]
        #[doc(hidden)]
        pub mod $module {
            wit_bindgen::generate!({
                path: "../../wit/plugin",
                world: $world,
                with: {
                    "failback:plugin/types@0.3.0": crate::base::failback::plugin::types,
                    "failback:plugin/host@0.3.0": crate::base::failback::plugin::host,
                },
                pub_export_macro: true,
                export_macro_name: $macro_name,
                default_bindings_module: $bindings_module,
            });
        }
    };
}

world_bindings!(
    dns_provider,
    "dns-provider",
    "export_dns_provider",
    "failback_plugin_sdk::dns_provider"
);
world_bindings!(
    port_probe,
    "port-probe",
    "export_port_probe",
    "failback_plugin_sdk::port_probe"
);
world_bindings!(
    management_store,
    "management-store",
    "export_management_store",
    "failback_plugin_sdk::management_store"
);
world_bindings!(
    server_control,
    "server-control",
    "export_server_control",
    "failback_plugin_sdk::server_control"
);
world_bindings!(
    pool_control,
    "pool-control",
    "export_pool_control",
    "failback_plugin_sdk::pool_control"
);

// The export macros at the crate root, as the crate docs show them
// (`failback_plugin_sdk::export_pool_control!`); they stay reachable through
// their world's module too.
pub use dns_provider::export_dns_provider;
pub use management_store::export_management_store;
pub use pool_control::export_pool_control;
pub use port_probe::export_port_probe;
pub use server_control::export_server_control;

/// The `dns-provider` world's interface: implement [`dns::Guest`], export with
/// [`export_dns_provider!`].
pub mod dns {
    pub use crate::dns_provider::exports::failback::plugin::dns::*;
    pub use crate::types::PluginError;
}

/// The `port-probe` world's interface: implement [`probe::Guest`], export with
/// [`export_port_probe!`].
pub mod probe {
    pub use crate::port_probe::exports::failback::plugin::probe::*;
    pub use crate::types::PluginError;
}

/// The `management-store` world's interface: implement [`management::Guest`],
/// export with [`export_management_store!`].
pub mod management {
    pub use crate::management_store::exports::failback::plugin::management::*;
    pub use crate::types::PluginError;
}

/// The `server-control` world's interface: implement [`servers::Guest`], export
/// with [`export_server_control!`].
pub mod servers {
    pub use crate::server_control::exports::failback::plugin::servers::*;
    pub use crate::types::PluginError;
}

/// The `pool-control` world's interface: implement [`pools::Guest`], export with
/// [`export_pool_control!`].
pub mod pools {
    pub use crate::pool_control::exports::failback::plugin::pools::*;
    pub use crate::types::PluginError;
}

/// Log lines through the host (`failback:plugin/host.log`). The host tags each
/// line with the plugin and the call in flight.
pub mod log {
    use crate::host;
    use crate::types::LogLevel;

    pub fn debug(message: &str) {
        host::log(LogLevel::Debug, message);
    }
    pub fn info(message: &str) {
        host::log(LogLevel::Info, message);
    }
    pub fn warn(message: &str) {
        host::log(LogLevel::Warn, message);
    }
    pub fn error(message: &str) {
        host::log(LogLevel::Error, message);
    }
}

/// The plugin's configuration, from the operator's environment file.
pub mod config {
    use crate::host;
    use crate::types::PluginError;

    /// The value of `key`, or `None`.
    pub fn get(key: &str) -> Option<String> {
        host::config(key)
    }

    /// The value of `key`, or `default` when it is not set.
    pub fn get_or(key: &str, default: &str) -> String {
        host::config(key).unwrap_or_else(|| default.to_owned())
    }

    /// The value of `key`, or a [`PluginError::Config`] naming it.
    pub fn require(key: &str) -> Result<String, PluginError> {
        host::config(key).ok_or_else(|| PluginError::Config(format!("`{key}` is not set")))
    }

    /// The value of `key` parsed as `T`, or a [`PluginError::Config`] naming it.
    pub fn parse<T: std::str::FromStr>(key: &str) -> Result<T, PluginError>
    where
        T::Err: std::fmt::Display,
    {
        let value = require(key)?;
        value
            .parse()
            .map_err(|e| PluginError::Config(format!("`{key}` = `{value}`: {e}")))
    }
}

/// File helpers for plugins whose environment is a granted directory: an
/// atomic replace and an append. Plain `std`, so they work natively too (a
/// plugin's file logic can be unit tested off-wasm).
pub mod files {
    use std::ffi::OsString;
    use std::io::{self, Write as _};
    use std::path::Path;

    use serde::Deserialize;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use crate::types::PluginError;

    /// Replace `path` with `contents` atomically: write `NAME.tmp` beside it,
    /// then rename it over `NAME`. A reader sees the old file or the new one,
    /// never a part.
    pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
        let Some(name) = path.file_name() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the path has no file name",
            ));
        };
        let mut tmp_name = OsString::from(name);
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    }

    /// An I/O failure on a file the plugin was granted, as the plugin's error:
    /// a denied access is the environment refusing, anything else a failure.
    /// `name` is the file as the operator knows it.
    pub fn io_error(verb: &str, name: &str, error: &io::Error) -> PluginError {
        let message = format!("cannot {verb} `{name}`: {}", error.kind());
        match error.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                PluginError::Refused(message)
            }
            _ => PluginError::Failed(message),
        }
    }

    /// Read the JSON file `path` (known to the operator as `name`).
    pub fn read_json<T: DeserializeOwned>(path: &Path, name: &str) -> Result<T, PluginError> {
        parse_json(&read_text(path, name)?, name)
    }

    /// The text of `path` (known to the operator as `name`).
    pub fn read_text(path: &Path, name: &str) -> Result<String, PluginError> {
        std::fs::read_to_string(path).map_err(|e| io_error("read", name, &e))
    }

    /// `text`, the contents of the file known to the operator as `name`, as
    /// JSON; `T` may borrow from `text`, so a call that reads only part of a
    /// file need not copy the rest.
    pub fn parse_json<'a, T: Deserialize<'a>>(text: &'a str, name: &str) -> Result<T, PluginError> {
        serde_json::from_str(text)
            .map_err(|e| PluginError::Failed(format!("`{name}` is malformed: {e}")))
    }

    /// Replace the JSON file `path` (known to the operator as `name`) with
    /// `value`, pretty-printed with a final newline, atomically.
    pub fn write_json<T: Serialize>(path: &Path, name: &str, value: &T) -> Result<(), PluginError> {
        let mut text = serde_json::to_string_pretty(value)
            .map_err(|e| PluginError::Failed(format!("cannot write `{name}`: {e}")))?;
        text.push('\n');
        write_atomic(path, text.as_bytes()).map_err(|e| io_error("write", name, &e))
    }

    /// Append `line` and a newline to `path`, creating it when absent.
    pub fn append_line(path: &Path, line: &str) -> io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        file.write_all(text.as_bytes())?;
        file.sync_all()
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

        use super::*;

        #[test]
        fn write_atomic_replaces_and_leaves_no_tmp() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("state.json");
            write_atomic(&path, b"one").unwrap();
            write_atomic(&path, b"two").unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"two");
            assert!(!dir.path().join("state.json.tmp").exists());
        }

        #[test]
        fn append_line_creates_then_appends() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("lab.log");
            append_line(&path, "a 1").unwrap();
            append_line(&path, "b 2").unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 1\nb 2\n");
        }
    }
}

//! The plugin bindings: one call into a guest, by world and track. It names
//! the sandbox and the records, nothing above.
//!
//! [`wit`] holds one generated binding module per track of each world;
//! `call` links the host's imports and runs one call in a fresh store within
//! the plugin's memory, time and data limits; `plugin` calls each plugin kind
//! through its own track's binding, and `policy` each policy module.

pub(crate) mod call;
pub(crate) mod plugin;
pub(crate) mod policy;
pub mod wit;

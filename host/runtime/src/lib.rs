//! The failback plugin runtime.

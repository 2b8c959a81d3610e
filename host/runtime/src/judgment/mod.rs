//! Observation and judgment: what the deployment is, and whether a change to
//! it may be made. It names loading and the rooms below.
//!
//! [`observe`] asks the plugins what the deployment is now; [`gate`] runs
//! the policy modules over a plan's trajectory and decides; [`session`] is an
//! environment opened with its plugins and policies loaded, which observes,
//! plans, judges, checks a saved plan's freshness and verifies.

pub mod gate;
pub mod observe;
pub mod session;

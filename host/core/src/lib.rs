//! The failback domain model, topology XML, planner and rendering.

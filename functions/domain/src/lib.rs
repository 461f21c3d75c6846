//! Domain types and rules, free of I/O: the capability catalog and role map, the canonical
//! status vocabulary and the operation-type catalog. One place each.

pub mod catalog;

pub use catalog::{Capability, OperationType, Role, Severity, Status};

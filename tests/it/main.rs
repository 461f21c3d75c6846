//! One integration-test binary, so the workspace links it once.

mod alerts;
mod alerts_email;
mod api;
mod audit_chain;
mod backups;
mod budget;
mod contract;
mod derived;
mod drift;
mod entitlement;
mod evidence;
mod exceptions;
mod hardening;
mod honest_state;
mod identity;
mod inventory;
mod lambda;
mod local;
mod matrix;
mod notifications;
mod openapi;
mod operations;
mod provider;
mod redaction;
mod restore;
mod tenancy;

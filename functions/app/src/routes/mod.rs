//! HTTP handlers, one module per resource.

pub mod alerts;
pub mod audit;
pub mod backups;
pub mod dashboard;
pub mod directory;
pub mod drift;
pub mod environments;
pub mod evidence;
pub mod exceptions;
pub mod health;
pub mod inventory;
pub mod invitations;
pub mod lint;
pub mod members;
pub mod notifications;
pub mod onboarding;
pub mod openapi;
pub mod operations;
pub mod posture;
pub mod promotion;
pub mod provider;
pub mod restores;
pub mod support;
pub mod system;
pub mod workspaces;

//! Scopes: proof that the caller may act in a workspace (and environment) with a capability.
//! Handlers cannot build one: the fields are private and the proof's constructor is crate-private,
//! called only by the HTTP guard (`auth.rs`) and the re-check of queued work (`runs::scope_of`).
//! Repository functions take a scope and derive their keys from it, so a handler that wants
//! workspace data must first be given a scope.

use std::collections::BTreeSet;

use atlas_domain::{Capability, EnvironmentId, Role, WorkspaceId};

use crate::identity::Actor;

/// Made only by the guard after its checks; see the module docs.
#[derive(Debug, Clone)]
pub struct Proof(());

impl Proof {
    /// Only the authorization middleware calls this, after its checks.
    pub(crate) fn checked() -> Self {
        Proof(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entitlement {
    All,
    Only(BTreeSet<EnvironmentId>),
}

impl Entitlement {
    pub fn allows(&self, env: &EnvironmentId) -> bool {
        match self {
            Entitlement::All => true,
            Entitlement::Only(set) => set.contains(env),
        }
    }
}

/// A member of a workspace holding the route's capability.
#[derive(Debug, Clone)]
pub struct WorkspaceScope {
    actor: Actor,
    workspace_id: WorkspaceId,
    role: Role,
    entitlement: Entitlement,
    request_id: Option<String>,
    _proof: Proof,
}

impl WorkspaceScope {
    pub(crate) fn new(
        actor: Actor,
        workspace_id: WorkspaceId,
        role: Role,
        entitlement: Entitlement,
        request_id: Option<String>,
        _proof: Proof,
    ) -> Self {
        Self {
            actor,
            workspace_id,
            role,
            entitlement,
            request_id,
            _proof,
        }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn workspace_id(&self) -> &WorkspaceId {
        &self.workspace_id
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn can(&self, c: Capability) -> bool {
        self.role.can(c)
    }
    pub fn entitlement(&self) -> &Entitlement {
        &self.entitlement
    }
    pub fn entitled_to(&self, env: &EnvironmentId) -> bool {
        self.entitlement.allows(env)
    }
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
    /// The partition of workspace-owned items.
    pub fn pk(&self) -> String {
        ws_pk(&self.workspace_id)
    }
    /// The same member's scope on an environment they are entitled to (the caller checks that the
    /// environment exists): for workspace-owned surfaces that name an environment (a baseline's source).
    pub(crate) fn environment(&self, env: &EnvironmentId) -> Option<EnvScope> {
        self.entitled_to(env)
            .then(|| EnvScope::new(self.clone(), env.clone(), Proof::checked()))
    }
}

/// A member entitled to an environment of the workspace, holding the route's capability.
#[derive(Debug, Clone)]
pub struct EnvScope {
    workspace: WorkspaceScope,
    environment_id: EnvironmentId,
    _proof: Proof,
}

impl EnvScope {
    pub(crate) fn new(workspace: WorkspaceScope, environment_id: EnvironmentId, _proof: Proof) -> Self {
        Self {
            workspace,
            environment_id,
            _proof,
        }
    }
    pub fn workspace(&self) -> &WorkspaceScope {
        &self.workspace
    }
    pub fn environment_id(&self) -> &EnvironmentId {
        &self.environment_id
    }
    /// The same actor's scope on another environment of the workspace, for reads the caller has
    /// already checked the entitlement of (a restore's source).
    pub(crate) fn sibling(&self, environment_id: EnvironmentId) -> EnvScope {
        EnvScope::new(self.workspace.clone(), environment_id, Proof::checked())
    }
    /// The partition of environment-owned items.
    pub fn pk(&self) -> String {
        env_pk(&self.workspace.workspace_id, &self.environment_id)
    }
}

/// A platform operator (spec 025): made only by the guard of an `Access::Platform` route.
#[derive(Debug, Clone)]
pub struct PlatformScope {
    actor: Actor,
    request_id: Option<String>,
    _proof: Proof,
}

impl PlatformScope {
    pub(crate) fn new(actor: Actor, request_id: Option<String>, _proof: Proof) -> Self {
        Self {
            actor,
            request_id,
            _proof,
        }
    }
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

pub use crate::records::keys::{env_pk, ws_pk};

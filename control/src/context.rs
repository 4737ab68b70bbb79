//! Who is acting, for which tenant, in which request.

use meridian_core::{Role, TenantId, UserId};

/// The party on whose behalf an action runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// Nobody is signed in.
    Anonymous,
    /// A signed-in tenant user.
    User {
        /// The user.
        user_id: UserId,
        /// The tenant the user belongs to; every query is scoped to it.
        tenant_id: TenantId,
        /// What the user may do.
        role: Role,
    },
}

/// The context every control-plane action takes first.
#[derive(Clone, Debug)]
pub struct OpContext {
    /// Who is acting.
    pub actor: Actor,
    /// The request id, for correlating logs and audit entries.
    pub request_id: String,
    /// The client's network address, for the audit log.
    pub client: Option<String>,
}

impl OpContext {
    /// A context for `actor` in request `request_id`.
    pub fn new(actor: Actor, request_id: impl Into<String>) -> Self {
        Self {
            actor,
            request_id: request_id.into(),
            client: None,
        }
    }

    /// A context for someone not signed in (sign-up, log-in).
    pub fn anonymous(request_id: impl Into<String>) -> Self {
        Self::new(Actor::Anonymous, request_id)
    }

    /// The signed-in user, or [`crate::Error::Unauthenticated`].
    pub fn user(&self) -> Result<(UserId, TenantId, Role), crate::Error> {
        match self.actor {
            Actor::User {
                user_id,
                tenant_id,
                role,
            } => Ok((user_id, tenant_id, role)),
            Actor::Anonymous => Err(crate::Error::Unauthenticated),
        }
    }

    /// The tenant of a user allowed to change things (owner or member), as stored text.
    pub fn tenant_for_mutation(&self) -> Result<String, crate::Error> {
        let (_, tenant, role) = self.user()?;
        if role.can_mutate() {
            Ok(tenant.to_string())
        } else {
            Err(crate::Error::Forbidden(
                "Viewers can look but not change anything. Ask an owner for the member role.".into(),
            ))
        }
    }
}

//! Who is acting, for which tenant, in which request.

use meridian_core::id::StaffId;
use meridian_core::staff::StaffRole;
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
    /// A signed-in member of Meridian's staff, possibly inspecting one tenant read-only.
    Staff {
        /// The staff member.
        staff_id: StaffId,
        /// What they may do.
        role: StaffRole,
        /// The tenant they are inspecting, if any: they read it as a viewer would.
        inspecting: Option<TenantId>,
    },
}

/// What an inspecting staff member is told when they try to change something.
pub const INSPECTION_READ_ONLY: &str =
    "Support inspection is read-only: nothing can be changed while inspecting a tenant.";

/// The context every control-plane action takes first.
#[derive(Clone, Debug)]
pub struct OpContext {
    /// Who is acting.
    pub actor: Actor,
    /// The request id, for correlating logs and audit entries.
    pub request_id: String,
    /// The client's network address, for the audit log.
    pub client: Option<String>,
    /// What the actor acted through when it was not the dashboard (`API key deploy-bot`), for
    /// the audit log.
    pub via: Option<String>,
}

impl OpContext {
    /// A context for `actor` in request `request_id`.
    pub fn new(actor: Actor, request_id: impl Into<String>) -> Self {
        Self {
            actor,
            request_id: request_id.into(),
            client: None,
            via: None,
        }
    }

    /// A context for someone not signed in (sign-up, log-in).
    pub fn anonymous(request_id: impl Into<String>) -> Self {
        Self::new(Actor::Anonymous, request_id)
    }

    /// The signed-in tenant user, for what only they may do (every change, their own account).
    /// Staff are refused: an inspection is read-only.
    pub fn user(&self) -> Result<(UserId, TenantId, Role), crate::Error> {
        match self.actor {
            Actor::User {
                user_id,
                tenant_id,
                role,
            } => Ok((user_id, tenant_id, role)),
            Actor::Staff {
                inspecting: Some(_), ..
            } => Err(crate::Error::Forbidden(INSPECTION_READ_ONLY.into())),
            Actor::Staff { .. } => Err(crate::Error::NotFound),
            Actor::Anonymous => Err(crate::Error::Unauthenticated),
        }
    }

    /// The tenant whose data this actor may read: a user's own, or the one a staff member is
    /// inspecting. Staff who inspect no tenant see none (not found).
    pub fn tenant(&self) -> Result<TenantId, crate::Error> {
        match self.actor {
            Actor::User { tenant_id, .. }
            | Actor::Staff {
                inspecting: Some(tenant_id),
                ..
            } => Ok(tenant_id),
            Actor::Staff { .. } => Err(crate::Error::NotFound),
            Actor::Anonymous => Err(crate::Error::Unauthenticated),
        }
    }

    /// The signed-in staff member and their role; tenant users are not found (the staff console
    /// does not exist for them).
    pub fn staff(&self) -> Result<(StaffId, StaffRole), crate::Error> {
        match self.actor {
            Actor::Staff { staff_id, role, .. } => Ok((staff_id, role)),
            Actor::User { .. } => Err(crate::Error::NotFound),
            Actor::Anonymous => Err(crate::Error::Unauthenticated),
        }
    }

    /// The signed-in admin, for the staff actions that change a tenant or the job queue.
    pub fn staff_admin(&self) -> Result<StaffId, crate::Error> {
        match self.staff()? {
            (staff_id, role) if role.can_administer() => Ok(staff_id),
            _ => Err(crate::Error::Forbidden(
                "Support staff can look but not change anything; ask an admin.".into(),
            )),
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

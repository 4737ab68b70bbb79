//! Settings server functions: users and invitations, quotas, residency, the audit log.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A user of the tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Id.
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// Role.
    pub role: String,
}

/// Quota limits and use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaLines {
    /// `(what, in use, limit)` rows, for people ("4 GiB").
    pub lines: Vec<(String, String, String)>,
}

pub use meridian_core::view::AuditEntry;

/// The tenant's users.
#[server(prefix = "/fn", endpoint = "user_list")]
pub async fn user_list() -> Result<Vec<Member>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .user_list(&ctx)
        .await?
        .into_iter()
        .map(|(id, email, role)| Member { id, email, role })
        .collect())
}

/// Invites someone; returns the invitation link's path (shown once).
#[server(prefix = "/fn", endpoint = "user_invite")]
pub async fn user_invite(email: String, role: String) -> Result<String, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(format!(
        "/invite/{}",
        control.user_invite(&ctx, &email, &role).await?
    ))
}

/// Accepts an invitation with a new password and signs the new user in.
#[server(prefix = "/fn", endpoint = "invite_accept")]
pub async fn invite_accept(token: String, password: String) -> Result<(), AppError> {
    let (control, session, ctx) = crate::server::op_context().await?;
    let account = control.invite_accept(&ctx, &token, &password).await?;
    crate::server::session_sign_in(&session, account.user_id).await
}

/// Changes a user's role.
#[server(prefix = "/fn", endpoint = "user_role_set")]
pub async fn user_role_set(id: String, role: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .user_role_set(&ctx, meridian_control::Error::id(&id)?, &role)
        .await?)
}

/// Removes a user.
#[server(prefix = "/fn", endpoint = "user_remove")]
pub async fn user_remove(id: String) -> Result<(), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control
        .user_remove(&ctx, meridian_control::Error::id(&id)?)
        .await?)
}

/// Quotas in use against their limits.
#[server(prefix = "/fn", endpoint = "quota_view")]
pub async fn quota_view() -> Result<QuotaLines, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let (quota, usage) = control.quota_view(&ctx).await?;
    Ok(QuotaLines {
        lines: quota.lines(&usage),
    })
}

/// The residency policy as `(stored form, label)`.
#[server(prefix = "/fn", endpoint = "residency_view")]
pub async fn residency_view() -> Result<(String, String), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let policy = control.residency_view(&ctx).await?;
    Ok((policy.to_string(), policy.label()))
}

/// Sets the residency policy (owners only).
#[server(prefix = "/fn", endpoint = "residency_set")]
pub async fn residency_set(policy: String) -> Result<String, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.residency_set(&ctx, &policy).await?.label())
}

/// The newest audit entries.
#[server(prefix = "/fn", endpoint = "audit_list")]
pub async fn audit_list() -> Result<Vec<AuditEntry>, AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    Ok(control.audit_list(&ctx, 100).await?)
}

/// One resource on the residency evidence page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRow {
    /// "VDC", "VM", "Subnet" or "Public IP".
    pub kind: String,
    /// Name or address.
    pub name: String,
    /// "Berlin (ber1), DE".
    pub place: String,
    /// Inside the policy.
    pub within_policy: bool,
}

/// The residency evidence: the policy, when, and every resource with its zone and country.
#[server(prefix = "/fn", endpoint = "residency_evidence")]
pub async fn residency_evidence() -> Result<(String, String, Vec<EvidenceRow>), AppError> {
    let (control, _session, ctx) = crate::server::op_context().await?;
    let evidence = control
        .residency_evidence(&ctx, meridian_control::now_ms())
        .await?;
    Ok((
        evidence.policy,
        meridian_core::calendar::format_utc(evidence.at),
        evidence
            .rows
            .into_iter()
            .map(|r| EvidenceRow {
                kind: r.kind.to_owned(),
                place: format!("{} ({}), {}", r.city, r.zone, r.country),
                name: r.name,
                within_policy: r.within_policy,
            })
            .collect(),
    ))
}

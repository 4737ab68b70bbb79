//! Account server functions: sign up, log in, log out, who am I, change password.
#![expect(
    missing_docs,
    reason = "#[server] generates argument structs whose fields cannot carry doc comments"
)]

use crate::error::AppError;
use leptos::prelude::*;
use meridian_core::Role;
use serde::{Deserialize, Serialize};

/// The signed-in user as the dashboard shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// Log-in address.
    pub email: String,
    /// Role in the tenant.
    pub role: Role,
    /// The tenant's name.
    pub tenant_name: String,
    /// True for the sales demo's tenant (the guided tour and the reset are offered).
    pub demo: bool,
    /// Set when a Meridian staff member is looking at this tenant read-only.
    pub inspection: Option<Inspection>,
}

/// A staff member's read-only inspection, shown in a banner on every page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    /// The staff member's e-mail address.
    pub staff_email: String,
    /// The reason they gave (it is in the tenant's audit log).
    pub reason: String,
    /// Since when (Unix ms).
    pub since: i64,
}

/// Creates a tenant with the caller as its owner, and signs them in.
#[server(prefix = "/fn", endpoint = "account_signup")]
pub async fn account_signup(tenant_name: String, email: String, password: String) -> Result<(), AppError> {
    let (control, session, ctx) = crate::server::op_context().await?;
    let signup = meridian_core::Signup::parse(&tenant_name, &email, &password)
        .map_err(meridian_control::Error::Invalid)?;
    let account = control.account_signup(&ctx, signup).await?;
    crate::server::session_sign_in(&session, account.user_id).await
}

/// Signs in with e-mail and password.
#[server(prefix = "/fn", endpoint = "account_login")]
pub async fn account_login(email: String, password: String) -> Result<(), AppError> {
    let (control, session, ctx) = crate::server::op_context().await?;
    let device = crate::server::device_token().await;
    let logged_in = control
        .account_login_on_device(&ctx, &email, &password, device.as_deref())
        .await?;
    crate::server::device_token_keep(&logged_in.device_token);
    crate::server::session_sign_in(&session, logged_in.account.user_id).await
}

/// Ends the caller's session.
#[server(prefix = "/fn", endpoint = "account_logout")]
pub async fn account_logout() -> Result<(), AppError> {
    let session = crate::server::session().await?;
    crate::server::session_end(&session).await
}

/// Who is signed in, if anyone.
#[server(prefix = "/fn", endpoint = "account_view")]
pub async fn account_view() -> Result<Option<Me>, AppError> {
    let (control, session, ctx) = crate::server::op_context().await?;
    if let Some(inspecting) = crate::server::session_inspection(&session).await? {
        let (staff, tenant) = control.staff_inspection_view(&ctx).await?;
        let Some(tenant) = tenant else {
            return Ok(None);
        };
        return Ok(Some(Me {
            email: staff.email.clone(),
            role: Role::Viewer,
            tenant_name: tenant.1,
            demo: false,
            inspection: Some(Inspection {
                staff_email: staff.email,
                reason: inspecting.reason,
                since: inspecting.since,
            }),
        }));
    }
    if ctx.user().is_err() {
        return Ok(None);
    }
    let account = control.account_view(&ctx).await?;
    Ok(Some(Me {
        demo: control.account_is_demo(&account),
        email: account.email,
        role: account.role,
        tenant_name: account.tenant_name,
        inspection: None,
    }))
}

/// Whether the one-click demo is offered (the server runs with `--demo`).
#[server(prefix = "/fn", endpoint = "demo_available")]
pub async fn demo_available() -> Result<bool, AppError> {
    Ok(crate::server::control()?.demo_enabled())
}

/// Signs in to the demo tenant with one click (demo mode only).
#[server(prefix = "/fn", endpoint = "demo_login")]
pub async fn demo_login() -> Result<(), AppError> {
    let (control, session, ctx) = crate::server::op_context().await?;
    let account = control.demo_login(&ctx).await?;
    crate::server::session_sign_in(&session, account.user_id).await
}

/// Puts the demo tenant back to its seeded state and signs the caller in to it again.
#[server(prefix = "/fn", endpoint = "demo_reset")]
pub async fn demo_reset() -> Result<(), AppError> {
    let (control, session, ctx) = crate::server::op_context().await?;
    let account = control.demo_reset(&ctx).await?;
    crate::server::session_sign_in(&session, account.user_id).await
}

/// Changes the caller's password; their other sessions end, and with `revoke_api_keys` (a
/// ticked checkbox: present) their API keys are revoked too.
#[server(prefix = "/fn", endpoint = "account_password_change")]
pub async fn account_password_change(
    current_password: String,
    new_password: String,
    #[server(default)] revoke_api_keys: Option<String>,
) -> Result<(), AppError> {
    let (control, session, ctx) = crate::server::op_context().await?;
    let keep = session.id().map(|id| id.to_string());
    let revoke = revoke_api_keys.is_some_and(|ticked| ticked != "false" && ticked != "off");
    Ok(control
        .account_password_change(&ctx, &current_password, &new_password, keep.as_deref(), revoke)
        .await?)
}

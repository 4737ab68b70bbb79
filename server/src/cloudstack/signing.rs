//! Who a signed request acts as. The control plane checks the signature, its expiry and replays
//! (`Control::api_caller_signed`); this file turns its refusals into CloudStack's answers and
//! gives a claimed signature back when the command fails.

use super::Params;
use super::commands::Command;
use super::envelope::{CsError, UNAUTHORIZED};
use meridian_control::api_key::ApiCaller;
use meridian_control::{Control, Error};

/// The caller of a signed request for `spec`; a refusal as CloudStack answers one.
pub(super) async fn caller(control: &Control, params: &Params, spec: &Command) -> Result<ApiCaller, CsError> {
    match control.api_caller_signed(&params.0, spec.mutates()).await {
        Ok(caller) => Ok(caller),
        Err(Error::Suspended) => Err(CsError::from(Error::Suspended)),
        // A replayed request: refused like a bad signature, saying why.
        Err(Error::Forbidden(reason)) => Err(CsError {
            code: UNAUTHORIZED,
            text: reason,
        }),
        Err(_) => Err(CsError {
            code: UNAUTHORIZED,
            text: "unable to verify user credentials and/or request signature".into(),
        }),
    }
}

/// Gives back the signature a failed command claimed, so the same signed request may be sent
/// again (after "in progress" or "try again") instead of being refused as a replay.
pub(super) async fn release(control: &Control, caller: &ApiCaller) {
    control.api_signature_release(caller).await;
}

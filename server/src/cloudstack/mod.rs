//! The CloudStack-compatible API at `/client/api`, so existing tools (cloudmonkey, Apache
//! libcloud, the `cs` client) drive Meridian: requests signed with an API key's secret,
//! `response=json` envelopes, and asynchronous commands answered by `queryAsyncJobResult`.
//!
//! Each command is a thin mapping onto the control-plane method the dashboard calls; no rule
//! lives here. Meridian's words map onto CloudStack's: a VDC is a network (the tenant's private
//! network in one zone), a size is a service offering, and a public address belongs to one VM
//! (its id is the VM's id).
//!
//! Here: the request (parameters, command lookup, dispatch). `signing` says who a signed request
//! acts as, `envelope` shapes answers and error codes, `commands` lists the commands, and
//! `catalog`, `network`, `compute` and `account` run them.

mod account;
mod catalog;
mod commands;
mod compute;
mod envelope;
mod network;
mod signing;

pub use commands::{COMMANDS, Command, Group};
pub use envelope::{error_code, is_refusal_status};

use crate::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use envelope::{CsError, UNSUPPORTED, answer};
use http::{HeaderMap, header};
use meridian_app::edge::{self, RequestMeta};
use meridian_control::{Control, OpContext};
use serde_json::Value;

/// A request's parameters, query and form body together.
struct Params(Vec<(String, String)>);

impl Params {
    /// A parameter by name, any case (CloudStack's names are case-insensitive).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// A parameter that must be there, or the error CloudStack gives for a missing one.
    fn required(&self, name: &str) -> Result<&str, CsError> {
        self.get(name).ok_or_else(|| {
            CsError::param(format!(
                "Unable to execute API command due to missing parameter {name}"
            ))
        })
    }
}

/// `/client/api`: checks the signature, runs the command, answers in CloudStack's JSON shape.
pub async fn client_api(
    State(state): State<AppState>,
    request: RequestMeta,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        pairs.extend(form_urlencoded::parse(&body).into_owned());
    }
    let params = Params(pairs);
    let command = params.get("command").unwrap_or_default().to_owned();
    let key = format!("{}response", command.to_ascii_lowercase());
    let Some(spec) = COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(&command)) else {
        let error = CsError {
            code: UNSUPPORTED,
            text: "The given command does not exist or it is not available for user".into(),
        };
        return answer("errorresponse", Err(error));
    };
    if params
        .get("response")
        .is_some_and(|r| !r.eq_ignore_ascii_case("json"))
    {
        return answer(
            &key,
            Err(CsError::param(
                "Meridian answers in JSON only: send response=json.",
            )),
        );
    }
    let caller = match signing::caller(&state.control, &params, spec).await {
        Ok(caller) => caller,
        Err(error) => return answer(&key, Err(error)),
    };
    let result = match edge::api_caller_context(&state.control, &caller, request) {
        Ok(ctx) => run(&state.control, &ctx, spec, &params).await,
        Err(error) => Err(error.into()),
    };
    if result.is_err() {
        signing::release(&state.control, &caller).await;
    }
    answer(&key, result)
}

/// The dispatch table: each command's group runs it.
async fn run(control: &Control, ctx: &OpContext, spec: &Command, params: &Params) -> Result<Value, CsError> {
    match spec.group {
        Group::Catalog => catalog::run(control, ctx, spec, params).await,
        Group::Network => network::run(control, ctx, spec, params).await,
        Group::Compute => compute::run(control, ctx, spec, params).await,
        Group::Account => account::run(control, ctx, spec, params).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listings_and_job_queries_are_read_only() {
        let read_only: Vec<&str> = COMMANDS.iter().filter(|c| !c.mutates()).map(|c| c.name).collect();
        assert!(
            read_only
                .iter()
                .all(|name| name.starts_with("list") || *name == "queryAsyncJobResult")
        );
        for name in [
            "createNetwork",
            "deployVirtualMachine",
            "stopVirtualMachine",
            "destroyVirtualMachine",
            "associateIpAddress",
            "createFirewallRule",
            "registerSSHKeyPair",
            "deleteSSHKeyPair",
        ] {
            let command = COMMANDS.iter().find(|c| c.name == name).unwrap();
            assert!(command.mutates(), "{name}");
        }
    }
}

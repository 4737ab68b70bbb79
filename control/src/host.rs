//! Hosts run by host agents: their registration, the staff's view of them, draining.

use crate::store::host::{AgentHostRow, RegisterError};
use crate::store::now_ms;
use crate::{Control, Error, OpContext};
use meridian_core::agent_api::{
    self, API_VERSION, HOST_SILENT_AFTER_MS, Peer, Registration, RegistrationAnswer,
};
use meridian_core::host::HostSpec;
use meridian_core::id::HostId;
use meridian_core::view;
use meridian_core::zone::ZoneId;
use std::sync::Arc;

/// Longest host name, endpoint, accelerator reason or image line a registration may carry.
const MAX_TEXT: usize = 200;

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegisterRefusal {
    /// This control plane has no agent secret: it runs no host agents.
    #[error("this control plane does not take host agents")]
    NoAgents,
    /// The token is not the host's.
    #[error("the token is not this host's")]
    Unauthorized,
    /// The agent speaks another version of the API.
    #[error("the agent speaks API {0}; this control plane speaks API {API_VERSION}")]
    Version(u32),
    /// What the agent sent cannot be recorded.
    #[error("{0}")]
    Invalid(String),
    /// Anything else.
    #[error(transparent)]
    Internal(#[from] Error),
}

impl Control {
    /// Sets the secret host agents' tokens derive from (`meridian_core::agent_api::host_token`);
    /// without one, no agent can register.
    pub fn with_agent_secret(mut self, secret: Arc<[u8]>) -> Self {
        self.agent_secret = Some(secret);
        self
    }

    /// Records a host agent's registration (at its start and every heartbeat), presented with
    /// `token`.
    /// Answers with the other answering hosts to probe.
    pub async fn host_register(
        &self,
        token: &str,
        registration: &Registration,
    ) -> Result<RegistrationAnswer, RegisterRefusal> {
        let secret = self.agent_secret.as_ref().ok_or(RegisterRefusal::NoAgents)?;
        if !agent_api::host_token_valid(secret, registration.host_id, token) {
            return Err(RegisterRefusal::Unauthorized);
        }
        if registration.api_version != API_VERSION {
            return Err(RegisterRefusal::Version(registration.api_version));
        }
        let zone = ZoneId::parse(&registration.zone).map_err(|_| {
            RegisterRefusal::Invalid(format!("{:?} is not a zone", short(&registration.zone)))
        })?;
        if let Some(underlay) = &registration.underlay
            && underlay.parse::<std::net::Ipv4Addr>().is_err()
        {
            return Err(RegisterRefusal::Invalid(
                "the underlay must be an IPv4 address".to_owned(),
            ));
        }
        let texts = [
            &registration.name,
            &registration.endpoint,
            &registration.accelerator,
            &registration.accelerator_reason,
            &registration.image,
        ];
        if texts
            .iter()
            .any(|text| text.len() > MAX_TEXT || text.chars().any(char::is_control))
        {
            return Err(RegisterRefusal::Invalid(format!(
                "names, endpoint and reasons must be single lines of at most {MAX_TEXT} bytes"
            )));
        }
        if registration.name.trim().is_empty() {
            return Err(RegisterRefusal::Invalid("the host needs a name".to_owned()));
        }
        if !(registration.endpoint.starts_with("http://") || registration.endpoint.starts_with("https://")) {
            return Err(RegisterRefusal::Invalid(
                "the endpoint must be an http(s) URL".to_owned(),
            ));
        }
        let host = HostSpec {
            id: registration.host_id,
            name: registration.name.clone(),
            zone,
            vcpus: registration.vcpus,
            memory_mib: registration.memory_mib,
            disk_gib: registration.disk_gib,
        };
        let accelerator = (
            registration.accelerator.as_str(),
            registration.accelerator_reason.as_str(),
        );
        let before = self.store.host_agent(host.id).await.map_err(Error::from)?;
        let silent_since = now_ms() - HOST_SILENT_AFTER_MS;
        let news = match &before {
            None => Some("new host"),
            Some(row) if row.endpoint != registration.endpoint => Some("new endpoint"),
            Some(row) if row.last_seen_ms < silent_since => Some("answering again"),
            Some(_) => None,
        };
        let recorded = match self
            .store
            .host_register(
                &host,
                &registration.endpoint,
                accelerator,
                &registration.image,
                registration.underlay.as_deref(),
                now_ms(),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(RegisterError::Database(e)) => Err(RegisterRefusal::Internal(e.into())),
            Err(refused) => Err(RegisterRefusal::Invalid(refused.to_string())),
        };
        if let (Ok(()), Some(news)) = (&recorded, news) {
            tracing::info!(host.id = %host.id, host.name = %host.name, zone = %host.zone.as_str(),
                endpoint = %registration.endpoint, accelerator = %registration.accelerator, news, "host agent registered");
        }
        recorded?;
        let peers = self
            .store
            .host_agent_list()
            .await
            .map_err(Error::from)?
            .into_iter()
            .filter(|row| row.host.id != host.id && row.last_seen_ms >= silent_since)
            .filter_map(|row| {
                Some(Peer {
                    host_id: row.host.id,
                    zone: row.host.zone,
                    underlay: row.underlay?,
                })
            })
            .collect();
        Ok(RegistrationAnswer { peers })
    }

    /// Every host run by a host agent, for staff.
    pub async fn agent_hosts_view(&self, ctx: &OpContext) -> Result<Vec<view::AgentHost>, Error> {
        ctx.staff()?;
        let silent_since = now_ms() - HOST_SILENT_AFTER_MS;
        Ok(self
            .store
            .host_agent_list()
            .await?
            .into_iter()
            .map(|row| agent_host_view(row, silent_since))
            .collect())
    }

    /// Drains a host (no new VMs are placed on it; those on it keep running) or returns it to
    /// service. Admins only; logged with who did it.
    pub async fn host_drain(&self, ctx: &OpContext, host: HostId, draining: bool) -> Result<(), Error> {
        let staff = ctx.staff_admin()?;
        if !self.store.host_set_draining(host.0, draining).await? {
            return Err(Error::NotFound);
        }
        tracing::info!(staff.id = %staff, host.id = %host, draining, "host drain changed by staff");
        Ok(())
    }
}

fn agent_host_view(row: AgentHostRow, silent_since: i64) -> view::AgentHost {
    view::AgentHost {
        id: HostId(row.host.id),
        name: row.host.name,
        zone: row.host.zone,
        accelerator: row.accelerator,
        accelerator_reason: row.accelerator_reason,
        image: row.image,
        last_seen: row.last_seen_ms,
        answering: row.last_seen_ms >= silent_since,
        draining: row.draining,
        vcpus: (row.host.vcpus_total, row.host.vcpus_used),
        memory_mib: (row.host.memory_mib_total, row.host.memory_mib_used),
        disk_gib: (row.host.disk_gib_total, row.host.disk_gib_used),
    }
}

/// The start of what a caller sent, for an error message.
fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

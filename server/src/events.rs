//! Server-sent events: live progress for the VM page, pushed as it happens, for as long as the
//! session and the right to see the VM last.
//!
//! A stream wakes when its VM changed (`Control::vm_changes_subscribe`: this process's job events
//! and, on PostgreSQL, every other server's), compares the VM's state and latest job progress
//! with what it last sent, and sends a message when they changed; the page then refetches the
//! VM. Nothing is read while nothing changes, except that every few seconds the stream checks
//! that its session still stands for someone who may see the VM (cheap: on SQLite, sessions and
//! users are remembered in the process); after a logout, a removal from the tenant, a suspension
//! or a password change elsewhere, the stream ends. Each user (or staff member) holds at most
//! [`STREAMS_PER_ACTOR`] streams in this process; the next is refused with 429.

use crate::AppState;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use meridian_app::edge::{self, RequestMeta};
use meridian_control::live::VmChange;
use meridian_control::{Actor, Control, OpContext};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tower_sessions::Session;

/// Streams one user or staff member may hold open at once (in one server process): a few tabs'
/// worth.
pub const STREAMS_PER_ACTOR: usize = 8;

/// How often a stream checks that its session and right still stand.
pub const RECHECK: Duration = Duration::from_secs(5);

/// What a refused stream is told to wait before asking again.
const RETRY_AFTER_S: u64 = 10;

/// The streams open in this process, per actor.
#[derive(Clone, Debug, Default)]
pub struct Streams(Arc<Mutex<HashMap<String, usize>>>);

/// One open stream's place; given back when the stream ends (or its client goes).
#[derive(Debug)]
pub struct StreamSlot {
    streams: Streams,
    actor: String,
}

impl Streams {
    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for one more stream of `actor`, unless they hold [`STREAMS_PER_ACTOR`] already.
    pub fn take(&self, actor: &str) -> Option<StreamSlot> {
        let mut counts = self.counts();
        let open = counts.entry(actor.to_owned()).or_default();
        if *open >= STREAMS_PER_ACTOR {
            return None;
        }
        *open += 1;
        Some(StreamSlot {
            streams: self.clone(),
            actor: actor.to_owned(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut counts = self.streams.counts();
        if let Some(open) = counts.get_mut(&self.actor) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                counts.remove(&self.actor);
            }
        }
    }
}

/// Whose streams these are: a user's or a staff member's (whatever tenant they inspect).
pub(crate) fn actor_key(actor: &Actor) -> Option<String> {
    match actor {
        Actor::User { user_id, .. } => Some(format!("user:{user_id}")),
        Actor::Staff { staff_id, .. } => Some(format!("staff:{staff_id}")),
        Actor::Anonymous => None,
    }
}

/// `GET /events/vms/{id}`: a stream of "changed" messages for one of the caller's VMs.
pub async fn vm_events(
    State(state): State<AppState>,
    session: Session,
    request: RequestMeta,
    Path(id): Path<String>,
) -> Response {
    let ctx = match edge::signed_in_context(&state.control, &session, state.session_max, request).await {
        Ok(ctx) => ctx,
        Err(error) => return edge::refusal(&error),
    };
    let Ok(vm_id) = meridian_control::Error::id(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let vm = match state.control.vm_activity(&ctx, vm_id).await {
        Ok(activity) => activity.vm.id,
        Err(error) => return edge::refusal(&error),
    };
    let (Some(session_id), Some(actor)) = (session.id(), actor_key(&ctx.actor)) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(slot) = state.streams.take(&actor) else {
        tracing::info!(actor = %actor, "live stream refused: too many open");
        let mut refused = crate::rest::ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
            format!("At most {STREAMS_PER_ACTOR} live views can be open at once; close one and reload."),
        )
        .into_response();
        refused
            .headers_mut()
            .insert(http::header::RETRY_AFTER, RETRY_AFTER_S.into());
        return refused;
    };
    let follow = Follow {
        control: state.control.clone(),
        changes: state.control.vm_changes_subscribe(),
        ctx,
        session_id: session_id.to_string(),
        session_max: state.session_max,
        vm_id: id,
        vm: Some(vm.uuid()),
        last: None,
        check: tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK),
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(follow, |mut follow| async move {
        let data = follow.next().await?;
        Some((
            Ok::<_, Infallible>(Event::default().event("message").data(data)),
            follow,
        ))
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// One stream's state.
struct Follow {
    control: Control,
    changes: broadcast::Receiver<VmChange>,
    ctx: OpContext,
    session_id: String,
    session_max: Duration,
    vm_id: String,
    vm: Option<uuid::Uuid>,
    /// What was last sent.
    last: Option<String>,
    check: tokio::time::Interval,
    _slot: StreamSlot,
}

impl Follow {
    /// The next message to send, once there is one; None when the stream must end (the VM is
    /// gone and that was said, or the session or the right to see the VM ended).
    async fn next(&mut self) -> Option<String> {
        // First, and after "gone", look at once; after a message, wait for a change.
        let mut look = self.last.is_none();
        loop {
            if look {
                let now = fingerprint(&self.control, &self.ctx, &self.vm_id).await;
                if now != self.last {
                    let gone = self.last.is_some() && now.is_none();
                    self.last.clone_from(&now);
                    if now.is_some() || gone {
                        return Some(now.unwrap_or_else(|| "gone".to_owned()));
                    }
                }
                now.as_ref()?;
            }
            look = tokio::select! {
                change = self.changes.recv() => match change {
                    Ok(VmChange::Vm(vm)) => Some(vm) == self.vm,
                    Ok(VmChange::Unknown) | Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.check.tick() => {
                    let actor = match self.control.session_actor(&self.session_id, self.session_max).await {
                        Ok(actor) => actor,
                        Err(error) => {
                            tracing::warn!(error = ?error, "live stream: session unreadable; ended");
                            return None;
                        }
                    };
                    if actor == Actor::Anonymous {
                        tracing::debug!("live stream ended: its session did");
                        return None;
                    }
                    // A changed role or inspection is looked at afresh (it may hide the VM).
                    let changed = actor != self.ctx.actor;
                    self.ctx.actor = actor;
                    changed
                }
            };
        }
    }
}

/// What the page shows that can change: state, addresses, and the latest job's progress.
async fn fingerprint(control: &Control, ctx: &OpContext, id: &str) -> Option<String> {
    let activity = control
        .vm_activity(ctx, meridian_control::Error::id(id).ok()?)
        .await
        .ok()?;
    // The job's events count its steps as they go, so id and state with them mark every change.
    let job = activity.job.map(|job| format!("{}:{}", job.id, job.state));
    Some(format!(
        "{}|{:?}|{:?}|{:?}|{}",
        activity.vm.state,
        activity.vm.private_ip,
        activity.vm.public_ip,
        job,
        activity.events.len()
    ))
}

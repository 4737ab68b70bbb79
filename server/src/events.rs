//! Server-sent events: live progress for the VM page, pushed as it happens.
//!
//! The stream wakes on this process's job events (and once a second, to catch work done by another
//! server process), compares the VM's state and latest job progress with what it last sent, and
//! sends a message when they changed. The page then refetches the VM.

use crate::AppState;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use meridian_control::{Control, OpContext};
use std::convert::Infallible;
use std::time::Duration;
use tower_sessions::Session;

/// `GET /events/vms/{id}`: a stream of "changed" messages for one of the caller's VMs.
pub async fn vm_events(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Response {
    let ctx = match crate::exports::session_context(&state, &session).await {
        Ok(ctx) => ctx,
        Err(status) => return status.into_response(),
    };
    match state.control.vm_activity(&ctx, &id).await {
        Ok(_) => {}
        Err(meridian_control::Error::Unauthenticated) => return StatusCode::UNAUTHORIZED.into_response(),
        Err(_) => return StatusCode::NOT_FOUND.into_response(),
    }
    let control = state.control.clone();
    let events = control.job_events_subscribe();
    let stream = futures_util::stream::unfold(
        (control, ctx, id, events, None::<String>),
        |(control, ctx, id, mut events, mut last)| async move {
            loop {
                let now = fingerprint(&control, &ctx, &id).await;
                if now != last {
                    last.clone_from(&now);
                    let data = now.clone().unwrap_or_else(|| "gone".to_owned());
                    return Some((
                        Ok::<_, Infallible>(Event::default().event("message").data(data)),
                        (control, ctx, id, events, last),
                    ));
                }
                if now.is_none() {
                    return None;
                }
                tokio::select! {
                    _ = events.recv() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// What the page shows that can change: state, addresses, and the latest job's progress.
async fn fingerprint(control: &Control, ctx: &OpContext, id: &str) -> Option<String> {
    let activity = control.vm_activity(ctx, id).await.ok()?;
    let job = activity
        .job
        .map(|job| format!("{}:{}:{}", job.id, job.position.state.as_str(), job.position.step));
    Some(format!(
        "{}|{:?}|{:?}|{:?}|{}",
        activity.vm.state,
        activity.vm.private_ip,
        activity.vm.public_ip,
        job,
        activity.events.len()
    ))
}

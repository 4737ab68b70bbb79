//! CSV downloads: a month's invoice and its metered usage, and the residency evidence.

use crate::AppState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use meridian_control::OpContext;
use tower_sessions::Session;

/// The signed-in user's context for a plain axum handler, or the status to answer with.
pub(crate) async fn session_context(state: &AppState, session: &Session) -> Result<OpContext, StatusCode> {
    let actor = state
        .control
        .actor_from_session(session, state.session_max)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    if actor == meridian_control::Actor::Anonymous {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok(OpContext::new(actor, String::new()))
}

fn csv(name: &str, body: Result<String, meridian_control::Error>) -> Response {
    match body {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            body,
        )
            .into_response(),
        Err(meridian_control::Error::NotFound | meridian_control::Error::Invalid(_)) => {
            StatusCode::NOT_FOUND.into_response()
        }
        Err(error) => {
            tracing::error!(error = ?error, "CSV export failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Which month a download is for: `?month=2026-10`, this month when absent.
#[derive(Debug, serde::Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
}

impl MonthQuery {
    fn month(&self, now: i64) -> String {
        self.month
            .clone()
            .unwrap_or_else(|| meridian_core::calendar::month_label(now))
    }
}

/// Answers with the CSV `make` draws up for the signed-in user, or with the session's refusal.
async fn export<F, Fut>(state: &AppState, session: &Session, name: &str, make: F) -> Response
where
    F: FnOnce(meridian_control::Control, OpContext) -> Fut,
    Fut: std::future::Future<Output = Result<String, meridian_control::Error>>,
{
    match session_context(state, session).await {
        Ok(ctx) => csv(name, make(state.control.clone(), ctx).await),
        Err(status) => status.into_response(),
    }
}

/// `GET /billing/invoice.csv[?month=YYYY-MM]`: a month's invoice lines and total.
pub async fn invoice_csv(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<MonthQuery>,
) -> Response {
    let now = meridian_control::now_ms();
    let month = query.month(now);
    let name = format!("meridian-invoice-{month}.csv");
    export(&state, &session, &name, |control, ctx| async move {
        control.billing_invoice_csv(&ctx, &month, now).await
    })
    .await
}

/// `GET /billing/usage.csv[?month=YYYY-MM]`: a month's metered usage by hour.
pub async fn usage_csv(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<MonthQuery>,
) -> Response {
    let now = meridian_control::now_ms();
    let month = query.month(now);
    let name = format!("meridian-usage-{month}.csv");
    export(&state, &session, &name, |control, ctx| async move {
        control.billing_usage_csv(&ctx, &month, now).await
    })
    .await
}

/// `GET /residency/evidence.csv`: every resource with its zone and country, against the policy.
pub async fn residency_csv(State(state): State<AppState>, session: Session) -> Response {
    let now = meridian_control::now_ms();
    export(
        &state,
        &session,
        "meridian-residency-evidence.csv",
        |control, ctx| async move { control.residency_evidence_csv(&ctx, now).await },
    )
    .await
}

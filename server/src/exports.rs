//! CSV downloads: a month's invoice and its metered usage, and the residency evidence.

use crate::AppState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::header;
use meridian_app::edge::{self, RequestMeta};
use meridian_control::OpContext;
use tower_sessions::Session;

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
        Err(error) => edge::refusal(&error),
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
async fn export<F, Fut>(
    state: &AppState,
    session: &Session,
    request: RequestMeta,
    name: &str,
    make: F,
) -> Response
where
    F: FnOnce(meridian_control::Control, OpContext) -> Fut,
    Fut: std::future::Future<Output = Result<String, meridian_control::Error>>,
{
    match edge::signed_in_context(&state.control, session, state.session_max, request).await {
        Ok(ctx) => csv(name, make(state.control.clone(), ctx).await),
        Err(error) => edge::refusal(&error),
    }
}

/// `GET /billing/invoice.csv[?month=YYYY-MM]`: a month's invoice lines and total.
pub async fn invoice_csv(
    State(state): State<AppState>,
    session: Session,
    request: RequestMeta,
    Query(query): Query<MonthQuery>,
) -> Response {
    let now = meridian_control::now_ms();
    let month = query.month(now);
    let name = format!("meridian-invoice-{month}.csv");
    export(&state, &session, request, &name, |control, ctx| async move {
        control.billing_invoice_csv(&ctx, &month, now).await
    })
    .await
}

/// `GET /billing/usage.csv[?month=YYYY-MM]`: a month's metered usage by hour.
pub async fn usage_csv(
    State(state): State<AppState>,
    session: Session,
    request: RequestMeta,
    Query(query): Query<MonthQuery>,
) -> Response {
    let now = meridian_control::now_ms();
    let month = query.month(now);
    let name = format!("meridian-usage-{month}.csv");
    export(&state, &session, request, &name, |control, ctx| async move {
        control.billing_usage_csv(&ctx, &month, now).await
    })
    .await
}

/// `GET /residency/evidence.csv`: every resource with its zone and country, against the policy.
pub async fn residency_csv(
    State(state): State<AppState>,
    session: Session,
    request: RequestMeta,
) -> Response {
    let now = meridian_control::now_ms();
    export(
        &state,
        &session,
        request,
        "meridian-residency-evidence.csv",
        |control, ctx| async move { control.residency_evidence_csv(&ctx, now).await },
    )
    .await
}

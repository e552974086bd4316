//! Forgot Password (`/password/forgot`): Email.
//!
//! Whatever is entered, the answer is the same page, status and headers:
//! desk decides whether a link goes out, spends the same minimum time
//! either way, and applies the rate limits, whose refusal is answered the
//! same way too (the limit is desk's business; telling the visitor they
//! hit it would tell them the address was counted).

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use super::Site;
use super::session::Visitor;
use crate::desk::DeskError;

/// The Forgot Password form.
#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// Email.
    #[serde(default)]
    pub email: String,
}

/// `GET /password/forgot`.
pub async fn show(State(site): State<Arc<Site>>, visitor: Visitor) -> Response {
    site.page(
        &visitor,
        StatusCode::OK,
        "forgot.html",
        "Forgot Password",
        context! { sent => false },
    )
}

/// `POST /password/forgot`.
pub async fn submit(
    State(site): State<Arc<Site>>,
    visitor: Visitor,
    Form(form): Form<ForgotForm>,
) -> Response {
    if !visitor.csrf_ok(site.csrf_key(), &form.csrf) {
        return site.csrf_refused(&visitor);
    }
    let outcome = site
        .desk()
        .request_reset(&form.email, &visitor.client())
        .await;
    match &outcome {
        Ok(_) | Err(DeskError::RateLimited { .. }) => {
            if matches!(outcome, Err(DeskError::RateLimited { .. })) {
                // Answered like any other request (rule 4), but counted.
                crate::diag::metrics::metrics()
                    .site_throttled
                    .with_label_values(&["forgot"])
                    .inc();
            }
            site.page(
                &visitor,
                StatusCode::OK,
                "forgot.html",
                "Forgot Password",
                context! { sent => true },
            )
        }
        Err(err) => site.desk_failure(&visitor, err),
    }
}

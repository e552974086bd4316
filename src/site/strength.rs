//! `POST /password/strength`: the question behind the live strength meter
//! beside New password (ASVS V2.1.8). The page's script asks while the
//! customer types; the answer is desk's own policy verdict (zxcvbn and the
//! common-password lists, with the signed-in customer's name and email as
//! context words), so the meter and the final check never disagree. A form
//! token is required like on every POST; nothing is stored or logged.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::Site;
use super::session::Visitor;
use crate::desk::PolicyContext;

/// The meter's question (no `Debug`: it holds a password).
#[derive(Deserialize)]
pub struct StrengthForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// The candidate password.
    #[serde(default)]
    pub password: String,
}

/// `POST /password/strength`: `{"ok": bool, "reasons": [..]}`.
pub async fn check(
    State(site): State<Arc<Site>>,
    visitor: Visitor,
    Form(form): Form<StrengthForm>,
) -> Response {
    if !visitor.csrf_ok(site.csrf_key(), &form.csrf) {
        return site.csrf_refused(&visitor);
    }
    let me = match &visitor.session {
        Some(raw) => site.desk().session_from_cookie(raw).await.ok(),
        None => None,
    };
    let (email, name) = me.map(|m| (m.email, m.name)).unwrap_or_default();
    let ctx = PolicyContext {
        email: &email,
        name: &name,
        site_name: &site.desk().settings().site.name,
    };
    let body = match site.desk().policy().check(&form.password, &ctx) {
        Ok(()) => serde_json::json!({ "ok": true, "reasons": [] }),
        Err(refusal) => serde_json::json!({ "ok": false, "reasons": refusal.reasons }),
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

//! The last-resort handler (ASVS V7.4.3): a handler that panics answers
//! 500 with the generic "Something went wrong" page instead of a dropped
//! connection, the panic's text never reaches the visitor, and the event
//! is logged. The server goes on serving.

use std::any::Any;

use axum::body::Body;
use axum::http::{Response, StatusCode};
use axum::response::{Html, IntoResponse};
use tower_http::catch_panic::CatchPanicLayer;

/// What the layer calls with a panic's payload.
pub type PanicHandler = fn(Box<dyn Any + Send + 'static>) -> Response<Body>;

/// The page every panic gets: no detail, nothing from the request.
const PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Something went wrong</title></head><body><main><h1>Something went wrong</h1>\
<p>Please try again in a moment.</p></main></body></html>";

fn generic_error(_payload: Box<dyn Any + Send + 'static>) -> Response<Body> {
    // The payload may hold request data; the panic hook already printed
    // it where operators look, so it is not repeated here.
    tracing::error!(
        event = "request.panicked",
        "a request handler panicked; answered 500"
    );
    (StatusCode::INTERNAL_SERVER_ERROR, Html(PAGE)).into_response()
}

/// The layer the site's router wears.
#[must_use]
pub fn layer() -> CatchPanicLayer<PanicHandler> {
    CatchPanicLayer::custom(generic_error as PanicHandler)
}

//! The site's last-resort error handler: a handler that panics (a bug,
//! never an expected outcome) answers a generic 500 page, with the
//! security headers like any other response, instead of dropping the
//! connection. Nothing about the panic reaches the visitor; the log line
//! says only that it happened (the panic hook prints the message itself).

use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use futures_util::FutureExt;

/// The page a panic gets: generic, self-contained (it must not depend on
/// the templates that may be what failed).
pub const PAGE: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<title>Something went wrong</title>\n</head>\n<body>\n<main id=\"main\">\n\
<h1>Something went wrong</h1>\n<p>Nothing was changed. Please try again later.</p>\n\
</main>\n</body>\n</html>\n";

/// Runs the rest of the stack, turning a panic into [`PAGE`] with 500.
pub async fn catch_panic(request: Request, next: Next) -> Response {
    if let Ok(response) = AssertUnwindSafe(next.run(request)).catch_unwind().await {
        response
    } else {
        tracing::error!("a site request panicked; answered with the generic error page");
        (StatusCode::INTERNAL_SERVER_ERROR, Html(PAGE)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;

    #[tokio::test]
    async fn a_panicking_handler_gets_the_generic_page_with_the_headers() {
        async fn boom() -> &'static str {
            panic!("secret detail that must not reach the visitor")
        }
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "fine" }))
            .layer(axum::middleware::from_fn(catch_panic))
            .layer(axum::middleware::map_response(
                super::super::headers::security_headers,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();
        let boom = http
            .get(format!("http://{addr}/boom"))
            .send()
            .await
            .unwrap();
        assert_eq!(boom.status().as_u16(), 500);
        assert_eq!(boom.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(boom.headers()["x-content-type-options"], "nosniff");
        assert_eq!(boom.headers()["cache-control"], "no-store");
        let body = boom.text().await.unwrap();
        assert!(body.contains("Something went wrong"));
        assert!(!body.contains("secret detail"));
        // The server lives on.
        let fine = http
            .get(format!("http://{addr}/fine"))
            .send()
            .await
            .unwrap();
        assert_eq!(fine.text().await.unwrap(), "fine");
        server.abort();
    }
}

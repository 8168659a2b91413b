//! The HTTP application: one router with the hook receiver (`/hooks/okta/{org}`), `/metrics`
//! and `/healthz`, and `serve` to run it on a listener until shutdown. `/healthz` is the one
//! unauthenticated route and says nothing but that the process answers.

use crate::hooks::HookReceiver;
use crate::metrics::Metrics;
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::sync::Arc;

/// The whole router.
pub fn router(hooks: Arc<HookReceiver>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(hooks.routes())
        .merge(metrics.routes())
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight finish
/// (a hook delivery being committed is answered).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

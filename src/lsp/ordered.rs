//! Applies document changes in the order they arrive, before the request router sees them.
//!
//! tower-lsp-server runs notification handlers as futures that may interleave (tower-lsp issue
//! #284), so two `didChange` notifications that arrive back to back could be applied out of order.
//! This wrapper sits between the transport and the service: the transport calls `call` once per
//! message, in arrival order, and `call` applies `didOpen`, `didChange` and `didClose` to the store
//! synchronously, right there, before handing the message on. It also notes `shutdown` and `exit`,
//! whose order decides the server's exit status.

use std::task::{Context, Poll};

use tower_lsp_server::jsonrpc::{Request, Response};
use tower_lsp_server::ls_types::{
    DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
};
use tower_service::Service;

use super::from_proto;
use super::server::Shared;

/// A service that applies document edits in arrival order and then forwards every message.
pub struct Ordered<S> {
    inner: S,
    shared: Shared,
}

impl<S> Ordered<S> {
    pub fn new(inner: S, shared: Shared) -> Self {
        Ordered { inner, shared }
    }
}

impl<S> Service<Request> for Ordered<S>
where
    S: Service<Request, Response = Option<Response>>,
{
    type Response = Option<Response>;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.shared.note_lifecycle(request.method());
        apply_document_notification(&self.shared, &request);
        self.inner.call(request)
    }
}

/// Applies a text-synchronisation notification to the store; other messages are left alone.
fn apply_document_notification(shared: &Shared, request: &Request) {
    let Some(params) = request.params() else {
        return;
    };
    match request.method() {
        "textDocument/didOpen" => {
            if let Ok(params) = serde_json::from_value::<DidOpenTextDocumentParams>(params.clone())
            {
                shared.open_document(
                    params.text_document.uri,
                    params.text_document.version,
                    &params.text_document.text,
                );
            }
        }
        "textDocument/didChange" => {
            if let Ok(params) =
                serde_json::from_value::<DidChangeTextDocumentParams>(params.clone())
            {
                let changes: Vec<_> = params
                    .content_changes
                    .into_iter()
                    .map(from_proto::text_change)
                    .collect();
                shared.change_document(
                    &params.text_document.uri,
                    params.text_document.version,
                    &changes,
                );
            }
        }
        super::transport::EDIT_UNREADABLE => {
            if let Some(uri) = params.get("uri").and_then(|uri| uri.as_str()) {
                shared.edit_unreadable(uri);
            }
        }
        "textDocument/didClose" => {
            if let Ok(params) = serde_json::from_value::<DidCloseTextDocumentParams>(params.clone())
            {
                shared.close_document(&params.text_document.uri);
            }
        }
        _ => {}
    }
}

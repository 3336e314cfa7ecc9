//! The only module that knows LSP types: the server, and conversions in (`from_proto`) and out (`to_proto`).

mod actions;
mod from_proto;
mod ordered;
pub mod server;
mod to_proto;
mod transport;

use tower_lsp_server::{LspService, Server};

/// Serves LSP over the given streams until the client sends `exit` or closes the input.
pub async fn serve<I, O>(input: I, output: O)
where
    I: tokio::io::AsyncRead + Unpin + Send + 'static,
    O: tokio::io::AsyncWrite + Unpin,
{
    transport::run(input, output, serve_validated).await;
}

/// Serves LSP over streams that carry only well-formed JSON-RPC frames.
async fn serve_validated(input: tokio::io::DuplexStream, output: tokio::io::DuplexStream) {
    let shared = server::Shared::default();
    let for_service = shared.clone();
    let (service, socket) = LspService::build(move |client| server::Server::new(client, for_service.clone()))
        .custom_method("textDocument/inlineCompletion", server::Server::inline_completion)
        .custom_method("spackle/context", server::Server::context)
        .custom_method("window/workDoneProgress/cancel", server::Server::work_done_progress_cancel)
        .finish();
    let service = ordered::Ordered::new(service, shared);
    Server::new(input, output, socket).serve(service).await;
}

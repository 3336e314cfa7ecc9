//! The only module that knows LSP types: the server, and conversions in (`from_proto`) and out (`to_proto`).

mod actions;
mod from_proto;
mod ordered;
pub mod server;
mod to_proto;
mod transport;

use std::process::ExitCode;

use tower_lsp_server::{LspService, Server};

/// How many messages tower-lsp-server handles at once. Its read loop stops reading when this many
/// are under way and 100 more are queued, and nothing it has not read can end them: not
/// `$/cancelRequest`, and not the client's answer to `window/workDoneProgress/create` that an
/// action awaits. Its default of 4 let four requests waiting on a silent model hold back every
/// other message (and four actions awaiting a progress token, the server forever). The limit is
/// therefore set high enough never to bind: a message in flight costs a future, and the expensive
/// work behind requests is bounded where it runs (blocking threads, one model call per request).
const MAX_MESSAGES_IN_FLIGHT: usize = 1 << 20;

/// Serves LSP over the given streams until the client sends `exit` or closes the input. Returns
/// the exit status the LSP specification asks for: failure when `exit` came without `shutdown`.
pub async fn serve<I, O>(input: I, output: O) -> ExitCode
where
    I: tokio::io::AsyncRead + Unpin + Send + 'static,
    O: tokio::io::AsyncWrite + Unpin,
{
    let shared = server::Shared::default();
    let for_session = shared.clone();
    transport::run(input, output, move |input, output| {
        serve_validated(input, output, for_session)
    })
    .await;
    if shared.exited_without_shutdown() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Serves LSP over streams that carry only well-formed JSON-RPC frames.
async fn serve_validated(
    input: tokio::io::DuplexStream,
    output: tokio::io::DuplexStream,
    shared: server::Shared,
) {
    let for_service = shared.clone();
    let (service, socket) =
        LspService::build(move |client| server::Server::new(client, for_service.clone()))
            .custom_method(
                "textDocument/inlineCompletion",
                server::Server::inline_completion,
            )
            .custom_method("spackle/context", server::Server::context)
            .custom_method(transport::EDIT_UNREADABLE, server::Server::edit_unreadable)
            .custom_method(
                "window/workDoneProgress/cancel",
                server::Server::work_done_progress_cancel,
            )
            .finish();
    let service = ordered::Ordered::new(service, shared);
    Server::new(input, output, socket)
        .concurrency_level(MAX_MESSAGES_IN_FLIGHT)
        .serve(service)
        .await;
}

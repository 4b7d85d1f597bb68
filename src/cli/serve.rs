//! `sluice serve`: the daemon (see [`crate::serve`]).

use std::net::SocketAddr;

use super::ConfigArg;

/// Arguments of `sluice serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Address of the HTTP endpoints (/healthz, /readyz, /metrics, the status page /), e.g.
    /// 0.0.0.0:9464 (an address beyond loopback needs `[serve] token`); overrides
    /// `[serve] listen`. Port 0 picks a free port (logged at start).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

/// Runs the daemon; a clean stop exits 0, a config, listen address or state store unusable
/// at start exits as a config error does for the other commands.
pub async fn serve(args: ServeArgs) -> u8 {
    let outcome = crate::serve::serve(crate::serve::Options {
        config: args.config.config,
        listen: args.listen,
    })
    .await;
    match outcome {
        crate::serve::Outcome::Stopped => super::EXIT_OK,
        crate::serve::Outcome::CannotStart => super::EXIT_CONFIG,
    }
}

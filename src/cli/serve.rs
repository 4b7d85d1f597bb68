//! `sluice serve`: the daemon (see [`crate::serve`]).

use std::net::SocketAddr;

use super::ConfigArg;

/// Arguments of `sluice serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Address of the HTTP endpoints (/healthz, /readyz, /metrics), e.g. 0.0.0.0:9464;
    /// overrides `[serve] listen`. Port 0 picks a free port (logged at start).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

pub async fn serve(args: ServeArgs) -> u8 {
    crate::serve::serve(crate::serve::Options {
        config: args.config.config,
        listen: args.listen,
    })
    .await
}

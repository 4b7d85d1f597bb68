//! End-to-end tests: each scheme against a small HTTP server, started inside the test on
//! 127.0.0.1, that really checks the credential the way the vendor would.

mod duo;
mod google;
mod idp;
pub(crate) mod keys;
mod oauth2;
mod private_key_jwt;
mod static_schemes;

use axum::Router;
use reqwest::StatusCode;

use super::Authenticator;
use crate::source::auth::config::AuthConfig;
use crate::source::SourceError;

/// Serves `router` on an ephemeral loopback port until the test's runtime ends; returns its
/// base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{address}")
}

/// A client like the source's: no redirects.
fn client() -> reqwest::Client {
    crate::net::ClientOptions::new(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The `auth` table as a user writes it, its secrets resolved as the config loader does.
fn config(toml_text: &str) -> AuthConfig {
    toml::Value::Table(crate::config::resolved_auth(toml_text))
        .try_into()
        .unwrap_or_else(|err| panic!("{toml_text}\n{err}"))
}

fn authenticator(toml_text: &str) -> Authenticator {
    Authenticator::new(&config(toml_text), client()).unwrap()
}

/// GETs `url` the way the HTTP layer must: authorize and send; on 401, if `invalidate` says a
/// retry can help, authorize a new request and send it once more — never more.
async fn get(auth: &Authenticator, url: &str) -> Result<StatusCode, SourceError> {
    let client = client();
    let status = send_once(auth, &client, url).await?;
    if status == StatusCode::UNAUTHORIZED && auth.invalidate().await {
        return send_once(auth, &client, url).await;
    }
    Ok(status)
}

async fn send_once(
    auth: &Authenticator,
    client: &reqwest::Client,
    url: &str,
) -> Result<StatusCode, SourceError> {
    let mut request = client.get(url).build().unwrap();
    auth.authorize(&mut request).await?;
    let response = client
        .execute(request)
        .await
        .map_err(|err| SourceError::Transport {
            url: url.to_string(),
            detail: err.without_url().to_string(),
        })?;
    Ok(response.status())
}

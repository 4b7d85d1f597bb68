//! Reading a response body without trusting its size.

/// Why a body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is longer than the limit; reading stopped there.
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed while reading (see [`super::describe`]).
    #[error("{0}")]
    Transport(String),
}

/// Reads the whole body, refusing one longer than `limit` bytes as soon as it passes it (a
/// hostile or broken server cannot make us hold more).
pub async fn read_capped(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::with_capacity(
        response
            .content_length()
            .map_or(64 * 1024, |n| (n as usize).min(limit)),
    );
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| BodyError::Transport(super::describe(&err)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads at most the first `limit` bytes of the body, for an error answer whose start is
/// enough to explain it; the rest is not read.
pub async fn read_excerpt(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| BodyError::Transport(super::describe(&err)))?
    {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    Ok(body)
}

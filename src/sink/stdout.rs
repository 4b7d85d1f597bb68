//! The stdout sink: one envelope (or the `payload` chosen) per line on standard output, for
//! pipes and debugging.
//!
//! Lines are written as pages arrive and flushed at each commit; stdout cannot take back a
//! line, so delivery is at least once across crashes.

use std::io::Write;

use async_trait::async_trait;

use super::{Published, Sink, SinkError};
use crate::sink::config::StdoutConfig;
use crate::transform::Envelope;

/// A [`Sink`] writing NDJSON to standard output.
pub struct StdoutSink {
    name: String,
    payload: crate::sink::Payload,
    written: Published,
}

impl StdoutSink {
    /// A stdout sink.
    pub fn new(config: &StdoutConfig) -> Self {
        StdoutSink {
            name: config.name.clone(),
            payload: config.payload,
            written: Published::default(),
        }
    }

    fn error(&self, err: std::io::Error) -> SinkError {
        SinkError {
            sink: self.name.clone(),
            detail: format!("cannot write to standard output: {err} (hint: is the reading end of the pipe still open?)"),
        }
    }
}

#[async_trait]
impl Sink for StdoutSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&mut self, events: &[Envelope]) -> Result<(), SinkError> {
        let mut lines = Vec::with_capacity(events.len() * 512);
        for event in events {
            self.payload.write(event, &mut lines);
            lines.push(b'\n');
        }
        std::io::stdout()
            .lock()
            .write_all(&lines)
            .map_err(|e| self.error(e))?;
        self.written.bytes += lines.len() as u64;
        Ok(())
    }

    fn wants_commit(&self) -> bool {
        false
    }

    async fn prepare(&mut self, _batch: &str) -> Result<Option<serde_json::Value>, SinkError> {
        std::io::stdout().flush().map_err(|e| self.error(e))?;
        Ok((self.written.bytes > 0).then(|| serde_json::json!({ "bytes": self.written.bytes })))
    }

    async fn publish(&mut self, _payload: &serde_json::Value) -> Result<Published, SinkError> {
        Ok(std::mem::take(&mut self.written))
    }

    async fn discard_staged(&mut self) -> Result<(), SinkError> {
        self.written = Published::default();
        Ok(())
    }
}

//! Compressed NDJSON written as independent members: gzip members, or zstd frames, of about
//! [`CHUNK`] uncompressed bytes each, concatenated in order into one object.
//!
//! Each member is compressed on a blocking thread of the runtime while the pipeline goes on
//! fetching and reading pages, so one source uses two cores, and the members of one large
//! object are compressed in parallel. Every reader of lake objects reads a concatenation of
//! gzip members (RFC 1952 §2.2: "a gzip file consists of a series of members") or of zstd
//! frames as one stream: `MultiGzDecoder`, zcat, Python's `gzip`, DuckDB, Snowflake, BigQuery
//! and Athena for gzip; every zstd decoder for zstd. A member starts without the previous
//! one's history, which costs a fraction of a percent of the ratio at this size
//! (docs/benchmarks.md, "Compression").

use std::collections::VecDeque;
use std::io::{self, Write};

use futures_util::FutureExt;
use tokio::task::JoinHandle;

use super::encode::{Compression, Counted};

/// Uncompressed bytes gathered before a member is compressed: large enough that the
/// dictionary reset at each member costs next to nothing (deflate's window is 32 KiB), small
/// enough that an open object holds little memory and a large one splits across cores.
pub(crate) const CHUNK: usize = 1024 * 1024;

/// A compressed member and the emptied buffer it was made from (kept for the next chunk).
type Done = io::Result<(Vec<u8>, Vec<u8>)>;

/// A member being compressed on a blocking thread.
struct Job {
    /// Its uncompressed size, counted in [`Members::size`] until it is written.
    raw: usize,
    handle: JoinHandle<Done>,
}

/// Lines compressed member by member into a [`Counted`] output.
pub(crate) struct Members {
    compression: Compression,
    level: i32,
    counted: Counted,
    /// Lines of the member being gathered.
    pending: Vec<u8>,
    /// Members being compressed, oldest first: written out in this order.
    jobs: VecDeque<Job>,
    /// Emptied buffers of earlier members, reused rather than allocated per member.
    spare: Vec<Vec<u8>>,
    /// Whether a member was started (an object always holds at least one, even empty).
    started: bool,
}

impl Members {
    /// Members compressed with `compression` at `level` into `counted`.
    pub fn new(compression: Compression, level: i32, counted: Counted) -> Members {
        Members {
            compression,
            level,
            counted,
            pending: Vec::new(),
            jobs: VecDeque::new(),
            spare: Vec::new(),
            started: false,
        }
    }

    /// Adds one line; a full chunk goes to be compressed.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(line);
        if self.pending.len() >= CHUNK {
            self.start_member()?;
        }
        self.write_finished()
    }

    /// Compressed bytes written plus uncompressed bytes not yet compressed: an overestimate,
    /// so objects roll early rather than late (by at most a few chunks).
    pub fn size(&self) -> u64 {
        let raw: usize = self.pending.len() + self.jobs.iter().map(|j| j.raw).sum::<usize>();
        self.counted.count + raw as u64
    }

    #[cfg(test)]
    pub fn counted(&self) -> &Counted {
        &self.counted
    }

    pub fn counted_mut(&mut self) -> &mut Counted {
        &mut self.counted
    }

    /// Waits until at most `limit` members are being compressed, writing out the finished
    /// ones: the back-pressure that bounds memory when compression is slower than reading.
    pub async fn settle(&mut self, limit: usize) -> io::Result<()> {
        while self.jobs.len() > limit {
            let Some(job) = self.jobs.pop_front() else {
                break;
            };
            let done = job.handle.await.map_err(joined)?;
            self.write_member(done)?;
        }
        self.write_finished()
    }

    /// Compresses what is gathered and everything in flight, and returns the output.
    pub async fn finish(mut self) -> io::Result<Counted> {
        if !self.pending.is_empty() || !self.started {
            self.start_member()?;
        }
        self.settle(0).await?;
        Ok(self.counted)
    }

    /// Compresses what is gathered now, on this thread (tests, which look at the output).
    #[cfg(test)]
    pub fn flush(&mut self) -> io::Result<()> {
        if self.jobs.is_empty() && !self.pending.is_empty() {
            let chunk = std::mem::take(&mut self.pending);
            let done = compress(self.compression, self.level, chunk, Vec::new());
            self.started = true;
            self.write_member(done)?;
        }
        Ok(())
    }

    /// Sends the gathered lines to be compressed: on a blocking thread when a runtime is
    /// there, else (callers outside async code) here.
    fn start_member(&mut self) -> io::Result<()> {
        let fresh = self.spare.pop().unwrap_or_default();
        let chunk = std::mem::replace(&mut self.pending, fresh);
        let out = self.spare.pop().unwrap_or_default();
        let (compression, level) = (self.compression, self.level);
        self.started = true;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let raw = chunk.len();
                let handle =
                    runtime.spawn_blocking(move || compress(compression, level, chunk, out));
                self.jobs.push_back(Job { raw, handle });
                Ok(())
            }
            Err(_) => self.write_member(compress(compression, level, chunk, out)),
        }
    }

    /// Writes out the members at the front that are finished, without waiting.
    fn write_finished(&mut self) -> io::Result<()> {
        while self.jobs.front().is_some_and(|j| j.handle.is_finished()) {
            let Some(mut job) = self.jobs.pop_front() else {
                break;
            };
            // A finished task's result is ready: one poll returns it.
            match (&mut job.handle).now_or_never() {
                Some(done) => self.write_member(done.map_err(joined)?)?,
                None => {
                    self.jobs.push_front(job);
                    break;
                }
            }
        }
        Ok(())
    }

    fn write_member(&mut self, done: Done) -> io::Result<()> {
        let (mut chunk, mut member) = done?;
        self.counted.write_all(&member)?;
        chunk.clear();
        member.clear();
        // Two buffers per member in flight at most: the rest would only hold memory.
        if self.spare.len() < 4 {
            self.spare.push(chunk);
            self.spare.push(member);
        }
        Ok(())
    }
}

/// One member holding `chunk`, written into `out`; returns both (the chunk to be reused).
pub(crate) fn compress(compression: Compression, level: i32, chunk: Vec<u8>, out: Vec<u8>) -> Done {
    let out = match compression {
        Compression::Gzip => {
            // `level` was checked to be 1–9 when the config was read.
            let level = flate2::Compression::new(level.clamp(0, 9) as u32);
            let mut encoder = flate2::write::GzEncoder::new(out, level);
            encoder.write_all(&chunk)?;
            encoder.finish()?
        }
        Compression::Zstd => {
            let mut encoder = zstd::stream::write::Encoder::new(out, level)?;
            // Readers can then tell a damaged object from a good one.
            encoder.include_checksum(true)?;
            encoder.write_all(&chunk)?;
            encoder.finish()?
        }
    };
    Ok((chunk, out))
}

/// A compression task that panicked or was cancelled, as an I/O error of the object.
fn joined(err: tokio::task::JoinError) -> io::Error {
    io::Error::other(format!("compressing a member failed: {err}"))
}

/// Members of one object compressed at once: one per core (at least two, so compression
/// overlaps reading even on one core), which bounds an object's memory to a few chunks.
pub(crate) fn in_flight_limit() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(2, std::num::NonZeroUsize::get)
            .max(2)
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::sink::lake::encode::Output;

    /// Lines of about 1.2 KB, each numbered, repetitive like audit events.
    fn lines(count: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|i| {
                let pad = "actor=alice@example.com outcome=SUCCESS ".repeat(30);
                format!("{{\"n\":{i},\"pad\":\"{pad}{}\"}}\n", i * 7919 % 1000).into_bytes()
            })
            .collect()
    }

    async fn encode(compression: Compression, level: i32, lines: &[Vec<u8>]) -> Vec<u8> {
        let mut members =
            Members::new(compression, level, Counted::new(Output::Memory(Vec::new())));
        for line in lines {
            members.write_line(line).unwrap();
            members.settle(in_flight_limit()).await.unwrap();
        }
        let counted = members.finish().await.unwrap();
        let Output::Memory(bytes) = counted.out else {
            panic!("memory output")
        };
        assert_eq!(counted.count, bytes.len() as u64);
        bytes
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_object_is_several_members_that_read_back_in_order() {
        let lines = lines(4 * CHUNK / 1000);
        let expected: Vec<u8> = lines.concat();
        for compression in [Compression::Gzip, Compression::Zstd] {
            let bytes = encode(compression, 3, &lines).await;
            let mut text = Vec::new();
            compression
                .decoder(&bytes[..])
                .unwrap()
                .read_to_end(&mut text)
                .unwrap();
            assert!(
                text == expected,
                "{compression:?}: the lines come back whole and in order"
            );
            if compression == Compression::Gzip {
                // A single-member reader stops after the first member: there are several.
                let mut first = Vec::new();
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_end(&mut first)
                    .unwrap();
                assert!(
                    first.len() >= CHUNK && first.len() < expected.len(),
                    "{}",
                    first.len()
                );
                assert!(expected.starts_with(&first));
            }
        }
    }

    #[tokio::test]
    async fn the_level_is_the_configured_one_and_an_empty_object_is_still_valid() {
        let lines = lines(2000);
        for compression in [Compression::Gzip, Compression::Zstd] {
            let fast = encode(compression, 1, &lines).await;
            let small = encode(compression, 9, &lines).await;
            assert!(
                small.len() < fast.len(),
                "{compression:?}: {} vs {}",
                small.len(),
                fast.len()
            );
            let empty = encode(compression, 1, &[]).await;
            let mut text = Vec::new();
            compression
                .decoder(&empty[..])
                .unwrap()
                .read_to_end(&mut text)
                .unwrap();
            assert!(!empty.is_empty() && text.is_empty());
        }
    }
}

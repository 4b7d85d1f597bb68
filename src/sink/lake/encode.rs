//! Compression of lake objects: gzip or zstd, over an output that counts compressed bytes.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

use flate2::write::GzEncoder;
use serde::Deserialize;

/// zstd's own default: most of the ratio for little CPU.
const ZSTD_LEVEL: i32 = 3;

/// How lake objects are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// gzip (`.ndjson.gz`): read by every loader and query engine.
    #[default]
    Gzip,
    /// Zstandard (`.ndjson.zst`): smaller and faster; read by Snowflake, DuckDB and Athena,
    /// not by BigQuery.
    Zstd,
}

impl Compression {
    /// The object name's extension, after the batch name.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip => ".ndjson.gz",
            Compression::Zstd => ".ndjson.zst",
        }
    }

    /// The compression an object name's extension says, if it is a lake object.
    pub fn of_name(name: &str) -> Option<Compression> {
        [Compression::Gzip, Compression::Zstd]
            .into_iter()
            .find(|c| name.ends_with(c.extension()))
    }

    /// A reader of the uncompressed lines of an object.
    pub fn decoder<'r, R: io::BufRead + 'r>(self, reader: R) -> io::Result<Box<dyn Read + 'r>> {
        Ok(match self {
            // Multi-member: a gzip file may hold several concatenated streams.
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
        })
    }
}

/// Where an object's compressed bytes go while it is open.
pub(crate) enum Output {
    /// A staged file of a local lake.
    File(BufWriter<File>),
    /// Bytes not yet uploaded to an object store (at most about one part).
    Memory(Vec<u8>),
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::File(file) => file.write(buf),
            Output::Memory(bytes) => bytes.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File(file) => file.flush(),
            Output::Memory(_) => Ok(()),
        }
    }
}

/// An output and the compressed bytes written to it so far, to roll objects by size.
pub(crate) struct Counted {
    pub out: Output,
    pub count: u64,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A compressing writer over a [`Counted`] output.
pub(crate) enum Encoder {
    Gzip(GzEncoder<Counted>),
    Zstd(zstd::stream::write::Encoder<'static, Counted>),
}

impl Encoder {
    pub fn new(compression: Compression, out: Output) -> io::Result<Encoder> {
        let counted = Counted { out, count: 0 };
        Ok(match compression {
            Compression::Gzip => {
                Encoder::Gzip(GzEncoder::new(counted, flate2::Compression::default()))
            }
            Compression::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(counted, ZSTD_LEVEL)?;
                // Readers can then tell a damaged object from a good one.
                encoder.include_checksum(true)?;
                Encoder::Zstd(encoder)
            }
        })
    }

    pub fn counted(&self) -> &Counted {
        match self {
            Encoder::Gzip(e) => e.get_ref(),
            Encoder::Zstd(e) => e.get_ref(),
        }
    }

    pub fn counted_mut(&mut self) -> &mut Counted {
        match self {
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Zstd(e) => e.get_mut(),
        }
    }

    /// Ends the compressed stream and returns the output.
    pub fn finish(self) -> io::Result<Counted> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_compressions_round_trip_through_their_decoder() {
        for compression in [Compression::Gzip, Compression::Zstd] {
            let mut encoder = Encoder::new(compression, Output::Memory(Vec::new())).unwrap();
            encoder.write_all(b"{\"a\":1}\n").unwrap();
            let counted = encoder.finish().unwrap();
            let Output::Memory(bytes) = counted.out else {
                panic!("memory output")
            };
            assert_eq!(counted.count, bytes.len() as u64);
            let name = format!("x{}", compression.extension());
            assert_eq!(Compression::of_name(&name), Some(compression));
            let mut text = String::new();
            compression
                .decoder(&bytes[..])
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            assert_eq!(text, "{\"a\":1}\n");
        }
        assert_eq!(Compression::of_name("x.ndjson.gz.partial"), None);
    }
}

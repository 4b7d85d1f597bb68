//! An S3-compatible server on loopback for the tests: `s3s-fs` (which checks every request's
//! SigV4 signature) when it is on PATH, else moto's server (`python3 -m moto.server`);
//! `SLUICE_TEST_S3_SERVER=moto|s3s-fs` picks one. With neither installed the tests say so
//! and pass, unless `SLUICE_TEST_S3` is set (as `.ci/run` does), where a missing server is a
//! failure.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use object_store::ObjectStore;

pub const ACCESS_KEY: &str = "sluice-test-access-key";
pub const SECRET_KEY: &str = "sluice-test-secret-key-0123456789";
pub const BUCKET: &str = "lake";
pub const REGION: &str = "us-east-1";

/// A running S3-compatible server; killed when dropped.
pub struct S3Server {
    _child: tokio::process::Child,
    pub endpoint: String,
    pub kind: &'static str,
    _root: tempfile::TempDir,
}

fn installed(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .expect("loopback has a free port");
    listener
        .local_addr()
        .expect("bound socket has an address")
        .port()
}

/// Starts a server with bucket `lake`, or returns `None` (after saying why) when none is
/// installed and the tests may skip.
pub async fn start_server() -> Option<S3Server> {
    let wanted = std::env::var("SLUICE_TEST_S3_SERVER").unwrap_or_default();
    start_server_of(&wanted).await
}

/// Starts moto's server, for tests of what only moto implements (Object Lock), or
/// returns `None` as [`start_server`] does.
pub async fn start_moto() -> Option<S3Server> {
    start_server_of("moto").await
}

/// Starts `wanted` (`moto`, `s3s-fs`, or `""` for whichever is installed).
async fn start_server_of(wanted: &str) -> Option<S3Server> {
    let required = super::skip::env_flag("SLUICE_TEST_S3");
    let s3s = (wanted.is_empty() || wanted == "s3s-fs") && installed("s3s-fs", &["--version"]);
    let moto = !s3s
        && (wanted.is_empty() || wanted == "moto")
        && installed("python3", &["-c", "import moto.server, flask, flask_cors"]);
    if !s3s && !moto {
        assert!(
            !required,
            "SLUICE_TEST_S3 is set but no S3 server ({}) is installed (hint: pip install 'moto[server]', or cargo install s3s-fs --version 0.14.1 --features binary)",
            if wanted.is_empty() { "moto or s3s-fs" } else { wanted }
        );
        super::skip::skip(
            "an S3 server",
            &format!(
                "no S3-compatible server ({}) is installed",
                if wanted.is_empty() {
                    "moto or s3s-fs"
                } else {
                    wanted
                }
            ),
            "pip install 'moto[server]'",
        );
        return None;
    }
    let root = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut command = if s3s {
        // s3s-fs serves each directory under its root as a bucket.
        std::fs::create_dir(root.path().join(BUCKET)).expect("temp dir is writable");
        let mut c = tokio::process::Command::new("s3s-fs");
        c.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path());
        c
    } else {
        let mut c = tokio::process::Command::new("python3");
        c.args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .current_dir(root.path());
        c
    };
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the S3 server starts");
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the S3 server exited at start with {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the S3 server did not listen on {endpoint} within 60s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kind = if s3s { "s3s-fs" } else { "moto" };
    if !s3s {
        // moto keeps buckets in memory; it accepts an unsigned CreateBucket.
        let created = reqwest::Client::new()
            .put(format!("{endpoint}/{BUCKET}"))
            .send()
            .await
            .expect("moto answers");
        assert!(
            created.status().is_success(),
            "CreateBucket: {}",
            created.status()
        );
    }
    eprintln!("S3 server: {kind} at {endpoint}");
    Some(S3Server {
        _child: child,
        endpoint,
        kind,
        _root: root,
    })
}

impl S3Server {
    /// A client of the bucket, to look behind sluice's back.
    pub fn client(&self) -> Arc<dyn ObjectStore> {
        self.client_of(BUCKET)
    }

    /// A client of `bucket` on this server.
    pub fn client_of(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_region(REGION)
                .with_bucket_name(bucket)
                .with_access_key_id(ACCESS_KEY)
                .with_secret_access_key(SECRET_KEY)
                .build()
                .expect("client builds"),
        )
    }
}

/// `sluice <args>`, with this server's keys and region in the environment (the default
/// credential chain) and no other AWS settings.
pub fn sluice_with_keys(args: &[&str]) -> tokio::process::Command {
    let mut command = super::sluice();
    command
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", REGION)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT");
    command
}

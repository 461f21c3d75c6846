//! `spawn_app`: the whole local stack on port 0 with a fresh store, driven over HTTP.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use atlas_app::config::{Config, Storage};
use atlas_app::local::{self, LocalApp};

use crate::{TempDir, moto, unique};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Embedded,
    /// DynamoDB and SQS through the protocol server.
    Aws,
}

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub dir: TempDir,
    pub config: Config,
    app: Option<LocalApp>,
}

pub fn config(mode: Mode, dir: &TempDir) -> Config {
    let mut c = Config::embedded(dir.0.join("data"));
    if mode == Mode::Aws {
        c.storage = Storage::Aws {
            table: unique("app"),
            endpoint: Some(moto::endpoint()),
            queue_urls: Default::default(),
        };
    }
    c.web_dir = dir.0.join("web");
    // Tests tick the scheduler themselves.
    c.scheduler_every = Duration::from_secs(3_600);
    c
}

pub async fn spawn_app(mode: Mode) -> TestApp {
    let dir = TempDir::new();
    let c = config(mode, &dir);
    spawn_with(c, dir).await
}

pub async fn spawn_with(config: Config, dir: TempDir) -> TestApp {
    atlas_app::telemetry::init();
    let app = local::start(config.clone()).await.expect("the local stack starts");
    TestApp {
        url: app.url(),
        client: reqwest::Client::new(),
        dir,
        config,
        app: Some(app),
    }
}

impl TestApp {
    pub fn app(&self) -> &LocalApp {
        self.app.as_ref().expect("running")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("request")
    }

    pub fn web_dir(&self) -> PathBuf {
        self.config.web_dir.clone()
    }

    /// Stops gracefully and hands back the directory, so a restart can reuse the data.
    pub async fn stop(mut self) -> (Config, TempDir) {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
        (self.config, self.dir)
    }
}

/// Polls `check` until it returns `Some`, or panics at the deadline with `what`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

//! The service started in-process through the library (`sanbao::server::serve` over a
//! `Store` this test keeps a handle on), so that a test can inject storage faults
//! (`Store::faults`) or set short `Limits`, and speak HTTP to it on a loopback port.
#![allow(dead_code)]

use sanbao::log::{self, Store, SystemClock, Writer, WriterThread};
use sanbao::server::auth::{Role, TokenFile, Tokens};
use sanbao::server::{self, AppState, Limits};
use std::path::{Path, PathBuf};
use tokio::sync::watch;

/// A running in-process service.
pub struct InProc {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The store under the writer (shares sled with it: faults set here apply).
    pub store: Store,
    /// A token per role.
    pub officer: String,
    /// Scheduler's token.
    pub scheduler: String,
    /// Auditor's token.
    pub auditor: String,
    /// The data directory.
    pub dir: PathBuf,
    stop: watch::Sender<bool>,
    rt: Option<tokio::runtime::Runtime>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    writer: Option<WriterThread>,
}

impl InProc {
    /// Opens (or creates) the log in `dir`, writes a tokens file with one user per
    /// role, and serves on an OS-chosen loopback port with `limits`.
    pub fn start(dir: &Path, limits: Limits) -> InProc {
        let store = Store::open(dir).expect("open the log");
        let state = log::load_verified(&store, |_| {}).expect("the log verifies");
        let (writer, thread) = Writer::start(store.clone(), state, Box::new(SystemClock));
        let mut tokens = Tokens::default();
        let officer = tokens.add("li.wei", Role::Officer, "t".into()).unwrap();
        let scheduler = tokens
            .add("zhang.min", Role::Scheduler, "t".into())
            .unwrap();
        let auditor = tokens.add("wang.audit", Role::Auditor, "t".into()).unwrap();
        let path = dir.join("tokens.json");
        tokens.save(&path).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (stop, stop_rx) = watch::channel(false);
        let app = AppState::with_limits(
            writer,
            store.clone(),
            TokenFile::new(path, tokens),
            stop_rx.clone(),
            limits,
        );
        let server = rt.spawn(server::serve(listener, app, stop_rx));
        InProc {
            addr,
            store,
            officer,
            scheduler,
            auditor,
            dir: dir.to_path_buf(),
            stop,
            rt: Some(rt),
            server: Some(server),
            writer: Some(thread),
        }
    }

    /// Stops the service gracefully and waits for the writer to finish.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let (Some(rt), Some(server)) = (self.rt.take(), self.server.take()) {
            let _ = rt.block_on(server);
            rt.shutdown_timeout(std::time::Duration::from_secs(10));
        }
        if let Some(t) = self.writer.take() {
            t.join();
        }
    }
}

impl Drop for InProc {
    fn drop(&mut self) {
        self.shutdown();
    }
}

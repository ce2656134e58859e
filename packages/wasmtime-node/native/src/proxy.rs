//! Serves a `wasi:http/proxy` component over HTTP/1.1.
//!
//! A `ProxyServer` takes the component a runner compiled, links it once (`ProxyPre`), and then
//! gives every request a store and instance of its own, as `wasi:http` expects. The server runs
//! on a tokio runtime of its own threads, so the JS thread that started it stays free; `stop`
//! drains it: the listener closes at once, open connections finish the request they are on and
//! close, and `wait` resolves when the last guest has finished.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Error, Result, Status, Task};
use napi_derive::napi;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinSet;
use wasmtime::component::Component;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::cli::OutputFile;
use wasmtime_wasi::{WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::{
    arm_interrupt, describe, failure, guest_file, memory_limits, preopen, runners, P2State, Shared,
    Workload,
};

/// How a `ProxyServer` listens and what its guests see.
#[napi(object)]
pub struct ServeOptions {
    /// `host:port` to listen on, e.g. `0.0.0.0:8080`; port 0 picks a free port.
    pub address: String,
    /// The guests' argv.
    pub args: Vec<String>,
    /// The guests' environment, as `[name, value]` pairs.
    pub env: Vec<(String, String)>,
    /// Host directory the guests see as `/` (read-write); no preopen when absent.
    pub preopen_dir: Option<String>,
    /// Descriptors of this process that every guest's stdout and stderr write to (duplicated
    /// once, when the server is made; the caller keeps its own).
    pub stdout: i32,
    pub stderr: i32,
    /// Cap on each linear memory of a guest, in bytes.
    pub memory_limit_bytes: Option<i64>,
}

/// Per-store data of one request.
struct ProxyState {
    p2: P2State,
    http: WasiHttpCtx,
}

impl WasiView for ProxyState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.p2.ctx()
    }
}

impl WasiHttpView for ProxyState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.p2.table,
            hooks: Default::default(),
        }
    }
}

/// What every request needs: the linked component and the guests' settings.
struct Served {
    shared: Arc<Shared>,
    pre: ProxyPre<ProxyState>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    preopen_dir: Option<String>,
    stdout: OutputFile,
    stderr: OutputFile,
    memory_limit_bytes: Option<i64>,
    /// Guests still running; a guest may keep running after its response headers are sent.
    guests: AtomicUsize,
    guest_done: Notify,
}

/// Counts one running guest for as long as it lives.
struct GuestGuard(Arc<Served>);

impl Drop for GuestGuard {
    fn drop(&mut self) {
        self.0.guests.fetch_sub(1, Ordering::SeqCst);
        self.0.guest_done.notify_waiters();
    }
}

impl Served {
    fn store(&self) -> Result<Store<ProxyState>> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.args(&self.args).envs(&self.env);
        wasi.stdout(self.stdout.clone()).stderr(self.stderr.clone());
        preopen(&mut wasi, self.preopen_dir.as_deref())?;
        let state = ProxyState {
            p2: P2State {
                wasi: wasi.build(),
                table: ResourceTable::new(),
                limits: memory_limits(self.memory_limit_bytes)?,
            },
            http: WasiHttpCtx::new(),
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.p2.limits);
        arm_interrupt(&self.shared, &mut store)?;
        Ok(store)
    }

    /// Runs a fresh instance of the guest on `req` and returns its response.
    async fn respond(
        self: &Arc<Self>,
        req: hyper::Request<Incoming>,
    ) -> wasmtime::Result<hyper::Response<HyperOutgoingBody>> {
        let mut store = self
            .store()
            .map_err(|e| wasmtime::format_err!("{}", e.reason))?;
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let (sender, receiver) = oneshot::channel();
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();
        self.guests.fetch_add(1, Ordering::SeqCst);
        let guard = GuestGuard(self.clone());
        // The guest runs on a task of its own: it may go on writing the body after it has set
        // the response, which this function returns as soon as it is set.
        let guest = tokio::spawn(async move {
            let _guard = guard;
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => wasmtime::bail!("the guest answered with the error {code:?}"),
            Err(_) => match guest.await {
                Ok(Ok(())) => wasmtime::bail!("the guest returned without setting a response"),
                Ok(Err(err)) => wasmtime::bail!("{}", describe(&err)),
                Err(err) => wasmtime::bail!("the guest task failed: {err}"),
            },
        }
    }

    async fn all_guests_done(&self) {
        loop {
            let done = self.guest_done.notified();
            if self.guests.load(Ordering::SeqCst) == 0 {
                return;
            }
            done.await;
        }
    }
}

/// A plain-text response for a request the guest could not answer.
fn error_response(status: u16, text: &'static str) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never: Infallible| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
}

async fn serve_request(
    served: Arc<Served>,
    req: hyper::Request<Incoming>,
) -> std::result::Result<hyper::Response<HyperOutgoingBody>, Infallible> {
    if served.shared.interrupted.load(Ordering::SeqCst) {
        return Ok(error_response(503, "the server is shutting down\n"));
    }
    match served.respond(req).await {
        Ok(response) => Ok(response),
        Err(err) => {
            // The process's stderr is the shim's log, not the container's output.
            eprintln!("wasi:http request failed: {err:#}");
            Ok(error_response(500, "internal server error\n"))
        }
    }
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across the caller's awaits.
    let _ = stop.wait_for(|stop| *stop).await.map(|_| ());
}

/// Accepts connections until `stop` turns true, then waits for open connections and guests.
async fn serve(listener: TcpListener, served: Arc<Served>, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let tcp = match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(err) => {
                        // Out of descriptors and the like: pause rather than spin.
                        eprintln!("wasi:http server cannot accept a connection: {err}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let served = served.clone();
                let mut stop = stop.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| serve_request(served.clone(), req));
                    let connection = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(tcp), service);
                    tokio::pin!(connection);
                    let result = tokio::select! {
                        result = connection.as_mut() => result,
                        _ = stopped(&mut stop) => {
                            // Finish the request in progress, then close instead of keeping alive.
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    };
                    // A client going away mid-request is the client's business.
                    let _ = result;
                });
            }
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    served.all_guests_done().await;
}

/// How a started server is doing, shared with its thread and `wait` tasks.
struct Control {
    stop: watch::Sender<bool>,
    /// `None` while serving; the outcome once the server thread has finished.
    finished: Mutex<Option<std::result::Result<(), String>>>,
    done: Condvar,
}

impl Control {
    fn finish(&self, outcome: std::result::Result<(), String>) {
        *self.finished.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        self.done.notify_all();
    }
}

/// Reports a server thread's outcome to its `Control` when dropped.
struct Finished(Arc<Control>, std::result::Result<(), String>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.finish(std::mem::replace(&mut self.1, Ok(())));
    }
}

/// Serves a `wasi:http/proxy` component: every request runs on a fresh instance.
#[napi]
pub struct ProxyServer {
    served: Arc<Served>,
    control: Arc<Control>,
    address: Option<String>,
}

/// Instances a proxy server keeps ready in its pool: requests in flight beyond this many get a
/// 500 until one finishes.
const POOLED_INSTANCES: u32 = 512;
/// Bytes of each pooled memory, table and stack reset in place between requests.
const KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// The engine a proxy server instantiates with, and the component loaded into it.
///
/// A new instance per request makes the default allocator map and unmap linear memories, tables
/// and fiber stacks for every request, and the kernel's memory-map work (and the TLB shootdowns
/// across threads) dominates serving. A pooling engine with the runner's settings reuses them.
/// The component is moved into it as its compiled artifact; should that fail, the server keeps
/// the runner's own engine.
fn pooled(shared: &Arc<Shared>, component: Component) -> (Engine, Component) {
    let fallback = || (shared.engine.clone(), component.clone());
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOLED_INSTANCES)
        .total_core_instances(POOLED_INSTANCES * 8)
        .total_memories(POOLED_INSTANCES * 2)
        .total_tables(POOLED_INSTANCES * 8)
        .total_stacks(POOLED_INSTANCES)
        // Reset by memset rather than by handing pages back: a small guest touches the same few
        // pages on every request, and page faults plus TLB shootdowns cost more than the copy.
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES)
        .async_stack_keep_resident(KEEP_RESIDENT_BYTES);
    let mut config = shared.config.clone();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let Ok(engine) = Engine::new(&config) else {
        return fallback();
    };
    let Ok(artifact) = component.serialize() else {
        return fallback();
    };
    // SAFETY: the artifact was serialized just now by this process from a component that the
    // runner's engine compiled; wasmtime checks it matches the pooling engine's settings.
    match unsafe { Component::deserialize(&engine, &artifact) } {
        Ok(moved) => {
            shared
                .proxy_engines
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(engine.clone());
            (engine, moved)
        }
        Err(_) => fallback(),
    }
}

#[napi]
impl ProxyServer {
    /// Prepares to serve the proxy component that runner `runnerHandle` compiled (from any
    /// thread). Throws when that runner holds no proxy component or a descriptor is bad.
    #[napi(constructor)]
    pub fn new(runner_handle: u32, options: ServeOptions) -> Result<Self> {
        let shared = runners()
            .get(&runner_handle)
            .cloned()
            .ok_or_else(|| Error::new(Status::InvalidArg, format!("no runner {runner_handle}")))?;
        let component = match shared.workload().as_ref() {
            Some(Workload::Proxy(component)) => component.clone(),
            Some(_) => {
                return Err(Error::new(
                    Status::InvalidArg,
                    "the runner's workload is not a wasi:http proxy component",
                ))
            }
            None => return Err(failure("nothing compiled: call compile() first")),
        };
        let (engine, component) = pooled(&shared, component);
        let mut linker = Linker::<ProxyState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .map_err(|e| failure(format!("cannot link WASI: {e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(ProxyPre::new)
            .map_err(|e| {
                Error::new(
                    Status::InvalidArg,
                    format!("cannot link the component: {e:#}"),
                )
            })?;
        let served = Arc::new(Served {
            shared,
            pre,
            args: options.args,
            env: options.env,
            preopen_dir: options.preopen_dir,
            stdout: OutputFile::new(guest_file(options.stdout, "stdout")?),
            stderr: OutputFile::new(guest_file(options.stderr, "stderr")?),
            memory_limit_bytes: options.memory_limit_bytes,
            guests: AtomicUsize::new(0),
            guest_done: Notify::new(),
        });
        // Checked now so a bad limit fails here rather than on every request.
        memory_limits(served.memory_limit_bytes)?;
        let (stop, _) = watch::channel(false);
        let control = Arc::new(Control {
            stop,
            finished: Mutex::new(None),
            done: Condvar::new(),
        });
        Ok(Self {
            served,
            control,
            address: Some(options.address),
        })
    }

    /// Starts listening and serving on threads of the server's own; returns the address it
    /// listens on (with the port picked when the options asked for port 0). Throws when the
    /// address is invalid or taken. A server starts once.
    #[napi]
    pub fn start(&mut self) -> Result<String> {
        let address = self
            .address
            .take()
            .ok_or_else(|| failure("the server was already started"))?;
        let addr: SocketAddr = address.parse().map_err(|e| {
            Error::new(
                Status::InvalidArg,
                format!("invalid listen address {address:?}: {e}"),
            )
        })?;
        let listener = StdTcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| failure(format!("cannot listen on {address}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| failure(format!("cannot listen on {address}: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("wasi-http")
            .build()
            .map_err(|e| failure(format!("cannot start the server's threads: {e}")))?;
        let served = self.served.clone();
        let control = self.control.clone();
        let stop = control.stop.subscribe();
        std::thread::Builder::new()
            .name("wasi-http-accept".into())
            .spawn(move || {
                // Reports the end even if serving panics, so `wait` never hangs.
                let mut finished = Finished(control, Err("the server thread panicked".into()));
                finished.1 = runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).map_err(|e| e.to_string())?;
                    serve(listener, served, stop).await;
                    Ok(())
                });
                // Nothing is left to wait for; blocking tasks of finished guests may linger.
                runtime.shutdown_background();
            })
            .map_err(|e| failure(format!("cannot start the server's threads: {e}")))?;
        Ok(local.to_string())
    }

    /// Drains the server: stops accepting, lets open connections finish the request they are on,
    /// then ends. Returns at once; `wait` tells when it is done. Safe to call more than once.
    #[napi]
    pub fn stop(&self) {
        self.control.stop.send_replace(true);
    }

    /// Resolves when the server has stopped (after `stop`), or rejects when it failed. Throws
    /// when the server was never started.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn wait(&self) -> Result<AsyncTask<WaitTask>> {
        if self.address.is_some() {
            return Err(failure("the server was not started"));
        }
        Ok(AsyncTask::new(WaitTask(self.control.clone())))
    }
}

/// Waits, on a libuv pool thread, for a server thread to finish.
pub struct WaitTask(Arc<Control>);

impl Task for WaitTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        let control = &self.0;
        let guard = control.finished.lock().unwrap_or_else(|p| p.into_inner());
        let guard = control
            .done
            .wait_while(guard, |finished| finished.is_none())
            .unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(Err(message)) => Err(failure(format!("the wasi:http server failed: {message}"))),
            _ => Ok(()),
        }
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

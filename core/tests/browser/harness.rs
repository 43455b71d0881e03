//! The browser-test harness: the whole stack (`spawn_app_with`) serving the built panel,
//! and headless Chromium driven over WebDriver (`fantoccini`) against it.
//!
//! One chromedriver serves the whole test process: started on first use on a free port
//! of 127.0.0.1, in a process group of its own that is killed when the process exits,
//! however it exits (a watching shell notices the end of a pipe from this process). Each test gets
//! its own WebDriver session, hence its own Chromium with a fresh profile, closed when
//! its [`Panel`] is dropped, even by a failing test. At most [`SESSIONS`] run at once.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use promo_testkit::{spawn_app_with, TestApp, TestConfig};
use serde_json::{json, Value};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Browsers at once: each Chromium takes about a core while a page loads, and the
/// machines this runs on have two.
pub const SESSIONS: usize = 2;

/// How long `wait_for` and friends poll before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// The desktop window every session starts with, and the phone the screenshots add.
pub const DESKTOP: (u32, u32) = (1366, 900);
pub const PHONE: (u32, u32) = (390, 844);

/// The password of the users [`Panel::signed_in_as`] creates.
pub const PASSWORD: &str = "a long enough password";

static SESSION_SLOTS: Semaphore = Semaphore::const_new(SESSIONS);

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ has a parent")
        .to_path_buf()
}

/// `admin-ui/dist`, what `infra/scripts/build-ui.sh` builds.
pub fn bundle_dir() -> PathBuf {
    workspace().join("admin-ui").join("dist")
}

/// Where screenshots go: `target/screenshots/` (of `CARGO_TARGET_DIR` when set).
pub fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                workspace().join(dir)
            }
        })
        .unwrap_or_else(|| workspace().join("target"));
    target.join("screenshots")
}

fn require_bundle() -> PathBuf {
    let dir = bundle_dir();
    for file in [
        "index.html",
        "pkg/promo_admin_ui.js",
        "pkg/promo_admin_ui_bg.wasm",
    ] {
        if !dir.join(file).is_file() {
            panic!(
                "the panel bundle is not built ({} is missing): run infra/scripts/build-ui.sh \
                 (infra/scripts/test.sh does before the tests)",
                dir.join(file).display()
            );
        }
    }
    dir
}

// ------------------------------------------------------------------ chromedriver

struct Driver {
    port: u16,
}

static DRIVER: OnceLock<Result<Driver, String>> = OnceLock::new();
static DRIVER_GROUP: OnceLock<libc::pid_t> = OnceLock::new();
static WATCH: OnceLock<Mutex<std::process::Child>> = OnceLock::new();

/// Kills chromedriver's process group, and so any Chromium it started that is still
/// there, as soon as the test process exits normally (libtest returns from `main` or
/// calls `exit`; statics are never dropped, so a `Drop` would not run). The watching
/// shell would do it too, a moment later.
extern "C" fn kill_driver_group() {
    if let Some(group) = DRIVER_GROUP.get() {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
        unsafe {
            libc::kill(-*group, libc::SIGKILL);
        }
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// The Chromium binary itself: Debian's `/usr/bin/chromium` is a shell wrapper that
/// reads settings files, which a test run does not need.
fn chromium_binary() -> Result<PathBuf, String> {
    if let Some(binary) = std::env::var_os("CHROMIUM_BINARY") {
        return Ok(PathBuf::from(binary));
    }
    let real = Path::new("/usr/lib/chromium/chromium");
    if real.is_file() {
        return Ok(real.to_path_buf());
    }
    find_program(&["chromium", "chromium-browser", "google-chrome"]).ok_or_else(|| {
        "Chromium is not installed: apt-get install chromium chromium-driver \
         (infra/scripts/test.sh installs them)"
            .to_owned()
    })
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

fn start_driver() -> Result<Driver, String> {
    let program = find_program(&["chromedriver"]).ok_or_else(|| {
        "chromedriver is not installed: apt-get install chromium chromium-driver \
         (infra/scripts/test.sh installs them)"
            .to_owned()
    })?;
    chromium_binary()?;
    let port = free_port()?;
    let log = screenshots_dir().with_file_name("chromedriver.log");
    let _ = std::fs::create_dir_all(log.parent().unwrap_or(Path::new(".")));
    // chromedriver runs under a small shell in a process group of its own, with every
    // Chromium it starts. The shell waits on a pipe from this process: when this
    // process ends, however it ends (even SIGKILL, when no exit hook runs), the pipe
    // closes and the shell kills the whole group, so no browser outlives the tests.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(
            "\"$1\" --port=\"$2\" --log-path=\"$3\" --log-level=WARNING \
             </dev/null >/dev/null 2>&1 &\n\
             read -r _ || true\n\
             kill -9 0",
        )
        .arg("chromedriver-watch")
        .arg(&program)
        .arg(port.to_string())
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec only setpgid, which is async-signal-safe.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            libc::setpgid(0, 0);
            Ok(())
        });
    }
    let watch = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let pid = watch.id();
    // Kept for the life of the process, and with it the pipe's write end (opened
    // close-on-exec, so no other child holds it).
    let _ = WATCH.set(Mutex::new(watch));
    let group = libc::pid_t::try_from(pid).map_err(|_| "pid out of range".to_owned())?;
    let _ = DRIVER_GROUP.set(group);
    // SAFETY: registers a plain `extern "C" fn()`.
    unsafe {
        libc::atexit(kill_driver_group);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok((200, body)) = http_call(port, "GET", "/status", None) {
            if body.contains("\"ready\":true") {
                return Ok(Driver { port });
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "chromedriver did not answer on 127.0.0.1:{port} within 10 s (log: {})",
        log.display()
    ))
}

fn driver() -> &'static Driver {
    match DRIVER.get_or_init(start_driver) {
        Ok(driver) => driver,
        Err(problem) => panic!("{problem}"),
    }
}

/// One blocking HTTP/1.1 call to chromedriver, for where no runtime can be relied on
/// (a `Drop` during a panic) or none exists yet.
fn http_call(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    // chromedriver answers `Connection: close` but keeps the socket open: read the
    // headers, then exactly Content-Length bytes, instead of waiting for the end.
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut wanted: Option<usize> = None;
    loop {
        if let Some(total) = wanted {
            if raw.len() >= total {
                break;
            }
        }
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..read]);
        if wanted.is_none() {
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|value| value.trim().parse::<usize>().ok());
                wanted = length.map(|length| end + 4 + length);
            }
        }
    }
    let answer = String::from_utf8_lossy(&raw).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

// ------------------------------------------------------------------ the browser log

/// chromedriver's log endpoint (not in the W3C protocol, so not in fantoccini): every
/// entry of `kind` since the last read.
#[derive(Debug)]
struct ReadLog(&'static str);

impl WebDriverCompatibleCommand for ReadLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": self.0}).to_string()),
        )
    }
}

/// One entry of the browser's console log.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`, `DEBUG`.
    pub level: String,
    /// `console-api`, `javascript` (an uncaught error), `network` (a failed request)…
    pub source: String,
    pub message: String,
}

/// The panel asks `GET /api/auth/session` at start to learn whether anyone is signed
/// in; the 401 that says "no one" is the answer, not a failure, but Chromium logs every
/// 4xx of a fetch as a network error.
fn is_signed_out_probe(entry: &LogEntry) -> bool {
    entry.source == "network"
        && entry.message.contains("/api/auth/session ")
        && entry.message.contains("status of 401")
}

// ------------------------------------------------------------------ the panel

/// The stack and one browser on it. Dropping it ends the browser session.
pub struct Panel {
    pub app: TestApp,
    pub browser: Client,
    base: String,
    session_id: String,
    profile: PathBuf,
    log: Mutex<Vec<LogEntry>>,
    _slot: SemaphorePermit<'static>,
}

impl Panel {
    /// Starts the stack of `config` serving the built panel, and a browser.
    pub async fn start(config: TestConfig) -> Panel {
        let dir = require_bundle();
        let app = spawn_app_with(config.with("PANEL_DIR", &dir.display().to_string()))
            .await
            .expect("the stack starts");
        let base = format!("http://{}", app.address);
        let driver = driver();
        let slot = SESSION_SLOTS
            .acquire()
            .await
            .expect("semaphore never closed");
        let profile = std::env::temp_dir().join(format!("promo-chromium-{}", uuid::Uuid::new_v4()));
        let binary = chromium_binary().unwrap_or_else(|problem| panic!("{problem}"));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--no-default-browser-check",
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let started = Instant::now();
        let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium ({binary:?}): {e}"));
        let session_id = browser
            .session_id()
            .await
            .ok()
            .flatten()
            .expect("a WebDriver session id");
        let panel = Panel {
            app,
            browser,
            base,
            session_id,
            profile,
            log: Mutex::new(Vec::new()),
            _slot: slot,
        };
        panel.resize(DESKTOP).await;
        tracing::debug!(elapsed = ?started.elapsed(), "browser session ready");
        panel
    }

    /// The stack's address, for a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Opens `path` of the panel (`/`, `/users/5`).
    pub async fn goto(&self, path: &str) {
        let url = self.url(path);
        self.browser
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// The first element matching `css`, once there is one; fails after [`WAIT`] with the
    /// page's text and a screenshot.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.poll(&format!("an element `{css}`"), || async {
            self.browser.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// The first element matching `css` whose text contains `needle`, once there is one.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> Element {
        self.poll(
            &format!("an element `{css}` with the text {needle:?}"),
            || async {
                let elements = self.browser.find_all(Locator::Css(css)).await.ok()?;
                for element in elements {
                    if element.text().await.is_ok_and(|text| text.contains(needle)) {
                        return Some(element);
                    }
                }
                None
            },
        )
        .await
    }

    /// Waits until no element matches `css` (a form that goes away, a spinner).
    pub async fn wait_for_none(&self, css: &str) {
        self.poll(&format!("no element `{css}`"), || async {
            match self.browser.find_all(Locator::Css(css)).await {
                Ok(found) if found.is_empty() => Some(()),
                _ => None,
            }
        })
        .await
    }

    /// Clicks the first element matching `css` once it is there.
    pub async fn click(&self, css: &str) {
        let element = self.wait_for(css).await;
        if let Err(e) = element.click().await {
            self.fail(&format!("cannot click `{css}`: {e}")).await;
        }
    }

    /// Replaces the value of the input matching `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.wait_for(css).await;
        if let Err(e) = element.clear().await {
            self.fail(&format!("cannot clear `{css}`: {e}")).await;
        }
        if let Err(e) = element.send_keys(text).await {
            self.fail(&format!("cannot type into `{css}`: {e}")).await;
        }
    }

    /// Sets an input's value the way typing does, for inputs WebDriver cannot type
    /// into portably (`datetime-local`).
    pub async fn set_value(&self, css: &str, value: &str) {
        self.dispatch_value(css, value, "input").await;
    }

    /// Picks `value` in the `<select>` matching `css`, as a click on the option does.
    pub async fn choose(&self, css: &str, value: &str) {
        self.dispatch_value(css, value, "change").await;
    }

    async fn dispatch_value(&self, css: &str, value: &str, event: &str) {
        self.wait_for(css).await;
        if let Err(e) = self
            .browser
            .execute(
                "const el = document.querySelector(arguments[0]); el.value = arguments[1];
                 el.dispatchEvent(new Event(arguments[2], {bubbles: true}));",
                vec![css.into(), value.into(), event.into()],
            )
            .await
        {
            self.fail(&format!("cannot set `{css}` to {value:?}: {e}"))
                .await;
        }
    }

    /// The text of the first element matching `css`, once there is one.
    pub async fn text(&self, css: &str) -> String {
        let element = self.wait_for(css).await;
        match element.text().await {
            Ok(text) => text,
            Err(e) => {
                self.fail(&format!("cannot read the text of `{css}`: {e}"))
                    .await
            }
        }
    }

    /// Signs in through the login form (`#login`, `#password`, `#login-submit`) and
    /// waits for the form to go away.
    pub async fn login(&self, login: &str, password: &str) {
        self.fill("#login", login).await;
        self.fill("#password", password).await;
        self.click("#login-submit").await;
        self.wait_for_none("#login-submit").await;
    }

    /// Creates a panel user with `role` (`owner`, `manager`, `viewer`) and signs in as
    /// them through the form at `/`; returns the login.
    pub async fn signed_in_as(&self, role: &str) -> String {
        let login = format!("{role}-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        promo_core::admin::create_admin_user(
            &self.app.app.pool,
            self.app.app.bot_id,
            &login,
            PASSWORD,
            role,
            None,
            false,
        )
        .await
        .expect("panel user");
        self.goto("/").await;
        self.login(&login, PASSWORD).await;
        login
    }

    /// Saves `target/screenshots/<name>-desktop.png` and, at phone width,
    /// `<name>-phone.png`; the window is desktop-sized again afterwards.
    pub async fn screenshot(&self, name: &str) {
        self.save_screenshot(&format!("{name}-desktop")).await;
        self.resize(PHONE).await;
        // Time for the layout to settle at the new width before the picture: the phone
        // layout slides the navigation away (a 0.2 s transition).
        tokio::time::sleep(Duration::from_millis(350)).await;
        let _ = self
            .browser
            .execute_async(
                "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(done));",
                vec![],
            )
            .await;
        self.save_screenshot(&format!("{name}-phone")).await;
        self.resize(DESKTOP).await;
    }

    /// Every console entry since the session started (chromedriver hands each out once,
    /// so they are kept here).
    pub async fn console_log(&self) -> Vec<LogEntry> {
        let fresh = match self.browser.issue_cmd(ReadLog("browser")).await {
            Ok(Value::Array(entries)) => entries,
            Ok(other) => panic!("unexpected browser log: {other}"),
            Err(e) => panic!("cannot read the browser log: {e}"),
        };
        let mut log = self.log.lock().expect("log lock");
        log.extend(fresh.iter().map(|entry| LogEntry {
            level: entry["level"].as_str().unwrap_or_default().to_owned(),
            source: entry["source"].as_str().unwrap_or_default().to_owned(),
            message: entry["message"].as_str().unwrap_or_default().to_owned(),
        }));
        log.clone()
    }

    /// The console entries of level `SEVERE`: uncaught errors, `console.error`, failed
    /// requests.
    pub async fn console_errors(&self) -> Vec<LogEntry> {
        self.console_log()
            .await
            .into_iter()
            .filter(|entry| entry.level == "SEVERE" && !is_signed_out_probe(entry))
            .collect()
    }

    /// Fails the test when the console has an error.
    pub async fn assert_no_console_errors(&self) {
        self.assert_no_console_errors_except(&[]).await;
    }

    /// [`Panel::assert_no_console_errors`], but a failed request whose log line
    /// contains one of `allowed` (a refusal the test provokes on purpose) is no error.
    pub async fn assert_no_console_errors_except(&self, allowed: &[&str]) {
        let errors: Vec<LogEntry> = self
            .console_errors()
            .await
            .into_iter()
            .filter(|e| !(e.source == "network" && allowed.iter().any(|a| e.message.contains(a))))
            .collect();
        if !errors.is_empty() {
            let listed: Vec<String> = errors
                .iter()
                .map(|e| format!("  [{}] {}", e.source, e.message))
                .collect();
            self.fail(&format!(
                "the browser console has {} error(s):\n{}",
                errors.len(),
                listed.join("\n")
            ))
            .await;
        }
    }

    /// Makes the page's viewport `width` x `height`. WebDriver sizes the outer window,
    /// which in headless Chromium is taller than the viewport (1366x900 gave a 757 px
    /// high page), so the difference is measured and added.
    async fn resize(&self, (width, height): (u32, u32)) {
        let mut outer = (width, height);
        for _ in 0..3 {
            if let Err(e) = self.browser.set_window_size(outer.0, outer.1).await {
                panic!("cannot resize the window to {}x{}: {e}", outer.0, outer.1);
            }
            let inner = self
                .browser
                .execute("return [window.innerWidth, window.innerHeight]", vec![])
                .await
                .ok()
                .and_then(|v| {
                    let size = v.as_array()?;
                    Some((size.first()?.as_u64()?, size.get(1)?.as_u64()?))
                });
            let Some((inner_width, inner_height)) = inner else {
                return;
            };
            if (inner_width, inner_height) == (u64::from(width), u64::from(height)) {
                return;
            }
            let grow = |outer: u32, want: u32, got: u64| {
                u32::try_from(i64::from(outer) + i64::from(want) - i64::try_from(got).unwrap_or(0))
                    .unwrap_or(outer)
            };
            outer = (
                grow(outer.0, width, inner_width),
                grow(outer.1, height, inner_height),
            );
        }
    }

    async fn save_screenshot(&self, file: &str) -> PathBuf {
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let path = dir.join(format!("{file}.png"));
        let png = self
            .browser
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("cannot take a screenshot: {e}"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }

    async fn poll<T, F, Fut>(&self, what: &str, mut attempt: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = attempt().await {
                return found;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("waited {WAIT:?} for {what}")).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fails the test with `problem`, the page's address and text, the console's
    /// errors, and a screenshot of the page saved to look at.
    pub async fn fail(&self, problem: &str) -> ! {
        let url = self
            .browser
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_else(|e| format!("(unknown: {e})"));
        let text = self
            .browser
            .execute(
                "return document.body ? document.body.innerText : ''",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let name = format!(
            "failed-{}-{}",
            std::thread::current()
                .name()
                .unwrap_or("test")
                .rsplit("::")
                .next()
                .unwrap_or("test"),
            std::process::id()
        );
        let shot = self.save_screenshot(&name).await;
        let errors: Vec<String> = match self.browser.issue_cmd(ReadLog("browser")).await {
            Ok(Value::Array(entries)) => entries
                .iter()
                .filter(|e| e["level"] == "SEVERE")
                .map(|e| format!("  {}", e["message"].as_str().unwrap_or_default()))
                .collect(),
            _ => Vec::new(),
        };
        panic!(
            "{problem}\n  page: {url}\n  screenshot: {}\n  console errors: {}\n--- page text ---\n{text}\n---",
            shot.display(),
            if errors.is_empty() {
                "none".to_owned()
            } else {
                format!("\n{}", errors.join("\n"))
            }
        );
    }
}

impl Drop for Panel {
    fn drop(&mut self) {
        // Synchronously, since a failing test's runtime may be gone before an async close
        // would run: DELETE ends the session and its Chromium.
        let path = format!("/session/{}", self.session_id);
        if let Some(Ok(driver)) = DRIVER.get() {
            let _ = http_call(driver.port, "DELETE", &path, None);
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

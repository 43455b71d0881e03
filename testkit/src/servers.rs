//! Private Postgres and Redis servers on spare ports, for fault tests that stop, kill or
//! restart a server: the shared servers on 5432 and 6379 are never touched.
//!
//! Each server keeps its data in a fresh directory under the system temp dir, removed
//! when the value is dropped (the process is killed first). Postgres refuses to run as
//! root, so under root its commands run as the `postgres` user through `runuser`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

/// A port nobody listens on right now (the OS picks it; a race with another process
/// taking it before the server binds is possible but rare, and fails loudly).
pub fn spare_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a spare port")?;
    Ok(listener.local_addr()?.port())
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn postgres_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("PROMO_TEST_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .context("looking for Postgres binaries in /usr/lib/postgresql (set PROMO_TEST_PG_BIN)")?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("postgres").exists())
        .collect();
    found.sort();
    found
        .pop()
        .context("no Postgres server binaries under /usr/lib/postgresql")
}

/// A command that runs as the `postgres` user when we are root.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.arg("-u").arg("postgres").arg("--").arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn scratch_dir(kind: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("promo-{kind}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

async fn wait_for_port(port: u16, what: &str, timeout: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("{what} did not start listening on 127.0.0.1:{port} within {timeout:?}")
}

/// A Postgres server of our own: trust auth for `postgres`, listening on 127.0.0.1 only.
pub struct PostgresServer {
    port: u16,
    data_dir: PathBuf,
    bin: PathBuf,
    child: Option<Child>,
}

impl PostgresServer {
    /// Creates a cluster (initdb, about a second) and starts it.
    pub async fn start() -> anyhow::Result<Self> {
        let bin = postgres_bin_dir()?;
        let data_dir = scratch_dir("pg")?;
        if is_root() {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&data_dir)
                .status()
                .await?;
            anyhow::ensure!(status.success(), "chown of the Postgres data dir failed");
        }
        let output = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data_dir)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
            .stdin(Stdio::null())
            .output()
            .await
            .context("running initdb")?;
        anyhow::ensure!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut server = PostgresServer {
            port: spare_port()?,
            data_dir,
            bin,
            child: None,
        };
        server.start_again().await?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Server URL without a database name.
    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Creates a database with the product schema applied and returns its URL.
    pub async fn migrated_database(&self) -> anyhow::Result<String> {
        crate::db::migrated_database_on(&self.server_url()).await
    }

    /// Starts the server again on the same port and data (after [`Self::stop`] or
    /// [`Self::kill`]); returns once it accepts connections.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.child.is_none(),
            "the Postgres server is already running"
        );
        let child = as_postgres(&self.bin.join("postgres"))
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.data_dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting postgres")?;
        self.child = Some(child);
        wait_for_port(self.port, "postgres", Duration::from_secs(20)).await?;
        // Listening is not yet accepting queries (recovery after a kill): wait for that.
        let started = Instant::now();
        let url = format!("{}/postgres", self.server_url());
        loop {
            match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                Ok(_) => return Ok(()),
                Err(_) if started.elapsed() < Duration::from_secs(20) => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(e) => return Err(e).context("postgres does not accept connections"),
            }
        }
    }

    /// Stops the server the way a crash or a failover does: SIGQUIT (immediate shutdown,
    /// every connection cut, recovery on the next start).
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.signal("QUIT").await
    }

    /// A clean, fast shutdown (SIGINT: connections are terminated, data is flushed).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.signal("INT").await
    }

    async fn signal(&mut self, signal: &str) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // Under runuser the child is runuser itself; the postmaster's pid is in its file.
        let pid_file = self.data_dir.join("postmaster.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.lines().next().map(str::to_owned));
        match pid {
            Some(pid) => {
                let _ = Command::new("kill")
                    .arg(format!("-{signal}"))
                    .arg(pid.trim())
                    .status()
                    .await;
            }
            None => {
                let _ = child.start_kill();
            }
        }
        tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .context("postgres did not stop within 20 s")??;
        Ok(())
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(self.data_dir.join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next().map(|l| l.trim().to_owned()))
        {
            if self.child.is_some() {
                let _ = std::process::Command::new("kill")
                    .arg("-QUIT")
                    .arg(pid)
                    .status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A Redis server of our own, keeping nothing on disk.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    pub async fn start() -> anyhow::Result<Self> {
        let mut server = RedisServer {
            port: spare_port()?,
            dir: scratch_dir("redis")?,
            child: None,
        };
        server.start_again().await?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port (empty: Redis here keeps nothing on disk).
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "the Redis server is already running");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting redis-server")?;
        self.child = Some(child);
        wait_for_port(self.port, "redis-server", Duration::from_secs(10)).await
    }

    /// SIGSTOP: connections stay open and nothing is answered, as when the node hangs
    /// or the network path drops packets. [`Self::resume`] lets it go on.
    pub async fn pause(&mut self) -> anyhow::Result<()> {
        self.signal("STOP").await
    }

    /// SIGCONT after [`Self::pause`].
    pub async fn resume(&mut self) -> anyhow::Result<()> {
        self.signal("CONT").await
    }

    async fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self
            .child
            .as_ref()
            .and_then(Child::id)
            .context("the Redis server is not running")?;
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .await?;
        anyhow::ensure!(status.success(), "kill -{signal} {pid} failed");
        Ok(())
    }

    /// SIGKILL: every connection drops at once, as when the node dies.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await.context("killing redis-server")?;
        }
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

//! Headless-browser tests: runs a script of `tests/browser/` with Node.js (playwright-core
//! driving Debian's chromium, see tests/browser/lib.mjs) against a running zvonar, and
//! returns what it printed on its `RESULT` line. Screenshots go to
//! `target/browser-artifacts/<test>/` so a person can look at them after `cargo test`.

use super::{root, Zvonar};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The dialplan of the console's softphone tests: every number to the queue `operators`
/// (ring-all, 5 s wrap-up), which overflows to the dispatcher robot.
pub const QUEUE_DIALPLAN: &str = r#"
[[route]]
number = "*"
flow = "operators"

[flow.dispatcher]
kind = "dispatcher_robot"
company = "управляющую компанию «Наш дом»"
operator_flow = "operators"

[[queue]]
name = "operators"
strategy = "ring_all"
max_wait_s = 120
wrap_up_s = 5
ring_timeout_s = 60
announce_every_s = 120
overflow = "dispatcher"

[flow.operators]
kind = "queue"
queue = "operators"
"#;

/// Where a browser test's screenshots go: `target/browser-artifacts/<test>/`.
pub fn artifacts_dir_path(test: &str) -> PathBuf {
    root().join("target/browser-artifacts").join(test)
}

/// [`artifacts_dir_path`], emptied and created.
pub fn artifacts_dir(test: &str) -> PathBuf {
    let dir = artifacts_dir_path(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// Runs `node tests/browser/<script>` with `ZVONAR_URL`, `ZVONAR_TOKEN`, `ZVONAR_ARTIFACTS`
/// and `env`; panics with its output unless it exits 0 with a `RESULT <json>` line, which is
/// returned parsed.
pub fn run_script(z: &Zvonar, script: &str, test: &str, env: &[(&str, &str)]) -> serde_json::Value {
    assert!(
        root().join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run deploy/install-deps.sh (it runs deploy/install-npm.sh)"
    );
    let artifacts = artifacts_dir(test);
    let out = Command::new("node")
        .arg(root().join("tests/browser").join(script))
        .current_dir(root())
        .env("ZVONAR_URL", format!("http://127.0.0.1:{}", z.http_port))
        .env("ZVONAR_TOKEN", &z.token)
        .env("ZVONAR_ARTIFACTS", &artifacts)
        .envs(env.iter().copied())
        .output()
        .expect("node (install Node.js ≥ 20: deploy/install-deps.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let result = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).expect("RESULT json"));
    match (out.status.success(), result) {
        (true, Some(r)) => r,
        _ => panic!(
            "browser script {script} failed ({}); screenshots in {}\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log tail:\n{}",
            out.status,
            artifacts.display(),
            z.log().lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
        ),
    }
}

/// A browser script that runs while the test goes on: it prints lines the test waits for
/// (`READY` once the console takes calls, `RINGING`…) and at the end `RESULT <json>`. Its
/// stdout lines are handed over as they come, its stderr is kept for the failure message.
/// Killed when dropped (the browser it started exits with it, except after `SIGKILL` of
/// node alone: see [`LiveScript::pid`]).
pub struct LiveScript {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
    /// Lines printed that were not the ones waited for, shown when the script fails.
    other_lines: Vec<String>,
    /// The screenshots' directory, `target/browser-artifacts/<test>/`.
    pub artifacts: PathBuf,
}

impl LiveScript {
    /// Starts `node tests/browser/<script>` against the console at `url` (`ZVONAR_URL`), with
    /// `CHROMIUM_ARGS` made of `chromium_args` and the variables `env`; screenshots go to
    /// [`artifacts_dir`]`(test)`. Panics when the npm dependencies or node are missing.
    pub fn start(
        script: &str,
        test: &str,
        url: &str,
        chromium_args: &[String],
        env: &[(&str, &str)],
    ) -> LiveScript {
        let root = root();
        assert!(
            root.join("node_modules/playwright-core").is_dir()
                && root.join("web/console/vendor/jssip.min.js").is_file(),
            "npm dependencies missing: run deploy/install-npm.sh (playwright-core, JsSIP bundle)"
        );
        let artifacts = artifacts_dir(test);
        let mut child = Command::new("node")
            .arg(root.join("tests/browser").join(script))
            .current_dir(&root)
            .env("ZVONAR_URL", url)
            .env("ZVONAR_ARTIFACTS", &artifacts)
            .env("CHROMIUM_ARGS", chromium_args.join(" "))
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node (install Node.js ≥ 20: deploy/install-deps.sh)");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let stderr = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                s.push_str(&l);
                s.push('\n');
            }
            s
        });
        LiveScript {
            child,
            lines,
            stderr: Some(stderr),
            other_lines: Vec::new(),
            artifacts,
        }
    }

    /// node's process id; the browser runs as its children.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the line `what`. Errors (the script is then killed): it
    /// ended first or the time ran out; the message holds its other lines and its stderr.
    pub fn wait_line(&mut self, what: &str, timeout: Duration) -> Result<(), String> {
        let until = Instant::now() + timeout;
        loop {
            match self
                .lines
                .recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                Ok(l) if l == what => return Ok(()),
                Ok(l) => self.other_lines.push(l),
                Err(e) => return Err(self.failure(&format!("no {what} line ({e:?})"))),
            }
        }
    }

    /// Waits up to `timeout` for `RESULT <json>` and then for the script to exit: the JSON
    /// when it printed one and exited 0; else an error as [`LiveScript::wait_line`]'s.
    pub fn result(&mut self, timeout: Duration) -> Result<serde_json::Value, String> {
        let until = Instant::now() + timeout;
        let json = loop {
            match self
                .lines
                .recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                Ok(l) => match l.strip_prefix("RESULT ") {
                    Some(j) => break serde_json::from_str(j).expect("RESULT json"),
                    None => self.other_lines.push(l),
                },
                Err(e) => return Err(self.failure(&format!("no RESULT line ({e:?})"))),
            }
        };
        match self.child.wait() {
            Ok(status) if status.success() => Ok(json),
            status => Err(self.failure(&format!("exited {status:?} after its RESULT"))),
        }
    }

    /// Kills node (only node: its browser goes with it when node ends normally).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn failure(&mut self, what: &str) -> String {
        self.kill();
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        format!(
            "browser script: {what}; screenshots in {}\nstdout:\n{}\nstderr:\n{stderr}",
            self.artifacts.display(),
            self.other_lines.join("\n")
        )
    }
}

impl Drop for LiveScript {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Zvonar {
    /// Creates a console user with the real `zvonar user add` (password on stdin);
    /// `extra`: more arguments (`--must-change`, `--topics`, …). Panics on failure.
    pub fn add_user(&self, login: &str, role: &str, password: &str, extra: &[&str]) {
        let mut args = vec!["user", "add", "--login", login, "--role", role];
        args.extend_from_slice(extra);
        let (ok, out) = self.cli(&args, &format!("{password}\n"));
        assert!(ok, "user add {login}: {out}");
    }
}

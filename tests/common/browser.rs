//! Headless-browser tests: runs a script of `tests/browser/` with Node.js (playwright-core
//! driving Debian's chromium, see tests/browser/lib.mjs) against a running zvonar, and
//! returns what it printed on its `RESULT` line. Screenshots go to
//! `target/browser-artifacts/<test>/` so a person can look at them after `cargo test`.

use super::{root, Zvonar};
use std::path::PathBuf;
use std::process::Command;

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

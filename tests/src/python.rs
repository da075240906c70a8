//! The Python tools of `tests/python/`: the FHIR R4 validator (`validate_fhir.py`, on the
//! `fhir.resources` models). They run in a virtual environment, `tests/python/.venv`, holding
//! the pinned `requirements.txt`; `cargo xtask setup` makes it, and so does the first test
//! that needs it when setup has not (as the Node tools' `npm ci`).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

fn python_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// A copy of the requirements the virtual environment was made from: it is current when this
/// equals `requirements.txt` (`cargo xtask setup` writes the same file).
const INSTALLED: &str = "requirements.installed";

/// The virtual environment's Python, made or brought up to date first if need be.
pub async fn venv_python() -> Result<PathBuf> {
    static INSTALL: Mutex<()> = Mutex::const_new(());
    let _guard = INSTALL.lock().await;
    let dir = python_dir();
    let venv = dir.join(".venv");
    let python = venv.join("bin").join("python");
    let wanted =
        std::fs::read(dir.join("requirements.txt")).context("tests/python/requirements.txt")?;
    if python.is_file() && std::fs::read(venv.join(INSTALLED)).ok().as_ref() == Some(&wanted) {
        return Ok(python);
    }
    if !python.is_file() {
        run(tokio::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv))
        .await?;
    }
    run(tokio::process::Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(dir.join("requirements.txt")))
    .await?;
    std::fs::write(venv.join(INSTALLED), wanted)?;
    Ok(python)
}

async fn run(cmd: &mut tokio::process::Command) -> Result<()> {
    let status = cmd
        .status()
        .await
        .with_context(|| format!("running {cmd:?} (Python 3 with venv is needed)"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Validates a FHIR R4 Bundle with `tests/python/validate_fhir.py`: every resource against
/// the R4 models, unique fullUrls, no reference to a missing entry. Returns the Bundle as the
/// validator read it back; an invalid one is an error with the validator's reasons.
pub async fn validate_fhir(json: &[u8]) -> Result<serde_json::Value> {
    let python = venv_python().await?;
    let mut child = tokio::process::Command::new(&python)
        .arg(python_dir().join("validate_fhir.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("running {}", Path::new(&python).display()))?;
    let mut stdin = child.stdin.take().context("validator's stdin")?;
    stdin.write_all(json).await?;
    drop(stdin);
    let out = child.wait_with_output().await?;
    if !out.status.success() {
        bail!(
            "the FHIR validator refused the Bundle: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

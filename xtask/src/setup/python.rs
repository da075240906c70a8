//! The Python packages of `tests/python/` (the FHIR R4 validator, `fhir.resources`) in a
//! virtual environment, `tests/python/.venv`, from the pinned `requirements.txt`. The tests
//! find its Python there (`tests/src/python.rs`, which makes it too when this has not run).

use crate::util::{root, run_cmd};
use anyhow::{Context, Result};
use std::fs;
use std::process::Command;

/// A copy of the requirements the environment was made from (the tests read the same file):
/// the environment is current when it equals `requirements.txt`.
const INSTALLED: &str = "requirements.installed";

pub fn ensure_python_packages() -> Result<()> {
    let dir = root().join("tests").join("python");
    let requirements = dir.join("requirements.txt");
    let venv = dir.join(".venv");
    let python = venv.join("bin").join("python");
    let wanted = fs::read(&requirements).context("reading tests/python/requirements.txt")?;
    if python.is_file() && fs::read(venv.join(INSTALLED)).ok().as_ref() == Some(&wanted) {
        println!("tests/python/.venv: up to date");
        return Ok(());
    }
    if !python.is_file() {
        run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&venv)).context(
            "Python 3 with its venv module is needed for the FHIR validation test \
             (Debian: `apt-get install python3-venv`)",
        )?;
    }
    run_cmd(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
    )?;
    fs::write(venv.join(INSTALLED), wanted)?;
    Ok(())
}

//! The canary check, after every suite has run: no server log of the whole test run holds
//! the planted patient's name, the demo password, or any token or TOTP secret the tests were
//! handed. The test harness (tests/src/logs.rs) writes the logs (`*.log`) and the lists of
//! what must not be in them (`*.needles`) into one directory, which `test` empties first.

use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A line like these shows that the logs saw HTTP requests and WebSocket connections, so a
/// leak on those paths would have been written where this check reads.
const HTTP_ACTIVITY: &str = "started processing request";
const WS_ACTIVITY: &str = "ws{";

/// Needles made only of these characters are matched as whole words (fast, for thousands of
/// tokens); others (the patient's name, the password) as substrings.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

pub fn check(dir: &Path) -> Result<()> {
    let mut logs = Vec::new();
    let mut needle_files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("log") => logs.push(path),
            Some("needles") => needle_files.push(path),
            _ => {}
        }
    }
    logs.sort();
    if logs.is_empty() || needle_files.is_empty() {
        bail!(
            "no server logs in {} (the test harness writes them; did the suites run?)",
            dir.display()
        );
    }

    let mut words = HashSet::new();
    let mut substrings = HashSet::new();
    for file in &needle_files {
        let text = std::fs::read_to_string(file)?;
        if text.trim().is_empty() {
            bail!("{} lists nothing to look for", file.display());
        }
        for needle in text.lines().filter(|l| !l.is_empty()) {
            if needle.chars().all(is_word_char) {
                words.insert(needle.to_owned());
            } else {
                substrings.insert(needle.to_owned());
            }
        }
    }

    let (mut http_seen, mut ws_seen, mut bytes) = (false, false, 0u64);
    let mut leaks = Vec::new();
    for log in &logs {
        let text = std::fs::read(log)?;
        if text.is_empty() {
            bail!(
                "{} is empty: the server's logging did not reach it",
                log.display()
            );
        }
        bytes += text.len() as u64;
        let text = String::from_utf8_lossy(&text);
        for (n, line) in text.lines().enumerate() {
            http_seen |= line.contains(HTTP_ACTIVITY);
            ws_seen |= line.contains(WS_ACTIVITY);
            let found = line
                .split(|c: char| !is_word_char(c))
                .find(|w| words.contains(*w))
                .map(str::to_owned)
                .or_else(|| substrings.iter().find(|s| line.contains(*s)).cloned());
            if let Some(needle) = found {
                leaks.push(format!(
                    "{}:{}: {}",
                    log.display(),
                    n + 1,
                    describe(&needle)
                ));
            }
        }
    }
    if !http_seen || !ws_seen {
        bail!(
            "the logs hold no {} activity, so they prove nothing (is the filter too strict?)",
            if http_seen { "WebSocket" } else { "HTTP" }
        );
    }
    if !leaks.is_empty() {
        for leak in leaks.iter().take(50) {
            eprintln!("  leak: {leak}");
        }
        bail!(
            "{} log line(s) hold a secret or the canary patient's name; first: {}",
            leaks.len(),
            leaks[0]
        );
    }
    println!(
        "canary: {} log files ({} KB), {} secrets and names looked for: none found",
        logs.len(),
        bytes / 1024,
        words.len() + substrings.len()
    );
    Ok(())
}

/// Names what leaked without printing a whole secret again.
fn describe(needle: &str) -> String {
    if needle.chars().all(is_word_char) && needle.len() > 8 {
        format!("a recorded secret ({}…)", &needle[..6])
    } else {
        format!("{needle:?}")
    }
}

/// Where the harness writes the logs for this run.
pub fn log_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("renraku-test-logs")
}

/// Empties the directory, so only this run's logs are checked.
pub fn reset(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log directory as the harness writes it: one log with HTTP and WebSocket activity
    /// plus `extra`, and the needles it must not hold.
    fn planted(name: &str, extra: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("renraku-canary-{name}-{}", std::process::id()));
        reset(&dir).unwrap();
        let log = format!(
            "DEBUG http{{method=GET path=/api/rooms}}: started processing request\n\
             DEBUG ws{{user=3}}: frame in\n{extra}\n"
        );
        std::fs::write(dir.join("suite.sqlite.log"), log).unwrap();
        std::fs::write(
            dir.join("suite.needles"),
            "747927cf87e75d5a8d85072d05d6dd14\n金糸雀カナリア太郎\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn a_clean_log_passes() {
        let dir = planted("clean", "INFO room opened room=7");
        check(&dir).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_token_or_the_patient_name_in_a_log_fails_the_run() {
        for (case, line) in [
            (
                "token",
                "DEBUG cookie renraku_session=747927cf87e75d5a8d85072d05d6dd14; Path=/",
            ),
            ("name", "INFO patient name=\"金糸雀カナリア太郎\""),
        ] {
            let dir = planted(case, line);
            let err = check(&dir).expect_err(case).to_string();
            assert!(err.contains("suite.sqlite.log:3"), "{case}: {err}");
            assert!(
                !err.contains("747927cf87e75d5a"),
                "{case}: the report repeats the secret"
            );
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn logs_without_activity_prove_nothing() {
        let dir = planted("quiet", "");
        std::fs::write(dir.join("suite.sqlite.log"), "INFO started\n").unwrap();
        assert!(check(&dir).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}

//! `renraku backup` / `renraku restore` against the real binary: a backup taken while the
//! server runs restores every acknowledged post, with the same logical checksum; a tampered
//! backup is refused and changes nothing. On PostgreSQL both commands refuse with guidance.

use renraku_sync::PostId;
use renraku_tests::helpers::copy_dir;
use renraku_tests::process::ServerProcess;
use renraku_tests::sync_client::SyncClient;
use renraku_tests::{demo_args, signin_at, storage_args, team_at, Backend, TestStorage};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::BIN;

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs a one-shot CLI command of the test binary on `storage`.
async fn cli(storage: &TestStorage, args: &[&str]) -> Run {
    let output = tokio::process::Command::new(BIN)
        .args(args)
        .args(storage_args(storage))
        .env("RUST_LOG", "warn")
        // Keeps refusals short and readable in failure messages.
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .await
        .expect("running the server binary");
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The value after `label` on a line of `text`.
fn field(text: &str, label: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(label).map(|v| v.trim().to_owned()))
}

/// Every file under `dir` with its bytes: "untouched" means this map is unchanged.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// SQLite only: `renraku backup` is SQLite's (on PostgreSQL it refuses, see
/// `refuses_postgres_with_guidance`).
#[tokio::test]
async fn backup_while_running_then_restore_into_a_wiped_data_dir() {
    let storage = TestStorage::on(Backend::Sqlite).await;
    let data_dir = storage.dir.path().to_path_buf();
    let backups = tempfile::tempdir().unwrap();
    let backup_dir = backups.path().join("b1");
    // Attachments do not exist yet in the server; one planted file checks they travel along.
    std::fs::create_dir_all(data_dir.join("attachments/2024")).unwrap();
    std::fs::write(data_dir.join("attachments/2024/note.txt"), b"attached").unwrap();

    let server = ServerProcess::spawn(BIN, &demo_args(&storage))
        .await
        .unwrap();
    let t = team_at(&server.base_url, &storage).await;
    let mut a = SyncClient::connect(&server.ws_url(), &t.a.token, 4242)
        .await
        .unwrap();
    a.open(t.room).await.unwrap();
    let mut posts = Vec::new();
    for i in 0..3 {
        let id = PostId::parse(&ulid::Ulid::new().to_string()).unwrap();
        let u = a
            .doc(t.room)
            .start_thread(t.a.id, id.clone(), &format!("バックアップ {i}"), i);
        // `write` waits for `saved`: these posts are committed before the backup starts.
        a.write(t.room, u).await.unwrap();
        posts.push(id);
    }

    // While the server runs (and holds its WAL open).
    let backup_dir_s = backup_dir.display().to_string();
    let run = cli(&storage, &["backup", &backup_dir_s]).await;
    assert!(run.ok, "backup failed: {}{}", run.stdout, run.stderr);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup_dir.join("MANIFEST.json")).unwrap()).unwrap();
    let checksum = manifest["logical_checksum"].as_str().unwrap().to_owned();
    assert_eq!(checksum.len(), 64);
    assert_eq!(
        field(&run.stdout, "logical checksum:").as_deref(),
        Some(checksum.as_str())
    );
    assert!(manifest["schema_version"].as_i64().unwrap() >= 1);
    let paths: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["renraku.db", "attachments/2024/note.txt"]);

    // A second backup into the same, now non-empty, directory is refused.
    let again = cli(&storage, &["backup", &backup_dir_s]).await;
    assert!(
        !again.ok && again.stderr.contains("not empty"),
        "{}",
        again.stderr
    );

    server.kill_9().await.unwrap();
    drop(a);

    // Restoring over live data (a kill -9 leaves a WAL and the demo data) needs --force.
    let before = snapshot(&data_dir);
    let refused = cli(&storage, &["restore", &backup_dir_s]).await;
    assert!(!refused.ok, "restore over existing data must be refused");
    assert_eq!(
        snapshot(&data_dir),
        before,
        "a refused restore changed files"
    );

    // Wipe the data directory's contents.
    for entry in std::fs::read_dir(&data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
    }

    // A tampered copy: one flipped byte in the database file.
    let tampered = backups.path().join("tampered");
    copy_dir(&backup_dir, &tampered);
    let mut bytes = std::fs::read(tampered.join("renraku.db")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(tampered.join("renraku.db"), bytes).unwrap();
    let tampered_s = tampered.display().to_string();
    let refused = cli(&storage, &["restore", &tampered_s, "--force"]).await;
    assert!(!refused.ok, "a tampered backup was restored");
    assert!(
        refused.stderr.contains("does not match MANIFEST.json"),
        "{}",
        refused.stderr
    );
    assert!(
        snapshot(&data_dir).is_empty(),
        "a refused restore left files"
    );

    let run = cli(&storage, &["restore", &backup_dir_s]).await;
    assert!(run.ok, "restore failed: {}{}", run.stdout, run.stderr);
    let from_manifest = field(&run.stdout, "manifest logical checksum:");
    let restored = field(&run.stdout, "restored logical checksum:");
    assert_eq!(from_manifest.as_deref(), Some(checksum.as_str()));
    assert_eq!(
        restored.as_deref(),
        Some(checksum.as_str()),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read(data_dir.join("attachments/2024/note.txt")).unwrap(),
        b"attached"
    );

    let server = ServerProcess::spawn(BIN, &storage_args(&storage))
        .await
        .unwrap();
    let token = signin_at(&server.base_url, &t.a.login).await;
    let mut fresh = SyncClient::connect(&server.ws_url(), &token, 4343)
        .await
        .unwrap();
    fresh.open(t.room).await.unwrap();
    let doc = fresh.doc(t.room);
    for id in &posts {
        assert!(doc.post(id).is_some(), "post {id:?} missing after restore");
    }
    server.kill_9().await.unwrap();

    // Over a populated data dir, even with --force, a tampered backup changes nothing.
    let before = snapshot(&data_dir);
    let refused = cli(&storage, &["restore", &tampered_s, "--force"]).await;
    assert!(!refused.ok, "a tampered backup was restored");
    assert_eq!(
        snapshot(&data_dir),
        before,
        "a refused restore changed files"
    );
}

test_both_dbs!(refuses_postgres_with_guidance);
async fn refuses_postgres_with_guidance() {
    // On SQLite runs, a PostgreSQL URL nobody listens on: the commands must refuse before
    // connecting anywhere.
    let storage = TestStorage::new().await;
    let url = match &storage.postgres {
        Some(pg) => pg.url(),
        None => "postgres://nobody@127.0.0.1:1/none".to_owned(),
    };
    let dest = tempfile::tempdir().unwrap();
    let dest_s = dest.path().join("b").display().to_string();
    let data_dir = storage.dir.path().display().to_string();
    let base = ["--data-dir", &data_dir, "--database-url", &url];
    for (command, tool) in [
        ("backup", "pg_dump --format=custom"),
        ("restore", "pg_restore"),
    ] {
        let output = tokio::process::Command::new(BIN)
            .arg(command)
            .arg(&dest_s)
            .args(base)
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LIB_BACKTRACE", "0")
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{command} on PostgreSQL succeeded"
        );
        assert!(stderr.contains(tool), "{command}: {stderr}");
    }
    assert!(!dest.path().join("b").exists(), "backup created files");
}

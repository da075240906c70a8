//! `renraku-search-bench`: search latency (issue 18) on a large posts projection — by
//! default 1,000,000 posts in 10,000 rooms — for a user who is a member of 30 of them, on
//! SQLite and on PostgreSQL, through the server's own query (`Db::search_posts`). Typical
//! queries: a two-letter term, a longer one, two terms, a full-width form, a rare word, and
//! a filter. Reports p50 / p95 per query into BENCHMARKS.md (section `search`). Not a test:
//! `cargo xtask bench-search` runs it.
//!
//! ```sh
//! cargo run --release -p renraku-bench --bin renraku-search-bench -- [--posts N] [--rooms N]
//! ```

use anyhow::{Context, Result};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use renraku_server::db::dialect::Backend;
use renraku_server::db::search::PostSearch;
use renraku_server::db::Db;
use renraku_sync::search::{bigrams, normalize, terms};
use renraku_sync::UserId;
use sqlx::{Connection, Executor, PgConnection};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1_000_000)]
    posts: usize,
    #[arg(long, default_value_t = 10_000)]
    rooms: usize,
    /// Rooms the searching user is a member of.
    #[arg(long, default_value_t = 30)]
    member_of: usize,
    /// Timed runs of each query.
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    backend: String,
    /// The PostgreSQL server (a database `renraku_search_bench` is made there, then dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg: String,
    /// Where to write the report section.
    #[arg(long, default_value = "BENCHMARKS.md")]
    report: PathBuf,
}

/// What visiting professionals write, to build posts from.
const PHRASES: &[&str] = &[
    "本日訪問しました。",
    "血圧 132/84、脈拍 72、体温 36.5℃。",
    "SpO2 96% で安定しています。",
    "ＳｐＯ２ ９４％、酸素 1L 継続。",
    "食事は半分ほど摂取。",
    "排便あり、性状は普通。",
    "褥瘡の処置を行いました。発赤は縮小傾向です。",
    "発熱 37.8℃ のため主治医に報告しました。",
    "抗菌薬の内服を開始しています。",
    "服薬カレンダーを確認、飲み忘れなし。",
    "ご家族より夜間の不眠について相談あり。",
    "デイサービスの利用日を変更します。",
    "ケアプランの見直しを検討してください。",
    "次回訪問は木曜日の予定です。",
    "リハビリで歩行距離が伸びています。",
    "入浴介助を実施、皮膚状態に変化なし。",
];

struct Query {
    label: &'static str,
    q: &'static str,
    mine: bool,
}

const QUERIES: &[Query] = &[
    Query {
        label: "two letters (発熱)",
        q: "発熱",
        mine: false,
    },
    Query {
        label: "a word (褥瘡の処置)",
        q: "褥瘡の処置",
        mine: false,
    },
    Query {
        label: "two terms (発熱 抗菌薬)",
        q: "発熱 抗菌薬",
        mine: false,
    },
    Query {
        label: "full-width (ＳｐＯ２)",
        q: "ＳｐＯ２",
        mine: false,
    },
    Query {
        label: "rare (誤嚥性肺炎)",
        q: "誤嚥性肺炎",
        mine: false,
    },
    Query {
        label: "mine only (訪問)",
        q: "訪問",
        mine: true,
    },
];

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mut section = String::new();
    writeln!(
        section,
        "## Search (issue 18)\n\n`cargo xtask bench-search`: {} posts in {} rooms; the user searching is a member \
         of {} rooms (~{} posts); {} timed runs per query, the server's own query \
         (`Db::search_posts`, first page of 30). Milliseconds.\n",
        args.posts,
        args.rooms,
        args.member_of,
        args.posts / args.rooms * args.member_of,
        args.runs
    )?;
    writeln!(
        section,
        "| query | backend | hits | p50 | p95 |\n|---|---|---|---|---|"
    )?;
    let backends: Vec<&str> = match args.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        one => vec![one],
    };
    for backend in backends {
        let dir = tempfile::tempdir()?;
        let url = match backend {
            "sqlite" => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
            _ => {
                let mut admin = PgConnection::connect(&args.pg).await?;
                admin
                    .execute("DROP DATABASE IF EXISTS renraku_search_bench")
                    .await?;
                admin
                    .execute("CREATE DATABASE renraku_search_bench")
                    .await?;
                admin.close().await?;
                let base = args.pg.rsplit_once('/').map(|(b, _)| b).unwrap_or(&args.pg);
                format!("{base}/renraku_search_bench")
            }
        };
        let db = Db::connect(&url).await?;
        db.migrate().await?;
        let started = Instant::now();
        let user = fill(&db, &args).await.context("filling the database")?;
        eprintln!(
            "{backend}: {} posts written in {:.1} s",
            args.posts,
            started.elapsed().as_secs_f64()
        );
        for query in QUERIES {
            let search = PostSearch {
                author: query.mine.then_some(user),
                ..PostSearch::new(user, terms(query.q))
            };
            // Warm the caches once, as a server that has been running would have them.
            let hits = db.search_posts(&search).await?.hits.len();
            let mut times = Vec::with_capacity(args.runs);
            for _ in 0..args.runs {
                let t = Instant::now();
                db.search_posts(&search).await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
            writeln!(
                section,
                "| {} | {backend} | {hits} | {:.2} | {:.2} |",
                query.label,
                at(0.5),
                at(0.95)
            )?;
            eprintln!(
                "{backend} {}: p50 {:.2} ms p95 {:.2} ms",
                query.label,
                at(0.5),
                at(0.95)
            );
        }
        db.close().await;
        if backend == "postgres" {
            let mut admin = PgConnection::connect(&args.pg).await?;
            admin
                .execute("DROP DATABASE IF EXISTS renraku_search_bench")
                .await?;
        }
    }
    write_section(&args.report, &section)?;
    println!("{section}");
    Ok(())
}

/// One municipality, 2,000 users, the rooms (5 members each; the searching user in
/// `member_of` of them), and the posts with their search columns as the projection writes
/// them. Returns the searching user.
async fn fill(db: &Db, args: &Args) -> Result<UserId> {
    let pool = db.pool();
    let now: i64 = 1_796_000_000_000;
    sqlx::query(
        "INSERT INTO municipalities (slug, name, created_at) VALUES ('bench', 'ベンチ市', $1)",
    )
    .bind(now)
    .execute(pool)
    .await?;
    let users = 2_000usize;
    let mut tx = pool.begin().await?;
    for chunk in (1..=users).collect::<Vec<_>>().chunks(500) {
        let mut sql = String::from(
            "INSERT INTO users (municipality_id, login_id, password_hash, display_name, \
             display_name_kana, profession, created_at) VALUES ",
        );
        for (i, u) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            write!(
                sql,
                "(1, 'u{u}', 'x', '利用者 {u}', 'りようしゃ', 'nurse', {now})"
            )?;
        }
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    for chunk in (1..=args.rooms).collect::<Vec<_>>().chunks(500) {
        let mut sql =
            String::from("INSERT INTO rooms (municipality_id, kind, title, created_at) VALUES ");
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            write!(sql, "(1, 'project', 'ルーム {r}', {now})")?;
        }
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    let mut rng = StdRng::seed_from_u64(18);
    let me = 1i64;
    for chunk in (1..=args.rooms).collect::<Vec<_>>().chunks(200) {
        let mut sql =
            String::from("INSERT INTO room_members (room_id, user_id, role, added_at) VALUES ");
        let mut first = true;
        for &r in chunk {
            let mut members: Vec<i64> = Vec::new();
            if r <= args.member_of {
                members.push(me);
            }
            while members.len() < 5 {
                let u = rng.gen_range(2..=users as i64);
                if !members.contains(&u) {
                    members.push(u);
                }
            }
            for u in members {
                if !first {
                    sql.push(',');
                }
                first = false;
                write!(sql, "({r}, {u}, 'member', {now})")?;
            }
        }
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;

    let per_room = args.posts / args.rooms;
    let mut written = 0usize;
    let mut batch: Vec<(i64, String, i64, String, i64)> = Vec::with_capacity(400);
    let mut tx = pool.begin().await?;
    for r in 1..=args.rooms as i64 {
        for n in 0..per_room {
            let mut text = String::new();
            for _ in 0..rng.gen_range(1..=3) {
                text.push_str(PHRASES[rng.gen_range(0..PHRASES.len())]);
            }
            // A rare word: one post in 5,000.
            if rng.gen_range(0..5_000) == 0 {
                text.push_str("誤嚥性肺炎の疑いあり。");
            }
            let author = if r <= args.member_of as i64 && n % 4 == 0 {
                me
            } else {
                rng.gen_range(2..=users as i64)
            };
            let at = now - (args.posts - written) as i64 * 60_000;
            batch.push((r, ulid::Ulid::new().to_string(), author, text, at));
            written += 1;
            if batch.len() == 400 {
                insert_posts(&mut tx, db, &batch).await?;
                batch.clear();
            }
        }
        if r % 1_000 == 0 {
            tx.commit().await?;
            tx = pool.begin().await?;
        }
    }
    insert_posts(&mut tx, db, &batch).await?;
    tx.commit().await?;
    Ok(UserId::new(me))
}

async fn insert_posts(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    db: &Db,
    batch: &[(i64, String, i64, String, i64)],
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO posts (room_id, post_id, author_id, parent_id, text, created_at, deleted, \
         activity_at, stored_at, updated_at, search_text, search_grams) VALUES ",
    );
    let mut n = 0;
    for i in 0..batch.len() {
        if i > 0 {
            sql.push(',');
        }
        write!(
            sql,
            "(${}, ${}, ${}, NULL, ${}, ${}, {}, ${}, ${}, ${}, ${}, ${})",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5,
            if db.backend() == Backend::Postgres {
                "FALSE"
            } else {
                "0"
            },
            n + 6,
            n + 7,
            n + 8,
            n + 9,
            n + 10
        )?;
        n += 10;
    }
    let mut q = sqlx::query(&sql);
    for (room, id, author, text, at) in batch {
        let normalized = normalize(text);
        let grams = if db.backend() == Backend::Postgres {
            String::new()
        } else {
            bigrams(&normalized)
        };
        q = q
            .bind(*room)
            .bind(id.clone())
            .bind(*author)
            .bind(text.clone())
            .bind(*at)
            .bind(*at)
            .bind(*at)
            .bind(*at)
            .bind(normalized)
            .bind(grams);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Replaces (or appends) the `search` section of the report.
fn write_section(path: &PathBuf, section: &str) -> Result<()> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let (start, end) = ("<!-- search:start -->", "<!-- search:end -->");
    let block = format!("{start}\n{}\n{end}", section.trim_end());
    let out = match (text.find(start), text.find(end)) {
        (Some(s), Some(e)) if e > s => format!("{}{block}{}", &text[..s], &text[e + end.len()..]),
        _ => format!("{}\n\n{block}\n", text.trim_end()),
    };
    std::fs::write(path, out)?;
    Ok(())
}

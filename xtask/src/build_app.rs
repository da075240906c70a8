//! `cargo xtask build-app`: the Dioxus app for wasm32, through wasm-bindgen, into
//! `app/dist/` (which the server embeds), with its sizes printed.

use crate::setup::wasm_bindgen_bin;
use crate::util::{cargo, root, run_cmd, secs, step, target_dir};
use crate::WASM_TARGET;
use anyhow::{bail, Context, Result};
use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The custom profile in the root `Cargo.toml` (release + lto, panic=abort, strip, opt "z").
const APP_PROFILE: &str = "wasm-release";

/// A wasm bundle: the cargo binary, the name wasm-bindgen gives its files (`{name}.js`,
/// `{name}_bg.wasm`), and the page that loads it.
struct Bundle {
    bin: &'static str,
    name: &'static str,
    page: &'static str,
}

const BUNDLES: [Bundle; 3] = [
    Bundle {
        bin: "renraku-app",
        name: "app",
        page: "index.html",
    },
    // The same page runs this one instead when the device remembers nobody for the
    // municipality (app/early.js chooses): a first visit downloads the sign-in screen only,
    // and the service worker keeps the app's own files (`APP_ONLY`) once the app runs.
    Bundle {
        bin: "renraku-signin",
        name: "signin",
        page: "index.html",
    },
    // Served at /{m}/admin/… (server/src/assets.rs) and never precached (sw.js): a nurse's
    // phone does not download it.
    Bundle {
        bin: "renraku-admin",
        name: "admin",
        page: "admin.html",
    },
];

/// The map screen's library (`app/map/`): Leaflet and its clustering plugin from npm (pinned by
/// `app/map/package-lock.json`) and our module that drives them (`map.js`: the register's map and 駐車場's). Served under `/map/`, loaded
/// only when the map opens, never precached; the service worker keeps them once a responder
/// has the register on the device (`MAP` in sw.js).
const MAP_FILES: [(&str, &str); 5] = [
    ("map.js", "map.js"),
    ("node_modules/leaflet/dist/leaflet.js", "leaflet.js"),
    ("node_modules/leaflet/dist/leaflet.css", "leaflet.css"),
    (
        "node_modules/leaflet.markercluster/dist/leaflet.markercluster.js",
        "leaflet.markercluster.js",
    ),
    (
        "node_modules/leaflet.markercluster/dist/MarkerCluster.css",
        "MarkerCluster.css",
    ),
];

/// Whether a built file is the map screen's (`map/…`), loaded only on that screen.
fn map_only(name: &str) -> bool {
    name.starts_with("map/")
}

/// Whether a built file is the app bundle's own (not the sign-in bundle's, whose page is the
/// same): a first visit, which signs in, does not download it.
fn app_only(name: &str) -> bool {
    name == "app.js" || name == "app_bg.wasm"
}

/// Whether a built file belongs to the admin bundle's page only (`admin.html`,
/// `admin-boot.js`, `admin.js`, `admin_bg.wasm`).
fn admin_only(name: &str) -> bool {
    name.starts_with("admin")
}

pub fn run() -> Result<()> {
    let started = Instant::now();
    step("build-app: cargo build (wasm32, profile wasm-release)");
    run_cmd(Command::new(cargo()).current_dir(root()).args([
        "build",
        "-p",
        "renraku-app",
        "--profile",
        APP_PROFILE,
        "--target",
        WASM_TARGET,
    ]))?;
    let out = target_dir()?.join(WASM_TARGET).join(APP_PROFILE);

    step("build-app: wasm-bindgen → app/dist/");
    // Assemble in a staging directory, then update app/dist/ file by file: unchanged files
    // keep their mtimes, so the server (which embeds app/dist/) is not rebuilt for nothing.
    let stage = target_dir()?.join("renraku-app-dist");
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("removing {}", stage.display()))?;
    }
    fs::create_dir_all(&stage)?;
    // Three bundles (app/src/lib.rs): the app everyone loads, the sign-in screen of a first
    // visit, and the admin screens. Each through wasm-bindgen on its own, then together:
    // their `snippets/…` modules share names, which must then hold the same code.
    let bindgen = target_dir()?.join("renraku-app-bindgen");
    for bundle in BUNDLES {
        let wasm = out.join(format!("{}.wasm", bundle.bin));
        if !wasm.is_file() {
            bail!("the build did not produce {}", wasm.display());
        }
        run_cmd(
            Command::new(wasm_bindgen_bin())
                .args([
                    "--target",
                    "web",
                    "--no-typescript",
                    "--out-name",
                    bundle.name,
                ])
                .args(["--remove-name-section", "--remove-producers-section"])
                .arg("--out-dir")
                .arg(&bindgen)
                .arg(&wasm),
        )
        .context("wasm-bindgen failed (run `cargo xtask setup` first?)")?;
        for name in files(&bindgen) {
            let (from, to) = (bindgen.join(&name), stage.join(&name));
            let bytes = fs::read(&from)?;
            match fs::read(&to) {
                Ok(have) if have != bytes => {
                    bail!("wasm-bindgen made two different {name} for two bundles")
                }
                Ok(_) => {}
                Err(_) => {
                    fs::create_dir_all(to.parent().context("parent")?)?;
                    fs::write(&to, bytes)?;
                }
            }
        }
        fs::remove_dir_all(&bindgen)?;
    }

    // The page and its boot script from app/; everything in service-worker/ but the icon
    // generator.
    copy_web_files(&root().join("app"), &stage, &["html", "js", "css"])?;
    copy_web_files(
        &root().join("service-worker"),
        &stage,
        &["js", "webmanifest", "png", "svg"],
    )?;
    if !stage.join("sw.js").is_file() {
        bail!("service-worker/sw.js is missing");
    }
    let map_src = root().join("app").join("map");
    crate::setup::node::ensure_npm_packages(&map_src)?;
    let map_dir = stage.join("map");
    fs::create_dir_all(&map_dir)?;
    for (from, to) in MAP_FILES {
        // Without the source map comment: the browser would ask for a file we do not ship.
        let text = fs::read_to_string(map_src.join(from))
            .with_context(|| format!("reading app/map/{from}"))?;
        let text: String = text
            .lines()
            .filter(|l| !l.starts_with("//# sourceMappingURL="))
            .collect::<Vec<_>>()
            .join("\n");
        fs::write(map_dir.join(to), text)?;
    }
    let mut early = Vec::new();
    for bundle in BUNDLES {
        if !stage.join(bundle.page).is_file() {
            bail!("app/{} is missing", bundle.page);
        }
        if bundle.page == "index.html" {
            early.push((bundle.name, modules(&stage, &bundle)?));
        } else {
            preload_snippets(&stage, &bundle)?;
        }
    }
    stamp_early(&stage, &early)?;
    stamp_service_worker(&stage, &early)?;

    let dist = root().join("app").join("dist");
    let names_changed = sync_dir(&stage, &dist)?;
    // rust-embed (release builds) embeds app/dist/ at compile time. Cargo notices changed
    // files, but not files that appeared or vanished: when the set of names changes, bump
    // the mtime of assets.rs so the server's next build embeds the new set.
    if names_changed {
        let assets = root().join("server").join("src").join("assets.rs");
        if let Ok(f) = fs::File::options().append(true).open(&assets) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
    }

    print_sizes(&dist)?;
    println!("build-app done in {}", secs(started));
    Ok(())
}

/// Adds a `modulepreload` link to a bundle's page (`index.html`) for each module its script
/// (`app.js`) imports (wasm-bindgen's `snippets/…`, whose names change with every dependency
/// update): without them the browser learns of these only once the script has arrived and
/// been parsed, one more round trip before the app can start.
fn preload_snippets(dist: &Path, bundle: &Bundle) -> Result<()> {
    let script = format!("{}.js", bundle.name);
    let modules = modules(dist, bundle)?;
    let index = dist.join(bundle.page);
    let html = fs::read_to_string(&index).with_context(|| format!("reading {}", bundle.page))?;
    let anchor = format!(r#"<link rel="modulepreload" href="/{script}">"#);
    if !html.contains(&anchor) {
        bail!("app/{} lacks `{anchor}`", bundle.page);
    }
    let links: String = modules
        .iter()
        .skip(1)
        .map(|m| format!("\n  <link rel=\"modulepreload\" href=\"{m}\">"))
        .collect();
    fs::write(&index, html.replace(&anchor, &format!("{anchor}{links}")))?;
    Ok(())
}

/// A bundle's script (`/app.js`) and the modules it imports (wasm-bindgen's `snippets/…`,
/// whose names change with every dependency update), as absolute paths, the script first.
fn modules(dist: &Path, bundle: &Bundle) -> Result<Vec<String>> {
    let script = format!("{}.js", bundle.name);
    let js = fs::read_to_string(dist.join(&script)).with_context(|| format!("reading {script}"))?;
    let mut modules: Vec<String> = js
        .lines()
        .filter(|l| l.starts_with("import "))
        .filter_map(|l| l.split(['\'', '"']).nth(1))
        .filter_map(|m| m.strip_prefix("./"))
        .map(|m| format!("/{m}"))
        .collect();
    modules.sort_unstable();
    modules.dedup();
    modules.insert(0, format!("/{script}"));
    Ok(modules)
}

/// Fills in `early.js`'s BUNDLES: the modules of each bundle the app's page may start, which
/// it preloads (`modulepreload`) for the one it picks, so that the browser does not learn of
/// them only once the script has arrived and been parsed, one more round trip before the app
/// can start.
fn stamp_early(dist: &Path, bundles: &[(&str, Vec<String>)]) -> Result<()> {
    const ANCHOR: &str = "const BUNDLES = {}; // filled in by build-app";
    let path = dist.join("early.js");
    let text = fs::read_to_string(&path).context("reading early.js")?;
    if !text.contains(ANCHOR) {
        bail!("app/early.js lacks `{ANCHOR}`");
    }
    let entries: Vec<String> = bundles
        .iter()
        .map(|(name, modules)| {
            let list: Vec<String> = modules.iter().map(|m| format!("\"{m}\"")).collect();
            format!("{name}: [{}]", list.join(", "))
        })
        .collect();
    let filled = format!("const BUNDLES = {{ {} }};", entries.join(", "));
    fs::write(&path, text.replace(ANCHOR, &filled))?;
    Ok(())
}

/// Fills in `sw.js`: the precache list becomes every built file of the app (wasm-bindgen adds
/// `snippets/…` modules whose names change), and the build id a hash of them all, so each
/// new build installs a fresh shell cache (and the browser sees a changed `sw.js`).
fn stamp_service_worker(dist: &Path, bundles: &[(&str, Vec<String>)]) -> Result<()> {
    let sw = dist.join("sw.js");
    let text = fs::read_to_string(&sw).with_context(|| format!("reading {}", sw.display()))?;
    const BUILD: &str = "__RENRAKU_BUILD__";
    const LIST_START: &str = "const SHELL = [";
    const LIST_END: &str = "]; // end of SHELL";
    let (Some(start), Some(end)) = (text.find(LIST_START), text.find(LIST_END)) else {
        bail!("{} lacks `{LIST_START}` … `{LIST_END}`", sw.display());
    };
    if !text.contains(BUILD) {
        bail!("{} has no {BUILD} placeholder", sw.display());
    }
    // The app's shell only: the admin bundle is fetched by administrators when they open it.
    let map: Vec<String> = files(dist).into_iter().filter(|f| map_only(f)).collect();
    let files: Vec<String> = files(dist)
        .into_iter()
        .filter(|f| f != "sw.js" && !admin_only(f) && !map_only(f))
        .collect();
    // FNV-1a, 64 bit: stable across Rust versions, unlike std's DefaultHasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for name in files.iter().chain(&map) {
        for byte in name.bytes().chain([0]).chain(fs::read(dist.join(name))?) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut list = String::from("\n");
    for f in &files {
        list.push_str(&format!("  \"/{f}\",\n"));
    }
    let text = format!("{}{LIST_START}{list}{}", &text[..start], &text[end..]);
    const MAP_START: &str = "const MAP = [";
    const MAP_END: &str = "]; // end of MAP";
    let (Some(start), Some(end)) = (text.find(MAP_START), text.find(MAP_END)) else {
        bail!("{} lacks `{MAP_START}` … `{MAP_END}`", sw.display());
    };
    let mut list = String::from("\n");
    for f in &map {
        list.push_str(&format!("  \"/{f}\",\n"));
    }
    let text = format!("{}{MAP_START}{list}{}", &text[..start], &text[end..]);
    // The app bundle's files that the sign-in bundle does not use.
    let signin: Vec<&String> = bundles
        .iter()
        .filter(|(name, _)| *name != "app")
        .flat_map(|(_, m)| m)
        .collect();
    let app_only: Vec<String> = files
        .iter()
        .map(|f| format!("/{f}"))
        .filter(|f| app_only(&f[1..]) || bundles.iter().any(|(n, m)| *n == "app" && m.contains(f)))
        .filter(|f| !signin.contains(&f))
        .collect();
    const APP_START: &str = "const APP_ONLY = [";
    const APP_END: &str = "]; // end of APP_ONLY";
    let (Some(start), Some(end)) = (text.find(APP_START), text.find(APP_END)) else {
        bail!("{} lacks `{APP_START}` … `{APP_END}`", sw.display());
    };
    let mut list = String::from("\n");
    for f in &app_only {
        list.push_str(&format!("  \"{f}\",\n"));
    }
    let text = format!("{}{APP_START}{list}{}", &text[..start], &text[end..])
        .replace(BUILD, &format!("{hash:016x}"));
    fs::write(&sw, text)?;
    Ok(())
}

/// Every file under `dir`, as sorted `/`-separated paths relative to it.
fn files(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.filter_map(|e| e.ok()) {
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(&e.path(), &format!("{name}/"), out),
                Ok(_) => out.push(name),
                Err(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort();
    out
}

/// Makes `to` hold exactly the files of `from`, writing only files whose bytes differ.
/// Returns whether the set of file names changed.
fn sync_dir(from: &Path, to: &Path) -> Result<bool> {
    let (want, have) = (files(from), files(to));
    for name in &have {
        if !want.contains(name) {
            fs::remove_file(to.join(name))?;
        }
    }
    for name in &want {
        let (src, dst) = (from.join(name), to.join(name));
        let bytes = fs::read(&src)?;
        if fs::read(&dst).ok().as_deref() != Some(bytes.as_slice()) {
            if let Some(parent) = dst.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&dst, bytes).with_context(|| format!("writing {}", dst.display()))?;
        }
    }
    remove_empty_dirs(to);
    Ok(want != have)
}

fn remove_empty_dirs(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.filter_map(|e| e.ok()) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&e.path());
                let _ = fs::remove_dir(e.path()); // fails unless empty: fine
            }
        }
    }
}

/// Copies the files directly in `from` whose extension is one of `exts` into `to_dir`.
fn copy_web_files(from: &Path, to_dir: &Path, exts: &[&str]) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let p = entry?.path();
        let ext = p.extension().and_then(OsStr::to_str).unwrap_or("");
        if p.is_file() && exts.contains(&ext) {
            copy_file(&p, to_dir)?;
        }
    }
    Ok(())
}

fn copy_file(from: &Path, to_dir: &Path) -> Result<()> {
    let name = from.file_name().context("file name")?;
    fs::copy(from, to_dir.join(name))
        .with_context(|| format!("copying {} to {}", from.display(), to_dir.display()))?;
    Ok(())
}

fn print_sizes(dist: &Path) -> Result<()> {
    println!("\napp/dist (first load = index.html, app.css and every .js and .wasm but sw.js, the app's (app.js, app_bg.wasm: a first visit signs in), the admin bundle and map/):");
    println!("  {:<72} {:>10} {:>10}", "file", "raw", "gzip -9");
    let (mut raw_total, mut gz_total) = (0u64, 0u64);
    for name in files(dist) {
        let p = dist.join(&name);
        let raw = fs::metadata(&p)?.len();
        let gz = gzip_size(&p);
        println!(
            "  {:<72} {:>10} {:>10}",
            name,
            kb(raw),
            gz.map(kb).unwrap_or_else(|| "n/a".into())
        );
        let first_load = name != "sw.js"
            && !admin_only(&name)
            && !map_only(&name)
            && !app_only(&name)
            && [".html", ".js", ".wasm", ".css"]
                .iter()
                .any(|e| name.ends_with(e));
        if first_load {
            raw_total += raw;
            gz_total += gz.unwrap_or(raw);
        }
    }
    println!(
        "  {:<72} {:>10} {:>10}",
        "first load",
        kb(raw_total),
        kb(gz_total)
    );
    Ok(())
}

fn gzip_size(p: &Path) -> Option<u64> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(p)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout.len() as u64)
}

fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1024.0)
}

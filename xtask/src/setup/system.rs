//! Debian packages, through apt-get: OpenSSL's headers (the server needs them to build), a
//! Japanese font for the server's PDF export, Chromium with a Japanese and an emoji font
//! (only the browser tests and the app bench), poppler's `pdftotext` (the PDF tests), and
//! nginx and NATS for the tests of several nodes.

use crate::util::{capture, run_cmd};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// The browser the browser tests drive (tests/browser/, via playwright-core).
const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's `fonts-noto-cjk`.
const CJK_FONT_DIR: &str = "/usr/share/fonts/opentype/noto";
/// Debian's `fonts-noto-color-emoji`: the app's few icons (📌 📷 📎) are emoji, which a
/// phone draws and a bare Chromium shows as boxes in the screenshots.
const EMOJI_FONT: &str = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf";

/// Debian's `chromium` (and `chromium-driver`, for wasm-bindgen-test), installed with
/// apt-get when missing; `RENRAKU_CHROMIUM` names another Chromium instead.
pub fn ensure_chromium() -> Result<()> {
    if let Some(other) = std::env::var_os("RENRAKU_CHROMIUM") {
        if Path::new(&other).is_file() {
            println!(
                "chromium: {} (RENRAKU_CHROMIUM)",
                Path::new(&other).display()
            );
            return Ok(());
        }
        bail!(
            "RENRAKU_CHROMIUM={} is not a file",
            Path::new(&other).display()
        );
    }
    // Without a CJK font every Japanese glyph in the screenshots is a box.
    if Path::new(CHROMIUM).is_file()
        && Path::new(CJK_FONT_DIR).is_dir()
        && Path::new(EMOJI_FONT).is_file()
    {
        println!("chromium, a Japanese and an emoji font: present");
        return Ok(());
    }
    let installed = apt_install(&[
        "chromium",
        "chromium-driver",
        "fonts-noto-cjk",
        "fonts-noto-color-emoji",
    ]);
    if let Err(e) = installed {
        bail!(
            "could not install Chromium with apt-get ({e:#}). The browser tests need Debian's \
             `chromium` at {CHROMIUM}: install it as root (`apt-get install chromium \
             chromium-driver`), or set RENRAKU_CHROMIUM to a Chromium binary"
        );
    }
    if !Path::new(CHROMIUM).is_file() {
        bail!("apt-get installed chromium, but {CHROMIUM} is missing");
    }
    Ok(())
}

/// Debian's IPAex Gothic: the font the server embeds in PDF exports (`--pdf-font` in
/// `server/src/config.rs` says which others it finds by itself).
const PDF_FONT: &str = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf";

/// A Japanese font for the server's PDF export, installed with apt-get when missing. Without
/// one the server still runs and answers a PDF export with 503 and what to install, so a
/// machine where apt-get cannot run gets a warning, not a failure.
pub fn ensure_pdf_font() -> Result<()> {
    if Path::new(PDF_FONT).is_file() {
        println!("IPAex Gothic (PDF export): present");
        return Ok(());
    }
    if let Err(e) = apt_install(&["fonts-ipaexfont-gothic"]) {
        println!(
            "warning: could not install fonts-ipaexfont-gothic ({e:#}); PDF export needs a \
             Japanese font (see --pdf-font)"
        );
    }
    Ok(())
}

/// Poppler's `pdftotext`, which the PDF export tests read the PDFs back with.
pub fn ensure_pdftotext() -> Result<()> {
    if Path::new("/usr/bin/pdftotext").is_file() {
        println!("pdftotext: present");
        return Ok(());
    }
    apt_install(&["poppler-utils"]).context(
        "could not install poppler-utils with apt-get; the PDF export tests read PDFs with \
         its pdftotext (install it as root: `apt-get install poppler-utils`)",
    )
}

/// The load balancer in front of the nodes in the cluster tests (tests/src/cluster.rs), run
/// as the test's own process with a generated configuration: Debian's `nginx`.
pub const NGINX: &str = "/usr/sbin/nginx";
/// The NATS server (with JetStream) the nodes of a cluster talk through: Debian's
/// `nats-server`. `.ci/run` starts the machine's own at 127.0.0.1:4222; the cluster tests
/// also start private ones to restart under load.
pub const NATS_SERVER: &str = "/usr/sbin/nats-server";

/// nginx and nats-server for the cluster tests, installed with apt-get when missing.
/// Debian's `nginx` is the bare server (its `nginx-light` only adds the echo module): the
/// tests need the proxy, upstream and WebSocket parts that every build has. nginx rather
/// than HAProxy because its `proxy_next_upstream` retries a request whose node refused the
/// connection on another node, which is what a test that kills a node wants to see, and the
/// README's deployment example is nginx too. On a systemd machine Debian's package also
/// starts a system nginx on port 80; the tests never use it.
pub fn ensure_cluster_tools() -> Result<()> {
    if Path::new(NGINX).is_file() && Path::new(NATS_SERVER).is_file() {
        println!("nginx and nats-server: present");
        return Ok(());
    }
    apt_install(&["nginx", "nats-server"]).context(
        "could not install nginx and nats-server with apt-get; the cluster tests run them \
         (install them as root: `apt-get install nginx nats-server`)",
    )?;
    for binary in [NGINX, NATS_SERVER] {
        if !Path::new(binary).is_file() {
            bail!("apt-get installed nginx and nats-server, but {binary} is missing");
        }
    }
    Ok(())
}

/// `apt-get update` and `apt-get install PACKAGES`, as root or with passwordless sudo.
fn apt_install(packages: &[&str]) -> Result<()> {
    let root_user = capture(Command::new("id").arg("-u")).is_ok_and(|u| u.trim() == "0");
    let apt = |args: &[&str]| {
        let mut cmd = if root_user {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run_cmd(&mut cmd)
    };
    apt(&["update", "-q"]).and_then(|()| {
        let mut args = vec!["install", "-y", "-q"];
        args.extend_from_slice(packages);
        apt(&args)
    })
}

/// The server links OpenSSL (webauthn-rs for passkeys; ece in the push tests): openssl-sys
/// needs its headers and pkg-config. Debian's `libssl-dev` and `pkg-config`, installed with
/// apt-get when `pkg-config` cannot find OpenSSL.
pub fn ensure_openssl_dev() -> Result<()> {
    let found = Command::new("pkg-config")
        .args(["--exists", "openssl"])
        .status()
        .is_ok_and(|s| s.success());
    if found {
        println!("libssl-dev and pkg-config: present");
        return Ok(());
    }
    apt_install(&["libssl-dev", "pkg-config"]).context(
        "could not install libssl-dev and pkg-config with apt-get; the server needs OpenSSL's \
         headers to build (install them as root: `apt-get install libssl-dev pkg-config`)",
    )
}

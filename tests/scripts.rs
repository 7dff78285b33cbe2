//! `scripts/test` says what it installs with apt before it does, and keeps apt's pages of
//! output in a log file that it names when the install fails.
//!
//! The script's functions are sourced into bash with a stand-in `apt-get` on the PATH, so
//! nothing is installed and no root is needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dialer-scripts-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

/// Runs `apt_install` from scripts/test with `apt-get` replaced by a script that prints
/// `noise` and exits with `install_status` on `install`; apt's log goes under `dir`.
fn apt_install(dir: &Path, install_status: u8) -> Output {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    let fake = bin.join("apt-get");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"apt noise: $*\"\necho 'apt warning' >&2\n\
             [ \"$1\" = install ] && exit {install_status}\nexit 0\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg("-c")
        .arg(r#"source "$1" && apt_install "the widget server" widget widget-tools"#)
        .arg("bash")
        .arg(&script)
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash: {e}"))
}

#[test]
fn apt_install_says_what_it_installs_and_keeps_apt_quiet() {
    let dir = scratch("ok");
    let out = apt_install(&dir, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let log = dir.join("target/apt-install.log");
    assert_eq!(
        stderr.lines().next().unwrap_or_default(),
        format!(
            "installing the widget server with apt-get (root): widget widget-tools; apt output in {}",
            log.display()
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("noise") && !stderr.contains("apt warning"),
        "apt's output leaked: {stderr}"
    );
    assert!(!stdout.contains("noise"), "apt's output leaked: {stdout}");
    let logged = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        logged.contains("apt noise: update -qq")
            && logged
                .contains("apt noise: install -y -qq --no-install-recommends widget widget-tools")
            && logged.contains("apt warning"),
        "{logged}"
    );
}

#[test]
fn a_failed_apt_install_names_its_log() {
    let dir = scratch("fail");
    let out = apt_install(&dir, 100);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let log = dir.join("target/apt-install.log");
    assert!(
        stderr.contains(&format!(
            "apt-get could not install widget widget-tools (full output in {})",
            log.display()
        )),
        "{stderr}"
    );
    // The end of the log is shown, so the reason is on screen without opening the file.
    assert!(stderr.contains("apt noise: install"), "{stderr}");
}

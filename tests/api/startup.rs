//! The binary as an operator meets it: `check-config` reports every problem of a file at
//! once, a missing file or an unreachable database is said once and plainly (where, and
//! what answered), `--listen` takes what people type, logs piped to a file are plain, and
//! the well-known example key is refused on a public address unless allowed.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn dialer(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dialer"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("DIALER_ACCESS_KEYS")
        .env_remove("DIALER_ALLOW_EXAMPLE_KEY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run the dialer binary")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dialer-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn check_config_reports_every_problem_of_a_file_at_once() {
    let path = temp_file(
        "many-problems.toml",
        "[server]\nlisten = \"localhost:8080\"\nmax_body_byte = 1\n[engine]\ntick_sec = 1.0\ntotal_lines = \"all\"\n[pacng]\n",
    );
    let out = dialer(&["check-config", path.to_str().unwrap()], &[]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    for expected in [
        "line 3, [server] max_body_byte: unknown key; did you mean `max_body_bytes`?",
        "line 5, [engine] tick_sec: unknown key; did you mean `tick_secs`?",
        "line 6, [engine] total_lines: invalid type",
        "line 7: unknown table [pacng]; did you mean [pacing]?",
    ] {
        assert!(said.contains(expected), "{expected:?} not in:\n{said}");
    }
}

#[test]
fn check_config_validates_the_amazon_connect_backend() {
    let path = temp_file(
        "connect.toml",
        "[auth]\naccess_keys = [\"AK:secret\"]\n[contact_center]\nbackend = \"amazon-connect\"\n[contact_center.amazon_connect]\nendpoint = \"connect.example\"\napi_rate_per_sec = 0.0\n",
    );
    let out = dialer(&["check-config", path.to_str().unwrap()], &[]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    for key in [
        "instance_id is required",
        "endpoint must start",
        "api_rate_per_sec",
        "DIALER_CONNECT_EVENTS_KEY",
    ] {
        assert!(said.contains(key), "{key:?} not in:\n{said}");
    }
    let typo = temp_file(
        "connect-typo.toml",
        "[contact_center]\nbackend = \"amazon_connect\"\n",
    );
    let said = text(&dialer(&["check-config", typo.to_str().unwrap()], &[]));
    assert!(said.contains("amazon-connect"), "{said}");
}

#[test]
fn a_missing_file_is_named_once() {
    let out = dialer(&["check-config", "/nonexistent/dialer.toml"], &[]);
    let said = text(&out);
    assert!(!out.status.success());
    assert_eq!(
        said.trim(),
        "error: cannot read config file /nonexistent/dialer.toml: No such file or directory (os error 2)"
    );
}

#[test]
fn an_unreachable_database_is_named_with_its_cause_quickly() {
    let started = Instant::now();
    let out = dialer(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("DATABASE_URL", "postgres://app:hunter2@127.0.0.1:1/dialer")],
    );
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        said.contains("cannot connect to the database at 127.0.0.1:1/dialer")
            && said.contains("Connection refused"),
        "{said}"
    );
    assert!(!said.contains("hunter2"), "the password leaked: {said}");
}

/// Runs `dialer serve` on the API tests' database until it logs that it listens, then
/// kills it; returns its log up to that line.
fn serve_until_listening(config_toml: &str, listen: &str) -> String {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        panic!("DATABASE_URL is set for the API tests");
    };
    let config = temp_file(
        &format!("serve-{}.toml", listen.replace(':', "_")),
        config_toml,
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_dialer"))
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            listen,
        ])
        .env("DATABASE_URL", &url)
        .env_remove("DIALER_ACCESS_KEYS")
        .env_remove("DIALER_ALLOW_EXAMPLE_KEY")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the dialer binary");
    let deadline = Instant::now() + Duration::from_secs(30);
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let listening = line.contains("dialer listening");
            lines.push(line);
            if listening {
                break;
            }
        }
        lines.join("\n")
    });
    while !reader.is_finished() {
        assert!(Instant::now() < deadline, "no 'listening' line in 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = reader.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    log
}

#[test]
fn listen_addresses_are_taken_as_typed_and_logs_are_plain_off_a_terminal() {
    let log = serve_until_listening(
        "[auth]\naccess_keys = [\"AKIDSTARTUP:startup-secret\"]\n[engine]\nenabled = false\n",
        "localhost:0",
    );
    assert!(
        log.contains("http://127.0.0.1:"),
        "localhost:0 bound on loopback: {log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a piped log: {log:?}"
    );
    assert!(
        !log.contains("_sqlx_migrations"),
        "migration notices logged: {log}"
    );
}

const EXAMPLE_KEY: &str = "AKIDLOCALDIALER:local-dialer-secret";

#[test]
fn the_example_key_is_refused_on_a_public_address_unless_allowed() {
    // An unreachable database: a daemon that got past the key check stops there, quickly.
    let unreachable = ("DATABASE_URL", "postgres://app@127.0.0.1:1/dialer");
    let keys = ("DIALER_ACCESS_KEYS", EXAMPLE_KEY);
    for refused_env in [
        vec![unreachable, keys],
        vec![unreachable, keys, ("DIALER_ALLOW_EXAMPLE_KEY", "0")],
    ] {
        let out = dialer(&["serve", "--listen", "0.0.0.0:0"], &refused_env);
        let said = text(&out);
        assert!(!out.status.success(), "{said}");
        assert!(
            said.starts_with("error: refusing to serve on 0.0.0.0:0: it is not a loopback address")
                && said.contains("AKIDLOCALDIALER")
                && said.contains("DIALER_ACCESS_KEYS")
                && said.contains("--allow-example-key")
                && said.trim().lines().count() == 1,
            "{said}"
        );
        assert!(!said.contains("local-dialer-secret"), "{said}");
    }

    for (args, env) in [
        (
            vec!["serve", "--listen", "0.0.0.0:0", "--allow-example-key"],
            vec![unreachable, keys],
        ),
        (
            vec!["serve", "--listen", "0.0.0.0:0"],
            vec![unreachable, keys, ("DIALER_ALLOW_EXAMPLE_KEY", "1")],
        ),
    ] {
        let out = dialer(&args, &env);
        let said = text(&out);
        assert!(
            !said.contains("refusing") && said.contains("cannot connect to the database"),
            "allowed, so it went on to the database: {said}"
        );
    }
}

#[test]
fn the_example_key_starts_on_loopback() {
    let log = serve_until_listening(
        &format!("[auth]\naccess_keys = [\"{EXAMPLE_KEY}\"]\n[engine]\nenabled = false\n"),
        "127.0.0.1:0",
    );
    assert!(log.contains("dialer listening"), "{log}");
}

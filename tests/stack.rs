//! `model-server stack` refuses to start, with one clear line, when it cannot run.
//! (The running stack is tested end to end in tests/e2e against real Prometheus.)

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_model-server");
const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn stack(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .arg("stack")
        .args(["--config-dir", REPO])
        .args(args)
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// `n` distinct loopback ports that were free a moment ago.
fn free_ports(n: usize) -> Vec<String> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port().to_string())
        .collect()
}

/// Appends each flag with its port.
fn with_ports<'a>(args: &mut Vec<&'a str>, flags: &[&'a str], ports: &'a [String]) {
    for (flag, port) in flags.iter().zip(ports) {
        args.extend([*flag, port.as_str()]);
    }
}

#[test]
fn a_missing_binary_names_the_package_to_install() {
    let (code, text) = stack(&[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("node-exporter not found"), "{text}");
    assert!(text.contains("prometheus-node-exporter"), "{text}");
    let (code, text) = stack(&[
        "--node-exporter-bin",
        "/bin/sh",
        "--prometheus-bin",
        "/nonexistent/prometheus",
    ]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("/nonexistent/prometheus does not exist"),
        "{text}"
    );
}

#[test]
fn missing_grafana_warns_unless_require_all() {
    let bins = [
        "--node-exporter-bin",
        "/bin/sh",
        "--prometheus-bin",
        "/bin/sh",
        "--alertmanager-bin",
        "/bin/sh",
    ];
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    // Every other port free, so the busy one is the one reported.
    let free = free_ports(4);
    // Grafana missing: a warning, then the busy port stops the start before anything runs.
    let mut args = bins.to_vec();
    args.extend(["--prometheus-port", &port]);
    with_ports(
        &mut args,
        &[
            "--server-port",
            "--node-exporter-port",
            "--alertmanager-port",
            "--grafana-port",
        ],
        &free,
    );
    let (code, text) = stack(&args);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("warning: grafana not found"), "{text}");
    assert!(
        text.contains(&format!("port {port} for prometheus is already in use"))
            && text.contains("--prometheus-port"),
        "{text}"
    );
    // With --require-all, the missing Grafana is the error.
    let mut args = bins.to_vec();
    args.push("--require-all");
    let (code, text) = stack(&args);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("error: grafana not found"), "{text}");
}

#[test]
fn a_config_dir_without_configs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["stack", "--config-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("has no monitoring/prometheus/prometheus.yml"),
        "{stderr}"
    );
}

#[test]
fn port_zero_and_a_port_given_twice_are_refused_before_anything_starts() {
    let (code, text) = stack(&["--grafana-port", "0"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("error: --grafana-port is 0: each service needs a fixed port"),
        "{text}"
    );
    // The server's default port, given to Prometheus too.
    let (code, text) = stack(&["--prometheus-port", "8000"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("error: --server-port and --prometheus-port are both 8000"),
        "{text}"
    );
    // Refused before the binaries are even looked for.
    assert!(!text.contains("not found"), "{text}");
}

/// `stack` with stand-in binaries (never started) and free ports, up to `args`.
fn stack_with_free_ports(args: &[&str]) -> (Option<i32>, String) {
    let ports = free_ports(5);
    let mut all = vec![
        "--prometheus-bin",
        "/bin/sh",
        "--alertmanager-bin",
        "/bin/sh",
    ];
    with_ports(
        &mut all,
        &[
            "--server-port",
            "--node-exporter-port",
            "--prometheus-port",
            "--alertmanager-port",
            "--grafana-port",
        ],
        &ports,
    );
    all.extend(args);
    stack(&all)
}

#[test]
fn a_data_dir_that_is_a_file_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let file = file.to_str().unwrap();
    let (code, text) =
        stack_with_free_ports(&["--node-exporter-bin", "/bin/sh", "--data-dir", file]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "error: --data-dir {file} is a file, not a directory"
        )),
        "{text}"
    );
}

/// `main` prints the error chain: an OS error must be in it once, not also in
/// the message of the error that carries it.
#[test]
fn os_errors_are_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    // A data dir below a file.
    let below = file.join("data");
    let (code, text) = stack_with_free_ports(&[
        "--node-exporter-bin",
        "/bin/sh",
        "--data-dir",
        below.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "error: {}: Not a directory (os error 20)\n",
            below.display()
        )),
        "{text}"
    );
    assert_eq!(text.matches("os error").count(), 1, "{text}");
    // A node-exporter that cannot be executed (no x bit; root too gets EACCES).
    let (code, text) = stack_with_free_ports(&[
        "--node-exporter-bin",
        file.to_str().unwrap(),
        "--data-dir",
        dir.path().join("data").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "error: cannot start node-exporter ({}): Permission denied (os error 13)\n",
            file.display()
        )),
        "{text}"
    );
    assert_eq!(text.matches("os error").count(), 1, "{text}");
}

/// A stand-in for node-exporter, Prometheus and Alertmanager: answers 200 on the
/// port of its `--web.listen-address=` flag, and exits with code 3 once the file
/// named by `$FAKE_DIE_WHEN_<name>` exists (after 60 s if that is not set).
const FAKE_SERVICE: &str = r#"#!/bin/sh
for arg in "$@"; do
  case "$arg" in --web.listen-address=*) addr="${arg#--web.listen-address=}" ;; esac
done
exec python3 - "${addr##*:}" "$(basename "$0")" <<'PY'
import http.server, os, sys, threading
port, name = int(sys.argv[1]), sys.argv[2]
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Ok)
threading.Thread(target=server.serve_forever, daemon=True).start()
trigger = os.environ.get("FAKE_DIE_WHEN_" + name.replace("-", "_"))
for _ in range(600):
    if trigger and os.path.exists(trigger):
        break
    threading.Event().wait(0.1)
sys.exit(3)
PY
"#;

#[test]
fn a_child_that_dies_stops_the_stack_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fake = |name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, FAKE_SERVICE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (node, prom, am) = (fake("fake-node"), fake("fake-prom"), fake("fake-am"));
    let ports = free_ports(5);
    let trigger = dir.path().join("node-exporter-dies");
    let mut child = Command::new(BIN)
        .args(["stack", "--config-dir", REPO, "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--node-exporter-bin", &node, "--prometheus-bin", &prom])
        .args([
            "--alertmanager-bin",
            &am,
            "--grafana-bin",
            "/nonexistent/grafana",
        ])
        .args([
            "--server-port",
            &ports[0],
            "--node-exporter-port",
            &ports[1],
        ])
        .args([
            "--prometheus-port",
            &ports[2],
            "--alertmanager-port",
            &ports[3],
        ])
        .args(["--grafana-port", &ports[4]])
        .env("FAKE_DIE_WHEN_fake_node", &trigger)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill node-exporter only once everything is up (the table is printed), however
    // long start-up takes on a busy machine. stderr is read on its own thread so
    // neither pipe can fill up and stall the stack.
    let stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0 {
        text.push_str(&line);
        if line.contains("Ctrl-C stops everything") {
            std::fs::write(&trigger, b"").unwrap();
        }
        line.clear();
    }
    let status = child.wait().unwrap();
    let text = text + &stderr.join().unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    // Everything came up, then node-exporter died: named, with its status, the rest stopped.
    assert!(text.contains("Ctrl-C stops everything"), "{text}");
    assert!(
        text.contains("node-exporter exited unexpectedly (exit code 3)"),
        "{text}"
    );
    assert!(
        text.contains("model-server | stopped (exit code 0)"),
        "{text}"
    );
    // The rendered Alertmanager config is private.
    let rendered = dir.path().join("data/alertmanager/alertmanager.yml");
    let mode = std::fs::metadata(&rendered).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_busy_replica_port_is_refused_before_anything_starts() {
    // Three consecutive ports whose middle one is taken.
    let (base, _held) = loop {
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = first.local_addr().unwrap().port();
        drop(first);
        let Some(next) = base.checked_add(1) else {
            continue;
        };
        if let Ok(held) = std::net::TcpListener::bind(("127.0.0.1", next)) {
            if std::net::TcpListener::bind(("127.0.0.1", next + 1)).is_ok() {
                break (base, held);
            }
        }
    };
    let base = base.to_string();
    let others = free_ports(4);
    let mut args = vec![
        "--node-exporter-bin",
        "/bin/sh",
        "--prometheus-bin",
        "/bin/sh",
        "--alertmanager-bin",
        "/bin/sh",
        "--replicas",
        "3",
        "--server-port",
        &base,
    ];
    with_ports(
        &mut args,
        &[
            "--node-exporter-port",
            "--prometheus-port",
            "--alertmanager-port",
            "--grafana-port",
        ],
        &others,
    );
    let (code, text) = stack(&args);
    assert_eq!(code, Some(1), "{text}");
    let busy = base.parse::<u16>().unwrap() + 1;
    assert!(
        text.contains(&format!(
            "error: port {busy} for model-server-2 is already in use on 127.0.0.1; \
             stop what holds it or pass --server-port with another port"
        )),
        "{text}"
    );
    assert!(!text.contains("ready after"), "{text}");
}

#[test]
fn a_replica_range_over_another_port_is_refused() {
    let (code, text) = stack(&["--replicas", "3", "--prometheus-port", "8002"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "error: --prometheus-port 8002 is one of the model servers' ports 8000-8002 \
             (--server-port 8000, --replicas 3)"
        ),
        "{text}"
    );
    let (code, text) = stack(&["--replicas", "0"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("--replicas"), "{text}");
}

#[test]
fn remote_write_flags_that_cannot_work_are_refused() {
    let token = tempfile::NamedTempFile::new().unwrap();
    let token = token.path().to_str().unwrap();
    for (args, message) in [
        (
            vec!["--remote-write-bearer-token-file", token],
            "remote-write credentials were given without --remote-write-url",
        ),
        (
            vec![
                "--remote-write-url",
                "http://127.0.0.1:9/push",
                "--remote-write-username",
                "me",
            ],
            "--remote-write-username and --remote-write-password-file go together",
        ),
        (
            vec![
                "--remote-write-url",
                "http://127.0.0.1:9/push",
                "--remote-write-bearer-token-file",
                "/nonexistent/token",
            ],
            "--remote-write-bearer-token-file /nonexistent/token: no such file",
        ),
        (
            vec!["--external-label", "cluster"],
            "expected NAME=VALUE, got \"cluster\"",
        ),
    ] {
        let (code, text) = stack(&args);
        assert!(matches!(code, Some(1 | 2)), "{args:?}: {text}");
        assert!(text.contains(message), "{args:?}: {text}");
    }
}

/// `model-server render-config -` on `template` with only `env` set.
fn render_config(template: &str, env: &[(String, String)]) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(["render-config", "-"])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(template.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Every case of tests/envsubst/cases.json, whose `a8m` column was recorded from
/// the real a8m/envsubst (what the NixOS Alertmanager module runs): rendered
/// exactly as it renders them, or, where marked, refused with an error.
#[test]
fn render_config_matches_the_real_envsubst_or_refuses() {
    let text = std::fs::read_to_string(format!("{REPO}/tests/envsubst/cases.json")).unwrap();
    let data: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "{}", cases.len());
    let (mut same, mut refused) = (0, 0);
    for case in cases {
        let template = case["template"].as_str().unwrap();
        let env: Vec<(String, String)> = case["env"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let out = render_config(template, &env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match case["ours"].as_str().unwrap() {
            "same" => {
                let a8m = case["a8m"].as_str().unwrap_or_else(|| panic!("{case}"));
                assert!(out.status.success(), "{template:?}: {stderr}");
                assert_eq!(stdout, a8m, "{template:?}");
                same += 1;
            }
            "refused" => {
                assert_eq!(out.status.code(), Some(1), "{template:?}: {stdout}");
                assert!(
                    stderr.starts_with("error: cannot render standard input: line "),
                    "{template:?}: {stderr}"
                );
                assert!(stdout.is_empty(), "{template:?}: {stdout}");
                refused += 1;
            }
            other => panic!("unknown `ours` {other:?}"),
        }
    }
    assert!(
        same >= 20 && refused >= 10,
        "{same} same, {refused} refused"
    );
}

#[test]
fn render_config_writes_the_alertmanager_config_privately() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alertmanager.yml");
    let status = Command::new(BIN)
        .args([
            "render-config",
            &format!("{REPO}/monitoring/alertmanager/alertmanager.yml"),
        ])
        .arg("--out")
        .arg(&out)
        .env_clear()
        .env("TELEGRAM_BOT_TOKEN", "123:secret-token")
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    assert!(status.stdout.is_empty(), "{status:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("bot_token: '123:secret-token'"), "{text}");
    let slack = &mixin_placeholders()["SLACK_WEBHOOK_URL"];
    assert!(text.contains(&format!("api_url: '{slack}'")), "{text}");
    // Comments may show the syntax (written $${VAR} in the template); values may not.
    let left: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains("${"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// The placeholders of the monitoring mixin (monitoring/mixin/config.py), as
/// monitoring/generate writes them out for readers that are not Python.
fn mixin_placeholders() -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(format!("{REPO}/monitoring/config.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&text).unwrap();
    serde_json::from_value(config["placeholders"].clone()).unwrap()
}

#[test]
fn the_stack_gives_grafana_the_mixins_placeholders() {
    // Grafana has no default syntax: the stack sets what alertmanager.yml defaults to.
    let ours: std::collections::BTreeMap<String, String> =
        model_server::stack::layout::NOTIFICATION_SECRETS
            .iter()
            .map(|s| (s.name.to_owned(), s.placeholder.to_owned()))
            .collect();
    assert_eq!(ours, mixin_placeholders());
}

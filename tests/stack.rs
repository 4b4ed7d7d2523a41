//! `model-server stack` refuses to start, with one clear line, when it cannot run.
//! (The running stack is tested end to end in tests/e2e against real Prometheus.)

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_model-server");
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// `model-server stack` with `args`, on a throwaway data dir unless `args` name one.
fn stack(args: &[&str]) -> (Option<i32>, String) {
    let ephemeral = (!args.contains(&"--data-dir")).then_some("--ephemeral");
    let out = Command::new(BIN)
        .arg("stack")
        .args(["--config-dir", REPO])
        .args(ephemeral)
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

/// A stand-in for node-exporter, Prometheus, Alertmanager and Grafana: answers 200
/// on the port of its `--web.listen-address=` flag (Grafana's: `$GF_SERVER_HTTP_PORT`),
/// and exits with code 3 once the file named by `$FAKE_DIE_WHEN_<name>` exists
/// (after 60 s if that is not set).
const FAKE_SERVICE: &str = r#"#!/bin/sh
addr=":${GF_SERVER_HTTP_PORT:-}"
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
http.server.ThreadingHTTPServer.allow_reuse_address = True
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

/// Generous ceiling for an event of a running stack (a busy machine is slow, and
/// the events come much sooner).
const EVENT_CEILING: std::time::Duration = std::time::Duration::from_secs(60);

/// Stand-ins for the monitoring children, in a folder of their own.
struct Fakes {
    dir: tempfile::TempDir,
}

impl Fakes {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for name in ["fake-node", "fake-prom", "fake-am", "fake-grafana"] {
            let path = dir.path().join(name);
            std::fs::write(&path, FAKE_SERVICE).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Fakes { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// `model-server stack` on the fakes and free ports; Grafana too with `grafana`.
    fn command(&self, grafana: bool) -> Command {
        let ports = free_ports(5);
        let mut command = Command::new(BIN);
        command
            .args(["stack", "--config-dir", REPO])
            .arg("--node-exporter-bin")
            .arg(self.path("fake-node"))
            .arg("--prometheus-bin")
            .arg(self.path("fake-prom"))
            .arg("--alertmanager-bin")
            .arg(self.path("fake-am"))
            .arg("--grafana-bin")
            .arg(if grafana {
                self.path("fake-grafana")
            } else {
                "/nonexistent/grafana".into()
            });
        for (flag, port) in [
            "--server-port",
            "--node-exporter-port",
            "--prometheus-port",
            "--alertmanager-port",
            "--grafana-port",
        ]
        .iter()
        .zip(&ports)
        {
            command.args([flag, port.as_str()]);
        }
        command
    }
}

/// A running stack whose output (stdout and stderr) is read on threads, so that
/// no pipe fills up, and can be waited on line by line.
struct Running {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    text: String,
}

impl Running {
    fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for stream in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in std::io::BufRead::lines(std::io::BufReader::new(stream)) {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Running {
            child,
            lines,
            text: String::new(),
        }
    }

    /// The first line from now on that contains `needle`.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + EVENT_CEILING;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.text.push_str(&line);
                    self.text.push('\n');
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {needle:?}; output so far:\n{}", self.text),
            }
        }
    }

    fn signal(&self, signal: libc::c_int) {
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// The exit code and all of the output.
    fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        // The reader threads end at EOF, which closes the channel.
        for line in self.lines.iter() {
            self.text.push_str(&line);
            self.text.push('\n');
        }
        (status.code(), self.text)
    }
}

/// The pid in a line `... (pid N)`.
fn pid_in(line: &str) -> i32 {
    let start = line.rfind("(pid ").expect(line) + 5;
    line[start..].trim_end_matches(')').parse().expect(line)
}

#[test]
fn a_monitoring_child_that_keeps_dying_is_restarted_until_its_budget_is_spent() {
    let fakes = Fakes::new();
    let data = tempfile::tempdir().unwrap();
    let trigger = data.path().join("node-exporter-dies");
    let mut command = fakes.command(false);
    command
        .arg("--data-dir")
        .arg(data.path().join("data"))
        .args(["--restart-delay", "100ms", "--restart-limit", "2"])
        .env("FAKE_DIE_WHEN_fake_node", &trigger);
    let mut stack = Running::start(command);
    // Kill node-exporter only once everything is up, however long start-up takes.
    stack.wait_for("Ctrl-C stops everything");
    std::fs::write(&trigger, b"").unwrap();
    let (code, text) = stack.finish();
    assert_eq!(code, Some(1), "{text}");
    // Each restart reported with the status, its number of the budget and the
    // doubled wait; then the budget is spent, the rest stopped.
    for line in [
        "node-exporter | exited (exit code 3); restart 1 of 2 within 5m in 100ms",
        "node-exporter | exited (exit code 3); restart 2 of 2 within 5m in 200ms",
        "error: node-exporter exited (exit code 3) after 2 restarts within 5m, its restart budget \
         (--restart-limit, --restart-window); stopped the rest of the stack",
        "model-server | stopped (exit code 0)",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    assert_eq!(
        text.matches("node-exporter | restarted (pid ").count(),
        2,
        "{text}"
    );
    // The rendered Alertmanager config is private.
    use std::os::unix::fs::PermissionsExt;
    let rendered = data
        .path()
        .join("data/config/alertmanager/alertmanager.yml");
    let mode = std::fs::metadata(&rendered).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// `GET /readyz` on 127.0.0.1:`port` answers 200.
fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    if stream
        .write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

#[test]
fn a_killed_model_server_is_restarted_while_the_rest_keeps_running() {
    let fakes = Fakes::new();
    let mut command = fakes.command(false);
    command.args(["--ephemeral", "--restart-delay", "200ms"]);
    let server_port: u16 = command
        .get_args()
        .skip_while(|a| *a != "--server-port")
        .nth(1)
        .and_then(|p| p.to_str()?.parse().ok())
        .unwrap();
    let mut stack = Running::start(command);
    let first = pid_in(&stack.wait_for("model-server | ready after"));
    stack.wait_for("Ctrl-C stops everything");
    assert_eq!(unsafe { libc::kill(first, libc::SIGKILL) }, 0);
    stack.wait_for("model-server | exited (killed by signal 9); restart 1 in 200ms");
    let second = pid_in(&stack.wait_for("model-server | restarted (pid "));
    assert_ne!(first, second);
    let deadline = std::time::Instant::now() + EVENT_CEILING;
    while !ready(server_port) {
        assert!(
            std::time::Instant::now() < deadline,
            "the restarted server never answered /readyz:\n{}",
            stack.text
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    stack.signal(libc::SIGINT);
    let (code, text) = stack.finish();
    assert_eq!(code, Some(0), "{text}");
    // Nothing else exited before the stack was told to stop.
    let before_stop = &text[..text.find("stopping (SIGTERM)").expect(&text)];
    assert_eq!(before_stop.matches("| exited (").count(), 1, "{text}");
    assert!(
        text.contains(&format!("removed {}", std::env::temp_dir().display())),
        "{text}"
    );
}

#[test]
fn the_default_data_dir_is_kept_reused_and_held_by_one_stack_at_a_time() {
    use std::os::unix::fs::PermissionsExt;
    let fakes = Fakes::new();
    let state_home = tempfile::tempdir().unwrap();
    let dir = state_home.path().join("model-server/stack");
    let run = || {
        let mut command = fakes.command(true);
        command
            .arg("--no-server")
            .env("XDG_STATE_HOME", state_home.path());
        command
    };
    let mut first = Running::start(run());
    first.wait_for(&format!(
        "data dir: {} (kept across runs: Prometheus history, Alertmanager silences, Grafana)",
        dir.display()
    ));
    first.wait_for("Ctrl-C stops everything");
    let password = dir.join("grafana/admin-password");
    let secret = std::fs::read_to_string(&password).unwrap();
    assert_eq!(secret.len(), 32);
    assert_eq!(
        std::fs::metadata(&password).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // A second stack on the same folder is refused before it starts anything.
    let (code, text) = Running::start(run()).finish();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "error: {} is in use by another `model-server stack` (pid {}): stop it, or give this one \
             its own folder with --data-dir DIR or --ephemeral",
            dir.display(),
            first.child.id()
        )),
        "{text}"
    );
    assert!(!text.contains("ready after"), "{text}");

    first.signal(libc::SIGTERM);
    let (code, text) = first.finish();
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("data kept in {} for the next run", dir.display())),
        "{text}"
    );
    assert!(dir.join("state-version").is_file());

    // The next run gets the folder, and the same Grafana password.
    let mut again = Running::start(run());
    again.wait_for("Ctrl-C stops everything");
    again.signal(libc::SIGHUP);
    let (code, text) = again.finish();
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("received SIGHUP; stopping the stack"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&password).unwrap(), secret);
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
        model_server::stack::secrets::NOTIFICATION_SECRETS
            .iter()
            .map(|s| (s.name.to_owned(), s.placeholder.to_owned()))
            .collect();
    assert_eq!(ours, mixin_placeholders());
}

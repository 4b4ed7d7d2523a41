//! `model-server stack` refuses to start, with one clear line, when it cannot run.
//! (The running stack is tested end to end in tests/e2e against real Prometheus.)

use std::process::Command;

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
    let free: Vec<String> = (0..4)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect::<Vec<_>>()
        .iter()
        .map(|l| l.local_addr().unwrap().port().to_string())
        .collect();
    // Grafana missing: a warning, then the busy port stops the start before anything runs.
    let mut args = bins.to_vec();
    args.extend(["--prometheus-port", &port]);
    for (flag, p) in [
        "--server-port",
        "--node-exporter-port",
        "--alertmanager-port",
        "--grafana-port",
    ]
    .into_iter()
    .zip(&free)
    {
        args.extend([flag, p.as_str()]);
    }
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

/// A stand-in for node-exporter, Prometheus and Alertmanager: answers 200 on the
/// port of its `--web.listen-address=` flag, and exits with code 3 after
/// `$FAKE_LIFETIME` seconds if that is set for its name.
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
lifetime = os.environ.get("FAKE_LIFETIME_" + name.replace("-", "_"))
threading.Event().wait(float(lifetime) if lifetime else 60)
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
    let ports: Vec<String> = (0..5)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect::<Vec<_>>()
        .iter()
        .map(|l| l.local_addr().unwrap().port().to_string())
        .collect();
    let out = Command::new(BIN)
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
        .env("FAKE_LIFETIME_fake_node", "4")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
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

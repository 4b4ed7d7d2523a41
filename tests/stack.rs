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

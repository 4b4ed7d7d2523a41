//! The file_sd targets files Prometheus discovers the stack's services from:
//! one target per model server (each its own `instance`), node-exporter and
//! Alertmanager, on the ports of this run.

use std::fs;
use std::path::Path;

use super::files::io_err;
use super::ports::Ports;
use super::StackError;

/// Writes `targets/<job>.json` below `prometheus_dir`.
pub fn write(prometheus_dir: &Path, ports: &Ports) -> Result<(), StackError> {
    let dir = prometheus_dir.join("targets");
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let address = |port: u16| format!("127.0.0.1:{port}");
    for (file, targets) in [
        ("model-server.json", ports.servers().map(address).collect()),
        ("node.json", vec![address(ports.node_exporter)]),
        ("alertmanager.json", vec![address(ports.alertmanager)]),
    ] {
        let path = dir.join(file);
        let body = serde_json::json!([{ "targets": targets }]);
        // Written aside and renamed: Prometheus re-reads the file when it changes
        // and must never see half of it.
        let partial = dir.join(format!(".{file}.partial"));
        fs::write(&partial, format!("{body}\n")).map_err(io_err(&partial))?;
        fs::rename(&partial, &path).map_err(io_err(&path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_point_at_the_chosen_ports() {
        let dir = tempfile::tempdir().unwrap();
        let ports = Ports {
            server: 18000,
            replicas: 3,
            node_exporter: 19100,
            prometheus: 19090,
            alertmanager: 19093,
            grafana: 13000,
        };
        write(dir.path(), &ports).unwrap();
        let node: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(dir.path().join("targets/node.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(node[0]["targets"][0], "127.0.0.1:19100");
        let servers: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(dir.path().join("targets/model-server.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            servers,
            serde_json::json!([{ "targets": ["127.0.0.1:18000", "127.0.0.1:18001", "127.0.0.1:18002"] }])
        );
    }
}

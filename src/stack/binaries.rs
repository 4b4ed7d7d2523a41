//! Finding the programs the stack runs: an explicit flag, else next to this
//! binary, else on PATH; a missing one is an error naming the package to install.

use std::path::{Path, PathBuf};

use super::{StackArgs, StackError};

/// Every program of the stack, resolved before anything starts.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub node_exporter: PathBuf,
    pub prometheus: PathBuf,
    pub alertmanager: PathBuf,
    /// Grafana is optional unless --require-all.
    pub grafana: Option<PathBuf>,
    /// Only with --load.
    pub loadgen: Option<PathBuf>,
}

impl Binaries {
    pub fn resolve(args: &StackArgs) -> Result<Self, StackError> {
        let node_exporter = find_binary(
            &args.node_exporter_bin,
            &["prometheus-node-exporter", "node_exporter"],
            "node-exporter",
            "install Debian's prometheus-node-exporter or pass --node-exporter-bin",
        )?;
        let prometheus = find_binary(
            &args.prometheus_bin,
            &["prometheus"],
            "prometheus",
            "install Debian's prometheus or pass --prometheus-bin",
        )?;
        let alertmanager = find_binary(
            &args.alertmanager_bin,
            &["alertmanager", "prometheus-alertmanager"],
            "alertmanager",
            "install Debian's prometheus-alertmanager or pass --alertmanager-bin",
        )?;
        let grafana = match find_binary(
            &args.grafana_bin,
            &["grafana", "grafana-server"],
            "grafana",
            "Grafana is not packaged by Debian: use `nix run .#stack`, install it from grafana.com, or pass --grafana-bin",
        ) {
            Ok(bin) => Some(bin),
            Err(e) if !args.require_all => {
                eprintln!("warning: {e}; starting the rest without Grafana (use --require-all to make this an error)");
                None
            }
            Err(e) => return Err(e),
        };
        let loadgen = if args.load {
            Some(find_binary(
                &args.loadgen_bin,
                &["loadgen"],
                "loadgen",
                "build it with `cargo build --release -p loadgen` or pass --loadgen-bin",
            )?)
        } else {
            None
        };
        Ok(Binaries {
            node_exporter,
            prometheus,
            alertmanager,
            grafana,
            loadgen,
        })
    }
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

fn find_binary(
    explicit: &Option<PathBuf>,
    names: &[&str],
    tool: &'static str,
    hint: &str,
) -> Result<PathBuf, StackError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.clone())
        } else {
            Err(StackError::MissingBinary {
                tool,
                hint: format!("{} does not exist", path.display()),
            })
        };
    }
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_owned))
        .and_then(|dir| names.iter().map(|n| dir.join(n)).find(|p| p.is_file()));
    sibling
        .or_else(|| on_path(names))
        .ok_or_else(|| StackError::MissingBinary {
            tool,
            hint: format!("none of {} is on PATH; {hint}", names.join(", ")),
        })
}

pub fn grafana_home(binary: &Path, explicit: &Option<PathBuf>) -> Option<PathBuf> {
    if let Some(home) = explicit {
        return Some(home.clone());
    }
    let real = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_owned());
    let bin_dir = real.parent()?;
    [
        bin_dir.join("../share/grafana"),
        bin_dir.join(".."),
        PathBuf::from("/usr/share/grafana"),
    ]
    .into_iter()
    .find(|d| d.join("conf/defaults.ini").is_file())
}

//! The configs the children read, made from the repository's at every start
//! into `<data dir>/config/`: Prometheus' folder copied with this run's file_sd
//! targets and the flags' additions to prometheus.yml, and Alertmanager's
//! template rendered from the environment into a 0600 file. The folder is
//! removed first, so that nothing of an older config (a rule file since deleted
//! or renamed) is ever loaded again.

use std::fs;
use std::path::{Path, PathBuf};

use super::files::{copy_dir, io_err, write_private};
use super::ports::Ports;
use super::prometheus_config::{self, Additions};
use super::{envsubst, secrets, targets, StackError};

/// Where the rendered configs are.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Prometheus' folder: prometheus.yml, rules/, targets/.
    pub prometheus: PathBuf,
    /// Alertmanager's folder: alertmanager.yml (0600), templates/.
    pub alertmanager: PathBuf,
}

/// What the configs are made from.
pub struct Inputs<'a> {
    /// The folder holding the repository's `monitoring/`.
    pub repo: &'a Path,
    pub ports: &'a Ports,
    pub additions: &'a Additions,
    pub grafana_url: &'a str,
}

/// Rebuilds `out` from the repository's configs.
pub fn render(inputs: &Inputs, out: &Path) -> Result<Rendered, StackError> {
    match fs::remove_dir_all(out) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(out)(e)),
        _ => {}
    }
    let monitoring = inputs.repo.join("monitoring");
    let rendered = Rendered {
        prometheus: out.join("prometheus"),
        alertmanager: out.join("alertmanager"),
    };
    copy_dir(&monitoring.join("prometheus"), &rendered.prometheus)?;
    targets::write(&rendered.prometheus, inputs.ports)?;
    derive_prometheus_config(
        &rendered.prometheus.join("prometheus.yml"),
        inputs.additions,
    )?;
    copy_dir(&monitoring.join("alertmanager"), &rendered.alertmanager)?;
    render_alertmanager(
        &monitoring.join("alertmanager/alertmanager.yml"),
        &rendered.alertmanager.join("alertmanager.yml"),
        &[("GRAFANA_URL", inputs.grafana_url.to_owned())],
    )?;
    Ok(rendered)
}

/// Rewrites a copy of `prometheus.yml` with the stack's additions (left as
/// copied when there are none).
pub fn derive_prometheus_config(path: &Path, additions: &Additions) -> Result<(), StackError> {
    if *additions == Additions::default() {
        return Ok(());
    }
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    let derived = prometheus_config::derive(&text, additions)?;
    fs::write(path, derived).map_err(io_err(path))
}

/// Renders the Alertmanager template with secrets from the environment (or their
/// `_FILE`s) into a 0600 file. `extra` variables (set by the stack itself) win
/// over the environment.
pub fn render_alertmanager(
    template: &Path,
    out: &Path,
    extra: &[(&str, String)],
) -> Result<(), StackError> {
    let text = fs::read_to_string(template).map_err(io_err(template))?;
    let mut missing_file = None;
    let rendered = envsubst::render(&text, |name| {
        if let Some((_, v)) = extra.iter().find(|(k, _)| *k == name) {
            return Some(v.clone());
        }
        match secrets::secret(name) {
            // Set but empty, as envsubst tells it from unset (`${VAR-default}`).
            Ok(None) => std::env::var(name).ok(),
            Ok(v) => v,
            Err(e) => {
                missing_file.get_or_insert(e);
                None
            }
        }
    })
    .map_err(|e| StackError::Template {
        path: template.to_owned(),
        reason: e.to_string(),
    })?;
    if let Some(e) = missing_file {
        return Err(e);
    }
    write_private(out, rendered.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn rendered_config_is_private_and_has_the_values() {
        let dir = tempfile::tempdir().unwrap();
        let template = dir.path().join("am.yml");
        fs::write(
            &template,
            "url: ${GRAFANA_URL}\nslack: ${MODEL_SERVER_TEST_UNSET_SECRET:-http://127.0.0.1:9/}\ncost: $$1\n\
             empty: [${MODEL_SERVER_TEST_EMPTY_SECRET-unset}]\n",
        )
        .unwrap();
        let out = dir.path().join("rendered.yml");
        std::env::set_var("MODEL_SERVER_TEST_EMPTY_SECRET", "");
        render_alertmanager(&template, &out, &[("GRAFANA_URL", "http://g:3000".into())]).unwrap();
        std::env::remove_var("MODEL_SERVER_TEST_EMPTY_SECRET");
        let text = fs::read_to_string(&out).unwrap();
        assert_eq!(
            text,
            "url: http://g:3000\nslack: http://127.0.0.1:9/\ncost: $1\nempty: []\n"
        );
        let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Rendering again replaces the file and keeps it private.
        render_alertmanager(&template, &out, &[("GRAFANA_URL", "x".into())]).unwrap();
        assert_eq!(
            fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_rule_file_gone_from_the_repo_is_gone_from_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let rules = repo.join("monitoring/prometheus/rules");
        fs::create_dir_all(&rules).unwrap();
        fs::create_dir_all(repo.join("monitoring/alertmanager")).unwrap();
        fs::write(repo.join("monitoring/prometheus/prometheus.yml"), "{}\n").unwrap();
        fs::write(rules.join("old.yml"), "groups: []\n").unwrap();
        fs::write(rules.join("kept.yml"), "groups: []\n").unwrap();
        fs::write(
            repo.join("monitoring/alertmanager/alertmanager.yml"),
            "link: ${GRAFANA_URL}\n",
        )
        .unwrap();
        let ports = Ports {
            server: 18000,
            replicas: 1,
            node_exporter: 19100,
            prometheus: 19090,
            alertmanager: 19093,
            grafana: 13000,
        };
        let inputs = Inputs {
            repo: &repo,
            ports: &ports,
            additions: &Additions::default(),
            grafana_url: "http://127.0.0.1:13000",
        };
        let out = dir.path().join("data/config");
        let rendered = render(&inputs, &out).unwrap();
        assert!(rendered.prometheus.join("rules/old.yml").is_file());
        assert!(rendered
            .prometheus
            .join("targets/model-server.json")
            .is_file());
        assert_eq!(
            fs::read_to_string(rendered.alertmanager.join("alertmanager.yml")).unwrap(),
            "link: http://127.0.0.1:13000\n"
        );
        fs::remove_file(rules.join("old.yml")).unwrap();
        let rendered = render(&inputs, &out).unwrap();
        assert!(!rendered.prometheus.join("rules/old.yml").exists());
        assert!(rendered.prometheus.join("rules/kept.yml").is_file());
    }
}

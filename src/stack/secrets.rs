//! The notification secrets (Slack, Telegram, Discord): their names, the
//! placeholders that keep the configs valid while one is unset, and reading
//! each from the environment or from the file `NAME_FILE` names.

use std::path::PathBuf;

use super::files::io_err;
use super::StackError;

/// Secrets the Alertmanager template reads. Each may also be given as a file
/// through `NAME_FILE` (for systemd credentials, Docker/K8s secrets).
/// The placeholder is what Alertmanager's template and Grafana's contact points
/// get when the secret is unset: valid values that deliver nowhere.
pub const NOTIFICATION_SECRETS: [Secret; 4] = [
    Secret {
        name: "SLACK_WEBHOOK_URL",
        service: "Slack",
        placeholder: "http://127.0.0.1:9/unconfigured",
    },
    Secret {
        name: "TELEGRAM_BOT_TOKEN",
        service: "Telegram",
        placeholder: "unconfigured",
    },
    Secret {
        name: "TELEGRAM_CHAT_ID",
        service: "Telegram",
        placeholder: "-1",
    },
    Secret {
        name: "DISCORD_WEBHOOK_URL",
        service: "Discord",
        placeholder: "http://127.0.0.1:9/unconfigured",
    },
];

/// A notification secret read from the environment.
#[derive(Debug, Clone, Copy)]
pub struct Secret {
    pub name: &'static str,
    pub service: &'static str,
    pub placeholder: &'static str,
}

/// The value of a secret: `NAME` from the environment, else the contents of the file
/// named by `NAME_FILE` (trailing newline trimmed).
pub fn secret(name: &str) -> Result<Option<String>, StackError> {
    if let Some(v) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
        return Ok(Some(v));
    }
    match std::env::var_os(format!("{name}_FILE")) {
        Some(path) => {
            let path = PathBuf::from(path);
            let value = std::fs::read_to_string(&path).map_err(io_err(&path))?;
            Ok(Some(value.trim_end_matches(['\n', '\r']).to_owned()))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_that_cannot_be_read_is_an_error_naming_it() {
        std::env::set_var("MODEL_SERVER_TEST_SECRET_FILE", "/nonexistent/secret");
        let err = secret("MODEL_SERVER_TEST_SECRET").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/secret"), "{err}");
        std::env::remove_var("MODEL_SERVER_TEST_SECRET_FILE");
    }
}

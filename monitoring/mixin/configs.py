"""The service configs that name jobs, intervals, links and placeholders:
Prometheus's prometheus.yml, Alertmanager's alertmanager.yml (an envsubst
template) and Grafana's datasource."""
from .dump import Plain, SingleQuoted

PROMETHEUS_COMMENT = """\
Prometheus configuration for model-server.
Paths are relative to this file: the stack copies this whole folder into its
data dir and rewrites targets/*.json (file_sd) with the ports it chose.
"""


def prometheus(c):
    def file_sd(name):
        return [{"files": ["targets/%s.json" % name], "refresh_interval": "30s"}]

    return {
        "global": {"scrape_interval": c.scrape_interval, "scrape_timeout": c.scrape_timeout,
                   "evaluation_interval": c.scrape_interval},
        "rule_files": ["rules/*.yml"],
        "alerting": {"alertmanagers": [{"file_sd_configs": file_sd("alertmanager")}]},
        # The targets files keep the names the stack writes, whatever the job is called.
        "scrape_configs": [
            {"job_name": c.model_server_job, "metrics_path": "/metrics", "file_sd_configs": file_sd("model-server")},
            {"job_name": c.node_job, "metrics_path": "/metrics", "file_sd_configs": file_sd("node")},
        ],
    }


# Comments are rendered too: a dollar in them is written $$.
ALERTMANAGER_COMMENT = """\
Alertmanager configuration TEMPLATE, rendered at start with envsubst syntax
($$VAR, $${VAR}, $${VAR:-default}; a literal dollar is written $$$$): by the stack
(`model-server stack`) and by the NixOS module (a8m envsubst through
services.prometheus.alertmanager.environmentFile). The rendered file holds
secrets: write it mode 0600 and never commit or log it.

Environment (every secret has a harmless default so the config stays valid
and Alertmanager starts without any secret; notifications then go to a
discard port on loopback and fail quietly):
  SLACK_WEBHOOK_URL    Slack incoming-webhook URL
  TELEGRAM_BOT_TOKEN   Telegram bot token
  TELEGRAM_CHAT_ID     Telegram chat id (integer, may be negative)
  TELEGRAM_API_URL     Telegram Bot API base URL
  DISCORD_WEBHOOK_URL  Discord webhook URL
  GRAFANA_URL          Grafana base URL used in links
  ALERTMANAGER_TEMPLATES_DIR  folder of *.tmpl (default: templates/ next to the
                       rendered file; set it when rendering elsewhere)
The defaults are the placeholders and links of monitoring/mixin/config.py.

Routing: critical -> Slack + Telegram + Discord; warning (and anything else)
-> Slack + Discord. Inhibition: a critical alert silences the warning of the
same alertname/service; a down target silences the other alerts of its service.
"""


def alertmanager(c, down_alerts):
    """`down_alerts`: {service: alert name} of the alerts that mean a service's
    target is gone, which silence the other alerts of that service."""
    env = lambda name, default: "${%s:-%s}" % (name, default)  # noqa: E731
    secret = dict(c.placeholders)
    grafana = env("GRAFANA_URL", c.grafana_url)
    dashboard = SingleQuoted("%s/d/%s" % (grafana, c.dashboard_uid))
    linked = lambda template: SingleQuoted(  # noqa: E731
        '{{ define "ms.grafana_url" }}%s{{ end }}{{ template "%s" . }}' % (grafana, template))

    def receiver(name, color, telegram):
        r = {"name": name,
             "slack_configs": [{
                 "api_url": SingleQuoted(env("SLACK_WEBHOOK_URL", secret["SLACK_WEBHOOK_URL"])),
                 "send_resolved": True,
                 "color": SingleQuoted('{{ if eq .Status "firing" }}%s{{ else }}good{{ end }}' % color),
                 "title": SingleQuoted('{{ template "ms.slack.title" . }}'),
                 "title_link": dashboard,
                 "text": linked("ms.slack.text")}]}
        if telegram:
            r["telegram_configs"] = [{
                "api_url": SingleQuoted(env("TELEGRAM_API_URL", c.telegram_api_url)),
                "bot_token": SingleQuoted(env("TELEGRAM_BOT_TOKEN", secret["TELEGRAM_BOT_TOKEN"])),
                # unquoted: the rendered chat id is a YAML integer
                "chat_id": Plain(env("TELEGRAM_CHAT_ID", secret["TELEGRAM_CHAT_ID"])),
                "parse_mode": "HTML",
                "send_resolved": True,
                "message": linked("ms.telegram.message")}]
        r["discord_configs"] = [{
            "webhook_url": SingleQuoted(env("DISCORD_WEBHOOK_URL", secret["DISCORD_WEBHOOK_URL"])),
            "send_resolved": True,
            "title": SingleQuoted('{{ template "ms.discord.title" . }}'),
            "message": linked("ms.discord.message")}]
        return r

    return {
        "global": {"resolve_timeout": "5m"},
        "templates": [SingleQuoted(env("ALERTMANAGER_TEMPLATES_DIR", "templates") + "/*.tmpl")],
        "route": {
            "receiver": "warning",
            "group_by": ["alertname", "job", "service"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {"receiver": "critical", "matchers": [SingleQuoted('severity="critical"')], "group_wait": "10s",
                 "group_interval": "1m", "repeat_interval": "1h"},
                {"receiver": "warning", "matchers": [SingleQuoted('severity="warning"')]},
            ],
        },
        "inhibit_rules": [
            # The critical variant of an alert makes its warning variant redundant.
            {"source_matchers": [SingleQuoted('severity="critical"')],
             "target_matchers": [SingleQuoted('severity="warning"')],
             "equal": ["alertname", "service"]},
            # A target that is down explains every other alert of its service.
            *[{"source_matchers": [SingleQuoted('alertname="%s"' % name)],
               "target_matchers": [SingleQuoted('service="%s"' % service), SingleQuoted('alertname!="%s"' % name)],
               "equal": ["service"]}
              for service, name in down_alerts.items()],
        ],
        "receivers": [receiver("critical", "danger", telegram=True), receiver("warning", "warning", telegram=False)],
    }


DATASOURCE_COMMENT = """\
Grafana datasource provisioning. Grafana expands $VAR / ${VAR} / $__env{VAR}
/ $__file{path} in provisioning files when it reads them (no ${VAR:-default}
form: an unset variable becomes an empty string), so whoever starts Grafana
must set PROMETHEUS_URL: `model-server stack` sets it to
http://127.0.0.1:<prometheus-port>, the NixOS module through the Grafana
service environment (default http://127.0.0.1:9090).
timeInterval is the scrape interval, the shortest step worth querying.
"""


def datasource(c):
    return {
        "apiVersion": 1,
        "deleteDatasources": [{"name": "Prometheus", "orgId": 1}],
        "datasources": [{
            "name": "Prometheus", "uid": "prometheus", "type": "prometheus", "access": "proxy", "orgId": 1,
            "url": "${PROMETHEUS_URL}", "isDefault": True, "editable": False,
            "jsonData": {"httpMethod": "POST", "timeInterval": c.scrape_interval, "prometheusType": "Prometheus"},
        }],
    }

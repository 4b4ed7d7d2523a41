"""Static checks of monitoring/alertmanager (amtool check-config runs in monitoring/check)."""
import glob
import os
import re
import subprocess

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MODEL_SERVER_BIN", os.path.join(ROOT, "target", "debug", "model-server"))


def render(template, env):
    """The template as `model-server render-config` renders it with only `env` set:
    the stack's renderer, which matches the NixOS module's envsubst (tests/envsubst/)."""
    p = subprocess.run([BIN, "render-config", "-"], input=template, env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout
AM = os.path.join(ROOT, "monitoring", "alertmanager")
TEMPLATE = open(os.path.join(AM, "alertmanager.yml"), encoding="utf-8").read()
SECRETS = ["SLACK_WEBHOOK_URL", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "DISCORD_WEBHOOK_URL"]


def receivers(cfg):
    return {r["name"]: r for r in cfg["receivers"]}


def test_renders_with_defaults_only():
    cfg = yaml.safe_load(render(TEMPLATE, {}))
    for r in cfg["receivers"]:
        for s in r.get("slack_configs", []):
            assert s["api_url"].startswith("http://127.0.0.1:9/")
        for t in r.get("telegram_configs", []):
            assert t["bot_token"] and t["chat_id"] != 0 and t["api_url"] == "https://api.telegram.org"
        for d in r.get("discord_configs", []):
            assert d["webhook_url"].startswith("http://127.0.0.1:9/")


def test_secrets_come_only_from_the_environment():
    env = {"SLACK_WEBHOOK_URL": "https://hooks.example/slack-secret", "TELEGRAM_BOT_TOKEN": "123:tg-secret",
           "TELEGRAM_CHAT_ID": "-1001234", "DISCORD_WEBHOOK_URL": "https://discord.example/d-secret",
           "TELEGRAM_API_URL": "http://127.0.0.1:1234/tg", "GRAFANA_URL": "http://grafana.example:3000"}
    text = render(TEMPLATE, env)
    cfg = yaml.safe_load(text)
    crit = receivers(cfg)["critical"]
    assert crit["slack_configs"][0]["api_url"] == env["SLACK_WEBHOOK_URL"]
    assert crit["telegram_configs"][0]["bot_token"] == env["TELEGRAM_BOT_TOKEN"]
    assert crit["telegram_configs"][0]["chat_id"] == -1001234
    assert crit["telegram_configs"][0]["api_url"] == env["TELEGRAM_API_URL"]
    assert crit["discord_configs"][0]["webhook_url"] == env["DISCORD_WEBHOOK_URL"]
    assert "http://grafana.example:3000/d/model-server" in text
    # every secret field of the template is an env reference, never a literal
    for field in ("api_url", "bot_token", "chat_id", "webhook_url"):
        for m in re.finditer(r"^\s*-?\s*%s:\s*(.+)$" % field, TEMPLATE, re.M):
            assert m.group(1).strip("'\"").startswith("${"), m.group(0)


def test_routing_and_inhibition():
    cfg = yaml.safe_load(render(TEMPLATE, {}))
    route = cfg["route"]
    assert route["group_by"] == ["alertname", "job", "service"]
    rec = receivers(cfg)
    names = set(rec)
    assert route["receiver"] in names and all(r["receiver"] in names for r in route["routes"])
    crit = next(r for r in route["routes"] if 'severity="critical"' in r["matchers"])
    warn = next(r for r in route["routes"] if 'severity="warning"' in r["matchers"])
    kinds = lambda r: {k for k in r if k.endswith("_configs")}
    assert kinds(rec[crit["receiver"]]) == {"slack_configs", "telegram_configs", "discord_configs"}
    assert kinds(rec[warn["receiver"]]) >= {"slack_configs", "discord_configs"}
    for r in rec.values():
        for k in kinds(r):
            assert all(c.get("send_resolved") for c in r[k])
    inhibit = cfg["inhibit_rules"]
    assert any('severity="critical"' in i["source_matchers"] and 'severity="warning"' in i["target_matchers"]
               and set(i["equal"]) >= {"alertname", "service"} for i in inhibit)
    assert any('alertname="ModelServerDown"' in i["source_matchers"] and 'service="model-server"' in i["target_matchers"]
               for i in inhibit)


def test_templates_used_by_the_config_are_defined():
    defined = set()
    for f in glob.glob(os.path.join(AM, "templates", "*.tmpl")):
        defined.update(re.findall(r'define "([^"]+)"', open(f, encoding="utf-8").read()))
    defined.update(re.findall(r'define "([^"]+)"', TEMPLATE))
    used = set(re.findall(r'template "([^"]+)"', TEMPLATE))
    for f in glob.glob(os.path.join(AM, "templates", "*.tmpl")):
        used.update(re.findall(r'template "([^"]+)"', open(f, encoding="utf-8").read()))
    assert used and used <= defined, used - defined


def test_every_field_that_links_defines_the_grafana_url():
    for line in TEMPLATE.splitlines():
        if re.search(r'template "ms\.(slack\.text|telegram\.message|discord\.message)"', line):
            assert 'define "ms.grafana_url"' in line, line

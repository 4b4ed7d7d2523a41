# NixOS VM tests (`nix flake check`, or `nix build .#checks.x86_64-linux.vm-stack -L`).
{
  lib,
  pkgs,
  model-server,
  images,
  nixosModules,
}: let
  grafanaPassword = "test-admin-password";
  webhookPort = 5001;
  receiverUrl = "http://client:${toString webhookPort}";

  # Stands in for Slack, Discord and the Telegram Bot API: logs every POST as one
  # JSON line {path, agent, body} to stdout (the journal) and to a file, and answers
  # as the real service does on success (Alertmanager's Slack notifier wants the
  # body "ok", its Telegram client a Bot API result), so nothing is retried.
  webhookReceiver = pkgs.writers.writePython3 "webhook-receiver" {} (builtins.readFile ./webhook-receiver.py);
in {
  vm-stack = pkgs.testers.runNixOSTest {
    name = "model-server-stack";

    nodes = {
      server = {
        imports = [nixosModules.default];
        services.model-server = {
          enable = true;
          package = model-server;
          listenAddress = "0.0.0.0";
          openFirewall = true;
          enableFaults = true;
          monitoring.nodeExporter = {
            enable = true;
            openFirewall = true;
          };
        };
      };

      monitor = {
        imports = [nixosModules.default];
        virtualisation.memorySize = 2048;
        environment.systemPackages = [pkgs.jq];
        # Test secrets; on a real host they come from a secret manager, not the store.
        environment.etc."grafana-secrets/admin-password".text = grafanaPassword;
        environment.etc."grafana-secrets/secret-key".text = "0123456789abcdef0123456789abcdef";
        services.model-server.monitoring = {
          enable = true;
          modelServerTargets = ["server:8000"];
          nodeTargets = ["server:9100"];
          # The notification secrets of the repo's Alertmanager template and Grafana
          # contact points: Slack, Discord and the Telegram Bot API all point at
          # the client's receiver (Grafana's Telegram integration has no API URL
          # setting, it keeps trying api.telegram.org, unreachable here).
          alertmanager.environmentFile = pkgs.writeText "notifications.env" ''
            SLACK_WEBHOOK_URL=${receiverUrl}/slack
            DISCORD_WEBHOOK_URL=${receiverUrl}/discord
            TELEGRAM_API_URL=${receiverUrl}/telegram
            TELEGRAM_BOT_TOKEN=test-token
            TELEGRAM_CHAT_ID=42
          '';
          grafana = {
            adminPasswordFile = "/etc/grafana-secrets/admin-password";
            secretKeyFile = "/etc/grafana-secrets/secret-key";
          };
        };
      };

      client = {
        environment.systemPackages = [
          model-server.loadgen
          pkgs.curl
          pkgs.jq
        ];
        networking.firewall.allowedTCPPorts = [webhookPort];
        systemd.services.webhook-receiver = {
          wantedBy = ["multi-user.target"];
          after = ["network.target"];
          serviceConfig = {
            ExecStart = "${webhookReceiver} ${toString webhookPort}";
            DynamicUser = true;
            StateDirectory = "webhook-receiver";
          };
        };
      };
    };

    testScript = ''
      import json

      start_all()

      server.wait_for_unit("model-server.service")
      server.wait_for_open_port(8000)
      server.wait_for_unit("prometheus-node-exporter.service")
      server.wait_for_open_port(9100)
      client.wait_for_unit("webhook-receiver.service")
      client.wait_for_open_port(${toString webhookPort})
      monitor.wait_for_unit("prometheus.service")
      monitor.wait_for_open_port(9090)
      monitor.wait_for_unit("alertmanager.service")
      monitor.wait_for_open_port(9093)
      monitor.wait_for_unit("grafana.service")
      monitor.wait_for_open_port(3000)

      with subtest("the server's unit allows many connections"):
          limit = server.succeed(
              "systemctl show -p LimitNOFILE --value model-server.service"
          ).strip()
          assert limit == "65536", f"LimitNOFILE={limit}"

      with subtest("the server answers over the network"):
          client.succeed("curl -sf http://server:8000/readyz")
          # Commands run under `set -euo pipefail`: write to a file, then read it
          # (`curl | grep -q` can fail with SIGPIPE once grep has its match).
          client.succeed(
              "curl -sf -o /tmp/predict.json -H 'content-type: application/json' "
              + "-d '{\"features\":[5.1,3.5,1.4,0.2]}' http://server:8000/predict",
              "grep -q setosa /tmp/predict.json",
          )

      with subtest("every target is up in Prometheus"):
          monitor.wait_until_succeeds(
              "curl -sf http://127.0.0.1:9090/api/v1/targets | "
              + "jq -e '[.data.activeTargets[] | .labels.job] | sort == [\"model-server\", \"node\"]'"
          )
          monitor.wait_until_succeeds(
              "curl -sf http://127.0.0.1:9090/api/v1/targets | "
              + "jq -e '.data.activeTargets | all(.health == \"up\")'"
          )

      with subtest("traffic from the client shows in requests_total"):
          # Faults are enabled on the server, so the default mix (with 5xx) runs.
          client.succeed(
              "loadgen --host http://server:8000 -u 4 -r 4 -t 30s --think-time 5..15 "
              + "--no-reset-metrics --summary-file /tmp/loadgen-summary.json"
          )
          summary = json.loads(client.succeed("cat /tmp/loadgen-summary.json"))
          ok = summary["by_status"]["200"]
          assert ok > 100 and summary["unexpected_status"] == 0, summary
          # Every 200 the client saw was counted by the server (plus the one above).
          monitor.wait_until_succeeds(
              "curl -sf http://127.0.0.1:9090/api/v1/query --data-urlencode "
              + "'query=sum(requests_total{job=\"model-server\",route=\"/predict\",status=\"200\"})' | "
              + f"jq -e '.data.result[0].value[1] | tonumber >= {ok}'"
          )

      with subtest("Grafana is healthy and provisioned from the repo's files"):
          auth = "admin:${grafanaPassword}"
          def api(path):
              return f"curl -sf -u {auth} 'http://127.0.0.1:3000/api{path}'"

          monitor.wait_until_succeeds(
              "curl -sf http://127.0.0.1:3000/api/health | jq -e '.database == \"ok\"'"
          )
          # datasources/prometheus.yaml, with PROMETHEUS_URL from the unit's environment
          monitor.succeed(
              api("/datasources/uid/prometheus") + " | "
              + "jq -e '.type == \"prometheus\" and .url == \"http://127.0.0.1:9090\"'"
          )
          # dashboards/model-server.yaml, with MODEL_SERVER_DASHBOARDS_DIR
          monitor.wait_until_succeeds(
              api("/dashboards/uid/model-server") + " | "
              + "jq -e '.dashboard.uid == \"model-server\" and .meta.provisioned'"
          )
          # alerting/rules.yaml, contact-points.yaml (with its templates), policies.yaml
          monitor.succeed(
              api("/v1/provisioning/alert-rules/ms-down") + " | jq -e '.title == \"ModelServerDown\"'"
          )
          monitor.succeed(
              api("/v1/provisioning/contact-points") + " | "
              + "jq -e '[.[].name] | contains([\"model-server-slack\", \"model-server-telegram\", \"model-server-discord\"])'"
          )
          monitor.succeed(
              api("/v1/provisioning/templates") + " | jq -e '[.[].name] | index(\"model-server\")'"
          )
          monitor.succeed(
              api("/v1/provisioning/policies") + " | jq -e '.receiver == \"model-server-slack\"'"
          )
          # The alert rules and the dashboard share one folder (found by title).
          monitor.succeed(
              api("/folders") + " | "
              + "jq -e '[.[] | select(.title == \"model-server\")] | length == 1'"
          )
          # A query through the provisioned datasource (uid prometheus), as a dashboard panel does it.
          query = json.dumps({
              "from": "now-15m",
              "to": "now",
              "queries": [{
                  "refId": "A",
                  "datasource": {"type": "prometheus", "uid": "prometheus"},
                  "expr": "sum by (route) (rate(requests_total{job=\"model-server\"}[1m]))",
                  "range": True,
                  "intervalMs": 5000,
                  "maxDataPoints": 100,
              }],
          })
          monitor.succeed(f"echo '{query}' > /tmp/query.json")
          monitor.wait_until_succeeds(
              f"curl -sf -u {auth} -H 'content-type: application/json' "
              + "-d @/tmp/query.json http://127.0.0.1:3000/api/ds/query | "
              + "jq -e '.results.A.frames | length > 0'"
          )
          monitor.succeed(
              api("/datasources/proxy/uid/prometheus/api/v1/query?query=up") + " | "
              + "jq -e '.data.result | length == 2'"
          )

      with subtest("stopping the server exits 0 and delivers ModelServerDown"):
          # (Not `log`: the driver's global of that name is its logger, and mypy
          # type-checks the script against it.)
          received = "/var/lib/webhook-receiver/requests.jsonl"
          # Only what arrives after the stop counts; one JSON object a line (jq -s).
          # The receiver creates the file at its first request, which may not have come.
          seen = int(
              client.succeed(
                  f"if [ -e {received} ]; then wc -l < {received}; else echo 0; fi"
              ).strip()
          )
          new = f"tail -n +{seen + 1} {received}"
          server.systemctl("stop model-server.service")
          status = server.succeed(
              "systemctl show -p ExecMainStatus --value model-server.service"
          ).strip()
          assert status == "0", f"model-server exited with {status}"
          # for: 1m in rules/model-server.yml, evaluated every 5s.
          monitor.wait_until_succeeds(
              "curl -sf http://127.0.0.1:9090/api/v1/alerts | "
              + "jq -e '[.data.alerts[] | select(.labels.alertname == \"ModelServerDown\" and .state == \"firing\")] | length > 0'",
              timeout=300,
          )
          # Alertmanager routes severity=critical to Slack, Discord and Telegram
          # (group_wait 10s); each title is "[FIRING:1] ModelServerDown · critical · ...".
          # Its Slack and Discord notifiers send User-Agent Alertmanager/<version>; only
          # Alertmanager reaches /telegram (Grafana's Telegram has no API URL setting).
          am = "(.agent | startswith(\"Alertmanager\"))"
          for path, sender in [
              ("/slack", am),
              ("/discord", am),
              ("/telegram/bottest-token/sendMessage", "true"),
          ]:
              client.wait_until_succeeds(
                  f"{new} | jq -se 'any(.path == \"{path}\" and {sender} "
                  + "and (.body | contains(\"ModelServerDown\")) and (.body | contains(\"FIRING\")))'",
                  timeout=300,
              )
          # Grafana's own ModelServerDown (alerting/rules.yaml: interval 30s, for 1m,
          # then the policy's group_wait 30s) through the same Slack contact point.
          client.wait_until_succeeds(
              f"{new} | jq -se 'any(.path == \"/slack\" and ({am} | not) "
              + "and (.body | contains(\"ModelServerDown\")))'",
              timeout=420,
          )
    '';
  };

  # Several servers on one machine (services.model-server.instances), all scraped
  # by the monitoring module, with external labels and a remote-write endpoint.
  vm-instances = pkgs.testers.runNixOSTest {
    name = "model-server-instances";

    nodes.machine = {
      imports = [nixosModules.default];
      virtualisation.memorySize = 2048;
      environment.systemPackages = [pkgs.jq];
      environment.etc."grafana-secrets/admin-password".text = grafanaPassword;
      environment.etc."grafana-secrets/secret-key".text = "0123456789abcdef0123456789abcdef";
      services.model-server = {
        enable = true;
        package = model-server;
        instances.second.port = 8001;
        monitoring = {
          enable = true;
          externalLabels.cluster = "vm-test";
          # Nothing listens there: Prometheus keeps retrying, which is all this test needs.
          remoteWrite.url = "http://127.0.0.1:9201/api/v1/write";
          grafana = {
            adminPasswordFile = "/etc/grafana-secrets/admin-password";
            secretKeyFile = "/etc/grafana-secrets/secret-key";
          };
        };
      };
    };

    testScript = ''
      machine.wait_for_unit("model-server.service")
      machine.wait_for_unit("model-server-second.service")
      machine.wait_for_open_port(8000)
      machine.wait_for_open_port(8001)
      machine.wait_for_unit("prometheus.service")
      machine.wait_for_open_port(9090)

      with subtest("both servers answer"):
          machine.succeed(
              "curl -sf -o /tmp/ready-8000 http://127.0.0.1:8000/readyz",
              "curl -sf -o /tmp/ready-8001 http://127.0.0.1:8001/readyz",
          )

      with subtest("Prometheus scrapes both as job model-server"):
          machine.wait_until_succeeds(
              "curl -sf http://127.0.0.1:9090/api/v1/targets | jq -e "
              + "'[.data.activeTargets[] | select(.labels.job == \"model-server\" and .health == \"up\") "
              + "| .labels.instance] | sort == [\"127.0.0.1:8000\", \"127.0.0.1:8001\"]'"
          )

      with subtest("external labels and remote write are in Prometheus' config"):
          machine.succeed(
              "curl -sf -o /tmp/config.json http://127.0.0.1:9090/api/v1/status/config",
              "jq -r .data.yaml /tmp/config.json > /tmp/prometheus.yml",
              "grep -q 'cluster: vm-test' /tmp/prometheus.yml",
              "grep -q 'url: http://127.0.0.1:9201/api/v1/write' /tmp/prometheus.yml",
          )
    '';
  };

  # The OCI images: loaded into podman, their config inspected, the binaries run from them.
  vm-images = pkgs.testers.runNixOSTest {
    name = "model-server-images";

    nodes.machine = {
      virtualisation.podman.enable = true;
      virtualisation.memorySize = 1024;
      environment.systemPackages = [pkgs.curl];
    };

    testScript = ''
      import json

      tag = "${model-server.version}"

      machine.wait_for_unit("multi-user.target")

      with subtest("the server image's config"):
          machine.succeed("podman load -i ${images.server}")
          config = json.loads(machine.succeed(f"podman image inspect model-server:{tag}"))[0]["Config"]
          assert config["User"] == "65534:65534", config
          assert "8000/tcp" in config["ExposedPorts"], config
          assert "MODEL_SERVER_LISTEN=0.0.0.0:8000" in config["Env"], config
          assert config["Entrypoint"] == ["${lib.getExe model-server}"], config

      with subtest("the server runs from its image and stops cleanly"):
          machine.succeed(f"podman run -d --name server --network host model-server:{tag}")
          machine.wait_until_succeeds("curl -sf http://127.0.0.1:8000/readyz")
          # Write to a file, then grep it: `curl | grep -q` fails under pipefail
          # when grep exits before curl has written everything (SIGPIPE, exit 23).
          machine.succeed(
              "curl -sf -o /tmp/predict.json -H 'content-type: application/json' "
              + "-d '{\"instances\":[[6.7,3.0,5.2,2.3]]}' http://127.0.0.1:8000/predict",
              "grep -q virginica /tmp/predict.json",
              "curl -sf -o /tmp/metrics.txt http://127.0.0.1:8000/metrics",
              "grep -q '^model_info' /tmp/metrics.txt",
          )
          machine.succeed("podman stop --time 30 server")
          assert machine.succeed("podman inspect -f '{{.State.ExitCode}}' server").strip() == "0"

      with subtest("the load generator image"):
          machine.succeed("podman load -i ${images.loadgen}")
          machine.succeed(f"podman run --rm model-server-loadgen:{tag} --help")
    '';
  };
}

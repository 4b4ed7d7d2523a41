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

  # Logs every POST body as one JSON line to stdout (the journal) and to a file.
  webhookReceiver = pkgs.writers.writePython3 "webhook-receiver" {} ''
    import json
    import os
    import sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    LOG = os.path.join(os.environ["STATE_DIRECTORY"], "alerts.jsonl")


    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            line = json.dumps(json.loads(body or b"null"))
            with open(LOG, "a") as log:
                log.write(line + "\n")
            print(line, flush=True)
            self.send_response(200)
            self.end_headers()

        def log_message(self, fmt, *args):
            print(fmt % args, file=sys.stderr, flush=True)


    HTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
  '';
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
          # The repo's Alertmanager template reads its receivers' URLs from the
          # environment: point the webhook receiver at the client.
          alertmanager.environmentFile = pkgs.writeText "alertmanager.env" ''
            ALERT_WEBHOOK_URL=http://client:${toString webhookPort}/alerts
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

      with subtest("the server answers over the network"):
          client.succeed("curl -sf http://server:8000/readyz")
          client.succeed(
              "curl -sf -H 'content-type: application/json' "
              + "-d '{\"features\":[5.1,3.5,1.4,0.2]}' http://server:8000/predict | grep -q setosa"
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
          client.succeed(
              "loadgen --host http://server:8000 --users 4 --increase-rate 4 --run-time 15s "
              + "--no-reset-metrics --no-telnet --no-websocket --quiet"
          )
          monitor.wait_until_succeeds(
              "curl -sf http://127.0.0.1:9090/api/v1/query "
              + "--data-urlencode 'query=sum(requests_total{job=\"model-server\",route=\"/predict\"})' | "
              + "jq -e '.data.result[0].value[1] | tonumber > 100'"
          )

      with subtest("Grafana is healthy and provisioned"):
          auth = "admin:${grafanaPassword}"
          monitor.wait_until_succeeds(
              "curl -sf http://127.0.0.1:3000/api/health | jq -e '.database == \"ok\"'"
          )
          monitor.wait_until_succeeds(
              f"curl -sf -u {auth} http://127.0.0.1:3000/api/dashboards/uid/model-server | "
              + "jq -e '.dashboard.uid == \"model-server\"'"
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
              f"curl -sf -u {auth} "
              + "'http://127.0.0.1:3000/api/datasources/proxy/uid/prometheus/api/v1/query?query=up' | "
              + "jq -e '.data.result | length == 2'"
          )

      with subtest("stopping the server exits 0 and delivers ModelServerDown to the webhook"):
          server.systemctl("stop model-server.service")
          server.succeed(
              "systemctl show -p ExecMainStatus --value model-server.service | grep -qx 0"
          )
          monitor.wait_until_succeeds(
              "curl -sf http://127.0.0.1:9090/api/v1/alerts | "
              + "jq -e '.data.alerts[] | select(.labels.alertname == \"ModelServerDown\" and .state == \"firing\")'",
              timeout=300,
          )
          client.wait_until_succeeds(
              "jq -e 'select(.status == \"firing\") | .alerts[] | select(.labels.alertname == \"ModelServerDown\")' "
              + "/var/lib/webhook-receiver/alerts.jsonl",
              timeout=300,
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
          machine.succeed(
              "curl -sf -H 'content-type: application/json' "
              + "-d '{\"instances\":[[6.7,3.0,5.2,2.3]]}' http://127.0.0.1:8000/predict | grep -q virginica"
          )
          machine.succeed("curl -sf http://127.0.0.1:8000/metrics | grep -q '^model_info'")
          machine.succeed("podman stop --time 30 server")
          assert machine.succeed("podman inspect -f '{{.State.ExitCode}}' server").strip() == "0"

      with subtest("the load generator image"):
          machine.succeed("podman load -i ${images.loadgen}")
          machine.succeed(f"podman run --rm model-server-loadgen:{tag} --help")
    '';
  };
}

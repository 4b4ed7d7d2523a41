# NixOS module: services.model-server.monitoring, the monitoring stack of the
# model server built from nixpkgs' own modules and the repo's configuration files,
# used unchanged (the same ones `model-server stack` uses):
#   monitoring/prometheus/rules/*.yml      -> services.prometheus.ruleFiles
#   monitoring/alertmanager/alertmanager.yml (envsubst template)
#                                          -> services.prometheus.alertmanager.configText
#   monitoring/alertmanager/templates/     -> ALERTMANAGER_TEMPLATES_DIR (store path)
#   monitoring/grafana/provisioning/datasources/ -> services.grafana.provision.datasources.path
#   monitoring/grafana/provisioning/dashboards/  -> services.grafana.provision.dashboards.path
#   monitoring/grafana/provisioning/alerting/{rules,contact-points,policies}.yaml
#                                          -> services.grafana.provision.alerting.<kind>.path
#   dashboards/                            -> MODEL_SERVER_DASHBOARDS_DIR (store path)
# The Grafana files read PROMETHEUS_URL, MODEL_SERVER_DASHBOARDS_DIR and the four
# notification secrets from Grafana's environment, set here; the secrets default
# to the same placeholders as the stack and are overridden by environmentFile.
# Prometheus' own prometheus.yml is not used: its targets are file_sd files next to
# it that the stack rewrites; here the scrape targets are options instead.
{
  config,
  lib,
  ...
}: let
  cfg = config.services.model-server.monitoring;
  inherit (lib) mkEnableOption mkIf mkMerge mkOption types;

  # The monitoring mixin's values (monitoring/mixin/config.py, written out by
  # monitoring/generate): job names, intervals and placeholders agree with the
  # rules and the dashboard generated from the same config.
  mixin = lib.importJSON ../monitoring/config.json;

  promCfg = config.services.prometheus;
  rw = cfg.remoteWrite;
  amCfg = config.services.prometheus.alertmanager;

  ruleFiles = let
    dir = "${cfg.configDir}/monitoring/prometheus/rules";
  in
    map (name: "${dir}/${name}") (
      lib.sort lib.lessThan (
        lib.attrNames (
          lib.filterAttrs (
            name: type: type == "regular" && (lib.hasSuffix ".yml" name || lib.hasSuffix ".yaml" name)
          ) (builtins.readDir dir)
        )
      )
    );

  provisioningDir = "${cfg.configDir}/monitoring/grafana/provisioning";

  # Read by the repo's Grafana provisioning files (contact-points.yaml) and the
  # Alertmanager template. Grafana has no default-value syntax and refuses empty
  # URLs, tokens and chat ids, so unset secrets get the mixin's placeholders (the
  # stack's too, src/stack/secrets.rs); environmentFile overrides them.
  notificationPlaceholders = mixin.placeholders;

  # Grafana's address as seen from this machine, for links in notifications.
  grafanaHost = let
    addr = cfg.grafana.listenAddress;
  in
    if lib.elem addr ["" "0.0.0.0" "::"]
    then "127.0.0.1"
    else if lib.hasInfix ":" addr
    then "[${addr}]"
    else addr;

  secretFile = description:
    mkOption {
      type = types.str;
      example = "/run/secrets/${description}";
      description = ''
        Absolute path of a file holding the ${description}, read by Grafana at
        start-up through its `$__file{}` provider. It stays out of the Nix store
        and must be readable by the `grafana` user.
      '';
    };
in {
  options.services.model-server.monitoring = {
    enable = mkEnableOption "Prometheus, Alertmanager and Grafana for model-server";

    configDir = mkOption {
      type = types.path;
      default = lib.fileset.toSource {
        root = ../.;
        fileset = lib.fileset.unions [
          ../monitoring
          ../dashboards
        ];
      };
      defaultText = lib.literalMD "the repository's `monitoring/` and `dashboards/`";
      description = ''
        Folder holding `monitoring/` and `dashboards/` (the layout of the
        repository and of `''${package}/share/model-server`).
      '';
    };

    scrapeInterval = mkOption {
      type = types.str;
      default = mixin.scrape_interval;
      defaultText = lib.literalMD "`scrape_interval` of monitoring/mixin/config.py";
      description = ''
        Scrape and rule evaluation interval (as in monitoring/prometheus/prometheus.yml;
        the datasource's `timeInterval` in the Grafana provisioning file matches it).
      '';
    };

    scrapeTimeout = mkOption {
      type = types.str;
      default = mixin.scrape_timeout;
      defaultText = lib.literalMD "`scrape_timeout` of monitoring/mixin/config.py";
      description = "Scrape timeout, shorter than {option}`services.model-server.monitoring.scrapeInterval`.";
    };

    modelServerTargets = mkOption {
      type = types.listOf types.str;
      # Every server of this machine (services.model-server and each of
      # services.model-server.instances); without that module, the default port.
      default = config.services.model-server.scrapeTargets or ["127.0.0.1:8000"];
      defaultText = lib.literalMD "`host:port` of every model server of this machine (`services.model-server` and each of its `instances`)";
      example = ["server:8000" "server:8001"];
      description = ''
        `host:port` of the model servers, scraped as job `model-server` (each
        target is its own `instance`; the rules and dashboard aggregate over them).
      '';
    };

    externalLabels = mkOption {
      type = types.attrsOf types.str;
      default = {};
      example = {
        cluster = "eu-west-1";
        replica = "a";
      };
      description = ''
        Prometheus' `external_labels`: added to every series and alert this
        Prometheus sends elsewhere (remote write, Alertmanager). Give each
        Prometheus a distinct set, by convention `cluster` (where it runs) and
        `replica` (which of a redundant pair), so that series from several
        clusters stay apart in a shared long-term store.
      '';
    };

    remoteWrite = {
      url = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://mimir.example.org/api/v1/push";
        description = ''
          Remote-write endpoint of a long-term store (Grafana Mimir, Thanos
          Receive, VictoriaMetrics, ...) that receives every sample this
          Prometheus scrapes and records. `null` (the default): no remote write.
        '';
      };

      basicAuth = {
        username = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "User name for HTTP basic authentication to the remote-write endpoint.";
        };
        passwordFile = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "/run/secrets/remote-write-password";
          description = ''
            File holding the basic-authentication password, read by Prometheus
            (absolute path outside the Nix store, readable by the `prometheus` user).
          '';
        };
      };

      bearerTokenFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/run/secrets/remote-write-token";
        description = ''
          File holding a bearer token for the remote-write endpoint, read by
          Prometheus (absolute path outside the Nix store).
        '';
      };
    };

    nodeTargets = mkOption {
      type = types.listOf types.str;
      default = ["127.0.0.1:${toString config.services.prometheus.exporters.node.port}"];
      defaultText = lib.literalExpression ''[ "127.0.0.1:''${toString config.services.prometheus.exporters.node.port}" ]'';
      example = ["server:9100"];
      description = "`host:port` of the node exporters, scraped as job `node`.";
    };

    nodeExporter = {
      enable = mkOption {
        type = types.bool;
        default = cfg.enable;
        defaultText = lib.literalExpression "config.services.model-server.monitoring.enable";
        description = ''
          Whether to run node-exporter on this machine. Enable it alone on
          machines that run the model server but not the monitoring stack.
        '';
      };

      openFirewall = mkOption {
        type = types.bool;
        default = false;
        description = "Whether to open node-exporter's port in the firewall.";
      };
    };

    alertmanager.environmentFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/alertmanager.env";
      description = ''
        Environment file (`VAR=value` lines, systemd `EnvironmentFile=`) with the
        notification secrets `SLACK_WEBHOOK_URL`, `TELEGRAM_BOT_TOKEN`,
        `TELEGRAM_CHAT_ID`, `DISCORD_WEBHOOK_URL` and optionally
        `TELEGRAM_API_URL` and `GRAFANA_URL` (Alertmanager's dashboard links,
        default {option}`services.model-server.monitoring.grafana.url`).
        Read by Alertmanager, whose module
        substitutes them into `monitoring/alertmanager/alertmanager.yml` with
        envsubst at start-up (unset ones take the template's
        `''${VAR:-default}`), and by Grafana, whose provisioned contact points
        read them with `$__env{}` (unset ones keep harmless placeholders). Keep
        it out of the Nix store; it must be readable by root only.
      '';
    };

    grafana = {
      port = mkOption {
        type = types.port;
        default = 3000;
        description = "Port of Grafana's web interface.";
      };

      listenAddress = mkOption {
        type = types.str;
        default = "127.0.0.1";
        description = "Address Grafana binds to.";
      };

      openFirewall = mkOption {
        type = types.bool;
        default = false;
        description = "Whether to open Grafana's port in the firewall.";
      };

      url = mkOption {
        type = types.str;
        default = "http://${grafanaHost}:${toString cfg.grafana.port}";
        defaultText = lib.literalMD "`http://<listenAddress>:<port>`, with `127.0.0.1` for a wildcard address";
        example = "https://grafana.example.org";
        description = ''
          Grafana's public base URL: Grafana's `root_url` and the dashboard links
          in Alertmanager's notifications (`GRAFANA_URL`).
        '';
      };

      adminPasswordFile = secretFile "Grafana admin password";
      secretKeyFile = secretFile "Grafana secret key (e.g. from `openssl rand -hex 32`)";
    };
  };

  config = mkMerge [
    (mkIf cfg.nodeExporter.enable {
      services.prometheus.exporters.node = {
        enable = true;
        # The default collectors cover CPU, memory, load, disks and filesystems.
        inherit (cfg.nodeExporter) openFirewall;
      };
    })

    (mkIf cfg.enable {
      assertions = [
        {
          assertion = lib.all (lib.hasPrefix "/") [
            cfg.grafana.adminPasswordFile
            cfg.grafana.secretKeyFile
          ];
          message = "services.model-server.monitoring.grafana.{adminPasswordFile,secretKeyFile} must be absolute paths outside the Nix store.";
        }
        {
          assertion = (rw.basicAuth.username == null) == (rw.basicAuth.passwordFile == null);
          message = "services.model-server.monitoring.remoteWrite.basicAuth: set both username and passwordFile, or neither.";
        }
        {
          assertion = rw.basicAuth.username == null || rw.bearerTokenFile == null;
          message = "services.model-server.monitoring.remoteWrite: basicAuth and bearerTokenFile exclude each other.";
        }
      ];

      services.prometheus = {
        enable = true;
        # As in monitoring/prometheus/prometheus.yml.
        globalConfig =
          {
            scrape_interval = cfg.scrapeInterval;
            scrape_timeout = cfg.scrapeTimeout;
            evaluation_interval = cfg.scrapeInterval;
          }
          // lib.optionalAttrs (cfg.externalLabels != {}) {
            external_labels = cfg.externalLabels;
          };
        remoteWrite = lib.optional (rw.url != null) (
          {
            inherit (rw) url;
            name = "model-server";
          }
          // lib.optionalAttrs (rw.basicAuth.username != null) {
            basic_auth = {
              inherit (rw.basicAuth) username;
              password_file = rw.basicAuth.passwordFile;
            };
          }
          // lib.optionalAttrs (rw.bearerTokenFile != null) {
            bearer_token_file = rw.bearerTokenFile;
          }
        );
        # promtool runs at build time, where the credential files do not exist.
        checkConfig = lib.mkIf (rw.basicAuth.passwordFile != null || rw.bearerTokenFile != null) (lib.mkDefault "syntax-only");
        scrapeConfigs = [
          {
            job_name = mixin.model_server_job;
            metrics_path = "/metrics";
            static_configs = [{targets = cfg.modelServerTargets;}];
          }
          {
            job_name = mixin.node_job;
            metrics_path = "/metrics";
            static_configs = [{targets = cfg.nodeTargets;}];
          }
        ];
        # The rule files exist at build time, so the module's promtool check
        # (checkConfig, default true) checks them with the generated config.
        inherit ruleFiles;
        alertmanagers = [
          {
            static_configs = [{targets = ["127.0.0.1:${toString amCfg.port}"];}];
          }
        ];
      };

      services.prometheus.alertmanager = {
        enable = true;
        # The file is an envsubst template: the module renders it in preStart
        # (ExecStartPre, same unit, so it sees both Environment= below and
        # environmentFile) to /tmp/alert-manager-substituted.yaml. amtool can only
        # judge the rendered file, which the flake's `alertmanager-config` check does.
        configText = builtins.readFile "${cfg.configDir}/monitoring/alertmanager/alertmanager.yml";
        checkConfig = false;
        inherit (cfg.alertmanager) environmentFile;
      };

      # The template's defaults are for a file rendered next to templates/; the
      # module renders it into /tmp, so point it at the store. Environment= comes
      # before EnvironmentFile=, so environmentFile can still override GRAFANA_URL.
      systemd.services.alertmanager.environment = {
        ALERTMANAGER_TEMPLATES_DIR = "${cfg.configDir}/monitoring/alertmanager/templates";
        GRAFANA_URL = cfg.grafana.url;
      };

      services.grafana = {
        enable = true;
        inherit (cfg.grafana) openFirewall;
        settings = {
          server = {
            http_addr = cfg.grafana.listenAddress;
            http_port = cfg.grafana.port;
            root_url = cfg.grafana.url;
          };
          security = {
            admin_user = "admin";
            admin_password = "$__file{${cfg.grafana.adminPasswordFile}}";
            secret_key = "$__file{${cfg.grafana.secretKeyFile}}";
          };
          analytics.reporting_enabled = false;
          dashboards.default_home_dashboard_path = "${cfg.configDir}/dashboards/model-server.json";
        };
        # The repo's provisioning files, unchanged. A `path` that is a folder is
        # linked file by file (lndir) into the provisioning folder's subfolder,
        # a file is linked as <kind>.yaml; Grafana reads every file of alerting/
        # for every kind, so contact-points.yaml also provisions its templates.
        provision = {
          enable = true;
          datasources.path = "${provisioningDir}/datasources";
          dashboards.path = "${provisioningDir}/dashboards";
          alerting = {
            rules.path = "${provisioningDir}/alerting/rules.yaml";
            contactPoints.path = "${provisioningDir}/alerting/contact-points.yaml";
            policies.path = "${provisioningDir}/alerting/policies.yaml";
          };
        };
      };

      systemd.services.grafana = {
        # Expanded by Grafana in the provisioning files. Environment= comes before
        # EnvironmentFile=, so the environment file's secrets replace the placeholders.
        environment =
          notificationPlaceholders
          // {
            PROMETHEUS_URL = "http://127.0.0.1:${toString promCfg.port}";
            MODEL_SERVER_DASHBOARDS_DIR = "${cfg.configDir}/dashboards";
          };
        serviceConfig.EnvironmentFile = mkIf (cfg.alertmanager.environmentFile != null) cfg.alertmanager.environmentFile;
      };
    })
  ];
}

# NixOS module: services.model-server.monitoring, the monitoring stack of the
# model server built from nixpkgs' own modules and the repo's configuration files
# (the same ones `model-server stack` uses):
#   monitoring/prometheus/rules/*.yml     -> services.prometheus.ruleFiles
#   monitoring/alertmanager/alertmanager.yml (envsubst template)
#                                         -> services.prometheus.alertmanager.configText
#   dashboards/*.json                     -> services.grafana.provision.dashboards
#   monitoring/grafana/provisioning/alerting/ -> services.grafana.provision.alerting
# Scrape targets come from options here instead of the stack's file_sd targets/.
{
  config,
  lib,
  ...
}: let
  cfg = config.services.model-server.monitoring;
  inherit (lib) mkEnableOption mkIf mkMerge mkOption types;

  promCfg = config.services.prometheus;
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

  alertingDir = "${cfg.configDir}/monitoring/grafana/provisioning/alerting";

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
      default = "5s";
      description = "Scrape and rule evaluation interval (as in monitoring/prometheus/prometheus.yml).";
    };

    modelServerTargets = mkOption {
      type = types.listOf types.str;
      default = ["127.0.0.1:${toString (config.services.model-server.port or 8000)}"];
      defaultText = lib.literalExpression ''[ "127.0.0.1:''${toString config.services.model-server.port}" ]'';
      example = ["server:8000"];
      description = "`host:port` of the model servers, scraped as job `model-server`.";
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
        Environment file with the variables used by
        `monitoring/alertmanager/alertmanager.yml` (receiver URLs and secrets),
        substituted by the Alertmanager module with envsubst at start-up.
        Variables left unset take the template's `''${VAR:-default}` value.
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
      ];

      services.prometheus = {
        enable = true;
        globalConfig = {
          scrape_interval = cfg.scrapeInterval;
          evaluation_interval = cfg.scrapeInterval;
        };
        scrapeConfigs = [
          {
            job_name = "model-server";
            metrics_path = "/metrics";
            static_configs = [{targets = cfg.modelServerTargets;}];
          }
          {
            job_name = "node";
            metrics_path = "/metrics";
            static_configs = [{targets = cfg.nodeTargets;}];
          }
        ];
        inherit ruleFiles;
        alertmanagers = [
          {
            static_configs = [{targets = ["127.0.0.1:${toString amCfg.port}"];}];
          }
        ];
      };

      services.prometheus.alertmanager = {
        enable = true;
        # The file is an envsubst template, the module substitutes it at start-up
        # (preStart) from environmentFile; amtool can only judge the rendered file,
        # which the flake's `alertmanager-config` check does.
        configText = builtins.readFile "${cfg.configDir}/monitoring/alertmanager/alertmanager.yml";
        checkConfig = false;
        inherit (cfg.alertmanager) environmentFile;
      };

      services.grafana = {
        enable = true;
        inherit (cfg.grafana) openFirewall;
        settings = {
          server = {
            http_addr = cfg.grafana.listenAddress;
            http_port = cfg.grafana.port;
          };
          security = {
            admin_user = "admin";
            admin_password = "$__file{${cfg.grafana.adminPasswordFile}}";
            secret_key = "$__file{${cfg.grafana.secretKeyFile}}";
          };
          analytics.reporting_enabled = false;
        };
        provision = {
          enable = true;
          datasources.settings = {
            apiVersion = 1;
            datasources = [
              {
                name = "Prometheus";
                type = "prometheus";
                uid = "prometheus";
                access = "proxy";
                url = "http://127.0.0.1:${toString promCfg.port}";
                isDefault = true;
                jsonData.timeInterval = cfg.scrapeInterval;
              }
            ];
          };
          dashboards.settings = {
            apiVersion = 1;
            providers = [
              {
                name = "model-server";
                type = "file";
                disableDeletion = true;
                options.path = "${cfg.configDir}/dashboards";
              }
            ];
          };
          alerting = lib.mkIf (builtins.pathExists alertingDir) {
            rules.path = alertingDir;
          };
        };
      };
    })
  ];
}

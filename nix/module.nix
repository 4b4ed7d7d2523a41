# NixOS module: services.model-server, the model server as a hardened systemd unit.
{
  config,
  lib,
  pkgs,
  utils,
  ...
}: let
  cfg = config.services.model-server;
  inherit (lib) mkEnableOption mkIf mkOption mkPackageOption types;
in {
  options.services.model-server = {
    enable = mkEnableOption "model-server, an Iris classifier served over HTTP with Prometheus metrics";

    package = mkPackageOption pkgs "model-server" {};

    listenAddress = mkOption {
      type = types.str;
      default = "127.0.0.1";
      example = "0.0.0.0";
      description = ''
        Address the HTTP server binds to. An IPv6 address is written without
        brackets (for example `::`); they are added when building the socket address.
      '';
    };

    port = mkOption {
      type = types.port;
      default = 8000;
      description = "TCP port of the HTTP API and of the `/metrics` endpoint.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to open {option}`services.model-server.port` in the firewall.";
    };

    modelPath = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/var/lib/models/iris.json";
      description = ''
        Model file written by `model-server train --out`. When `null`, the server
        trains its embedded Iris random forest at start-up (about 10 ms).
        The file must be readable by the service's dynamic user.
      '';
    };

    enableFaults = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Whether to honour the `x-fault` request header on `POST /predict`
        (injected 500/503, panics and delays). For test and demo systems only.
      '';
    };

    instrumentProbes = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Whether `/metrics`, `/healthz` and `/readyz` are counted in the HTTP metrics.
      '';
    };

    logLevel = mkOption {
      type = types.str;
      default = "info";
      example = "model_server=debug,tower_http=info";
      description = "Log filter in `tracing_subscriber::EnvFilter` syntax.";
    };

    logFormat = mkOption {
      type = types.enum [
        "json"
        "pretty"
      ];
      default = "json";
      description = "Log line format. `json` suits the journal and log shippers.";
    };

    environmentFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/model-server.env";
      description = ''
        File with `MODEL_SERVER_*` variables loaded by systemd
        (`EnvironmentFile=`), for settings kept out of the Nix store.
        Values set by the other options take precedence, as they are passed as flags.
      '';
    };

    openFilesLimit = mkOption {
      type = types.ints.positive;
      default = 65536;
      example = 1048576;
      description = ''
        `LimitNOFILE=` of the unit, soft and hard limit alike: every client
        connection is a file descriptor. The server raises its soft limit to the
        hard one at start and derives its default connection limit from it, so
        this bounds the connections it accepts. Both limits are set because the
        unit's system call filter (`~@resources`) may refuse the server's
        `setrlimit`.
      '';
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [];
      example = [
        "--max-in-flight"
        "256"
        "--request-timeout"
        "5s"
      ];
      description = "Extra arguments passed to `model-server serve`.";
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.port >= 1024;
        message = "services.model-server.port must be 1024 or above: the unit has no capabilities (CAP_NET_BIND_SERVICE).";
      }
    ];

    networking.firewall.allowedTCPPorts = lib.optional cfg.openFirewall cfg.port;

    systemd.services.model-server = {
      description = "model-server: Iris classifier over HTTP";
      wantedBy = ["multi-user.target"];
      after = ["network.target"];

      serviceConfig = {
        ExecStart = utils.escapeSystemdExecArgs (
          [
            (lib.getExe cfg.package)
            "serve"
            "--listen"
            (
              if lib.hasInfix ":" cfg.listenAddress
              then "[${cfg.listenAddress}]:${toString cfg.port}"
              else "${cfg.listenAddress}:${toString cfg.port}"
            )
            "--log-level"
            cfg.logLevel
            "--log-format"
            cfg.logFormat
          ]
          ++ lib.optionals (cfg.modelPath != null) [
            "--model"
            "${cfg.modelPath}"
          ]
          ++ lib.optional cfg.enableFaults "--enable-faults"
          ++ lib.optional cfg.instrumentProbes "--instrument-probes"
          ++ cfg.extraArgs
        );
        EnvironmentFile = mkIf (cfg.environmentFile != null) cfg.environmentFile;

        # SIGTERM: readyz turns 503, in-flight requests drain, exit 0.
        LimitNOFILE = cfg.openFilesLimit;

        KillSignal = "SIGTERM";
        TimeoutStopSec = "45s";
        Restart = "on-failure";
        RestartSec = "2s";

        DynamicUser = true;
        UMask = "0077";

        # Hardening (systemd-analyze security model-server).
        CapabilityBoundingSet = [""];
        DeviceAllow = [""];
        DevicePolicy = "closed";
        LockPersonality = true;
        MemoryDenyWriteExecute = true;
        NoNewPrivileges = true;
        PrivateDevices = true;
        PrivateTmp = true;
        PrivateUsers = true;
        ProcSubset = "pid";
        ProtectClock = true;
        ProtectControlGroups = true;
        ProtectHome = true;
        ProtectHostname = true;
        ProtectKernelLogs = true;
        ProtectKernelModules = true;
        ProtectKernelTunables = true;
        ProtectProc = "invisible";
        ProtectSystem = "strict";
        RemoveIPC = true;
        RestrictAddressFamilies = [
          "AF_INET"
          "AF_INET6"
          "AF_UNIX"
        ];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        SystemCallArchitectures = "native";
        SystemCallFilter = [
          "@system-service"
          "~@privileged"
          "~@resources"
        ];
        SystemCallErrorNumber = "EPERM";
      };
    };
  };
}

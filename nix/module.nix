# NixOS module: services.model-server, the model server as hardened systemd units.
# The top-level options describe one server (unit model-server.service);
# services.model-server.instances.<name> adds more, each its own unit
# (model-server-<name>.service) on its own port, all of the same package.
{
  config,
  lib,
  pkgs,
  utils,
  ...
}: let
  cfg = config.services.model-server;
  inherit (lib) mkEnableOption mkIf mkOption mkPackageOption types;

  # After the shutdown delay and grace the server has exited; systemd's SIGKILL
  # (TimeoutStopSec=) comes this many seconds later still.
  stopMargin = 10;

  # The options of one server: at the top level for model-server.service and in
  # each services.model-server.instances.<name>.
  instanceOptions = {
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
      example = 8001;
      description = "TCP port of the HTTP API and of the `/metrics` endpoint.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to open this instance's port in the firewall.";
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

    shutdownDelay = mkOption {
      type = types.ints.unsigned;
      default = 0;
      example = 5;
      description = ''
        Seconds the server keeps serving after SIGTERM with `/readyz` answering
        503 (`--shutdown-delay`), so that a load balancer in front stops sending
        it requests before the listener closes.
      '';
    };

    shutdownGrace = mkOption {
      type = types.ints.unsigned;
      default = 30;
      description = ''
        Seconds the requests in flight may take to finish once the listener has
        closed (`--shutdown-grace`); what is left then is cut. The unit's
        `TimeoutStopSec=` is derived from this and
        {option}`shutdownDelay`: their sum plus ${toString stopMargin} seconds.
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
      description = ''
        Extra arguments passed to `model-server serve`. The shutdown timing has
        its own options ({option}`shutdownDelay`, {option}`shutdownGrace`), as
        the unit's stop timeout is derived from them.
      '';
    };
  };

  # Every server to run: unit name -> its settings.
  servers =
    lib.optionalAttrs cfg.enable {model-server = cfg;}
    // lib.mapAttrs' (name: lib.nameValuePair "model-server-${name}") cfg.instances;

  listenArg = server:
    if lib.hasInfix ":" server.listenAddress
    then "[${server.listenAddress}]:${toString server.port}"
    else "${server.listenAddress}:${toString server.port}";

  # Where Prometheus on this machine reaches a server.
  scrapeTarget = server: let
    addr = server.listenAddress;
  in
    if lib.elem addr ["0.0.0.0" "::" ""]
    then "127.0.0.1:${toString server.port}"
    else listenArg server;
in {
  options.services.model-server =
    instanceOptions
    // {
      enable = mkEnableOption "model-server, a classifier or regressor served over HTTP with Prometheus metrics";

      package = mkPackageOption pkgs "model-server" {};

      instances = mkOption {
        type = types.attrsOf (types.submodule {options = instanceOptions;});
        default = {};
        example = lib.literalExpression ''
          {
            a.port = 8001;
            b = { port = 8002; modelPath = "/var/lib/models/iris-lr.json"; };
          }
        '';
        description = ''
          Further model servers, each its own systemd unit
          `model-server-<name>.service` on its own port, with the same options
          as a single server (`listenAddress`, `port`, `modelPath`, ...) and the
          package of {option}`services.model-server.package`. They run whether or
          not {option}`services.model-server.enable` is set; the monitoring
          module scrapes all of them.
        '';
      };

      scrapeTargets = mkOption {
        type = types.listOf types.str;
        readOnly = true;
        internal = true;
        default = map scrapeTarget (lib.attrValues servers);
        description = "`host:port` of every server of this machine, for the monitoring module.";
      };
    };

  config = mkIf (servers != {}) {
    assertions =
      lib.mapAttrsToList (unit: server: {
        assertion = server.port >= 1024;
        message = "${unit}: port ${toString server.port} is below 1024, and the unit has no capabilities (CAP_NET_BIND_SERVICE).";
      })
      servers
      ++ lib.mapAttrsToList (unit: server: {
        assertion = !lib.any (arg: lib.hasPrefix "--shutdown-" arg) server.extraArgs;
        message = "${unit}: set shutdownDelay and shutdownGrace rather than --shutdown-* in extraArgs: the unit's TimeoutStopSec is derived from them.";
      })
      servers
      ++ [
        {
          assertion = lib.allUnique (lib.mapAttrsToList (_: server: server.port) servers);
          message = "services.model-server: each server needs its own port; ports in use: ${
            lib.concatStringsSep ", " (lib.mapAttrsToList (unit: server: "${unit} ${toString server.port}") servers)
          }.";
        }
      ];

    networking.firewall.allowedTCPPorts = lib.concatLists (
      lib.mapAttrsToList (_: server: lib.optional server.openFirewall server.port) servers
    );

    systemd.services =
      lib.mapAttrs (unit: server: {
        description = "model-server: a model served over HTTP (${unit})";
        wantedBy = ["multi-user.target"];
        after = ["network.target"];

        serviceConfig = {
          ExecStart = utils.escapeSystemdExecArgs (
            [
              (lib.getExe cfg.package)
              "serve"
              "--listen"
              (listenArg server)
              "--log-level"
              server.logLevel
              "--log-format"
              server.logFormat
              "--shutdown-delay"
              "${toString server.shutdownDelay}s"
              "--shutdown-grace"
              "${toString server.shutdownGrace}s"
            ]
            ++ lib.optionals (server.modelPath != null) [
              "--model"
              "${server.modelPath}"
            ]
            ++ lib.optional server.enableFaults "--enable-faults"
            ++ lib.optional server.instrumentProbes "--instrument-probes"
            ++ server.extraArgs
          );
          EnvironmentFile = mkIf (server.environmentFile != null) server.environmentFile;

          # Every connection is a descriptor; the server sizes its limits by it.
          LimitNOFILE = server.openFilesLimit;

          # SIGTERM: readyz turns 503 for the delay, in-flight requests drain
          # within the grace, exit 0; SIGKILL only if that overruns.
          KillSignal = "SIGTERM";
          TimeoutStopSec = "${toString (server.shutdownDelay + server.shutdownGrace + stopMargin)}s";
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
      })
      servers;
  };
}

# OCI images (docker-archive tarballs, `docker load < result` / `podman load -i result`).
# Each holds only the closure of its program, plus /etc/passwd and /etc/group
# from dockerTools.fakeNss so that the non-root user 65534 (nobody) has a name.
{
  lib,
  dockerTools,
  model-server,
}: let
  # A layered image running `entrypoint` as nobody in a world-writable /tmp
  # (goose writes its reports to the working directory).
  mkImage = {
    name,
    description,
    entrypoint,
    cmd,
    config ? {},
  }:
    dockerTools.buildLayeredImage {
      inherit name;
      tag = model-server.version;
      contents = [dockerTools.fakeNss];
      extraCommands = ''
        mkdir -p tmp
        chmod 1777 tmp
      '';
      config =
        {
          User = "65534:65534";
          WorkingDir = "/tmp";
          Entrypoint = [entrypoint];
          Cmd = cmd;
          Labels = {
            "org.opencontainers.image.title" = name;
            "org.opencontainers.image.description" = description;
            "org.opencontainers.image.version" = model-server.version;
            "org.opencontainers.image.licenses" = "MIT";
          };
        }
        // config;
    };
in {
  server = mkImage {
    name = "model-server";
    inherit (model-server.meta) description;
    entrypoint = lib.getExe model-server;
    cmd = ["serve"];
    config = {
      Env = [
        # Inside a container the port is published by the runtime: bind all interfaces.
        "MODEL_SERVER_LISTEN=0.0.0.0:8000"
        "MODEL_SERVER_LOG_FORMAT=json"
      ];
      ExposedPorts."8000/tcp" = {};
      # The server drains in-flight requests on SIGTERM and exits 0.
      StopSignal = "SIGTERM";
    };
  };

  loadgen = mkImage {
    name = "model-server-loadgen";
    description = "goose load test for model-server";
    entrypoint = "${model-server.loadgen}/bin/loadgen";
    cmd = ["--help"];
  };
}

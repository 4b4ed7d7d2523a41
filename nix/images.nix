# OCI images (docker-archive tarballs, `docker load < result` / `podman load -i result`).
# Each holds only the closure of its program, plus /etc/passwd and /etc/group
# from dockerTools.fakeNss so that the non-root user 65534 (nobody) has a name.
{
  lib,
  dockerTools,
  model-server,
}: let
  # A world-writable /tmp: goose writes its reports to the working directory.
  tmpDir = ''
    mkdir -p tmp
    chmod 1777 tmp
  '';
in {
  server = dockerTools.buildLayeredImage {
    name = "model-server";
    tag = model-server.version;
    contents = [dockerTools.fakeNss];
    extraCommands = tmpDir;
    config = {
      User = "65534:65534";
      WorkingDir = "/tmp";
      Entrypoint = [(lib.getExe model-server)];
      Cmd = ["serve"];
      Env = [
        # Inside a container the port is published by the runtime: bind all interfaces.
        "MODEL_SERVER_LISTEN=0.0.0.0:8000"
        "MODEL_SERVER_LOG_FORMAT=json"
      ];
      ExposedPorts."8000/tcp" = {};
      # The server drains in-flight requests on SIGTERM and exits 0.
      StopSignal = "SIGTERM";
      Labels = {
        "org.opencontainers.image.title" = "model-server";
        "org.opencontainers.image.description" = model-server.meta.description;
        "org.opencontainers.image.version" = model-server.version;
        "org.opencontainers.image.licenses" = "MIT";
      };
    };
  };

  loadgen = dockerTools.buildLayeredImage {
    name = "model-server-loadgen";
    tag = model-server.version;
    contents = [dockerTools.fakeNss];
    extraCommands = tmpDir;
    config = {
      User = "65534:65534";
      WorkingDir = "/tmp";
      Entrypoint = ["${model-server.loadgen}/bin/loadgen"];
      Cmd = ["--help"];
      Labels = {
        "org.opencontainers.image.title" = "model-server-loadgen";
        "org.opencontainers.image.description" = "goose load test for model-server";
        "org.opencontainers.image.version" = model-server.version;
        "org.opencontainers.image.licenses" = "MIT";
      };
    };
  };
}

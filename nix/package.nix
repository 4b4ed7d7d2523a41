# The model server and its goose load generator, built from the Cargo workspace.
#
# Outputs:
#   out      bin/model-server, share/model-server/{monitoring,dashboards}
#            (`model-server stack` looks for them at <exe dir>/../share/model-server)
#   loadgen  bin/loadgen, kept apart so the server's closure and image stay small
{
  lib,
  rustPlatform,
}: let
  fs = lib.fileset;
  cargoToml = lib.importTOML ../Cargo.toml;
in
  rustPlatform.buildRustPackage {
    pname = "model-server";
    inherit (cargoToml.package) version;

    src = fs.toSource {
      root = ../.;
      fileset = fs.unions [
        ../Cargo.toml
        ../Cargo.lock
        ../src
        ../loadgen/Cargo.toml
        ../loadgen/src
        # Integration tests and benches are not run here, but cargo reads their
        # targets when they are declared in Cargo.toml.
        (fs.maybeMissing ../tests)
        (fs.maybeMissing ../benches)
        (fs.maybeMissing ../monitoring)
        (fs.maybeMissing ../dashboards)
      ];
    };

    cargoLock.lockFile = ../Cargo.lock;

    outputs = [
      "out"
      "loadgen"
    ];

    cargoBuildFlags = ["--workspace"];
    # Unit tests of both crates. The integration tests start servers and
    # external programs and run in CI and in the NixOS tests instead.
    cargoTestFlags =
      ["--workspace"]
      ++ lib.optional (builtins.pathExists ../src/lib.rs) "--lib"
      ++ ["--bins"];

    postInstall = ''
      moveToOutput bin/loadgen "$loadgen"

      mkdir -p "$out/share/model-server"
      for dir in monitoring dashboards; do
        if [ -d "$dir" ]; then
          cp -r "$dir" "$out/share/model-server/"
        fi
      done
    '';

    meta = {
      inherit (cargoToml.package) description;
      license = lib.licenses.mit;
      mainProgram = "model-server";
      platforms = lib.platforms.linux;
    };
  }

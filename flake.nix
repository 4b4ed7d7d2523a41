{
  description = "model-server: a classifier or regressor over HTTP with Prometheus metrics, its monitoring stack and load generator";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs = {
    self,
    nixpkgs,
  }: let
    inherit (nixpkgs) lib;

    systems = [
      "x86_64-linux"
      "aarch64-linux"
    ];

    forAllSystems = f:
      lib.genAttrs systems (
        system: let
          pkgs = nixpkgs.legacyPackages.${system};
          model-server = pkgs.callPackage ./nix/package.nix {};
        in
          f {
            inherit pkgs model-server;
            images = pkgs.callPackage ./nix/images.nix {inherit model-server;};
          }
      );
  in {
    overlays.default = final: _prev: {
      model-server = final.callPackage ./nix/package.nix {};
    };

    nixosModules = {
      # services.model-server, with this flake's package as the default package.
      model-server = {
        lib,
        pkgs,
        ...
      }: {
        imports = [./nix/module.nix];
        services.model-server.package =
          lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.model-server;
      };
      # services.model-server.monitoring: node-exporter, Prometheus, Alertmanager, Grafana.
      monitoring = ./nix/monitoring.nix;
      default = {
        imports = [
          self.nixosModules.model-server
          self.nixosModules.monitoring
        ];
      };
    };

    packages = forAllSystems ({
      model-server,
      images,
      ...
    }: {
      inherit model-server;
      default = model-server;
      inherit (model-server) loadgen;
      image = images.server;
      loadgen-image = images.loadgen;
    });

    # Not callPackage: it would add `override` and `overrideDerivation`, which
    # `nix flake check` rejects as apps.
    apps = forAllSystems ({
      pkgs,
      model-server,
      ...
    }:
      import ./nix/apps.nix {inherit pkgs model-server;});

    devShells = forAllSystems ({pkgs, ...}: {
      default = pkgs.callPackage ./nix/shell.nix {};
    });

    checks = forAllSystems ({
      pkgs,
      model-server,
      images,
    }:
      import ./nix/checks.nix {
        inherit lib pkgs model-server images;
        inherit (self) nixosModules;
      });

    formatter = forAllSystems ({pkgs, ...}: pkgs.alejandra);
  };
}

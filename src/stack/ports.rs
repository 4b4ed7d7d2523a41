//! The loopback ports of the stack's services, and the checks that make them
//! usable before anything starts: none is 0, none is given twice, and none falls
//! inside the model servers' range.

use super::StackError;

/// Loopback ports of every service. The model servers take `replicas`
/// consecutive ports starting at `server`.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub server: u16,
    pub replicas: u16,
    pub node_exporter: u16,
    pub prometheus: u16,
    pub alertmanager: u16,
    pub grafana: u16,
}

impl Ports {
    /// Each port with the flag that sets it (the first model server's only).
    fn with_flags(&self) -> [(u16, &'static str); 5] {
        [
            (self.server, "server-port"),
            (self.node_exporter, "node-exporter-port"),
            (self.prometheus, "prometheus-port"),
            (self.alertmanager, "alertmanager-port"),
            (self.grafana, "grafana-port"),
        ]
    }

    /// The ports of the model servers, one per replica, in order.
    pub fn servers(&self) -> impl Iterator<Item = u16> + Clone {
        let last = self.last_server().unwrap_or(u16::MAX);
        self.server..=last
    }

    /// The last model server's port, `None` when the range passes 65535.
    fn last_server(&self) -> Option<u16> {
        self.server.checked_add(self.replicas.max(1) - 1)
    }

    /// Refuses port 0 (the OS would pick one that nothing else knows), a port
    /// given to two services (all on 127.0.0.1; with --no-server the server's port
    /// is still scraped), and a service port inside the model servers' range.
    pub fn validate(&self) -> Result<(), StackError> {
        let all = self.with_flags();
        for (i, (port, flag)) in all.iter().enumerate() {
            if *port == 0 {
                return Err(StackError::PortZero { flag });
            }
            if let Some((_, other)) = all[..i].iter().find(|(p, _)| p == port) {
                return Err(StackError::PortClash {
                    port: *port,
                    first: other,
                    second: flag,
                });
            }
        }
        let last = self.last_server().ok_or(StackError::ReplicasPastLastPort {
            first: self.server,
            replicas: self.replicas,
        })?;
        if let Some((port, flag)) = all[1..]
            .iter()
            .find(|(p, _)| (self.server..=last).contains(p))
        {
            return Err(StackError::PortInReplicaRange {
                port: *port,
                flag,
                first: self.server,
                last,
                replicas: self.replicas,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: Ports = Ports {
        server: 8000,
        replicas: 1,
        node_exporter: 9100,
        prometheus: 9090,
        alertmanager: 9093,
        grafana: 3000,
    };

    #[test]
    fn port_zero_and_shared_ports_are_refused_naming_the_flags() {
        let ports = DEFAULTS;
        assert!(ports.validate().is_ok());
        let err = Ports {
            grafana: 0,
            ..ports
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--grafana-port is 0: each service needs a fixed port, the scrape targets and URLs name it"
        );
        let err = Ports {
            prometheus: 8000,
            ..ports
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--server-port and --prometheus-port are both 8000: each service needs a port of its own"
        );
    }

    #[test]
    fn replicas_take_consecutive_ports_that_nothing_else_may_use() {
        let ports = Ports {
            replicas: 3,
            ..DEFAULTS
        };
        assert!(ports.validate().is_ok());
        assert_eq!(ports.servers().collect::<Vec<_>>(), [8000, 8001, 8002]);
        let err = Ports {
            grafana: 8002,
            ..ports
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--grafana-port 8002 is one of the model servers' ports 8000-8002 (--server-port 8000, --replicas 3): \
             each service needs a port of its own"
        );
        // Just past the range is fine.
        assert!(Ports {
            grafana: 8003,
            ..ports
        }
        .validate()
        .is_ok());
        let err = Ports {
            server: 65534,
            ..ports
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--server-port 65534 with --replicas 3 runs past port 65535: choose a lower --server-port"
        );
    }
}

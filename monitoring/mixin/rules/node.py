"""The host, from node-exporter: recording rules with the node-mixin's names, and
alerts on the exporter, memory, disk and load. Filesystem selector as in
node-mixin: real filesystems only.

Where the platform watches its hosts itself (config.node_alerts false), only the
recording rules it does not record already are kept (the dashboard reads them).
"""
from .. import fmt
from . import Alert, Group, Record, grafana_none_up, prose

REAL_FILESYSTEMS = (
    'fstype!="", fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|iso9660|fuse.lxcfs",'
    ' mountpoint!~"/run($|/.*)|/var/lib/docker/.+|/snap/.+"'
)


def memory_alert(c, severity, threshold, for_, description_end, runbook):
    return Alert(
        "NodeMemoryNearlyFull",
        expr="instance:node_memory_utilisation:ratio{%s} > %s" % (c.v["node"], fmt.num(threshold)),
        for_=for_,
        severity=severity,
        summary="Memory of {{ $labels.%(instance)s }} is {{ $value | humanizePercentage }} used" % c.v,
        description="Less than %s of RAM has been available on {{ $labels.%s }} for %s%s"
                    % (fmt.pct(round(1 - threshold, 10)), c.instance_label, fmt.words(for_), description_end),
        runbook=runbook,
    )


def group(c):
    v = dict(c.v, fs=REAL_FILESYSTEMS, horizon_seconds=fmt.seconds(c.disk_horizon))
    records = [
        Record("instance:node_num_cpu:sum", 'count without (cpu, mode) (node_cpu_seconds_total{mode="idle"})'),
        Record("instance:node_load5_per_cpu:ratio",
               "node_load5 / on (job, %(instance)s) instance:node_num_cpu:sum" % v),
        Record("instance:node_memory_utilisation:ratio",
               "1 - (node_memory_MemAvailable_bytes / on (job, %(instance)s) node_memory_MemTotal_bytes)" % v),
    ]
    alerts = [
        Alert(
            "NodeExporterDown",
            expr="up{%(node)s} == 0 or absent(up{%(node)s})" % v,
            for_=c.node_down_for,
            severity="warning",
            summary='node-exporter is down ({{ or $labels.%(instance)s "no target in job %(node_job)s" }})' % v,
            description="Prometheus cannot scrape {{ or $labels.%(instance)s \"any target\" }} of job {{ $labels.job }}"
                        " for more than %(for)s (up == 0, or the job has no target at all): host metrics and host"
                        " alerts are blind." % dict(v, **{"for": fmt.words(c.node_down_for)}),
            runbook=prose("""
                Host metrics are missing, so the Resource row is empty and the node alerts cannot fire. Check that
                prometheus-node-exporter runs (`systemctl status prometheus-node-exporter`, or the stack output) and
                listens on the port in targets/node.json; restart it. The model server itself may be fine: check
                the model-server alerts.
            """),
            grafana=grafana_none_up(
                "node-exporter-down", v["node"], panel=31,
                summary="node-exporter is down",
                description="No node-exporter target has answered Prometheus's scrapes for more than %s; host"
                            " panels and host alerts are blind." % fmt.words(c.node_down_for),
            ),
        ),
        memory_alert(
            c, "warning", c.memory_warning, c.memory_warning_for, ".",
            runbook=prose("""
                The host is close to swapping or to the OOM killer. Find the biggest processes (`top -o RES`,
                `systemd-cgtop`); check whether the model server grows (a leak: restart and file a bug) or whether
                another service does. Lower `--max-in-flight` / `--max-batch` to bound memory, or add RAM.
            """),
        ),
        memory_alert(
            c, "critical", c.memory_critical, c.memory_critical_for, ": the OOM killer is imminent.",
            runbook=prose("""
                Act now: the OOM killer may kill the model server at any moment. Stop or restart the process that
                grows (`top -o RES`), then investigate as for the warning.
            """),
        ),
        Alert(
            "NodeDiskWillFillIn24h",
            expr="""
                (
                  node_filesystem_avail_bytes{%(node)s, %(fs)s}
                  / node_filesystem_size_bytes{%(node)s, %(fs)s}
                  < %(disk_free_below)s
                and
                  predict_linear(node_filesystem_avail_bytes{%(node)s, %(fs)s}[%(disk_trend_window)s], %(horizon_seconds)s) < 0
                and
                  node_filesystem_readonly{%(node)s} == 0
                )
            """ % v,
            for_=c.disk_for,
            severity="warning",
            summary="{{ $labels.mountpoint }} on {{ $labels.%(instance)s }} will be full within %(horizon)s"
                    % dict(v, horizon=fmt.words(c.disk_horizon)),
            description="Only {{ $value | humanizePercentage }} of {{ $labels.mountpoint }} is left and the %s"
                        " trend reaches 0 bytes within %s."
                        % (fmt.adjective(c.disk_trend_window), fmt.words(c.disk_horizon)),
            runbook=prose("""
                Find what grows (`du -xh --max-depth=2 <mountpoint> | sort -h`): usually logs (journald, the
                stack's data dir), Prometheus TSDB (lower retention) or core dumps. Delete or rotate, then fix the
                writer (log level, rotation, retention). Grow the filesystem if the growth is legitimate.
            """),
        ),
        Alert(
            "NodeHighLoadPerCore",
            expr="instance:node_load5_per_cpu:ratio{%(node)s} > %(load_per_core)s" % v,
            for_=c.load_for,
            severity="warning",
            summary='Load per core on {{ $labels.%s }} is {{ $value | printf "%%.2f" }}' % c.instance_label,
            description="The 5-minute load average divided by the number of CPUs has been above %s for %s:"
                        " processes wait for CPU (or for disk)." % (fmt.num(c.load_per_core), fmt.words(c.load_for)),
            runbook=prose("""
                The host is saturated and the model server's latency will suffer. Look at `top` / `pidstat` for the
                processes using CPU and at disk I/O (high iowait also raises the load). If the model server is the
                consumer, scale out, use a cheaper model, or lower `--max-in-flight`; otherwise move the other
                workload.
            """),
        ),
    ]
    return Group(
        name="node",
        file="node.yml",
        service="node",
        comment=__doc__,
        down_alert="NodeExporterDown",
        rules=[r for r in records if r.record not in c.external_node_records] + (alerts if c.node_alerts else []),
    )

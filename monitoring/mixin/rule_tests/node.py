"""Host alerts and recording rules of rules/node.py, from node-exporter's series:
the exporter down or absent, memory, a filesystem filling up, load per core."""


def tests(t):
    return [
        t.case(
            "NodeExporterDown - up==0 for 1m fires, and a missing node job fires too",
            series=[
                t.node('up{instance="127.0.0.1:9100"}', "1x5 0x10"),
                t.ms('up{instance="127.0.0.1:8000"}', "1x15"),
            ],
            alerts=[
                t.quiet("6m", "NodeExporterDown"),
                t.fires(
                    "8m", "NodeExporterDown",
                    t.expect(
                        "warning", 'instance="127.0.0.1:9100"',
                        summary="node-exporter is down (127.0.0.1:9100)",
                        description=f"Prometheus cannot scrape 127.0.0.1:9100 of job {t.node_job} for more than 1 "
                                    "minute (up == 0, or the job has no target at all): host metrics and "
                                    "host alerts are blind."),
                ),
                t.quiet("8m", "ModelServerDown"),
            ],
        ),
        t.case(
            "NodeExporterDown - absent job",
            series=[
                t.ms('up{instance="127.0.0.1:8000"}', "1x5"),
            ],
            alerts=[
                t.fires(
                    "2m", "NodeExporterDown",
                    t.expect(
                        "warning", "",
                        summary=f"node-exporter is down (no target in job {t.node_job})",
                        description=f"Prometheus cannot scrape any target of job {t.node_job} for more than 1 "
                                    "minute (up == 0, or the job has no target at all): host metrics and "
                                    "host alerts are blind."),
                ),
            ],
        ),
        t.case(
            "memory - 85% used is fine, 92% is a warning, 98% is warning + critical",
            series=[
                t.node('node_memory_MemTotal_bytes{instance="a"}', "100x15"),
                t.node('node_memory_MemAvailable_bytes{instance="a"}', "15x15"),
                t.node('node_memory_MemTotal_bytes{instance="b"}', "100x15"),
                t.node('node_memory_MemAvailable_bytes{instance="b"}', "8x15"),
                t.node('node_memory_MemTotal_bytes{instance="c"}', "100x15"),
                t.node('node_memory_MemAvailable_bytes{instance="c"}', "2x15"),
            ],
            alerts=[
                t.quiet("1m", "NodeMemoryNearlyFull"),
                t.fires(
                    "10m", "NodeMemoryNearlyFull",
                    t.expect(
                        "warning", 'instance="b"',
                        summary="Memory of b is 92% used",
                        description="Less than 10% of RAM has been available on b for 5 minutes."),
                    t.expect(
                        "warning", 'instance="c"',
                        summary="Memory of c is 98% used",
                        description="Less than 10% of RAM has been available on c for 5 minutes."),
                    t.expect(
                        "critical", 'instance="c"',
                        summary="Memory of c is 98% used",
                        description="Less than 3% of RAM has been available on c for 2 minutes: the OOM "
                                    "killer is imminent."),
                ),
            ],
            exprs=[
                t.expr(
                    "instance:node_memory_utilisation:ratio", "10m",
                    t.node_sample('instance:node_memory_utilisation:ratio{instance="a"}', 0.85),
                    t.node_sample('instance:node_memory_utilisation:ratio{instance="b"}', 0.92),
                    t.node_sample('instance:node_memory_utilisation:ratio{instance="c"}', 0.98),
                ),
            ],
        ),
        t.case(
            "disk - only a real filesystem under 40% free whose trend hits 0 within 24h fires",
            series=[
                # ext4 /: 30% free, losing 2 GB/h -> empty in 15h: fires
                t.node('node_filesystem_avail_bytes{instance="n", device="/dev/vda", fstype="ext4", mountpoint="/"}', "30000000000-33333333x600"),
                t.node('node_filesystem_size_bytes{instance="n", device="/dev/vda", fstype="ext4", mountpoint="/"}', "100000000000x600"),
                t.node('node_filesystem_readonly{instance="n", device="/dev/vda", fstype="ext4", mountpoint="/"}', "0x600"),
                # ext4 /data: 30% free, losing 0.5 GB/h -> still 18 GB in 24h: quiet
                t.node('node_filesystem_avail_bytes{instance="n", device="/dev/vdb", fstype="ext4", mountpoint="/data"}', "30000000000-8333333x600"),
                t.node('node_filesystem_size_bytes{instance="n", device="/dev/vdb", fstype="ext4", mountpoint="/data"}', "100000000000x600"),
                t.node('node_filesystem_readonly{instance="n", device="/dev/vdb", fstype="ext4", mountpoint="/data"}', "0x600"),
                # xfs /big: losing 2 GB/h but 80% free: quiet (node-mixin: only alert under 40% free)
                t.node('node_filesystem_avail_bytes{instance="n", device="/dev/vdc", fstype="xfs", mountpoint="/big"}', "80000000000-33333333x600"),
                t.node('node_filesystem_size_bytes{instance="n", device="/dev/vdc", fstype="xfs", mountpoint="/big"}', "100000000000x600"),
                t.node('node_filesystem_readonly{instance="n", device="/dev/vdc", fstype="xfs", mountpoint="/big"}', "0x600"),
                # tmpfs /run/user: filling fast but not a real filesystem: quiet
                t.node('node_filesystem_avail_bytes{instance="n", device="tmpfs", fstype="tmpfs", mountpoint="/tmp"}', "300000000-333333x600"),
                t.node('node_filesystem_size_bytes{instance="n", device="tmpfs", fstype="tmpfs", mountpoint="/tmp"}', "1000000000x600"),
                t.node('node_filesystem_readonly{instance="n", device="tmpfs", fstype="tmpfs", mountpoint="/tmp"}', "0x600"),
            ],
            alerts=[
                t.quiet("20m", "NodeDiskWillFillIn24h"),
                t.fires(
                    "8h", "NodeDiskWillFillIn24h",
                    t.expect(
                        "warning", 'instance="n", device="/dev/vda", fstype="ext4", mountpoint="/"',
                        summary="/ on n will be full within 24 hours",
                        description="Only 14% of / is left and the 6-hour trend reaches 0 bytes within 24 "
                                    "hours."),
                ),
            ],
        ),
        t.case(
            "load - 2.5 per core for 15m fires, 1.5 per core does not",
            series=[
                t.node('node_load5{instance="busy"}', "5x30"),
                t.node('node_cpu_seconds_total{instance="busy", cpu="0", mode="idle"}', "0+10x30"),
                t.node('node_cpu_seconds_total{instance="busy", cpu="1", mode="idle"}', "0+10x30"),
                t.node('node_cpu_seconds_total{instance="busy", cpu="0", mode="user"}', "0+50x30"),
                t.node('node_load5{instance="ok"}', "3x30"),
                t.node('node_cpu_seconds_total{instance="ok", cpu="0", mode="idle"}', "0+10x30"),
                t.node('node_cpu_seconds_total{instance="ok", cpu="1", mode="idle"}', "0+10x30"),
            ],
            alerts=[
                t.quiet("10m", "NodeHighLoadPerCore"),
                t.fires(
                    "20m", "NodeHighLoadPerCore",
                    t.expect(
                        "warning", 'instance="busy"',
                        summary="Load per core on busy is 2.50",
                        description="The 5-minute load average divided by the number of CPUs has been "
                                    "above 2 for 15 minutes: processes wait for CPU (or for disk)."),
                ),
            ],
            exprs=[
                t.expr(
                    "instance:node_num_cpu:sum", "20m",
                    t.node_sample('instance:node_num_cpu:sum{instance="busy"}', 2),
                    t.node_sample('instance:node_num_cpu:sum{instance="ok"}', 2),
                ),
                t.expr(
                    "instance:node_load5_per_cpu:ratio", "20m",
                    t.node_sample('instance:node_load5_per_cpu:ratio{instance="busy"}', 2.5),
                    t.node_sample('instance:node_load5_per_cpu:ratio{instance="ok"}', 1.5),
                ),
            ],
        ),
    ]

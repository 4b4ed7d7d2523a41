"""The model-server dashboard (dashboards/model-server.json): one row per
concern, top to bottom from "is it up" to the model's inputs.

Model-server queries select `job="$job"` and the `$instance` variable; host
queries select node-exporter's job and `$node`. Panel ids are stable: Grafana's
alert rules link to them (rules.Grafana.panel), and so may bookmarks.
"""
from . import fmt
from .panels import (TEXT, alertlist, bargauge, gauge, heatmap, layout, negative_y, piechart, query, row,
                     stat, steps, timeseries)

# node-mixin's device and filesystem selectors: real block devices and filesystems only.
DISKS = 'device=~"(/dev/)?(mmcblk.p.+|nvme.+|rbd.+|sd.+|vd.+|xvd.+|dm-.+|md.+|dasd.+)"'
FILESYSTEMS = ('fstype!="", fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|iso9660|fuse.lxcfs",'
               ' mountpoint!~"/run($|/.*)|/var/lib/docker/.+|/snap/.+"')


def variable(name, label, query_text, current, include_all=False):
    v = {"name": name, "label": label, "type": "query", "datasource": {"type": "prometheus", "uid": "prometheus"},
         "query": {"query": query_text, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
         "definition": query_text, "refresh": 2, "sort": 1, "regex": "", "hide": 0,
         "includeAll": include_all, "multi": include_all}
    if include_all:
        v["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
        v["options"] = []
        v["allValue"] = ".*"
    else:
        v["current"] = {"selected": True, "text": current, "value": current}
        v["options"] = []
    return v


def dashboard(c):
    i = c.instance_label
    ms = 'job="$job", %s=~"$instance"' % i  # the model server's series
    node = 'job="%s", %s=~"$node"' % (c.node_job, i)  # the host's
    by_i = "{{%s}}" % i  # legend: one line per replica
    rate = lambda metric, extra="": "rate(%s{%s%s}[$__rate_interval])" % (metric, ms, extra)  # noqa: E731

    def ratio_5xx(by=None):
        """5xx / all requests but 499; 0, not absent, while no 5xx series exists."""
        agg = "sum by (%s) " % by if by else "sum"
        zero = "0 * %s(%s)" % (agg, rate("requests_total")) if by else "vector(0)"
        errors, answered = rate("requests_total", ', status=~"5.."'), rate("requests_total", ', status!="499"')
        return "(%s(%s) or %s) / %s(%s)" % (agg, errors, zero, agg, answered)

    quantiles = lambda metric, by="le": [  # noqa: E731
        query("histogram_quantile(%s, sum by (%s) (%s))" % (q, by, rate(metric)), "p%d" % round(q * 100))
        for q in (0.5, 0.9, 0.99)]
    budget, fast, slow = c.error_budget, c.fast_burn_threshold, c.slow_burn_threshold
    slo = fmt.pct(c.slo)

    rows = [
        row(1, "Current timestamp",
            stat(2, "Current time", "Prometheus server time of the last refresh (time() * 1000 shown as an ISO date):"
                 " shows the dashboard is live.", "dateTimeAsIso",
                 [query("time() * 1000", "now", instant=True)], w=6, h=4, color=TEXT),
            stat(3, "Targets up", "Scrape targets of the %s job that answer (sum of up); 0 means the server is down."
                 % c.model_server_job, "short",
                 [query("sum(up{%s}) or vector(0)" % ms, "up", instant=True)], w=4, h=4,
                 thresholds=steps("red", ("green", 1))),
            stat(4, "Firing alerts", 'Number of Prometheus alerts currently firing (ALERTS{alertstate="firing"}),'
                 " all jobs.", "short",
                 [query('count(ALERTS{alertstate="firing"}) or vector(0)', "firing", instant=True)], w=4, h=4,
                 thresholds=steps("green", ("red", 1))),
            alertlist(5, "Alerts (Prometheus and Grafana)", "Firing and pending alerts from the Prometheus rules and"
                      " Grafana-managed rules, critical first.", w=10, h=4)),

        row(10, "Operation",
            stat(11, "HTTP success rate", "Share of requests answered without a 5xx: 1 - 5xx / all requests,"
                 " excluding 499 (client gone before the answer); 4xx count as success. SLO %s." % slo,
                 "percentunit", [query("1 - " + ratio_5xx(), "success")], w=5, h=6, graph=True, decimals=2,
                 min=0, max=1, thresholds=steps("red", ("orange", round(1 - 2 * budget, 12)), ("green", c.slo))),
            stat(12, "5xx ratio", "5xx responses / all responses excluding 499, over the rate interval. The error"
                 " budget is %s (SLO %s)." % (fmt.pct(budget), slo),
                 "percentunit", [query(ratio_5xx(), "5xx")], w=5, h=6, graph=True, decimals=2, min=0,
                 thresholds=steps("green", ("orange", budget), ("red", fast))),
            timeseries(13, "5xx ratio over the SLO windows", "Recorded 5xx ratio (job:requests_5xx:ratio_rate*) over"
                       " %s; fast burn pages above %s (%s and %s), slow burn warns above %s (%s and %s)."
                       % ("/".join(slo_windows(c)), fmt.pct(fast), c.fast_burn_long, c.fast_burn_short,
                          fmt.pct(slow), c.slow_burn_long, c.slow_burn_short),
                       "percentunit",
                       [query('job:requests_5xx:ratio_rate%s{job="$job"}' % w, w) for w in slo_windows(c)],
                       w=14, h=6, thresholds=steps("green", ("orange", slow), ("red", fast)),
                       soft_max=round(2 * budget, 12)),
            timeseries(14, "Request rate by route and status class", "Requests per second, by route template and"
                       " status class (2xx/4xx/5xx; 499 = client disconnected).", "reqps",
                       [query('sum by (route, class) (label_replace(%s, "class", "${1}xx", "status", "(.)..")) or on'
                              " () vector(0)" % rate("requests_total"), "{{route}} {{class}}")], w=12, h=8),
            timeseries(15, "Requests in progress", "Requests being handled right now, by route (request_in_progress"
                       " gauge); probes are not counted unless --instrument-probes.", "short",
                       [query("sum by (route) (request_in_progress{%s}) or on () vector(0)" % ms, "{{route}}")],
                       w=6, h=8),
            stat(16, "Total requests", "Requests answered since the server started (sum of requests_total over routes"
                 " and statuses), and within the dashboard time range.", "short",
                 [query("sum(requests_total{%s}) or vector(0)" % ms, "since start", instant=True),
                  query("sum(increase(requests_total{%s}[$__range])) or vector(0)" % ms, "in time range",
                        instant=True)],
                 w=6, h=8, decimals=0, text="value_and_name"),
            timeseries(17, "Server latency p50 / p90 / p99", "Server-side request duration quantiles from the"
                       " requests_duration_seconds histogram (all routes, sum by le, rate over the rate interval).",
                       "s", quantiles("requests_duration_seconds_bucket"), w=12, h=8),
            heatmap(18, "Server latency heatmap", "Requests per latency bucket over time"
                    " (requests_duration_seconds_bucket, increase per interval); darker = more requests.", "s",
                    [query("sum by (le) (increase(requests_duration_seconds_bucket{%s}[$__rate_interval]))" % ms,
                           "{{le}}", format="heatmap")], w=12, h=8),
            timeseries(19, "Request rate anomaly (z-score)", "How many standard deviations the 5m request rate is"
                       " from its trailing-hour mean (job:requests:rate5m_zscore1h); |z| > %s is an anomaly."
                       % fmt.num(c.rate_zscore), "short",
                       [query('job:requests:rate5m_zscore1h{job="$job"}', "z-score")], w=12, h=6,
                       thresholds=steps("red", ("transparent", -c.rate_zscore), ("red", c.rate_zscore)),
                       soft_min=None),
            timeseries(20, "Request rate vs trailing hour", "5m request rate (job:requests:rate5m) with its"
                       " trailing-hour mean and a band of %s standard deviations: the inputs of the z-score alert."
                       % fmt.num(c.rate_zscore), "reqps",
                       [query('job:requests:rate5m{job="$job"}', "rate 5m"),
                        query('job:requests:rate5m_avg_over_time1h{job="$job"}', "mean 1h"),
                        query('job:requests:rate5m_avg_over_time1h{job="$job"} + %s *'
                              ' job:requests:rate5m_stddev_over_time1h{job="$job"}' % fmt.num(c.rate_zscore),
                              "mean + %sσ" % fmt.num(c.rate_zscore)),
                        query('clamp_min(job:requests:rate5m_avg_over_time1h{job="$job"} - %s *'
                              ' job:requests:rate5m_stddev_over_time1h{job="$job"}, 0)' % fmt.num(c.rate_zscore),
                              "mean - %sσ" % fmt.num(c.rate_zscore))],
                       w=12, h=6)),

        row(60, "Instances",
            timeseries(61, "Targets up by instance", "1 while Prometheus scrapes the replica, 0 when the scrape fails"
                       " (up); a replica that was removed stops drawing.", "short",
                       [query("up{%s}" % ms, by_i)], w=6, h=8, soft_max=1),
            timeseries(62, "Request rate by instance", "Requests per second served by each replica, all routes and"
                       " statuses: an uneven split points at the load balancer or pinned connections.", "reqps",
                       [query("sum by (%s) (%s)" % (i, rate("requests_total")), by_i)], w=6, h=8),
            timeseries(63, "Requests in progress by instance", "Requests being handled right now by each replica"
                       " (request_in_progress summed over routes).", "short",
                       [query("sum by (%s) (request_in_progress{%s})" % (i, ms), by_i)], w=6, h=8),
            timeseries(64, "5xx ratio by instance", "Share of each replica's requests answered with a 5xx (499"
                       " excluded): one replica far above the others is ModelServerInstanceHighErrorRate.",
                       "percentunit", [query(ratio_5xx(i), by_i)], w=6, h=8),
            timeseries(65, "Server latency p99 by instance", "99th percentile of server latency per replica, all"
                       " routes: a single slow replica shows here before it moves the service-wide p99.", "s",
                       [query("histogram_quantile(0.99, sum by (%s, le) (%s))"
                              % (i, rate("requests_duration_seconds_bucket")), by_i)], w=24, h=8)),

        row(30, "Resource",
            stat(31, "CPU cores", "Number of processors of the host (count of CPUs in node_cpu_seconds_total).",
                 "short", [query("count(count by (cpu) (node_cpu_seconds_total{%s}))" % node, "cores",
                                 instant=True)], w=4, h=4),
            stat(32, "Total RAM", "Physical memory of the host (node_memory_MemTotal_bytes).", "bytes",
                 [query("sum(node_memory_MemTotal_bytes{%s})" % node, "RAM", instant=True)], w=4, h=4),
            gauge(33, "Memory used", "Share of RAM not available to new processes: 1 - MemAvailable / MemTotal"
                  " (instance:node_memory_utilisation:ratio); alert above %s." % fmt.pct(c.memory_warning),
                  "percentunit", [query("max(instance:node_memory_utilisation:ratio{%s})" % node, "used",
                                        instant=True)], w=4, h=4, min=0, max=1,
                  thresholds=steps("green", ("orange", c.memory_warning), ("red", c.memory_critical))),
            stat(34, "Load per core", "5-minute load average divided by the number of CPUs"
                 " (instance:node_load5_per_cpu:ratio); alert above %s." % fmt.num(c.load_per_core), "short",
                 [query("max(instance:node_load5_per_cpu:ratio{%s})" % node, "load5/core", instant=True)],
                 w=4, h=4, graph=True, decimals=2, thresholds=steps("green", ("orange", 1), ("red", c.load_per_core))),
            stat(35, "Uptime", "Time since the host booted (time() - node_boot_time_seconds).", "s",
                 [query("max(time() - node_boot_time_seconds{%s})" % node, "uptime", instant=True)], w=4, h=4),
            stat(36, "Least free filesystem", "Smallest share of free space among the real filesystems"
                 " (node_filesystem_avail_bytes / size; tmpfs, overlay and the like excluded).", "percentunit",
                 [query("min(node_filesystem_avail_bytes{%(s)s} / node_filesystem_size_bytes{%(s)s})"
                        % {"s": node + ", " + FILESYSTEMS}, "free", instant=True)],
                 w=4, h=4, thresholds=steps("red", ("orange", 0.1), ("green", c.disk_free_below))),
            timeseries(37, "System load", "Load average over 1, 5 and 15 minutes (runnable + uninterruptible tasks),"
                       " with the CPU count for scale.", "short",
                       [query("node_load%s{%s}" % (m, node), "load %sm {{%s}}" % (m, i)) for m in (1, 5, 15)]
                       + [query("instance:node_num_cpu:sum{%s}" % node, "CPUs {{%s}}" % i)], w=12, h=8),
            timeseries(38, "Memory usage", "RAM used (MemTotal - MemAvailable), available, and total, in bytes.",
                       "bytes",
                       [query("node_memory_MemTotal_bytes{%(n)s} - node_memory_MemAvailable_bytes{%(n)s}"
                              % {"n": node}, "used {{%s}}" % i),
                        query("node_memory_MemAvailable_bytes{%s}" % node, "available {{%s}}" % i),
                        query("node_memory_MemTotal_bytes{%s}" % node, "total {{%s}}" % i)], w=12, h=8),
            timeseries(39, "Disk I/O", "Bytes read (positive) and written (negative axis) per second, per block"
                       " device (node_disk_*_bytes_total).", "Bps",
                       [query("sum by (%s, device) (rate(node_disk_%s_bytes_total{%s, %s}[$__rate_interval])) or"
                              " on () vector(0)" % (i, op, node, DISKS), "%s {{device}}" % legend)
                        for op, legend in (("read", "read"), ("written", "write"))],
                       w=12, h=8, soft_min=None, overrides=[negative_y("B")]),
            bargauge(40, "Available disk space", "Free space available to users per real filesystem"
                     " (node_filesystem_avail_bytes; tmpfs, overlay, squashfs and similar excluded as in node-mixin).",
                     "bytes", [query("node_filesystem_avail_bytes{%s, %s}" % (node, FILESYSTEMS),
                                     "{{mountpoint}} ({{device}})", instant=True)], w=12, h=8)),

        row(50, "Model",
            timeseries(51, "Inference latency p50 / p90 / p99", "Model-only prediction time quantiles from the"
                       " inference_duration_seconds histogram (sum by le, rate over the rate interval).", "s",
                       quantiles("inference_duration_seconds_bucket"), w=12, h=8),
            piechart(52, "Prediction share by class", "Share of predicted rows per class over the dashboard time"
                     " range (increase of predictions_total by class / total).", "percentunit",
                     [query("sum by (class) (increase(predictions_total{%(ms)s}[$__range])) / ignoring (class)"
                            " group_left sum(increase(predictions_total{%(ms)s}[$__range]))" % {"ms": ms},
                            "{{class}}", instant=True)], w=6, h=8, decimals=1),
            stat(53, "Model version", "Model loaded by the server (model_info: name, version, algorithm).", "none",
                 [query("max by (name, version, algorithm) (model_info{%s})" % ms,
                        "{{name}} {{version}} ({{algorithm}})", instant=True)], w=6, h=8, text="name", color=TEXT),
            timeseries(54, "Prediction share over time", "Share of each class among predicted rows per rate interval"
                       " (rate by class / total rate), stacked to 100%.", "percentunit",
                       [query("sum by (class) (%s) / ignoring (class) group_left sum(%s)"
                              % (rate("predictions_total"), rate("predictions_total")), "{{class}}")],
                       w=8, h=8, fill=60, soft_min=None, min=0, max=1, stack=True),
            timeseries(55, "Predictions per second by class", "Predicted rows per second for each class (rate of"
                       " predictions_total); a batch request adds one per row.", "ops",
                       [query("sum by (class) (%s) or on () vector(0)" % rate("predictions_total"), "{{class}}")],
                       w=8, h=8),
            timeseries(56, "Prediction drift vs trailing hour", "Absolute change of each class share: last 5m vs the"
                       " hour that ended 5m ago (recorded class:predictions:share*); the drift alert fires above %s."
                       % fmt.num(c.prediction_drift_points), "percentunit",
                       [query('abs(class:predictions:share5m{job="$job"} - on (job, class)'
                              ' class:predictions:share1h_offset5m{job="$job"}) or on (job, class)'
                              ' (0 * class:predictions:share5m{job="$job"})', "{{class}}")],
                       w=8, h=8, thresholds=steps("green", ("red", c.prediction_drift_points)), soft_min=None,
                       min=0, soft_max=0.3)),

        row(70, "Input drift",
            timeseries(71, "Input drift (PSI) per feature", "PSI of each feature: served values over %s against the"
                       " training bins (feature:model_input_psi:%s). Below %s stable, %s-%s moderate, above %s"
                       " significant (ModelServerInputDrift, %s)."
                       % (fmt.words(c.drift_window), c.drift_window, fmt.num(c.drift_psi_moderate),
                          fmt.num(c.drift_psi_moderate), fmt.num(c.drift_psi), fmt.num(c.drift_psi), c.drift_for),
                       "none", [query('feature:model_input_psi:%s{job="$job"}' % c.drift_window, "{{feature}}")],
                       w=12, h=8, thresholds=steps("green", ("yellow", c.drift_psi_moderate), ("red", c.drift_psi)),
                       soft_min=None, min=0, soft_max=0.3),
            bargauge(72, "Served vs training distribution: $feature", "Share of the chosen feature's values in each"
                     " training bin (quantile bins, below_min, above_max): served over the time range vs training."
                     " Differences are what PSI measures.", "percentunit",
                     [query('sum by (bin) (increase(model_input_values_total{%(f)s}[$__range])) / ignoring (bin)'
                            ' group_left sum(increase(model_input_values_total{%(f)s}[$__range]))'
                            % {"f": ms + ', feature="$feature"'}, "served {{bin}}", instant=True),
                      query('max by (bin) (model_input_reference_share{job="$job", feature="$feature"})',
                            "training {{bin}}", instant=True)],
                     w=12, h=8, max=1),
            timeseries(73, "Values outside the training range", "Share of each feature's values outside the training"
                       " min/max over %s (feature:model_input_out_of_range:ratio%s); ModelServerInputOutOfRange fires"
                       " above %s." % (fmt.words(c.drift_window), c.drift_window, fmt.pct(c.drift_out_of_range)),
                       "percentunit",
                       [query('feature:model_input_out_of_range:ratio%s{job="$job"}' % c.drift_window, "{{feature}}")],
                       w=12, h=8, thresholds=steps("green", ("red", c.drift_out_of_range)), soft_min=None, min=0,
                       soft_max=0.1),
            timeseries(74, "Class share vs training", "Served share of each class over %s minus its training share"
                       " (class:predictions:share%s - model_output_reference_share); an alert fires beyond %s."
                       % (fmt.words(c.drift_window), c.drift_window, fmt.num(c.drift_class_points)), "percentunit",
                       [query('class:predictions:share%s{job="$job"} - on (job, class) group_left max by (job, class)'
                              ' (model_output_reference_share{job="$job"})' % c.drift_window, "{{class}}")],
                       w=12, h=8, thresholds=steps("green", ("red", c.drift_class_points)), soft_min=None, min=-1,
                       soft_max=0.3)),

        row(80, "Connections",
            timeseries(81, "Open connections by instance", "Client connections open on each replica"
                       " (connections_open), probes and scrapes included. A climb with flat traffic is idle or slow"
                       " clients.", "short", [query("sum by (%s) (connections_open{%s})" % (i, ms), by_i)],
                       w=12, h=8, fill=0, soft_min=None, min=0),
            timeseries(82, "Connection errors by kind", "Connections ended below the routes per second"
                       " (connection_errors_total): malformed or oversized heads, header timeouts, requests cut off,"
                       " failed accepts. Attacks show here.", "reqps",
                       [query("sum by (kind) (%s)" % rate("connection_errors_total"), "{{kind}}")],
                       w=12, h=8, fill=0, soft_min=None, min=0)),
    ]

    return {
        "uid": c.dashboard_uid,
        "title": "model-server",
        "description": "Model server: HTTP operation, host resources (node-exporter), model behaviour and firing"
                       " alerts.",
        "tags": ["model-server", "prometheus"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": c.scrape_interval,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-15m", "to": "now"},
        "timepicker": {"refresh_intervals": ["5s", "10s", "30s", "1m", "5m", "15m"]},
        "links": [],
        "annotations": {"list": [
            {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
             "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"},
            {"datasource": {"type": "prometheus", "uid": "prometheus"}, "enable": True, "hide": False,
             "iconColor": "red", "name": "Firing alerts", "expr": 'ALERTS{alertstate="firing"}', "step": "15s",
             "titleFormat": "{{alertname}} ({{severity}})", "textFormat": "{{job}} {{%s}}" % i,
             "tagKeys": "severity,service", "useValueForTime": False,
             "target": {"refId": "Anno", "expr": 'ALERTS{alertstate="firing"}',
                        "datasource": {"type": "prometheus", "uid": "prometheus"}}},
        ]},
        "templating": {"list": [
            variable("job", "Job", 'label_values(up{job!="%s"}, job)' % c.node_job, c.model_server_job),
            variable("instance", "Instance", 'label_values(up{job="$job"}, %s)' % i, None, include_all=True),
            variable("node", "Node", 'label_values(up{job="%s"}, %s)' % (c.node_job, i), None, include_all=True),
            variable("feature", "Feature", 'label_values(model_input_values_total{job="$job"}, feature)',
                     "petal_length_cm"),
        ]},
        "panels": layout(rows),
    }


def slo_windows(c):
    from .rules.model_server import slo_windows as windows
    return windows(c)

"""The model server's traffic: request rates, the 5xx ratio over the SLO windows,
latency quantiles, and the alerts on availability, errors, latency and stuck requests.

N replicas (instances) of one job: rates, ratios and quantiles are aggregated
over the instances (sum by job before dividing; sum by le before
histogram_quantile), so the SLO alerts judge the service as its clients see it.
The instance:* and instance_route:* rules keep the per-instance breakdown for the
dashboard and for the alerts that point at one replica: a target that is down, a
replica failing more than its share, requests stuck in one process.

The error ratio is 5xx / all requests, excluding status 499 (the client went away
before an answer was sent: neither a success nor a server error). "or 0 * ..."
keeps the ratio at 0 (not absent) while no 5xx series exists yet.
"""
from .. import fmt
from . import Alert, Grafana, Group, Record, grafana_none_up, prose

ERROR_RATIO = """
    (
      sum by (%(by)s) (rate(requests_total{status=~"5.."}[%(w)s]))
      or 0 * sum by (%(by)s) (rate(requests_total[%(w)s]))
    )
    / sum by (%(by)s) (rate(requests_total{status!="499"}[%(w)s]))
"""


def slo_windows(c):
    """The windows of the burn-rate alerts, shortest first."""
    windows = {c.fast_burn_long, c.fast_burn_short, c.slow_burn_long, c.slow_burn_short}
    return sorted(windows, key=fmt.seconds)


def budget_share(c, factor, window):
    """Share of the period's error budget a burn of `factor` spends in `window`."""
    return factor * fmt.seconds(window) / fmt.seconds(c.slo_period)


def burn_alert(c, severity, factor, long, short, for_, threshold, grafana_uid, runbook):
    v = dict(c.v, factor=fmt.num(factor), long=long, short=short, threshold=fmt.num(threshold),
             threshold_pct=fmt.pct(threshold), long_words=fmt.the_last(long), short_words=fmt.the_last(short),
             share=fmt.pct(budget_share(c, factor, long)), period=fmt.adjective(c.slo_period),
             within=fmt.words(long))
    return Alert(
        "ModelServerHighErrorRate",
        expr="""
            job:requests_5xx:ratio_rate%(long)s{%(ms)s} > (%(factor)s * %(error_budget)s)
            and
            job:requests_5xx:ratio_rate%(short)s{%(ms)s} > (%(factor)s * %(error_budget)s)
        """ % v,
        for_=for_,
        severity=severity,
        labels={"slo": c.v["slo_label"]},
        summary="Model server burns its 5xx error budget %(factor)sx too fast" % v,
        description="{{ $value | humanizePercentage }} of requests got a 5xx over %(long_words)s, and more than"
                    " %(threshold_pct)s over %(short_words)s too (SLO %(slo_pct)s: at this pace %(share)s of the"
                    " %(period)s error budget is gone in %(within)s)." % v,
        runbook=runbook,
        grafana=Grafana(
            uid=grafana_uid,
            title="ModelServerHighErrorRate (%s burn)" % ("fast" if severity == "critical" else "slow"),
            expr='min by (job) ({__name__=~"job:requests_5xx:ratio_rate(%(long)s|%(short)s)", %(ms)s})' % v,
            op="gt",
            threshold=threshold,
            panel=13,
            summary="Model server burns its 5xx error budget %(factor)sx too fast"
                    " ({{ humanizePercentage (index .Values \"B\").Value }} of requests fail)" % v,
            description="More than %(threshold_pct)s of requests (excluding 499) got a 5xx over both %(long_words)s"
                        " and %(short_words)s; SLO %(slo_pct)s." % v,
        ),
    )


def group(c):
    v = c.v
    by_job = "job"
    by_instance = "job, %(instance)s" % v
    budget_lasts = fmt.words("%dd" % round(fmt.seconds(c.slo_period) / c.slow_burn_factor / 86400))
    return Group(
        name="model-server",
        file="model-server.yml",
        service="model-server",
        comment=__doc__,
        down_alert="ModelServerDown",
        rules=[
            Record("job_route:requests:rate5m", "sum by (job, route) (rate(requests_total[5m]))"),
            # 5xx ratio over the windows of the multi-window multi-burn-rate alerts.
            *[Record("job:requests_5xx:ratio_rate%s" % w, ERROR_RATIO % {"by": by_job, "w": w})
              for w in slo_windows(c)],
            # Per instance: the breakdown that finds the one bad replica among N.
            Record("instance:requests:rate5m", "sum by (%s) (rate(requests_total[5m]))" % by_instance),
            Record("instance:requests_5xx:ratio_rate5m", ERROR_RATIO % {"by": by_instance, "w": "5m"}),
            Record("instance_route:requests_duration_seconds:p99_5m",
                   "histogram_quantile(0.99, sum by (%s, route, le) (rate(requests_duration_seconds_bucket[5m])))"
                   % by_instance),
            Record("instance:request_in_progress:sum", "sum by (%s) (request_in_progress)" % by_instance),
            # Server latency quantiles per route (sum by le before histogram_quantile).
            *[Record("job_route:requests_duration_seconds:p%s_5m" % q,
                     "histogram_quantile(0.%s, sum by (job, route, le) (rate(requests_duration_seconds_bucket[5m])))"
                     % q)
              for q in ("50", "90", "99")],
            # Model (inference only) latency quantiles.
            *[Record("job:inference_duration_seconds:p%s_5m" % q,
                     "histogram_quantile(0.%s, sum by (job, le) (rate(inference_duration_seconds_bucket[5m])))" % q)
              for q in ("50", "99")],

            # The service is down: no target of the job answers (each down target is
            # listed), or the job has no target at all. Alertmanager lets this alert
            # inhibit every other model-server alert, so it must not fire while
            # another replica still serves: that is ModelServerInstanceDown.
            Alert(
                "ModelServerDown",
                expr="""
                    (up{%(ms)s} == 0 unless on (job) (up{%(ms)s} == 1))
                    or absent(up{%(ms)s})
                """ % v,
                for_=c.down_for,
                severity="critical",
                summary='Model server is down ({{ or $labels.%(instance)s "no target in job %(model_server_job)s" }})'
                        % v,
                description="Prometheus cannot scrape {{ or $labels.%(instance)s \"any target\" }} of job"
                            " {{ $labels.job }} and no other target of the job answers either, for more than %(down)s"
                            " (or the job has no target at all)." % dict(v, down=fmt.words(c.down_for)),
                runbook=prose("""
                    No replica of the model server answers /metrics, so it is very likely not serving /predict
                    either. Check that the process is running (`systemctl status model-server`, the
                    `model-server stack` output, which names a child that died and why, or `kubectl get pods` and
                    `kubectl describe pod` on Kubernetes), that it listens on the address Prometheus scrapes
                    (targets/model-server.json, or the ServiceMonitor's port), and read its last log lines (panic,
                    bind error, model file not found; `kubectl logs --previous`). Restart it; if it crashes again,
                    start it with `--log-level debug` and fix the cause. If the target list is empty, the file_sd
                    targets file was not written or the ServiceMonitor selects no Service.
                """),
                # number of model-server targets that answer; 0 when none does or none exists
                grafana=grafana_none_up(
                    "ms-down", v["ms"], panel=3,
                    summary='Model server is down: {{ index .Values "B" }} target(s) up',
                    description="No %s target has answered Prometheus's scrapes for more than %s."
                                % (c.model_server_job, fmt.words(c.down_for)),
                ),
            ),

            # One replica is down while others serve: capacity is reduced, clients are
            # not (yet) affected. Fires per instance. Longer `for` than ModelServerDown:
            # an orchestrator usually replaces or restarts the replica within minutes.
            Alert(
                "ModelServerInstanceDown",
                expr="up{%(ms)s} == 0" % v,
                for_=c.instance_down_for,
                severity="warning",
                summary="Model server replica {{ $labels.%(instance)s }} is down" % v,
                description="Prometheus has not been able to scrape {{ $labels.%(instance)s }} of job {{ $labels.job }}"
                            " for %(for)s; the other replicas carry its traffic."
                            % dict(v, **{"for": fmt.words(c.instance_down_for)}),
                runbook=prose("""
                    One replica stopped answering while the others serve. On Kubernetes look at the pod behind the
                    address (`kubectl get pods -o wide`, `kubectl describe pod`: OOMKilled, failed liveness probe,
                    node trouble) and its previous logs (`kubectl logs --previous`); a pod that keeps crashing needs
                    the same diagnosis as ModelServerDown. With `model-server stack --replicas` or the NixOS
                    instances, check that instance's process and log. Meanwhile check that the remaining replicas
                    have CPU headroom.
                """),
                grafana=Grafana(
                    uid="ms-instance-down",
                    # one series per target, labelled with its instance
                    expr="up{%(ms)s}" % v,
                    op="lt",
                    threshold=1,
                    panel=61,
                    window_seconds=300,
                    summary="Model server replica {{ .Labels.%(instance)s }} is down" % v,
                    description="Prometheus has not been able to scrape this replica for %s; the other replicas"
                                " carry its traffic." % fmt.words(c.instance_down_for),
                ),
            ),

            burn_alert(
                c, "critical", c.fast_burn_factor, c.fast_burn_long, c.fast_burn_short, c.fast_burn_for,
                c.fast_burn_threshold, "ms-error-budget-fast",
                runbook=prose(f"""
                    Fast burn ({c.fast_burn_long} and {c.fast_burn_short} windows above
                    {fmt.num(c.fast_burn_factor)} x the {fmt.pct(c.error_budget)} error budget). Open the
                    dashboard's Operation row and split the 5xx by status: 500 internal_error means handler panics
                    (read the server log for the panic message), 503 overloaded means more than `--max-in-flight`
                    concurrent requests (scale out or raise the limit), 504 means requests exceeded
                    `--request-timeout` (look at latency and CPU/load in the Resource row). Check whether fault
                    injection (x-fault headers) is enabled in production. Roll back a recent model or binary change
                    if the errors started with it.
                """),
            ),
            burn_alert(
                c, "warning", c.slow_burn_factor, c.slow_burn_long, c.slow_burn_short, c.slow_burn_for,
                c.slow_burn_threshold, "ms-error-budget-slow",
                runbook=prose(f"""
                    Slow burn ({c.slow_burn_long} and {c.slow_burn_short} windows above
                    {fmt.num(c.slow_burn_factor)} x the {fmt.pct(c.error_budget)} error budget): not an outage, but
                    the {fmt.adjective(c.slo_period)} budget will be spent in {budget_lasts}. Use the dashboard to find
                    which route and which 5xx status dominate, correlate with deploys, load and latency, and fix the
                    cause during working hours.
                """),
            ),

            Alert(
                "ModelServerHighLatencyP99",
                expr="""
                    job_route:requests_duration_seconds:p99_5m{%(ms)s, route!="unmatched"} > %(latency_p99_seconds)s
                    and on (job, route)
                    job_route:requests:rate5m > %(latency_min_rate)s
                """ % v,
                for_=c.latency_for,
                severity="warning",
                summary="p99 latency of {{ $labels.route }} is {{ $value | humanizeDuration }}",
                description="The 99th percentile of server latency on route {{ $labels.route }} has been above"
                            " %s for %s (with more than %s req/s of traffic)."
                            % (fmt.latency(c.latency_p99_seconds), fmt.words(c.latency_for),
                               fmt.num(c.latency_min_rate)),
                runbook=prose("""
                    Compare server latency with the Model row's inference latency: if inference is also slow the
                    model is too big for the host (smaller model, fewer trees); if only the server is slow, look at
                    requests in progress, CPU load per core and memory in the Resource row (the host is saturated:
                    scale out or lower `--max-in-flight`), and at batch sizes (large "instances" arrays). Delays
                    injected with the `x-fault: delay=<ms>` header also show up here.
                """),
                grafana=Grafana(
                    uid="ms-latency-p99",
                    expr="""
                        job_route:requests_duration_seconds:p99_5m{%(ms)s, route!="unmatched"}
                        and on (job, route) job_route:requests:rate5m > %(latency_min_rate)s
                    """ % v,
                    op="gt",
                    threshold=c.latency_p99_seconds,
                    panel=17,
                    summary='p99 latency of {{ .Labels.route }} is {{ humanizeDuration (index .Values "B").Value }}',
                    description="The 99th percentile of server latency has been above %s for %s on a route with"
                                " more than %s req/s." % (fmt.latency(c.latency_p99_seconds),
                                                          fmt.words(c.latency_for), fmt.num(c.latency_min_rate)),
                ),
            ),

            # One replica answers with 5xx far more than the others (a bad node, a
            # corrupted local state): the job-wide ratio hides it once there are many
            # replicas. Guard: some traffic on that replica.
            Alert(
                "ModelServerInstanceHighErrorRate",
                expr="""
                    instance:requests_5xx:ratio_rate5m{%(ms)s} > (%(fast_burn_factor)s * %(error_budget)s)
                    and on (job, %(instance)s)
                    instance:requests:rate5m > %(instance_errors_min_rate)s
                """ % v,
                for_=c.instance_errors_for,
                severity="warning",
                summary="Replica {{ $labels.%(instance)s }} answers {{ $value | humanizePercentage }} of its requests"
                        " with a 5xx" % v,
                description="Over the last 5 minutes more than %(fast_burn_pct)s of the requests served by"
                            " {{ $labels.%(instance)s }} got a 5xx (%(fast_burn_factor)s x the %(error_budget_pct)s"
                            " error budget), with more than %(instance_errors_min_rate)s req/s of traffic." % v,
                runbook=prose("""
                    Compare the replica with the others on the dashboard's Instances row. If only this one fails,
                    it is the replica, not the model or the clients: read its log, check its node (memory, disk,
                    network) and its requests in progress (503 overloaded means it gets more than `--max-in-flight`,
                    e.g. an unbalanced load balancer or long-lived connections pinned to it). Replace it
                    (`kubectl delete pod`, or restart the instance) and keep its logs for the bug report. If all
                    replicas fail alike, ModelServerHighErrorRate applies instead.
                """),
            ),

            # Per instance and route: one stuck replica must not hide behind others
            # that complete requests on the same route.
            Alert(
                "ModelServerRequestsStuck",
                expr="""
                    sum by (job, %(instance)s, route) (min_over_time(request_in_progress{%(ms)s}[%(stuck_window)s])) > 0
                    unless on (job, %(instance)s, route)
                    sum by (job, %(instance)s, route) (increase(requests_total{%(ms)s}[%(stuck_window)s])) > 0
                """ % v,
                for_=c.stuck_for,
                severity="warning",
                summary="{{ $value }} request(s) on {{ $labels.route }} stuck in progress on {{ $labels.%(instance)s }}"
                        % v,
                description="Requests on route {{ $labels.route }} of {{ $labels.%(instance)s }} have been in progress"
                            " for more than %(window)s while none completed there."
                            % dict(v, window=fmt.words(c.stuck_window)),
                runbook=prose("""
                    Requests start but never finish: the handler is deadlocked or waiting on something that never
                    answers, and `--request-timeout` is not cutting them off. Take a thread dump / debug log of the
                    server, check for a hung model load or a blocked worker pool, and restart the server (it drains
                    for `--shutdown-grace`, then exits). File a bug with the logs: the timeout should have fired.
                """),
            ),
        ],
    )

"""Alerts of rules/model_server.py on one replica: the server down or absent, the two
error-budget burn rates (499s excluded), p99 latency per route, requests stuck in progress."""


def tests(t):
    return [
        t.case(
            "ModelServerDown fires after 1m of up==0, quiet while up==1 and during the for period",
            series=[
                t.ms('up{instance="127.0.0.1:8000"}', "1x5 0x10"),
                t.node('up{instance="127.0.0.1:9100"}', "1x15"),
            ],
            alerts=[
                t.quiet("5m", "ModelServerDown"),
                t.quiet("6m", "ModelServerDown"),
                t.fires(
                    "8m", "ModelServerDown",
                    t.expect(
                        "critical", 'instance="127.0.0.1:8000"',
                        summary="Model server is down (127.0.0.1:8000)",
                        description=f"Prometheus cannot scrape 127.0.0.1:8000 of job {t.ms_job} and no "
                                    "other target of the job answers either, for more than 1 minute (or "
                                    "the job has no target at all)."),
                ),
                t.quiet("8m", "NodeExporterDown"),
            ],
        ),
        t.case(
            "ModelServerDown fires when the job has no target at all (absent)",
            series=[
                t.node('up{instance="127.0.0.1:9100"}', "1x5"),
            ],
            alerts=[
                t.quiet("0m", "ModelServerDown"),
                t.fires(
                    "2m", "ModelServerDown",
                    t.expect(
                        "critical", "",
                        summary=f"Model server is down (no target in job {t.ms_job})",
                        description=f"Prometheus cannot scrape any target of job {t.ms_job} and no other "
                                    "target of the job answers either, for more than 1 minute (or the job "
                                    "has no target at all)."),
                ),
            ],
        ),
        t.case(
            "error budget burn - 2% of 5xx is within both burn thresholds",
            series=[
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}', "0+98x120"),
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="500"}', "0+2x120"),
            ],
            alerts=[
                t.quiet("60m", "ModelServerHighErrorRate"),
                t.quiet("120m", "ModelServerHighErrorRate"),
            ],
        ),
        t.case(
            "error budget burn - 5% of 5xx is a slow burn (warning) but not a fast burn",
            series=[
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}', "0+95x120"),
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="503"}', "0+5x120"),
            ],
            alerts=[
                t.quiet("4m", "ModelServerHighErrorRate"),
                t.fires(
                    "60m", "ModelServerHighErrorRate",
                    t.expect(
                        "warning", "",
                        summary="Model server burns its 5xx error budget 6x too fast",
                        description="5% of requests got a 5xx over the last 6 hours, and more than 3% "
                                    "over the last 30 minutes too (SLO 99.5%: at this pace 5% of the "
                                    "30-day error budget is gone in 6 hours)."),
                ),
            ],
        ),
        t.case(
            "error budget burn - 10% of 5xx fires both; 499s are excluded from the ratio",
            series=[
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}', "0+90x60"),
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="500"}', "0+10x60"),
                # Without the 499 exclusion the ratio would be 5%, below the fast-burn threshold.
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="499"}', "0+100x60"),
            ],
            alerts=[
                t.quiet("2m", "ModelServerHighErrorRate"),
                t.fires(
                    "30m", "ModelServerHighErrorRate",
                    t.expect(
                        "critical", "",
                        summary="Model server burns its 5xx error budget 14.4x too fast",
                        description="10% of requests got a 5xx over the last hour, and more than 7.2% "
                                    "over the last 5 minutes too (SLO 99.5%: at this pace 2% of the "
                                    "30-day error budget is gone in 1 hour)."),
                    t.expect(
                        "warning", "",
                        summary="Model server burns its 5xx error budget 6x too fast",
                        description="10% of requests got a 5xx over the last 6 hours, and more than 3% "
                                    "over the last 30 minutes too (SLO 99.5%: at this pace 5% of the "
                                    "30-day error budget is gone in 6 hours)."),
                ),
            ],
        ),
        t.case(
            "error budget burn - a bad hour that is over (5m window clean) does not page",
            series=[
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}', "0+80x50 4000+100x20"),
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="500"}', "0+20x50 1000+0x20"),
            ],
            alerts=[
                t.fires(
                    "45m", "ModelServerHighErrorRate",
                    t.expect(
                        "critical", "",
                        summary="Model server burns its 5xx error budget 14.4x too fast",
                        description="20% of requests got a 5xx over the last hour, and more than 7.2% "
                                    "over the last 5 minutes too (SLO 99.5%: at this pace 2% of the "
                                    "30-day error budget is gone in 1 hour)."),
                    t.expect(
                        "warning", "",
                        summary="Model server burns its 5xx error budget 6x too fast",
                        description="20% of requests got a 5xx over the last 6 hours, and more than 3% "
                                    "over the last 30 minutes too (SLO 99.5%: at this pace 5% of the "
                                    "30-day error budget is gone in 6 hours)."),
                ),
                # 65m: the 5m window is clean, so the fast burn (critical) resolved; the 30m/6h windows still burn
                t.fires(
                    "65m", "ModelServerHighErrorRate",
                    t.expect(
                        "warning", "",
                        summary="Model server burns its 5xx error budget 6x too fast",
                        description="15.62% of requests got a 5xx over the last 6 hours, and more than 3% "
                                    "over the last 30 minutes too (SLO 99.5%: at this pace 5% of the "
                                    "30-day error budget is gone in 6 hours)."),
                ),
            ],
        ),
        t.case(
            "p99 latency - slow /predict fires, fast route and a trickle of slow requests stay quiet",
            series=[
                # /predict: 1 req/s, all between 1s and 2.5s -> p99 = 2.485s
                t.ms('requests_duration_seconds_bucket{instance="i", method="POST", route="/predict", status="200", le="0.1"}', "0x20"),
                t.ms('requests_duration_seconds_bucket{instance="i", method="POST", route="/predict", status="200", le="1"}', "0x20"),
                t.ms('requests_duration_seconds_bucket{instance="i", method="POST", route="/predict", status="200", le="2.5"}', "0+60x20"),
                t.ms('requests_duration_seconds_bucket{instance="i", method="POST", route="/predict", status="200", le="+Inf"}', "0+60x20"),
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}', "0+60x20"),
                # "/": 1 req/s, all under 100ms
                t.ms('requests_duration_seconds_bucket{instance="i", method="GET", route="/", status="200", le="0.1"}', "0+60x20"),
                t.ms('requests_duration_seconds_bucket{instance="i", method="GET", route="/", status="200", le="+Inf"}', "0+60x20"),
                t.ms('requests_total{instance="i", method="GET", route="/", status="200"}', "0+60x20"),
                # "/slow-trickle": slow, but 1 request per 10 minutes (below the 0.05 req/s guard)
                t.ms('requests_duration_seconds_bucket{instance="i", method="GET", route="/trickle", status="200", le="1"}', "0x20"),
                t.ms('requests_duration_seconds_bucket{instance="i", method="GET", route="/trickle", status="200", le="+Inf"}', "0+0.1x20"),
                t.ms('requests_total{instance="i", method="GET", route="/trickle", status="200"}', "0+0.1x20"),
            ],
            alerts=[
                t.quiet("4m", "ModelServerHighLatencyP99"),
                t.fires(
                    "10m", "ModelServerHighLatencyP99",
                    t.expect(
                        "warning", 'route="/predict"',
                        summary="p99 latency of /predict is 2.485s",
                        description="The 99th percentile of server latency on route /predict has been "
                                    "above 500ms for 5 minutes (with more than 0.05 req/s of traffic)."),
                ),
            ],
            exprs=[
                t.expr(
                    'job_route:requests_duration_seconds:p99_5m{route="/predict"}', "10m",
                    t.sample('job_route:requests_duration_seconds:p99_5m{route="/predict"}', 2.485),
                ),
            ],
        ),
        t.case(
            "requests stuck - in progress with no completion fires; in progress with completions does not",
            series=[
                t.ms('request_in_progress{instance="i", method="POST", route="/predict"}', "2x20"),
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}', "100x20"),
                t.ms('request_in_progress{instance="i", method="GET", route="/"}', "1x20"),
                t.ms('requests_total{instance="i", method="GET", route="/", status="200"}', "0+30x20"),
            ],
            alerts=[
                t.quiet("4m", "ModelServerRequestsStuck"),
                t.fires(
                    "10m", "ModelServerRequestsStuck",
                    t.expect(
                        "warning", 'instance="i", route="/predict"',
                        summary="2 request(s) on /predict stuck in progress on i",
                        description="Requests on route /predict of i have been in progress for more than "
                                    "5 minutes while none completed there."),
                ),
            ],
        ),
        t.case(
            "requests stuck - a gauge that drops to 0 within 5 minutes is not stuck",
            series=[
                t.ms('request_in_progress{instance="i", method="POST", route="/predict"}', "2 2 0 2 2 0 2 2 0 2 2 0 2 2 0 2 2 0 2 2"),
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}', "100x20"),
            ],
            alerts=[
                t.quiet("15m", "ModelServerRequestsStuck"),
            ],
        ),
    ]

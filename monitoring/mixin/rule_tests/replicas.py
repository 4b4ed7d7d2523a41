"""Three replicas of one job (issue 13): 10.0.0.1 goes down after 5 minutes,
10.0.0.2 is slow (every request 1-2.5s), 10.0.0.3 answers half of its
requests with 500. Alerts that judge the service aggregate over the replicas;
those that point at one replica carry its instance label."""


def tests(t):
    return [
        t.case(
            "replicas - one down, one slow, one erroring",
            series=[
                t.ms('up{instance="10.0.0.1:8000"}', "1x5 0x25"),
                t.ms('up{instance="10.0.0.2:8000"}', "1x30"),
                t.ms('up{instance="10.0.0.3:8000"}', "1x30"),
                # (every replica exports the same buckets, as the server does)
                # down: served 1 req/s, fast, until it stopped being scraped at 5m
                t.ms('requests_total{instance="10.0.0.1:8000", method="POST", route="/predict", status="200"}', "0+60x5"),
                t.ms('requests_duration_seconds_bucket{instance="10.0.0.1:8000", method="POST", route="/predict", status="200", le="0.1"}', "0+60x5"),
                t.ms('requests_duration_seconds_bucket{instance="10.0.0.1:8000", method="POST", route="/predict", status="200", le="1"}', "0+60x5"),
                t.ms('requests_duration_seconds_bucket{instance="10.0.0.1:8000", method="POST", route="/predict", status="200", le="2.5"}', "0+60x5"),
                t.ms('requests_duration_seconds_bucket{instance="10.0.0.1:8000", method="POST", route="/predict", status="200", le="+Inf"}', "0+60x5"),
                # slow: 1 req/s, all between 1s and 2.5s, 3 in progress at any time
                t.ms('requests_total{instance="10.0.0.2:8000", method="POST", route="/predict", status="200"}', "0+60x30"),
                t.ms('requests_duration_seconds_bucket{instance="10.0.0.2:8000", method="POST", route="/predict", status="200", le="0.1"}', "0x30"),
                t.ms('requests_duration_seconds_bucket{instance="10.0.0.2:8000", method="POST", route="/predict", status="200", le="1"}', "0x30"),
                t.ms('requests_duration_seconds_bucket{instance="10.0.0.2:8000", method="POST", route="/predict", status="200", le="2.5"}', "0+60x30"),
                t.ms('requests_duration_seconds_bucket{instance="10.0.0.2:8000", method="POST", route="/predict", status="200", le="+Inf"}', "0+60x30"),
                t.ms('request_in_progress{instance="10.0.0.2:8000", method="POST", route="/predict"}', "3x30"),
                # erroring: 0.5 req/s 200 and 0.5 req/s 500, all fast, 1 in progress
                t.ms('requests_total{instance="10.0.0.3:8000", method="POST", route="/predict", status="200"}', "0+30x30"),
                t.ms('requests_total{instance="10.0.0.3:8000", method="POST", route="/predict", status="500"}', "0+30x30"),
                t.ms('requests_duration_seconds_bucket{instance="10.0.0.3:8000", method="POST", route="/predict", status="200", le="0.1"}', "0+60x30"),
                t.ms('requests_duration_seconds_bucket{instance="10.0.0.3:8000", method="POST", route="/predict", status="200", le="1"}', "0+60x30"),
                t.ms('requests_duration_seconds_bucket{instance="10.0.0.3:8000", method="POST", route="/predict", status="200", le="2.5"}', "0+60x30"),
                t.ms('requests_duration_seconds_bucket{instance="10.0.0.3:8000", method="POST", route="/predict", status="200", le="+Inf"}', "0+60x30"),
                t.ms('request_in_progress{instance="10.0.0.3:8000", method="POST", route="/predict"}', "1x30"),
            ],
            alerts=[
                # the service is up: the down replica is a warning of its own, after 5 minutes
                t.quiet("15m", "ModelServerDown"),
                t.quiet("10m", "ModelServerInstanceDown"),
                t.fires(
                    "15m", "ModelServerInstanceDown",
                    t.expect(
                        "warning", 'instance="10.0.0.1:8000"',
                        summary="Model server replica 10.0.0.1:8000 is down",
                        description="Prometheus has not been able to scrape 10.0.0.1:8000 of "
                                    f"job {t.ms_job} for 5 minutes; the other replicas carry its "
                                    "traffic."),
                ),
                # the erroring replica is named; the slow one (no 5xx) is not
                t.fires(
                    "15m", "ModelServerInstanceHighErrorRate",
                    t.expect(
                        "warning", 'instance="10.0.0.3:8000"',
                        summary="Replica 10.0.0.3:8000 answers 50% of its requests with a 5xx",
                        description="Over the last 5 minutes more than 7.2% of the requests served by "
                                    "10.0.0.3:8000 got a 5xx (14.4 x the 0.5% error budget), with more "
                                    "than 0.1 req/s of traffic."),
                ),
                # the service as a whole: 0.5 of 2 req/s fail = 25%, a fast and a slow burn
                t.fires(
                    "15m", "ModelServerHighErrorRate",
                    t.expect(
                        "critical", "",
                        summary="Model server burns its 5xx error budget 14.4x too fast",
                        description="21.13% of requests got a 5xx over the last hour, and more than 7.2% "
                                    "over the last 5 minutes too (SLO 99.5%: at this pace 2% of the "
                                    "30-day error budget is gone in 1 hour)."),
                    t.expect(
                        "warning", "",
                        summary="Model server burns its 5xx error budget 6x too fast",
                        description="21.13% of requests got a 5xx over the last 6 hours, and more than 3% "
                                    "over the last 30 minutes too (SLO 99.5%: at this pace 5% of the "
                                    "30-day error budget is gone in 6 hours)."),
                ),
                # the slow replica's half of the traffic pulls the service's p99 above 500ms
                t.fires(
                    "15m", "ModelServerHighLatencyP99",
                    t.expect(
                        "warning", 'route="/predict"',
                        summary="p99 latency of /predict is 2.47s",
                        description="The 99th percentile of server latency on route /predict has been "
                                    "above 500ms for 5 minutes (with more than 0.05 req/s of traffic)."),
                ),
                t.quiet("15m", "ModelServerRequestsStuck"),
            ],
            exprs=[
                # aggregated over the replicas that are up (the down one's series went stale)
                t.expr(
                    "job:requests:rate5m", "15m",
                    t.sample("job:requests:rate5m{}", 2),
                ),
                t.expr(
                    "job:requests_5xx:ratio_rate5m", "15m",
                    t.sample("job:requests_5xx:ratio_rate5m{}", 0.25),
                ),
                # rank 1.98 of 2 req/s: 1 + 1.5 * 0.98
                t.expr(
                    "round(job_route:requests_duration_seconds:p99_5m * 1000)", "15m",
                    t.sample('{route="/predict"}', 2470),
                ),
                # per instance
                t.expr(
                    "instance:requests:rate5m", "15m",
                    t.sample('instance:requests:rate5m{instance="10.0.0.2:8000"}', 1),
                    t.sample('instance:requests:rate5m{instance="10.0.0.3:8000"}', 1),
                ),
                t.expr(
                    "instance:requests_5xx:ratio_rate5m", "15m",
                    t.sample('instance:requests_5xx:ratio_rate5m{instance="10.0.0.2:8000"}', 0),
                    t.sample('instance:requests_5xx:ratio_rate5m{instance="10.0.0.3:8000"}', 0.5),
                ),
                t.expr(
                    "round(instance_route:requests_duration_seconds:p99_5m * 1000)", "15m",
                    t.sample('{instance="10.0.0.2:8000", route="/predict"}', 2485),
                    t.sample('{instance="10.0.0.3:8000", route="/predict"}', 99),
                ),
                t.expr(
                    "instance:request_in_progress:sum", "15m",
                    t.sample('instance:request_in_progress:sum{instance="10.0.0.2:8000"}', 3),
                    t.sample('instance:request_in_progress:sum{instance="10.0.0.3:8000"}', 1),
                ),
            ],
        ),
        t.case(
            "replicas - all three down is ModelServerDown, listed per instance",
            series=[
                t.ms('up{instance="10.0.0.1:8000"}', "1x3 0x10"),
                t.ms('up{instance="10.0.0.2:8000"}', "1x5 0x8"),
                t.ms('up{instance="10.0.0.3:8000"}', "1x5 0x8"),
            ],
            alerts=[
                # 10.0.0.1 down since 4m while the others answered until 5m: not the service
                t.quiet("5m", "ModelServerDown"),
                t.quiet("6m", "ModelServerDown"),
                t.fires(
                    "8m", "ModelServerDown",
                    t.expect(
                        "critical", 'instance="10.0.0.1:8000"',
                        summary="Model server is down (10.0.0.1:8000)",
                        description=f"Prometheus cannot scrape 10.0.0.1:8000 of job {t.ms_job} and no "
                                    "other target of the job answers either, for more than 1 minute (or "
                                    "the job has no target at all)."),
                    t.expect(
                        "critical", 'instance="10.0.0.2:8000"',
                        summary="Model server is down (10.0.0.2:8000)",
                        description=f"Prometheus cannot scrape 10.0.0.2:8000 of job {t.ms_job} and no "
                                    "other target of the job answers either, for more than 1 minute (or "
                                    "the job has no target at all)."),
                    t.expect(
                        "critical", 'instance="10.0.0.3:8000"',
                        summary="Model server is down (10.0.0.3:8000)",
                        description=f"Prometheus cannot scrape 10.0.0.3:8000 of job {t.ms_job} and no "
                                    "other target of the job answers either, for more than 1 minute (or "
                                    "the job has no target at all)."),
                ),
            ],
        ),
        t.case(
            "replicas - requests stuck on one replica while another completes them on the same route",
            series=[
                t.ms('request_in_progress{instance="10.0.0.1:8000", method="POST", route="/predict"}', "2x20"),
                t.ms('requests_total{instance="10.0.0.1:8000", method="POST", route="/predict", status="200"}', "100x20"),
                t.ms('request_in_progress{instance="10.0.0.2:8000", method="POST", route="/predict"}', "1x20"),
                t.ms('requests_total{instance="10.0.0.2:8000", method="POST", route="/predict", status="200"}', "0+30x20"),
            ],
            alerts=[
                t.quiet("4m", "ModelServerRequestsStuck"),
                t.fires(
                    "10m", "ModelServerRequestsStuck",
                    t.expect(
                        "warning", 'instance="10.0.0.1:8000", route="/predict"',
                        summary="2 request(s) on /predict stuck in progress on 10.0.0.1:8000",
                        description="Requests on route /predict of 10.0.0.1:8000 have been in progress "
                                    "for more than 5 minutes while none completed there."),
                ),
            ],
        ),
        t.case(
            "replicas - a replica failing at a trickle of traffic (below 0.1 req/s) is not a replica alert",
            series=[
                t.ms('requests_total{instance="10.0.0.1:8000", method="POST", route="/predict", status="200"}', "0+600x20"),
                t.ms('requests_total{instance="10.0.0.2:8000", method="POST", route="/predict", status="500"}', "0+3x20"),
            ],
            alerts=[
                t.quiet("15m", "ModelServerInstanceHighErrorRate"),
            ],
            exprs=[
                t.expr(
                    'instance:requests_5xx:ratio_rate5m{%(instance)s="10.0.0.2:8000"}' % t.v, "15m",
                    t.sample('instance:requests_5xx:ratio_rate5m{instance="10.0.0.2:8000"}', 1),
                ),
            ],
        ),
    ]

"""Recording rules of rules/model_server.py and rules/anomalies.py checked on their own:
rates, the 5xx ratio over every SLO window, latency quantiles, prediction shares, the z-score."""


def tests(t):
    return [
        t.case(
            "recording - request rates and the 5xx ratio (499 excluded, 0 when no 5xx series exists)",
            series=[
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}', "0+360x20"),
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="503"}', "0+60x20"),
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="499"}', "0+600x20"),
                t.ms('requests_total{instance="i", method="GET", route="/", status="200"}', "0+60x20"),
                t.series('requests_total{job="other", instance="j", method="GET", route="/", status="200"}', "0+60x20"),
            ],
            exprs=[
                t.expr(
                    "job:requests:rate5m", "10m",
                    t.sample("job:requests:rate5m{}", 18),
                    t.sample('job:requests:rate5m{job="other"}', 1),
                ),
                t.expr(
                    "job_route:requests:rate5m{%(ms)s}" % t.v, "10m",
                    t.sample('job_route:requests:rate5m{route="/predict"}', 17),
                    t.sample('job_route:requests:rate5m{route="/"}', 1),
                ),
                # 60 / (360 + 60 + 60) per minute: 499s are not in the denominator
                # (rounded: float sums are not associative and series order is not fixed)
                t.expr(
                    "round(job:requests_5xx:ratio_rate5m * 1000)", "10m",
                    t.sample("{}", 125),
                    t.sample('{job="other"}', 0),
                ),
                t.expr(
                    "round(job:requests_5xx:ratio_rate1h{%(ms)s} * 1000)" % t.v, "10m",
                    t.sample("{}", 125),
                ),
                t.expr(
                    "round(job:requests_5xx:ratio_rate30m{%(ms)s} * 1000)" % t.v, "10m",
                    t.sample("{}", 125),
                ),
                t.expr(
                    "round(job:requests_5xx:ratio_rate6h{%(ms)s} * 1000)" % t.v, "10m",
                    t.sample("{}", 125),
                ),
            ],
        ),
        t.case(
            "recording - inference quantiles, prediction shares and the z-score of a flat rate",
            series=[
                t.ms('inference_duration_seconds_bucket{instance="i", le="0.0001"}', "0+60x80"),
                t.ms('inference_duration_seconds_bucket{instance="i", le="0.001"}', "0+120x80"),
                t.ms('inference_duration_seconds_bucket{instance="i", le="+Inf"}', "0+120x80"),
                t.ms('predictions_total{instance="i", class="setosa"}', "0+60x80"),
                t.ms('predictions_total{instance="i", class="versicolor"}', "0+30x80"),
                t.ms('predictions_total{instance="i", class="virginica"}', "0+30x80"),
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}', "0+120x80"),
            ],
            exprs=[
                # half the samples <= 100us, all <= 1ms: p50 = 100us, p99 = 100us + 0.98 * 900us
                t.expr(
                    "job:inference_duration_seconds:p50_5m", "70m",
                    t.sample("job:inference_duration_seconds:p50_5m{}", 0.0001),
                ),
                t.expr(
                    "job:inference_duration_seconds:p99_5m", "70m",
                    t.sample("job:inference_duration_seconds:p99_5m{}", 0.000982),
                ),
                t.expr(
                    "class:predictions:share5m", "70m",
                    t.sample('class:predictions:share5m{class="setosa"}', 0.5),
                    t.sample('class:predictions:share5m{class="versicolor"}', 0.25),
                    t.sample('class:predictions:share5m{class="virginica"}', 0.25),
                ),
                t.expr(
                    "class:predictions:share1h_offset5m", "70m",
                    t.sample('class:predictions:share1h_offset5m{class="setosa"}', 0.5),
                    t.sample('class:predictions:share1h_offset5m{class="versicolor"}', 0.25),
                    t.sample('class:predictions:share1h_offset5m{class="virginica"}', 0.25),
                ),
                t.expr(
                    "round(job:predictions:increase1h_offset5m)", "70m",
                    t.sample("{}", 7200),
                ),
                t.expr(
                    "job:requests:rate5m_zscore1h", "70m",
                    t.sample("job:requests:rate5m_zscore1h{}", 0),
                ),
                t.expr(
                    "job:requests:rate5m_stddev_over_time1h", "70m",
                    t.sample("job:requests:rate5m_stddev_over_time1h{}", 0),
                ),
            ],
        ),
        t.case(
            "recording - server latency quantiles per route and the trailing-hour pieces",
            series=[
                # /predict: 1 req/s <= 100ms and 1 req/s between 100ms and 1s
                t.ms('requests_duration_seconds_bucket{instance="i", method="POST", route="/predict", status="200", le="0.1"}', "0+60x80"),
                t.ms('requests_duration_seconds_bucket{instance="i", method="POST", route="/predict", status="200", le="1"}', "0+120x80"),
                t.ms('requests_duration_seconds_bucket{instance="i", method="POST", route="/predict", status="200", le="+Inf"}', "0+120x80"),
                t.ms('predictions_total{instance="i", class="setosa"}', "0+60x80"),
                t.ms('predictions_total{instance="i", class="virginica"}', "0+120x80"),
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}', "0+120x80"),
            ],
            exprs=[
                t.expr(
                    "round(job_route:requests_duration_seconds:p50_5m * 1000)", "70m",
                    t.sample('{route="/predict"}', 100),
                ),
                # rank 1.8 of 2 req/s: 0.1 + 0.9 * 0.8 = 0.82
                t.expr(
                    "round(job_route:requests_duration_seconds:p90_5m * 1000)", "70m",
                    t.sample('{route="/predict"}', 820),
                ),
                t.expr(
                    "job_class:predictions:rate5m", "70m",
                    t.sample('job_class:predictions:rate5m{class="setosa"}', 1),
                    t.sample('job_class:predictions:rate5m{class="virginica"}', 2),
                ),
                t.expr(
                    "job:predictions:rate5m", "70m",
                    t.sample("job:predictions:rate5m{}", 3),
                ),
                t.expr(
                    "round(job_class:predictions:increase1h_offset5m)", "70m",
                    t.sample('{class="setosa"}', 3600),
                    t.sample('{class="virginica"}', 7200),
                ),
                t.expr(
                    "job:requests:rate5m_avg_over_time1h", "70m",
                    t.sample("job:requests:rate5m_avg_over_time1h{}", 2),
                ),
            ],
        ),
    ]

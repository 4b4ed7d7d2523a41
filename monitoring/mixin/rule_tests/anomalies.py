"""Alerts of rules/anomalies.py: a class share that moves against its trailing hour,
and a request rate far from its trailing mean; each also where the guards keep it quiet."""


def tests(t):
    return [
        t.case(
            "prediction drift - uniform traffic that turns all-setosa fires for every class that moved",
            series=[
                t.ms('predictions_total{instance="i", class="setosa"}', "0+20x70 1400+60x20"),
                t.ms('predictions_total{instance="i", class="versicolor"}', "0+20x70 1400+0x20"),
                t.ms('predictions_total{instance="i", class="virginica"}', "0+20x70 1400+0x20"),
            ],
            alerts=[
                t.quiet("70m", "ModelServerPredictionDrift"),
                t.fires(
                    "85m", "ModelServerPredictionDrift",
                    t.expect(
                        "warning", 'class="setosa"',
                        summary="Share of class setosa moved by 56 percentage points from its trailing "
                                "hour",
                        description="Over the last 5 minutes the share of predictions of class setosa "
                                    "differs from its share in the trailing hour by more than 25 points."),
                    t.expect(
                        "warning", 'class="versicolor"',
                        summary="Share of class versicolor moved by 28 percentage points from its "
                                "trailing hour",
                        description="Over the last 5 minutes the share of predictions of class versicolor "
                                    "differs from its share in the trailing hour by more than 25 points."),
                    t.expect(
                        "warning", 'class="virginica"',
                        summary="Share of class virginica moved by 28 percentage points from its trailing "
                                "hour",
                        description="Over the last 5 minutes the share of predictions of class virginica "
                                    "differs from its share in the trailing hour by more than 25 points."),
                ),
            ],
        ),
        t.case(
            "prediction drift - a moderate shift (shares 1/3 -> 1/2) stays under the 0.25 threshold",
            series=[
                t.ms('predictions_total{instance="i", class="setosa"}', "0+20x70 1400+30x20"),
                t.ms('predictions_total{instance="i", class="versicolor"}', "0+20x70 1400+15x20"),
                t.ms('predictions_total{instance="i", class="virginica"}', "0+20x70 1400+15x20"),
            ],
            alerts=[
                t.quiet("85m", "ModelServerPredictionDrift"),
            ],
        ),
        t.case(
            "prediction drift - the same total shift on a trickle of traffic is ignored",
            series=[
                t.ms('predictions_total{instance="i", class="setosa"}', "0+1x70 70+3x20"),
                t.ms('predictions_total{instance="i", class="versicolor"}', "0+1x70 70+0x20"),
                t.ms('predictions_total{instance="i", class="virginica"}', "0+1x70 70+0x20"),
            ],
            alerts=[
                t.quiet("85m", "ModelServerPredictionDrift"),
            ],
        ),
        t.case(
            "prediction drift - no baseline yet (service younger than the trailing hour) is ignored",
            series=[
                t.ms('predictions_total{instance="i", class="setosa"}', "0+20x5 100+60x10"),
                t.ms('predictions_total{instance="i", class="versicolor"}', "0+20x5 100+0x10"),
                t.ms('predictions_total{instance="i", class="virginica"}', "0+20x5 100+0x10"),
            ],
            alerts=[
                t.quiet("15m", "ModelServerPredictionDrift"),
            ],
        ),
        t.case(
            "request rate z-score - a jump from ~10 to 30 req/s fires, steady noisy traffic does not",
            series=[
                # ~10 req/s with +-1 req/s noise for 70 minutes, then 30 req/s
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}',
                     ("0 540 1200 1740 2400 2940 3600 4140 4800 5340 6000 6540 "
                      "7200 7740 8400 8940 9600 10140 10800 11340 12000 12540 13200 13740 "
                      "14400 14940 15600 16140 16800 17340 18000 18540 19200 19740 20400 20940 "
                      "21600 22140 22800 23340 24000 24540 25200 25740 26400 26940 27600 28140 "
                      "28800 29340 30000 30540 31200 31740 32400 32940 33600 34140 34800 35340 "
                      "36000 36540 37200 37740 38400 38940 39600 40140 40800 41340 42000 43800+1800x15")),
            ],
            alerts=[
                t.quiet("68m", "ModelServerRequestRateAnomaly"),
                t.fires(
                    "76m", "ModelServerRequestRateAnomaly",
                    t.expect(
                        "warning", "",
                        summary="Request rate z-score is +4 against its trailing hour (+ more traffic, - "
                                "less)",
                        description=f"The 5-minute request rate of job {t.ms_job} is more than 3 "
                                    "standard deviations away from its mean over the last hour."),
                ),
            ],
        ),
        t.case(
            "request rate z-score - traffic that stops is an anomaly too",
            series=[
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}', "0+600x70 42000x15"),
            ],
            alerts=[
                t.fires(
                    "76m", "ModelServerRequestRateAnomaly",
                    t.expect(
                        "warning", "",
                        summary="Request rate z-score is -4 against its trailing hour (+ more traffic, - "
                                "less)",
                        description=f"The 5-minute request rate of job {t.ms_job} is more than 3 "
                                    "standard deviations away from its mean over the last hour."),
                ),
            ],
        ),
        t.case(
            "request rate z-score - a rate series younger than 50 minutes never fires",
            series=[
                t.ms('requests_total{instance="i", method="POST", route="/predict", status="200"}', "_x40 0+600x30 18000+1800x15"),
            ],
            alerts=[
                t.quiet("76m", "ModelServerRequestRateAnomaly"),
            ],
        ),
    ]

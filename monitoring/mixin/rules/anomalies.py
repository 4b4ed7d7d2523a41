"""Anomalies of the model server against its own trailing hour: the share of
each predicted class, and a z-score of the request rate."""
from .. import fmt
from . import Alert, Grafana, Group, Record, prose

# A class's share over the last 5 minutes against its trailing hour that ended
# 5 minutes ago; a class absent from the baseline counts as share 0.
SHARE_CHANGE = """
    abs(
      class:predictions:share5m{%(ms)s}
      - on (job, class)
      (class:predictions:share1h_offset5m or on (job, class) 0 * class:predictions:share5m)
    )
"""
# Enough predictions now and in the baseline, and predictions recorded a full
# hour ago (so a freshly started server has no "baseline").
SHARE_GUARDS = """
    and on (job) (job:predictions:rate5m * 300) >= %(prediction_drift_min_now)s
    and on (job) job:predictions:increase1h_offset5m >= %(prediction_drift_min_baseline)s
    and on (job) (job:predictions:rate5m offset 1h)
"""


def group(c):
    v = c.v
    return Group(
        name="model-server-anomalies",
        file="anomalies.yml",
        service="model-server",
        comment=__doc__,
        rules=[
            Record("job:requests:rate5m", "sum by (job) (rate(requests_total[5m]))"),
            Record("job:requests:rate5m_avg_over_time1h", "avg_over_time(job:requests:rate5m[1h])"),
            Record("job:requests:rate5m_stddev_over_time1h", "stddev_over_time(job:requests:rate5m[1h])"),
            # z-score of the current request rate against the trailing hour; the
            # denominator is floored so a perfectly flat rate cannot divide by 0.
            Record("job:requests:rate5m_zscore1h", """
                (job:requests:rate5m - job:requests:rate5m_avg_over_time1h)
                / clamp_min(job:requests:rate5m_stddev_over_time1h, %(rate_stddev_floor)s)
            """ % v),
            # Prediction distribution: share of each class, now (5m) and trailing
            # baseline (the hour that ended 5 minutes ago).
            Record("job_class:predictions:rate5m", "sum by (job, class) (rate(predictions_total[5m]))"),
            Record("job:predictions:rate5m", "sum by (job) (rate(predictions_total[5m]))"),
            Record("class:predictions:share5m",
                   "job_class:predictions:rate5m / ignoring (class) group_left job:predictions:rate5m"),
            Record("job_class:predictions:increase1h_offset5m",
                   "sum by (job, class) (increase(predictions_total[1h] offset 5m))"),
            Record("job:predictions:increase1h_offset5m", "sum by (job) (increase(predictions_total[1h] offset 5m))"),
            Record("class:predictions:share1h_offset5m",
                   "job_class:predictions:increase1h_offset5m / ignoring (class) group_left"
                   " job:predictions:increase1h_offset5m"),

            Alert(
                "ModelServerPredictionDrift",
                expr=(SHARE_CHANGE.rstrip() + " > %(prediction_drift_points)s" + SHARE_GUARDS) % v,
                for_=c.prediction_drift_for,
                severity="warning",
                # value shown in whole points: stable across Prometheus 2.x/3.x range-boundary semantics
                summary='Share of class {{ $labels.class }} moved by {{ $value | humanizePercentage'
                        ' | reReplaceAll "[.][0-9]*%|%" "" }} percentage points from its trailing hour',
                description="Over the last 5 minutes the share of predictions of class {{ $labels.class }} differs"
                            " from its share in the trailing hour by more than %s."
                            % fmt.points(c.prediction_drift_points),
                runbook=prose("""
                    The input distribution or the model changed. Compare the Model row's prediction share with the
                    model_info version: a new model explains it (validate it, roll back if wrong). Otherwise the
                    clients' inputs moved: check for a client sending constant or garbage features, a unit change
                    (cm vs mm), or a single client dominating the traffic. A genuine population change means the
                    model needs retraining.
                """),
                grafana=Grafana(
                    uid="ms-prediction-drift",
                    # same guards as the Prometheus alert: enough traffic now, a full baseline hour
                    expr=(SHARE_CHANGE.rstrip() + SHARE_GUARDS) % v,
                    op="gt",
                    threshold=c.prediction_drift_points,
                    panel=56,
                    summary="Share of class {{ .Labels.class }} moved by"
                            ' {{ humanizePercentage (index .Values "B").Value }} (absolute) from its trailing hour',
                    description="The share of predictions of one class over the last 5 minutes differs from its"
                                " share in the hour before by more than %s." % fmt.points(c.prediction_drift_points),
                ),
            ),

            # Guards: the rate series must be old enough and its spread above the floor.
            Alert(
                "ModelServerRequestRateAnomaly",
                expr="""
                    (
                      job:requests:rate5m_zscore1h{%(ms)s} > %(rate_zscore)s
                      or
                      job:requests:rate5m_zscore1h{%(ms)s} < -%(rate_zscore)s
                    )
                    and on (job) job:requests:rate5m_stddev_over_time1h >= %(rate_stddev_floor)s
                    and on (job) (job:requests:rate5m offset %(rate_min_age)s)
                """ % v,
                for_=c.rate_anomaly_for,
                severity="warning",
                summary='Request rate z-score is {{ $value | printf "%+.0f" }} against its trailing hour'
                        " (+ more traffic, - less)",
                description="The 5-minute request rate of job {{ $labels.job }} is more than %s standard deviations"
                            " away from its mean over the last hour." % fmt.num(c.rate_zscore),
                runbook=prose("""
                    Traffic changed abruptly. A drop usually means clients cannot reach the server (DNS, load
                    balancer, network, a failing client deploy) even though the server is up: check client-side
                    errors. A spike can be a retry storm (look at the 5xx ratio), a batch job, or abuse: check the
                    routes and statuses in the Operation row and rate-limit or scale out as needed. If the change is
                    expected, silence the alert.
                """),
            ),
        ],
    )

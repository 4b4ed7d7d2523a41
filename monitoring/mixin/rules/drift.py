"""Input drift: are the served inputs still distributed like the training data?

The server counts every served feature value into the bins of the model's
training reference (model_input_values_total{feature, bin}: quantile bins of the
training values, plus below_min and above_max) and exports the training share of
each bin (model_input_reference_share). From those:

  PSI (population stability index) of a feature =
      sum over its bins of (served share - training share) * ln(served share / training share)

with both shares floored at 0.0001 so that empty bins (below_min and above_max
have a training share of 0) stay finite. Reading it: < 0.1 stable, 0.1-0.2 a
moderate shift, > 0.2 a significant shift (the usual credit-scoring thresholds).

N replicas: served counts are summed over instances; the reference shares are
the same on every instance (max by ... picks one).
"""
from .. import fmt
from . import Alert, Group, Record, prose

# Enough evidence in the window: served values of the feature.
ENOUGH_VALUES = "feature:model_input_values:rate%(drift_window)s * %(window_seconds)s >= %(drift_min_values)s"


def group(c):
    v = dict(c.v, window_seconds=fmt.seconds(c.drift_window))
    w = c.drift_window
    over = fmt.the_last(w)
    return Group(
        name="model-server-drift",
        file="drift.yml",
        service="model-server",
        comment=__doc__,
        rules=[
            Record("feature_bin:model_input_values:rate%s" % w,
                   "sum by (job, feature, bin) (rate(model_input_values_total[%s]))" % w),
            Record("feature:model_input_values:rate%s" % w,
                   "sum by (job, feature) (feature_bin:model_input_values:rate%s)" % w),
            Record("feature_bin:model_input_share:ratio%s" % w, """
                feature_bin:model_input_values:rate%(w)s
                / ignoring (bin) group_left
                feature:model_input_values:rate%(w)s
            """ % {"w": w}),
            Record("feature_bin:model_input_reference_share:max",
                   "max by (job, feature, bin) (model_input_reference_share)"),
            Record("feature:model_input_psi:%s" % w, """
                sum by (job, feature) (
                  (
                    clamp_min(feature_bin:model_input_share:ratio%(w)s, 0.0001)
                    - clamp_min(feature_bin:model_input_reference_share:max, 0.0001)
                  )
                  * ln(
                    clamp_min(feature_bin:model_input_share:ratio%(w)s, 0.0001)
                    / clamp_min(feature_bin:model_input_reference_share:max, 0.0001)
                  )
                )
            """ % {"w": w}),
            Record("feature:model_input_out_of_range:ratio%s" % w, """
                sum by (job, feature) (feature_bin:model_input_values:rate%(w)s{bin=~"below_min|above_max"})
                / feature:model_input_values:rate%(w)s
            """ % {"w": w}),
            Record("class:predictions:share%s" % w, """
                sum by (job, class) (rate(predictions_total[%(w)s]))
                / ignoring (class) group_left
                sum by (job) (rate(predictions_total[%(w)s]))
            """ % {"w": w}),

            Alert(
                "ModelServerInputDrift",
                expr=("""
                    feature:model_input_psi:%(drift_window)s{%(ms)s} > %(drift_psi)s
                    and """ + ENOUGH_VALUES) % v,
                for_=c.drift_for,
                severity="warning",
                summary='Input feature {{ $labels.feature }} drifted from the training data'
                        ' (PSI {{ $value | printf "%.2f" }})',
                description="Over %s the served values of {{ $labels.feature }} are distributed unlike the training"
                            " values: a population stability index above %s for %s."
                            % (over, fmt.num(c.drift_psi), fmt.words(c.drift_for)),
                runbook=prose("""
                    Open the Input drift row and pick this feature: compare the served share of each bin with the
                    training share. Values piling into below_min or above_max mean new ranges (a unit change, cm vs
                    mm, a broken upstream feature); a shift across the inner bins means the population moved. Check
                    model_info for a recent model change and the clients for one that dominates the traffic or sends
                    constants. A genuine population change means the model needs retraining on recent data.
                """),
            ),

            Alert(
                "ModelServerInputOutOfRange",
                expr=("""
                    feature:model_input_out_of_range:ratio%(drift_window)s{%(ms)s} > %(drift_out_of_range)s
                    and """ + ENOUGH_VALUES) % v,
                for_=c.drift_for,
                severity="warning",
                summary="{{ $value | humanizePercentage }} of the values of {{ $labels.feature }} are outside the"
                        " training range",
                description="Over %s more than %s of the served values of {{ $labels.feature }} were below the"
                            " smallest or above the largest value seen in training."
                            % (over, fmt.pct(c.drift_out_of_range)),
                runbook=prose("""
                    The model extrapolates on these rows and its answers are not backed by training data. Look at
                    the below_min / above_max bars of the Input drift row: one side only usually means a unit or
                    scaling change upstream, or a default/sentinel value (0, -1, 999) sent for a missing feature.
                    Fix the client, or retrain with data that covers the new range.
                """),
            ),

            Alert(
                "ModelServerPredictionDriftFromTraining",
                expr="""
                    abs(
                      class:predictions:share%(drift_window)s{%(ms)s}
                      - on (job, class) group_left max by (job, class) (model_output_reference_share)
                    ) > %(drift_class_points)s
                    and on (job) sum by (job) (rate(predictions_total[%(drift_window)s])) * %(window_seconds)s >= %(drift_min_values)s
                """ % v,
                for_=c.drift_for,
                severity="warning",
                summary="Share of class {{ $labels.class }} is {{ $value | humanizePercentage }} away from its"
                        " training share",
                description="Over %s the share of predictions of class {{ $labels.class }} differs from its share"
                            " among the training labels by more than %s." % (over, fmt.points(c.drift_class_points)),
                runbook=prose("""
                    Unlike ModelServerPredictionDrift (a change against the trailing hour), this compares with the
                    training data, so it also catches a slow drift or a model that was wrong from the start. Check
                    the Input drift row: shifted inputs explain shifted predictions. If the inputs look like
                    training, the class balance of the clients' population changed; decide whether the model must
                    be recalibrated or retrained.
                """),
            ),
        ],
    )

"""Input drift rules (../rules/drift.yml), with expected values computed by hand.

Three features of one model, each served 10 values a minute for 45 minutes:
  x: training shares (below_min, 0, 1, above_max) = (0, 0.5, 0.5, 0); served 8 and 2 a minute
     in bins 0 and 1, so served shares (0, 0.8, 0.2, 0). With the 0.0001 floor:
       PSI = (0.8-0.5) ln(0.8/0.5) + (0.2-0.5) ln(0.2/0.5) + 2 * (0.0001-0.0001) ln(1)
           = 0.3 * 0.470004 + (-0.3) * (-0.916291) = 0.141001 + 0.274887 = 0.415888
  y: training (0, 0.5, 0.5, 0), served 5 and 5: PSI = 0 exactly.
  z: training (0, 1, 0) (a single bin), served 9 in bin 0 and 1 above_max:
       PSI = (0.9-1) ln(0.9/1) + (0.1-0.0001) ln(0.1/0.0001) + 0
           = (-0.1)(-0.105361) + 0.0999 * 6.907755 = 0.010536 + 0.690085 = 0.700621
     out-of-range share = 1/10 = 0.1 > 0.05.
Classes: training shares setosa 1/3, versicolor 1/3, virginica 1/3; served 9 setosa and
  1 virginica a minute: setosa 0.9 (|0.9 - 0.3333| = 0.5667 > 0.25), virginica 0.1 (0.2333: no),
  versicolor 0 (no series, no alert)."""


def tests(t):
    return [
        t.case(
            "drift - PSI per feature, out-of-range share, class shares against training",
            series=[
                t.ms('model_input_reference_share{instance="a", feature="x", bin="below_min"}', "0x45"),
                t.ms('model_input_reference_share{instance="a", feature="x", bin="0"}', "0.5x45"),
                t.ms('model_input_reference_share{instance="a", feature="x", bin="1"}', "0.5x45"),
                t.ms('model_input_reference_share{instance="a", feature="x", bin="above_max"}', "0x45"),
                t.ms('model_input_values_total{instance="a", feature="x", bin="below_min"}', "0x45"),
                t.ms('model_input_values_total{instance="a", feature="x", bin="0"}', "0+8x45"),
                t.ms('model_input_values_total{instance="a", feature="x", bin="1"}', "0+2x45"),
                t.ms('model_input_values_total{instance="a", feature="x", bin="above_max"}', "0x45"),
                t.ms('model_input_reference_share{instance="a", feature="y", bin="below_min"}', "0x45"),
                t.ms('model_input_reference_share{instance="a", feature="y", bin="0"}', "0.5x45"),
                t.ms('model_input_reference_share{instance="a", feature="y", bin="1"}', "0.5x45"),
                t.ms('model_input_reference_share{instance="a", feature="y", bin="above_max"}', "0x45"),
                t.ms('model_input_values_total{instance="a", feature="y", bin="below_min"}', "0x45"),
                t.ms('model_input_values_total{instance="a", feature="y", bin="0"}', "0+5x45"),
                t.ms('model_input_values_total{instance="a", feature="y", bin="1"}', "0+5x45"),
                t.ms('model_input_values_total{instance="a", feature="y", bin="above_max"}', "0x45"),
                t.ms('model_input_reference_share{instance="a", feature="z", bin="below_min"}', "0x45"),
                t.ms('model_input_reference_share{instance="a", feature="z", bin="0"}', "1x45"),
                t.ms('model_input_reference_share{instance="a", feature="z", bin="above_max"}', "0x45"),
                t.ms('model_input_values_total{instance="a", feature="z", bin="below_min"}', "0x45"),
                t.ms('model_input_values_total{instance="a", feature="z", bin="0"}', "0+9x45"),
                t.ms('model_input_values_total{instance="a", feature="z", bin="above_max"}', "0+1x45"),
                t.ms('model_output_reference_share{instance="a", class="setosa"}', "0.3333333333x45"),
                t.ms('model_output_reference_share{instance="a", class="versicolor"}', "0.3333333333x45"),
                t.ms('model_output_reference_share{instance="a", class="virginica"}', "0.3333333333x45"),
                t.ms('predictions_total{instance="a", class="setosa"}', "0+9x45"),
                t.ms('predictions_total{instance="a", class="virginica"}', "0+1x45"),
            ],
            alerts=[
                # PSI > 0.2 from the first evaluation (the shares are constant), for 15m: firing at 16m.
                t.quiet("10m", "ModelServerInputDrift"),
                t.fires(
                    "40m", "ModelServerInputDrift",
                    t.expect(
                        "warning", 'feature="x"',
                        summary="Input feature x drifted from the training data (PSI 0.42)",
                        description="Over the last 30 minutes the served values of x are distributed "
                                    "unlike the training values: a population stability index above 0.2 "
                                    "for 15 minutes."),
                    t.expect(
                        "warning", 'feature="z"',
                        summary="Input feature z drifted from the training data (PSI 0.70)",
                        description="Over the last 30 minutes the served values of z are distributed "
                                    "unlike the training values: a population stability index above 0.2 "
                                    "for 15 minutes."),
                ),
                t.fires(
                    "40m", "ModelServerInputOutOfRange",
                    t.expect(
                        "warning", 'feature="z"',
                        summary="10% of the values of z are outside the training range",
                        description="Over the last 30 minutes more than 5% of the served values of z were "
                                    "below the smallest or above the largest value seen in training."),
                ),
                t.fires(
                    "40m", "ModelServerPredictionDriftFromTraining",
                    t.expect(
                        "warning", 'class="setosa"',
                        summary="Share of class setosa is 56.67% away from its training share",
                        description="Over the last 30 minutes the share of predictions of class setosa "
                                    "differs from its share among the training labels by more than 25 "
                                    "points."),
                ),
            ],
            exprs=[
                # rounded: the sums run over series in no fixed order
                t.expr(
                    "round(feature:model_input_psi:30m * 1000)", "40m",
                    t.sample('{feature="x"}', 416),
                    t.sample('{feature="y"}', 0),
                    t.sample('{feature="z"}', 701),
                ),
                t.expr(
                    'round(feature_bin:model_input_share:ratio30m{feature="x"} * 1000)', "40m",
                    t.sample('{feature="x", bin="below_min"}', 0),
                    t.sample('{feature="x", bin="0"}', 800),
                    t.sample('{feature="x", bin="1"}', 200),
                    t.sample('{feature="x", bin="above_max"}', 0),
                ),
                # 8 + 2 = 10 values a minute of x: 10/60 per second in all, 8/60 in bin 0
                t.expr(
                    'round(feature:model_input_values:rate30m{feature="x"} * 6000)', "40m",
                    t.sample('{feature="x"}', 1000),
                ),
                t.expr(
                    'round(feature_bin:model_input_values:rate30m{feature="x", bin="0"} * 6000)', "40m",
                    t.sample('{feature="x", bin="0"}', 800),
                ),
                t.expr(
                    'feature_bin:model_input_reference_share:max{feature="z"}', "40m",
                    t.sample('feature_bin:model_input_reference_share:max{feature="z", bin="below_min"}', 0),
                    t.sample('feature_bin:model_input_reference_share:max{feature="z", bin="0"}', 1),
                    t.sample('feature_bin:model_input_reference_share:max{feature="z", bin="above_max"}', 0),
                ),
                t.expr(
                    "round(class:predictions:share30m * 1000)", "40m",
                    t.sample('{class="setosa"}', 900),
                    t.sample('{class="virginica"}', 100),
                ),
                t.expr(
                    "round(feature:model_input_out_of_range:ratio30m * 1000)", "40m",
                    t.sample('{feature="x"}', 0),
                    t.sample('{feature="y"}', 0),
                    t.sample('{feature="z"}', 100),
                ),
            ],
        ),
        t.case(
            "drift - no alert without enough evidence, nor on a stable feature",
            series=[
                t.ms('model_input_reference_share{instance="a", feature="x", bin="0"}', "0.5x45"),
                t.ms('model_input_reference_share{instance="a", feature="x", bin="1"}', "0.5x45"),
                # 3 values per 30 minutes, all in bin 0: PSI is high but the evidence is not there.
                t.ms('model_input_values_total{instance="a", feature="x", bin="0"}', "0+0.1x45"),
                t.ms('model_input_values_total{instance="a", feature="x", bin="1"}', "0x45"),
                t.ms('model_output_reference_share{instance="a", class="setosa"}', "0.5x45"),
                t.ms('model_output_reference_share{instance="a", class="virginica"}', "0.5x45"),
                # 2 predictions a minute, in the training proportions: no class drift.
                t.ms('predictions_total{instance="a", class="setosa"}', "0+1x45"),
                t.ms('predictions_total{instance="a", class="virginica"}', "0+1x45"),
                # y: every value inside the training range
                t.ms('model_input_values_total{instance="a", feature="y", bin="0"}', "0+10x45"),
                t.ms('model_input_values_total{instance="a", feature="y", bin="above_max"}', "0x45"),
            ],
            alerts=[
                t.quiet("40m", "ModelServerInputDrift"),
                t.quiet("40m", "ModelServerInputOutOfRange"),
                t.quiet("40m", "ModelServerPredictionDriftFromTraining"),
            ],
        ),
    ]

from drivetrain_spark.benchmark import cpu_line


def test_cpu_line_separates_fixed_and_marginal_cost():
    fixed, per_mb, worst = cpu_line([(100, 60.0), (200, 90.0), (400, 150.0)])
    assert round(fixed, 6) == 30.0 and round(per_mb, 6) == 0.3 and worst < 1e-9
    _, _, bent = cpu_line([(100, 60.0), (200, 90.0), (400, 300.0)])
    assert bent > 0.1  # a cost that grows faster than the input shows as a large residual

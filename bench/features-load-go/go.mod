module drivetrain/bench/features-load-go

go 1.19

"""Hard-braking events from the ETL pillar's `events` table (event_type, duration_s, peak_decel_mps2)."""

HARD_BRAKING = "hard_braking"

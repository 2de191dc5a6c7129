"""Feature materialization: Spark jobs that turn the ETL tables into versioned feature tables."""

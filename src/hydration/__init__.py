"""s3-hydration: keep a consumer account's bucket hydrated from a producer account's bucket."""

MARKER_KEY = "_s3_hydration_last_sync"
METRICS_NAMESPACE = "S3Hydration"

"""LocalStack plugins for s3-hydration: a Docker-free Lambda executor and a moto-backed DynamoDB."""

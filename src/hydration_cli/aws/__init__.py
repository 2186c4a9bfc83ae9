"""The CLI's AWS adapters: the only CLI modules that call boto3 clients. Each takes a client and returns
plain values or small models, so the logic in hydration_cli.ops can be tested with fakes."""

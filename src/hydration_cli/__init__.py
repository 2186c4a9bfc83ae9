"""`s3-hydration`: the operator CLI. Thin click commands (commands/), logic in ops/, output in render.py."""

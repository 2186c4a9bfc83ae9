"""What the commands do, without click: each function takes a Deployment and returns a pydantic model."""

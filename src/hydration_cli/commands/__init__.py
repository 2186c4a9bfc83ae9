"""One module per command: options, one call into hydration_cli.ops, rendering."""

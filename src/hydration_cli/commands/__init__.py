"""One module per command: its options, one call into hydration_cli.ops, and how its Result looks
(`render.table_view` and `render.text_rows` registrations). The global options, `deployment` and the
output come from `options.command`."""

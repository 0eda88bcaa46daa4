"""vbench's bundled dataset plugins (registered through the `vbench` entry points)."""

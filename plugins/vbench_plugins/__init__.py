"""vbench's bundled method and metric plugins (registered through the `vbench` entry points)."""

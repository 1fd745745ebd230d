"""The graph canvas and what sits around it: panel, inspector, minimap, legend."""

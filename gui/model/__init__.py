"""Qt views of one open model: the tab, its info panel and tables, and the loader."""

"""The model as a graph to look at: layered layout, hit tests and search. No Qt."""

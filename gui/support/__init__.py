"""The Delegates panel: op support per delegate, the graph overlay, the runtime check."""

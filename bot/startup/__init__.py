"""Starting the app: settings, the runtime (pool, model client), the Bolt app and its HTTP
server, the `romashka` CLI and `doctor`, health and maintenance sweeps.
"""

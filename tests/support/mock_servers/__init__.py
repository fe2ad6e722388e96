"""Local mock servers of the CRMs the built-in connectors speak to (127.0.0.1 only).

Each one starts on its own: ``python -m tests.support.mock_servers.hubspot --port 8081 --deals 1000``.
"""

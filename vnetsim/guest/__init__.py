"""The guest side: vCPUs, the MSI-X handler, the runloop, the RX buffer pool, the application."""

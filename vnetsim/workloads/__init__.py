"""Workloads: host-side peers (HTTP clients, Redis servers, probes) and the guest application."""

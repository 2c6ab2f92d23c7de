"""Trace replay under the FGD protocol: openb reader, protocol, KPIs, bounds, reports and plots."""
